//! The end-to-end suite on the in-process bus, with the gateway routing
//! requests straight to their Func queues.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

fn mesh() -> &'static std::sync::Arc<funcmesh::dev::DevMesh> {
    common::shared_mesh(true)
}

async fn requests_served() -> u64 {
    mesh().runner_stats().requests
}

include!("suite/e2e.rs");

/// The Python suite, in a module of its own: its helpers have the same
/// names as the e2e suite's.
mod python {
    use super::{common, mesh};

    /// The in-process mesh runs in dev mode: tracebacks in 502 answers.
    const DEV_MODE: bool = true;

    include!("suite/python.rs");
}

/// A mesh whose Python workers have no network (`--python-network none`):
/// a function reaches nothing, not even this host, where the suite's
/// `a_function_reaches_this_hosts_network_by_default` reaches it.
#[test]
fn python_workers_without_a_network_reach_nothing() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: a network namespace per worker needs a runner that is root");
        return;
    }
    common::block_on(async {
        let empty = tempfile::tempdir().unwrap();
        let mut options = funcmesh::dev::DevOptions::new(empty.path().to_owned());
        common::with_python(&mut options);
        options.python.isolate_network = true;
        let mesh = common::start(options).await;
        mesh.load(&common::root().join("tests/fixtures/py-faults"))
            .await
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let resp = common::call_at(
            mesh.local_addr(),
            "GET",
            &format!("/pyfaults/connect?port={port}"),
        )
        .send()
        .await;
        assert_eq!(resp.status, 200, "{:?}", resp.body);
        let body = resp.json();
        assert_eq!(body["connected"], false, "{body}");
        assert_eq!(body["errno"], libc::ENETUNREACH, "{body}");
    });
}
