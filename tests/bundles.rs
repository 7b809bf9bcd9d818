//! Loading bundles into a running mesh: broken ones are refused with a clear
//! error while the others keep serving.

#![allow(clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{block_on, call_at, root, start, write_bundle};
use funcmesh::dev::DevOptions;
use funcmesh_testkit::eventually;

const HELLO_SPEC: &str = "openapi: 3.0.3\ninfo: {title: copy, version: '1'}\nservers: [{url: /copy}]\npaths:\n  /greet:\n    get:\n      operationId: greet\n      responses: {'200': {description: ok}}\n";

fn hello_wasm() -> std::path::PathBuf {
    let dir = root().join("swagger-examples/hello");
    let bundle = funcmesh_core::bundle::load_any(&dir).expect("building the hello example");
    match bundle.code {
        funcmesh_core::bundle::Code::Wasm { path, .. } => path,
        funcmesh_core::bundle::Code::Python { .. } => panic!("not a WebAssembly bundle"),
    }
}

#[test]
fn broken_bundles_are_refused_and_the_others_serve() {
    block_on(async {
        let tmp = tempfile::tempdir().unwrap();
        let wasm = hello_wasm();
        write_bundle(
            &tmp.path().join("good"),
            "openapi.yaml",
            HELLO_SPEC,
            Some(&wasm),
        );
        write_bundle(
            &tmp.path().join("bad-yaml"),
            "openapi.yaml",
            "openapi: 3.0.3\npaths: [\n  - nope: {\n",
            Some(&wasm),
        );
        let no_handler = HELLO_SPEC
            .replace("/copy", "/nohandler")
            .replace("operationId: greet", "operationId: missing");
        write_bundle(
            &tmp.path().join("no-handler"),
            "openapi.yaml",
            &no_handler,
            Some(&wasm),
        );
        write_bundle(
            &tmp.path().join("bad-wasm"),
            "openapi.yaml",
            &HELLO_SPEC.replace("/copy", "/badwasm"),
            None,
        );
        std::fs::write(
            tmp.path().join("bad-wasm/func.wasm"),
            b"\0asm\x01\0\0\0garbage",
        )
        .unwrap();
        let clash = HELLO_SPEC.replace("title: copy", "title: clash");
        write_bundle(
            &tmp.path().join("zz-clash"),
            "openapi.yaml",
            &clash,
            Some(&wasm),
        );

        let mesh = start(DevOptions::new(tmp.path())).await;
        let resp = call_at(mesh.local_addr(), "GET", "/copy/greet?name=Ada")
            .send()
            .await;
        assert_eq!(resp.status, 200, "the good bundle serves");
        assert_eq!(
            mesh.registry().bundles().len(),
            1,
            "only the good bundle is live"
        );

        let err = format!(
            "{:#}",
            mesh.load(&tmp.path().join("bad-yaml")).await.unwrap_err()
        );
        assert!(
            err.contains("openapi.yaml") && err.contains("line"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            mesh.load(&tmp.path().join("no-handler")).await.unwrap_err()
        );
        assert!(err.contains("missing"), "{err}");
        let err = format!(
            "{:#}",
            mesh.load(&tmp.path().join("bad-wasm")).await.unwrap_err()
        );
        assert!(err.contains("func.wasm") || err.contains("compil"), "{err}");
        let err = format!(
            "{:#}",
            mesh.load(&tmp.path().join("zz-clash")).await.unwrap_err()
        );
        assert!(
            err.contains("already served by") && err.contains("good"),
            "{err}"
        );

        for path in ["/nohandler/greet", "/badwasm/greet"] {
            assert_eq!(
                call_at(mesh.local_addr(), "GET", path).send().await.status,
                404,
                "{path}"
            );
        }
        assert_eq!(
            call_at(mesh.local_addr(), "GET", "/copy/greet")
                .send()
                .await
                .status,
            200
        );
        mesh.shutdown().await.unwrap();
    });
}

#[test]
fn shutdown_answers_requests_in_flight() {
    block_on(async {
        let mesh = start(DevOptions::new(root().join("swagger-examples"))).await;
        mesh.load(&root().join("tests/fixtures/faults"))
            .await
            .unwrap();
        let addr = mesh.local_addr();
        let inflight: Vec<_> = (0..20)
            .map(|_| tokio::spawn(call_at(addr, "GET", "/faults/slow?ms=300").send()))
            .collect();
        let in_flight = || async { mesh.gateway().waiting() == 20 };
        eventually(Duration::from_secs(10), "20 requests in flight", in_flight).await;
        mesh.shutdown().await.unwrap();
        for task in inflight {
            let resp = task.await.unwrap();
            assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
            assert_eq!(resp.json()["slept_ms"], 300);
        }
    });
}
