//! The end-to-end suite on RabbitMQ, with the tron, the gateway and two
//! runners as separate `funcmesh` processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::cluster::{Cluster, RABBITMQ};
use funcmesh_testkit::{eventually, eventually_some};

fn mesh() -> &'static Cluster {
    common::cluster::shared(RABBITMQ)
}

async fn requests_served() -> u64 {
    mesh().requests_served().await
}

include!("suite/e2e.rs");
include!("suite/capture.rs");
include!("suite/security.rs");

/// The Python suite, in a module of its own: its helpers have the same
/// names as the e2e suite's.
mod python {
    use super::{common, mesh};

    /// The runners run without `--dev-mode`: no tracebacks in 502 answers.
    const DEV_MODE: bool = false;

    include!("suite/python.rs");
}

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

/// Waits until `path` answers 404: its bundle was removed.
async fn answers_404(path: &str) {
    let removed = || async { call("GET", path).send().await.status == 404 };
    let what = format!("{path} answers 404 once its bundle is removed");
    eventually(Duration::from_secs(30), &what, removed).await;
}

/// Waits until `path` answers 200 through the gateway.
async fn served(path: &str) -> common::Resp {
    let answer = || async {
        let resp = call("GET", path).send().await;
        (resp.status == 200).then_some(resp)
    };
    eventually_some(
        Duration::from_secs(30),
        &format!("{path} is served"),
        answer,
    )
    .await
}

#[test]
fn a_bundle_saved_into_the_trons_directory_goes_live_on_every_runner() {
    block_on(async {
        let dir = mesh().bundles.join("hello-saved");
        hello_at("/saved", &dir);
        let resp = served("/saved/greet?name=Grace").await;
        assert_eq!(resp.json()["greeting"], "Hello, Grace!");
        std::fs::remove_dir_all(&dir).unwrap();
        answers_404("/saved/greet?name=Grace").await;
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
                "--json",
                "--tron",
                &format!("http://{}", mesh().admin),
            ])
            .env("FUNCMESH_TOKEN", &mesh().token)
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
        let stored = mesh()
            .admin_call(mesh().admin, "GET", &format!("/bundles/{hash}"))
            .send()
            .await;
        assert_eq!(stored.status, 200);
        assert_eq!(funcmesh_core::bundle::pack_hash(&stored.body), hash);
    });
}

/// Writes `app/api.py` of a Python bundle: `GET /version` answers `version`.
fn python_api(dir: &std::path::Path, version: &str) {
    std::fs::write(
        dir.join("app/api.py"),
        format!("def version(request):\n    return {{\"version\": {version}}}\n"),
    )
    .unwrap();
}

/// A Python bundle served under `base`, written beside the tron's directory
/// and moved into it in one step.
fn python_bundle_at(base: &str, name: &str) -> std::path::PathBuf {
    let staging = mesh().bundles.join(format!(".staging-{name}"));
    std::fs::create_dir_all(staging.join("app")).unwrap();
    std::fs::write(
        staging.join("openapi.yaml"),
        format!(
            "openapi: 3.0.3\ninfo: {{title: {name}, version: '1'}}\nservers: [{{url: {base}}}]\n\
             paths:\n  /version:\n    get:\n      operationId: app.api.version\n      \
             responses: {{'200': {{description: ok}}}}\n"
        ),
    )
    .unwrap();
    std::fs::write(staging.join("app/__init__.py"), "").unwrap();
    python_api(&staging, "1");
    let dir = mesh().bundles.join(name);
    std::fs::rename(&staging, &dir).unwrap();
    dir
}

/// The version `path` answers, if it answers 200.
async fn version_of(path: &str) -> Option<u64> {
    let resp = call("GET", path).send().await;
    (resp.status == 200)
        .then(|| resp.json()["version"].as_u64())
        .flatten()
}

/// Waits until `path` answers `{"version": version}`, and then answers it
/// ten times in a row.
async fn serves_version(path: &str, version: u64) {
    let what = format!("{path} answers version {version}");
    eventually(Duration::from_secs(60), &what, || async {
        version_of(path).await == Some(version)
    })
    .await;
    for _ in 1..10 {
        assert_eq!(version_of(path).await, Some(version), "{path} went back");
    }
}

#[test]
fn a_python_bundle_saved_into_the_trons_directory_goes_live_and_serves_edits() {
    block_on(async {
        let dir = python_bundle_at("/pysaved", "py-saved");
        serves_version("/pysaved/version", 1).await;
        python_api(&dir, "2");
        serves_version("/pysaved/version", 2).await;
        python_api(&dir, "3");
        serves_version("/pysaved/version", 3).await;
        std::fs::remove_dir_all(&dir).unwrap();
        answers_404("/pysaved/version").await;
    });
}

/// Saves a syntax error into the Python bundle in `dir`; its hash.
fn save_syntax_error(dir: &std::path::Path) -> String {
    std::fs::write(
        dir.join("app/api.py"),
        "def version(request):\n    return {\"version\": 2\n",
    )
    .unwrap();
    funcmesh_core::bundle::load_dir(dir).unwrap().hash
}

/// The tron imports a Python bundle before it goes live, as `funcmesh dev`
/// does (`tests/watch/python.rs`): a version that does not import is never
/// routed, and the one live keeps serving until the fix.
#[test]
fn a_python_syntax_error_saved_into_the_trons_directory_leaves_the_old_version_serving() {
    block_on(async {
        let dir = python_bundle_at("/pybroken", "py-broken");
        serves_version("/pybroken/version", 1).await;
        let broken = save_syntax_error(&dir);
        let reported = || async { mesh().logged("SyntaxError") };
        eventually(
            Duration::from_secs(60),
            "the tron reports the syntax error",
            reported,
        )
        .await;
        // Nothing may change for a while: the old version keeps serving and
        // the broken one is never routed (sampled over two seconds).
        for _ in 0..40 {
            let resp = call("GET", "/pybroken/version").send().await;
            assert_eq!(
                resp.status,
                200,
                "{}\n{}",
                String::from_utf8_lossy(&resp.body),
                mesh().logs()
            );
            assert_eq!(resp.json()["version"], 1);
            let status = mesh().status().await;
            let routes = status["routes"].as_array().cloned().unwrap_or_default();
            assert!(
                !routes.iter().any(|r| r["bundle"] == broken.as_str()),
                "the broken version was routed: {status}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        python_api(&dir, "3");
        serves_version("/pybroken/version", 3).await;
        std::fs::remove_dir_all(&dir).unwrap();
    });
}
