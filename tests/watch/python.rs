//! Reload on save for Python bundles: a saved bundle goes live, each edit
//! of a module is served by fresh interpreters (nothing of the old modules
//! survives), and a module that does not import leaves the old version
//! serving until it is fixed.

use std::path::Path;
use std::time::Duration;

use funcmesh::dev::DevOptions;
use funcmesh_testkit::eventually;

use crate::common::{self, Resp, block_on};
use crate::support::{RELOAD, Watched, save, short};

const SPEC: &str = "openapi: 3.0.3\ninfo: {title: pysave, version: '1'}\n\
    servers: [{url: /pysave}]\npaths:\n  /version:\n    get:\n      \
    operationId: app.api.version\n      responses: {'200': {description: ok}}\n";

/// `app/api.py` whose `version` answers `version`, and the helper's value.
fn api_py(version: &str) -> String {
    format!(
        "import os\n\nfrom app import helper\n\n\n\
         def version(request):\n    \
         return {{\"version\": {version}, \"helper\": helper.VALUE, \"pid\": os.getpid()}}\n"
    )
}

/// `app/helper.py`, imported by `app.api`.
fn helper_py(value: &str) -> String {
    format!("VALUE = {value:?}\n")
}

/// A Python bundle serving `GET /pysave/version`, written in a staging
/// directory and moved into place in one step.
fn drop_python_bundle(into: &Path, name: &str) {
    let staging = into.join(format!(".staging-{name}"));
    std::fs::create_dir_all(staging.join("app")).unwrap();
    std::fs::write(staging.join("openapi.yaml"), SPEC).unwrap();
    std::fs::write(staging.join("app/__init__.py"), "").unwrap();
    std::fs::write(staging.join("app/api.py"), api_py("1")).unwrap();
    std::fs::write(staging.join("app/helper.py"), helper_py("one")).unwrap();
    std::fs::rename(&staging, into.join(name)).unwrap();
}

/// Python workers, and replaced versions retired soon after a reload.
fn python(options: &mut DevOptions) {
    common::with_python(options);
    options.gateway.timeout = Duration::from_secs(5);
}

/// The version's answer, which must be a 200 from version `hash`.
fn answer(resp: &Resp, hash: &str) -> serde_json::Value {
    assert_eq!(resp.status, 200, "{}", String::from_utf8_lossy(&resp.body));
    assert_eq!(resp.header("x-funcmesh-bundle"), Some(short(hash)));
    let body = resp.json();
    serde_json::json!({"version": body["version"], "helper": body["helper"]})
}

fn pid(resp: &Resp) -> u32 {
    u32::try_from(resp.json()["pid"].as_u64().unwrap()).unwrap()
}

/// Waits until `pid` is no longer a running process.
async fn exited(pid: u32) {
    let gone = || async { !Path::new(&format!("/proc/{pid}")).exists() };
    let what = format!("worker {pid} of a replaced version exits");
    eventually(RELOAD, &what, gone).await;
}

#[test]
fn a_saved_python_bundle_goes_live_and_each_edit_is_served() {
    block_on(async {
        let mut w = Watched::start(|_| {}, python).await;
        assert_eq!(w.get("/pysave/version").await.status, 404);

        drop_python_bundle(w.tmp.path(), "pysave");
        let (v1, previous) = w.reloaded("pysave", RELOAD).await;
        assert_eq!(previous, None);
        let resp = w.get("/pysave/version").await;
        assert_eq!(
            answer(&resp, &v1),
            serde_json::json!({"version": 1, "helper": "one"})
        );
        let v1_worker = pid(&resp);

        save(&w.path("pysave/app/api.py"), &api_py("2"));
        let (v2, previous) = w.reloaded("pysave", RELOAD).await;
        assert_eq!(previous.as_deref(), Some(v1.as_str()));
        let resp = w.get("/pysave/version").await;
        assert_eq!(
            answer(&resp, &v2),
            serde_json::json!({"version": 2, "helper": "one"}),
            "the edited function answers"
        );

        // Only a module the function imports changes: a worker that kept
        // its modules would still answer "two"'s predecessor.
        save(&w.path("pysave/app/helper.py"), &helper_py("two"));
        let (v3, previous) = w.reloaded("pysave", RELOAD).await;
        assert_eq!(previous.as_deref(), Some(v2.as_str()));
        for _ in 0..10 {
            let resp = w.get("/pysave/version").await;
            assert_eq!(
                answer(&resp, &v3),
                serde_json::json!({"version": 2, "helper": "two"}),
                "the edited helper is imported afresh"
            );
        }
        exited(v1_worker).await;

        std::fs::remove_dir_all(w.path("pysave")).unwrap();
        assert_eq!(w.removed("pysave").await, v3);
        assert_eq!(w.get("/pysave/version").await.status, 404);
        w.mesh.shutdown().await.unwrap();
    });
}

#[test]
fn a_python_module_that_does_not_import_leaves_the_old_version_serving_until_fixed() {
    block_on(async {
        let mut w = Watched::start(|dir| drop_python_bundle(dir, "pybroken"), python).await;
        let good = w
            .mesh
            .registry()
            .get(&w.path("pybroken"))
            .unwrap()
            .hash
            .clone();
        let old = serde_json::json!({"version": 1, "helper": "one"});
        assert_eq!(answer(&w.get("/pysave/version").await, &good), old);
        let api = w.path("pybroken/app/api.py");

        // Each broken save and what its error says.
        let broken = [
            (
                "def version(request):\n    return {\"version\": 3\n".to_owned(),
                vec!["SyntaxError", "app/api.py", "line 2"],
            ),
            (
                "def renamed(request):\n    return {}\n".to_owned(),
                vec!["has no `version`", "app.api"],
            ),
            (
                "raise RuntimeError(\"broken at import\")\n".to_owned(),
                vec!["RuntimeError", "broken at import", "app/api.py"],
            ),
        ];
        for (source, says) in broken {
            save(&api, &source);
            let error = w.failed("pybroken").await;
            for part in says {
                assert!(error.contains(part), "the error says {part}: {error}");
            }
            for _ in 0..5 {
                assert_eq!(
                    answer(&w.get("/pysave/version").await, &good),
                    old,
                    "the old version keeps serving after: {error}"
                );
            }
        }

        save(&api, &api_py("3"));
        let (fixed, previous) = w.reloaded("pybroken", RELOAD).await;
        assert_eq!(previous.as_deref(), Some(good.as_str()));
        assert_eq!(
            answer(&w.get("/pysave/version").await, &fixed),
            serde_json::json!({"version": 3, "helper": "one"}),
            "the fixed code is live"
        );
        w.mesh.shutdown().await.unwrap();
    });
}
