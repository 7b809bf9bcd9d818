//! A mesh watching a temporary directory, the reload events it sends, and
//! bundles written into it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use funcmesh::dev::{DevMesh, DevOptions, ReloadEvent, WatchHandle};
use tokio::sync::broadcast;

use crate::common::{Resp, call_at, root, start};

/// How long a reload of an already-built module may take, generously.
pub const RELOAD: Duration = Duration::from_secs(60);
/// How long a Rust func crate's build may take (the first one compiles
/// serde for wasm32), generously.
pub const BUILD: Duration = Duration::from_secs(900);

/// The faults fixture's module, built once.
pub fn faults_wasm() -> &'static Path {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    WASM.get_or_init(|| {
        let dir = root().join("tests/fixtures/faults");
        let bundle = funcmesh_core::bundle::load_any(&dir).expect("building the faults fixture");
        match bundle.code {
            funcmesh_core::bundle::Code::Wasm { path, .. } => path,
            funcmesh_core::bundle::Code::Python { .. } => panic!("not a WebAssembly bundle"),
        }
    })
}

/// `GET /slow?ms=` of the faults module.
pub const SLOW: &str = "  /slow:\n    get:\n      operationId: slow\n      parameters:\n        \
    - {name: ms, in: query, schema: {type: integer, minimum: 0, maximum: 10000}}\n      \
    responses: {'200': {description: ok}}\n";
/// `GET /headers` of the faults module.
pub const HEADERS: &str = "  /headers:\n    get:\n      operationId: headers\n      responses: {'200': {description: ok}}\n";
/// `GET /env?name=` of the faults module.
pub const ENV: &str = "  /env:\n    get:\n      operationId: env\n      parameters:\n        \
    - {name: name, in: query, required: true, schema: {type: string}}\n      \
    responses: {'200': {description: ok}}\n";

/// An OpenAPI 3 description served at `url` (quoted, so `${VAR}`s are
/// plain YAML), `paths` one or more of the snippets above.
pub fn openapi(url: &str, description: &str, paths: &[&str]) -> String {
    format!(
        "openapi: 3.0.3\ninfo: {{title: t, version: '1', description: '{description}'}}\n\
         servers: [{{url: '{url}'}}]\npaths:\n{}",
        paths.concat()
    )
}

/// A mesh on a temporary directory, watched.
pub struct Watched {
    pub tmp: tempfile::TempDir,
    pub mesh: Arc<DevMesh>,
    pub events: broadcast::Receiver<ReloadEvent>,
    _watch: WatchHandle,
}

impl Watched {
    /// Starts a mesh on a temporary directory, after `prepare` has written
    /// what it should find there at start.
    pub async fn start(prepare: impl FnOnce(&Path), tune: impl FnOnce(&mut DevOptions)) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("info")
            .with_test_writer()
            .try_init();
        let tmp = tempfile::tempdir().expect("tempdir");
        prepare(tmp.path());
        let mut options = DevOptions::new(tmp.path());
        tune(&mut options);
        let mesh = start(options).await;
        let watch = mesh.watch().expect("watching");
        let events = watch.subscribe();
        Self {
            tmp,
            mesh,
            events,
            _watch: watch,
        }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.tmp.path().join(relative)
    }

    pub async fn get(&self, path: &str) -> Resp {
        call_at(self.mesh.local_addr(), "GET", path).send().await
    }

    /// The next reload event, whatever it is.
    pub async fn next(&mut self, within: Duration) -> ReloadEvent {
        tokio::time::timeout(within, self.events.recv())
            .await
            .unwrap_or_else(|_| panic!("no reload event within {within:?}"))
            .expect("the watcher is running")
    }

    /// The next `Reloaded` of `dir`: its hash, and the one it replaced.
    /// A failure of `dir` meanwhile fails the test with its error.
    pub async fn reloaded(&mut self, dir: &str, within: Duration) -> (String, Option<String>) {
        let want = self.path(dir);
        loop {
            match self.next(within).await {
                ReloadEvent::Reloaded {
                    dir,
                    hash,
                    previous,
                    ..
                } if dir == want => return (hash, previous),
                ReloadEvent::Failed { dir, error, .. } if dir == want => {
                    panic!("{} failed to reload: {error}", dir.display())
                }
                _ => {}
            }
        }
    }

    /// The next `Failed` of `dir`: its error.
    pub async fn failed(&mut self, dir: &str) -> String {
        let want = self.path(dir);
        loop {
            match self.next(BUILD).await {
                ReloadEvent::Failed { dir, error, .. } if dir == want => return error,
                ReloadEvent::Reloaded { dir, hash, .. } if dir == want => {
                    panic!("{} reloaded as {hash}, expected a failure", dir.display())
                }
                _ => {}
            }
        }
    }

    /// The next `Removed` of `dir`.
    pub async fn removed(&mut self, dir: &str) -> String {
        let want = self.path(dir);
        loop {
            if let ReloadEvent::Removed { dir, hash } = self.next(RELOAD).await
                && dir == want
            {
                return hash;
            }
        }
    }
}

/// The hash as the `x-funcmesh-bundle` header carries it.
pub fn short(hash: &str) -> &str {
    &hash[..12]
}

/// Writes `contents` to `path` the way a plain editor save does.
pub fn save(path: &Path, contents: &str) {
    std::fs::write(path, contents).expect("saving");
}

/// A bundle of the faults module with `spec` as its openapi.yaml, written
/// in a staging directory and moved into place in one step.
pub fn drop_bundle(into: &Path, name: &str, spec: &str) {
    let staging = into.join(format!(".staging-{name}"));
    std::fs::create_dir_all(&staging).expect("mkdir");
    std::fs::write(staging.join("openapi.yaml"), spec).expect("spec");
    std::fs::copy(faults_wasm(), staging.join("faults.wasm")).expect("module");
    std::fs::rename(&staging, into.join(name)).expect("moving the bundle in");
}

/// The source of a Rust func whose `GET /version` answers `version`.
pub fn lib_rs(version: &str) -> String {
    format!(
        "use func_sdk::{{Request, Response, json}};\n\n\
         func_sdk::export! {{ version }}\n\n\
         pub fn version(_req: Request) -> Response {{\n    \
         Response::json(&json!({{ \"version\": {version} }}))\n}}\n"
    )
}

/// A Rust func crate in `dir` depending on this repository's func-sdk. It
/// is its own workspace, and builds into a target directory under the
/// repository's that every run shares, so that its dependencies are built
/// for wasm32 once, not per run. Its lock file is the examples' one, so the
/// versions are the ones already built and nothing is fetched.
pub fn write_crate(dir: &Path) {
    let repo = root();
    std::fs::create_dir_all(dir.join("src")).expect("mkdir");
    std::fs::create_dir_all(dir.join(".cargo")).expect("mkdir");
    let sdk = repo.join("func-sdk");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"watch-func\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [lib]\ncrate-type = [\"cdylib\"]\n\n\
             [dependencies]\nfunc-sdk = {{ path = {sdk:?} }}\n\n\
             [workspace]\n\n\
             [profile.release]\nincremental = true\n"
        ),
    )
    .expect("Cargo.toml");
    let target = repo.join("target/watch-guests");
    std::fs::write(
        dir.join(".cargo/config.toml"),
        format!("[build]\ntarget-dir = {target:?}\n"),
    )
    .expect("config.toml");
    std::fs::copy(
        repo.join("swagger-examples/Cargo.lock"),
        dir.join("Cargo.lock"),
    )
    .expect("Cargo.lock");
    std::fs::write(dir.join("src/lib.rs"), lib_rs("1")).expect("lib.rs");
    std::fs::write(
        dir.join("openapi.yaml"),
        "openapi: 3.0.3\ninfo: {title: rust, version: '1'}\nservers: [{url: /rust}]\npaths:\n  \
         /version:\n    get:\n      operationId: version\n      responses: {'200': {description: ok}}\n",
    )
    .expect("openapi.yaml");
}
