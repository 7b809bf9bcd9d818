//! The end-to-end suite on RabbitMQ, with the tron, the gateway and two
//! runners as separate `funcmesh` processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::OnceLock;

use common::cluster::{Cluster, RABBITMQ};

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

fn mesh() -> &'static Cluster {
    CLUSTER.get_or_init(|| {
        let cluster = Cluster::new(RABBITMQ);
        common::block_on(cluster.start_all(2));
        // A static is never dropped: delete its queues when the binary exits.
        // SAFETY: registers a plain function with the C library.
        unsafe { libc::atexit(delete_shared_queues) };
        cluster
    })
}

extern "C" fn delete_shared_queues() {
    if let Some(cluster) = CLUSTER.get() {
        cluster.delete_queues();
    }
}

async fn requests_served() -> u64 {
    mesh().requests_served().await
}

include!("suite/e2e.rs");

/// A copy of the cluster's `hello` bundle served under `base`.
fn hello_at(base: &str, into: &std::path::Path) {
    let source = mesh().bundles.join("hello");
    std::fs::create_dir_all(into).unwrap();
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, into.join(path.file_name().unwrap())).unwrap();
    }
    let spec = std::fs::read_to_string(into.join("openapi.yaml")).unwrap();
    std::fs::write(
        into.join("openapi.yaml"),
        spec.replace("url: /hello", &format!("url: {base}")),
    )
    .unwrap();
}

/// Waits until `path` answers 200 through the gateway.
async fn served(path: &str) -> common::Resp {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let resp = common::call_at(mesh().local_addr(), "GET", path)
            .send()
            .await;
        if resp.status == 200 {
            return resp;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{path} never served: {}\n{}",
            resp.status,
            mesh().logs()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[test]
fn a_bundle_saved_into_the_trons_directory_goes_live_on_every_runner() {
    block_on(async {
        let dir = mesh().bundles.join("hello-saved");
        hello_at("/saved", &dir);
        let resp = served("/saved/greet?name=Grace").await;
        assert_eq!(resp.json()["greeting"], "Hello, Grace!");
        std::fs::remove_dir_all(&dir).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while call("GET", "/saved/greet?name=Grace").send().await.status != 404 {
            assert!(
                std::time::Instant::now() < deadline,
                "a removed bundle kept serving"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    });
}

#[test]
fn a_pushed_bundle_is_stored_fetched_by_hash_and_served() {
    block_on(async {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("hello-pushed");
        hello_at("/pushed", &dir);
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_funcmesh"))
            .args([
                "push",
                &dir.display().to_string(),
                "--tron",
                &format!("http://{}", mesh().admin),
            ])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let hash = answer["hash"].as_str().unwrap().to_owned();
        assert!(
            mesh().bundles.join("hello-pushed/openapi.yaml").is_file(),
            "stored in the watched directory"
        );

        let resp = served("/pushed/greet?name=Linus").await;
        assert_eq!(resp.json()["greeting"], "Hello, Linus!");
        let stored = common::call_at(mesh().admin, "GET", &format!("/bundles/{hash}"))
            .send()
            .await;
        assert_eq!(stored.status, 200);
        assert_eq!(funcmesh_core::bundle::pack_hash(&stored.body), hash);
    });
}
