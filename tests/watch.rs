//! Reload on save, over real HTTP and real files: bundles dropped into a
//! watched directory go live, edits make new versions, broken saves leave
//! the old version serving, removed bundles stop routing, and requests in
//! flight across a reload are each answered by exactly one version.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "watch/python.rs"]
mod python;
#[path = "watch/support.rs"]
mod support;

use common::block_on;
use funcmesh::dev::ReloadEvent;
use funcmesh_testkit::eventually;
use support::{
    BUILD, ENV, HEADERS, RELOAD, SLOW, Watched, drop_bundle, faults_wasm, lib_rs, openapi, save,
    short, write_crate,
};

#[test]
fn a_dropped_bundle_goes_live_grows_an_operation_and_is_removed() {
    block_on(async {
        let mut w = Watched::start(|_| {}, |_| {}).await;
        assert_eq!(w.get("/drop/slow?ms=0").await.status, 404);

        drop_bundle(w.tmp.path(), "drop", &openapi("/drop", "v1", &[SLOW]));
        let (v1, previous) = w.reloaded("drop", RELOAD).await;
        assert_eq!(previous, None);
        let resp = w.get("/drop/slow?ms=0").await;
        assert_eq!(resp.status, 200, "{:?}", resp.body);
        assert_eq!(resp.header("x-funcmesh-bundle"), Some(short(&v1)));
        assert_eq!(
            w.get("/drop/headers").await.status,
            404,
            "not yet described"
        );

        save(
            &w.path("drop/openapi.yaml"),
            &openapi("/drop", "v2", &[SLOW, HEADERS]),
        );
        let (v2, previous) = w.reloaded("drop", RELOAD).await;
        assert_eq!(previous.as_deref(), Some(v1.as_str()));
        let resp = w.get("/drop/headers").await;
        assert_eq!(resp.status, 200, "the new operation answers");
        assert_eq!(resp.header("x-funcmesh-bundle"), Some(short(&v2)));

        std::fs::remove_dir_all(w.path("drop")).unwrap();
        assert_eq!(w.removed("drop").await, v2);
        assert_eq!(w.get("/drop/slow?ms=0").await.status, 404);
        assert_eq!(w.get("/drop/headers").await.status, 404);
        w.mesh.shutdown().await.unwrap();
    });
}

#[test]
fn broken_saves_leave_the_old_version_serving_until_fixed() {
    block_on(async {
        let mut w = Watched::start(
            |dir| {
                drop_bundle(dir, "svc", &openapi("/svc", "good", &[SLOW]));
                drop_bundle(dir, "other", &openapi("/other", "other", &[SLOW]));
            },
            |_| {},
        )
        .await;
        let spec = w.path("svc/openapi.yaml");
        let good = w.mesh.registry().get(&w.path("svc")).unwrap().hash.clone();
        let serving = |resp: common::Resp| {
            assert_eq!(resp.status, 200);
            resp.header("x-funcmesh-bundle").map(str::to_owned)
        };

        // Each broken save, the file its error names, and what it says.
        let no_handler = "  /x:\n    get:\n      operationId: nothere\n      responses: {'200': {description: ok}}\n";
        let broken = [
            (
                "openapi: 3.0.3\npaths: [\n  - nope: {\n".to_owned(),
                "svc/openapi.yaml",
                "line ",
            ),
            (
                openapi("/svc", "no handler", &[SLOW, no_handler]),
                "svc/faults.wasm",
                "`nothere`",
            ),
            (
                openapi("/other", "clash", &[SLOW]),
                "svc/openapi.yaml",
                "already served by",
            ),
        ];
        for (text, file, problem) in broken {
            save(&spec, &text);
            let error = w.failed("svc").await;
            assert!(error.contains(file), "names the file: {error}");
            assert!(error.contains(problem), "says what is wrong: {error}");
            assert_eq!(
                serving(w.get("/svc/slow?ms=0").await).as_deref(),
                Some(short(&good)),
                "the old version keeps serving after: {error}"
            );
        }

        // A module that does not compile.
        std::fs::write(w.path("svc/faults.wasm"), b"\0asm\x01\0\0\0garbage").unwrap();
        let error = w.failed("svc").await;
        assert!(error.contains("faults.wasm"), "{error}");
        assert_eq!(
            serving(w.get("/svc/slow?ms=0").await).as_deref(),
            Some(short(&good))
        );

        std::fs::copy(faults_wasm(), w.path("svc/faults.wasm")).unwrap();
        save(&spec, &openapi("/svc", "fixed", &[SLOW, HEADERS]));
        let (fixed, previous) = w.reloaded("svc", RELOAD).await;
        assert_eq!(previous.as_deref(), Some(good.as_str()));
        assert_eq!(
            serving(w.get("/svc/headers").await).as_deref(),
            Some(short(&fixed))
        );
        w.mesh.shutdown().await.unwrap();
    });
}

#[test]
fn an_editors_save_dance_is_one_reload() {
    block_on(async {
        let mut w = Watched::start(
            |dir| drop_bundle(dir, "ed", &openapi("/ed", "v1", &[SLOW])),
            |_| {},
        )
        .await;
        let dir = w.path("ed");
        // What vim does on :w with backups on: probe file, backup by rename,
        // write the new file, drop the backup; the swap file is written all along.
        std::fs::write(dir.join(".openapi.yaml.swp"), "swap").unwrap();
        std::fs::write(dir.join("4913"), "").unwrap();
        std::fs::remove_file(dir.join("4913")).unwrap();
        std::fs::rename(dir.join("openapi.yaml"), dir.join("openapi.yaml~")).unwrap();
        save(&dir.join("openapi.yaml"), &openapi("/ed", "v2", &[SLOW]));
        std::fs::remove_file(dir.join("openapi.yaml~")).unwrap();
        std::fs::write(dir.join(".openapi.yaml.swp"), "swap again").unwrap();

        let expected = funcmesh_core::bundle::load_dir(&dir).unwrap().hash;
        let first = w.next(RELOAD).await;
        assert!(
            matches!(&first, ReloadEvent::Reloaded { hash, .. } if *hash == expected),
            "{first:?}"
        );
        // Had the dance caused a second reload, its event (Unchanged, or a
        // failure) would come before this one.
        save(&dir.join("openapi.yaml"), &openapi("/ed", "v3", &[SLOW]));
        let then = w.next(RELOAD).await;
        assert!(
            matches!(&then, ReloadEvent::Reloaded { previous: Some(p), .. } if *p == expected),
            "{then:?}"
        );
        w.mesh.shutdown().await.unwrap();
    });
}

#[test]
fn requests_in_flight_across_a_reload_are_each_answered_by_one_version() {
    block_on(async {
        let mut w = Watched::start(
            |dir| drop_bundle(dir, "busy", &openapi("/busy", "old", &[SLOW])),
            |options| options.concurrency = 64,
        )
        .await;
        let old = w.mesh.registry().get(&w.path("busy")).unwrap().hash.clone();
        let addr = w.mesh.local_addr();
        let send = |n: usize| {
            (0..n)
                .map(|_| tokio::spawn(common::call_at(addr, "GET", "/busy/slow?ms=200").send()))
                .collect::<Vec<_>>()
        };
        let before = send(100);
        let in_flight = || async { w.mesh.gateway().waiting() >= 50 };
        eventually(RELOAD, "50 requests in flight", in_flight).await;
        save(
            &w.path("busy/openapi.yaml"),
            &openapi("/busy", "new", &[SLOW]),
        );
        let during = send(50);
        let (new, previous) = w.reloaded("busy", RELOAD).await;
        assert_eq!(previous.as_deref(), Some(old.as_str()));
        assert!(
            before.iter().any(|task| !task.is_finished()),
            "some requests were still in flight when the new version went live"
        );
        let after = send(50);

        let mut answered_by = std::collections::BTreeMap::<String, usize>::new();
        for (batch, tasks) in [("before", before), ("during", during), ("after", after)] {
            for task in tasks {
                let resp = task.await.unwrap();
                assert_eq!(
                    resp.status,
                    200,
                    "{batch}: {}",
                    String::from_utf8_lossy(&resp.body)
                );
                let by = resp.header("x-funcmesh-bundle").unwrap().to_owned();
                assert!(by == short(&old) || by == short(&new), "{batch}: {by}");
                if batch == "before" {
                    assert_eq!(by, short(&old), "sent before the save");
                }
                if batch == "after" {
                    assert_eq!(by, short(&new), "sent after the reload");
                }
                *answered_by.entry(by).or_default() += 1;
            }
        }
        assert_eq!(answered_by.values().sum::<usize>(), 200);
        w.mesh.shutdown().await.unwrap();
    });
}

#[test]
fn environment_values_fill_routes_and_the_functions_environment() {
    block_on(async {
        let mut w = Watched::start(|_| {}, |_| {}).await;
        let spec = openapi("${FUNCMESH_TEST_UNSET_XYZ:-/envbase}", "env", &[ENV]);
        let staging = w.path(".staging-env");
        std::fs::create_dir(&staging).unwrap();
        std::fs::write(staging.join("openapi.yaml"), spec).unwrap();
        std::fs::write(
            staging.join("funcmesh.toml"),
            "[env]\nGREETING = \"${FUNCMESH_TEST_UNSET_XYZ:-hello from the default}\"\nPRICE = \"$$5\"\n",
        )
        .unwrap();
        std::fs::copy(faults_wasm(), staging.join("faults.wasm")).unwrap();
        std::fs::rename(&staging, w.path("env")).unwrap();
        w.reloaded("env", RELOAD).await;
        let resp = w.get("/envbase/env?name=GREETING").await;
        assert_eq!(resp.status, 200);
        assert_eq!(resp.json()["value"], "hello from the default");
        assert_eq!(w.get("/envbase/env?name=PRICE").await.json()["value"], "$5");

        let swagger = "swagger: '2.0'\ninfo: {title: t, version: '1'}\n\
            host: ${FUNCMESH_TEST_UNSET_HOST:-env.example.com}\nbasePath: ${FUNCMESH_TEST_UNSET_XYZ:-/v2env}\n\
            paths:\n  /headers:\n    get:\n      operationId: headers\n      responses: {'200': {description: ok}}\n";
        let staging = w.path(".staging-v2");
        std::fs::create_dir(&staging).unwrap();
        std::fs::write(staging.join("swagger.yaml"), swagger).unwrap();
        std::fs::copy(faults_wasm(), staging.join("faults.wasm")).unwrap();
        std::fs::rename(&staging, w.path("v2")).unwrap();
        w.reloaded("v2", RELOAD).await;
        let addr = w.mesh.local_addr();
        let on = |host: &'static str| {
            common::call_at(addr, "GET", "/v2env/headers")
                .host(host)
                .send()
        };
        assert_eq!(on("env.example.com").await.status, 200);
        assert_eq!(on("other.example.com").await.status, 404);

        save(
            &w.path("env/openapi.yaml"),
            &openapi("${FUNCMESH_TEST_SURELY_UNSET_9F3}", "env", &[ENV]),
        );
        let error = w.failed("env").await;
        assert!(error.contains("openapi.yaml"), "{error}");
        assert!(
            error.contains("`FUNCMESH_TEST_SURELY_UNSET_9F3` is not set"),
            "{error}"
        );
        assert_eq!(
            w.get("/envbase/env?name=GREETING").await.status,
            200,
            "the old version serves"
        );
        w.mesh.shutdown().await.unwrap();
    });
}

#[test]
fn a_rust_func_crate_is_rebuilt_on_save() {
    block_on(async {
        let mut w = Watched::start(|dir| write_crate(&dir.join("func")), |_| {}).await;
        let lib = w.path("func/src/lib.rs");
        let version = |resp: common::Resp| {
            assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
            resp.json()["version"].clone()
        };
        assert_eq!(version(w.get("/rust/version").await), 1, "built at start");

        save(&lib, &lib_rs("2"));
        let (v2, _) = w.reloaded("func", BUILD).await;
        let resp = w.get("/rust/version").await;
        assert_eq!(resp.header("x-funcmesh-bundle"), Some(short(&v2)));
        assert_eq!(version(resp), 2, "new code, new behaviour");

        save(&lib, &lib_rs("\"three\" + 3"));
        let error = w.failed("func").await;
        assert!(
            error.contains("cargo build failed: src/lib.rs:"),
            "names the file: {error}"
        );
        assert_eq!(
            version(w.get("/rust/version").await),
            2,
            "the old version serves"
        );

        save(&lib, &lib_rs("3"));
        w.reloaded("func", BUILD).await;
        assert_eq!(version(w.get("/rust/version").await), 3, "fixed");
        w.mesh.shutdown().await.unwrap();
    });
}
