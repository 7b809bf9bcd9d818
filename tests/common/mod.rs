//! Helpers for the end-to-end tests: one mesh per test binary, started on a
//! shared runtime, and a small HTTP client.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use funcmesh::dev::{DevMesh, DevOptions};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub mod cluster;

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Whether the Docker engine answers (a SKIPPED line, or a failure in CI,
/// when it does not); when it does, the images `names` of `compose/` are
/// built where missing, the funcmesh ones holding this build's binary.
pub fn docker_images(names: &[&str]) -> bool {
    if !funcmesh_testkit::docker::engine() {
        return false;
    }
    let binary = Path::new(env!("CARGO_BIN_EXE_funcmesh"));
    funcmesh_testkit::docker::images(&root(), binary, names);
    true
}

/// The runtime every test of the binary runs on, so that one mesh serves them all.
pub fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// Runs a test body on the shared runtime.
pub fn block_on<F: Future>(f: F) -> F::Output {
    rt().block_on(f)
}

/// A mesh a suite runs against, as a failed test reports it.
pub trait ShowsLogs {
    /// What to print when a test fails, beyond its own panic: `None` where
    /// the mesh's warnings reach the test's output already.
    fn logs_for_failure(&self) -> Option<String>;
}

impl ShowsLogs for Arc<DevMesh> {
    fn logs_for_failure(&self) -> Option<String> {
        None
    }
}

/// Runs a test body on the shared runtime; when it fails, prints what
/// `mesh`'s processes logged, which would otherwise go with its temporary
/// directory.
pub fn block_on_showing_logs<F: Future>(mesh: &impl ShowsLogs, f: F) -> F::Output {
    let run = std::panic::AssertUnwindSafe(|| block_on(f));
    std::panic::catch_unwind(run).unwrap_or_else(|panic| {
        if let Some(logs) = mesh.logs_for_failure() {
            eprintln!("what the mesh's processes logged:\n{logs}");
        }
        std::panic::resume_unwind(panic)
    })
}

/// A mesh serving `swagger-examples/` plus the fault fixtures (WebAssembly
/// and Python), shared by the tests of one binary. `direct`: whether the
/// gateway routes by itself or sends everything through the firehose and
/// the tron.
pub fn shared_mesh(direct: bool) -> &'static Arc<DevMesh> {
    static MESH: OnceLock<Arc<DevMesh>> = OnceLock::new();
    MESH.get_or_init(|| {
        block_on(async {
            let _ = tracing_subscriber::fmt()
                .with_env_filter("warn")
                .with_test_writer()
                .try_init();
            let mut options = DevOptions::new(root().join("swagger-examples"));
            options.gateway.direct_routing = direct;
            // The suites read the routes the gateway follows.
            options.gateway.expose_routes = true;
            with_python(&mut options);
            let mesh = start(options).await;
            for fixture in ["tests/fixtures/faults", "tests/fixtures/py-faults"] {
                mesh.load(&root().join(fixture))
                    .await
                    .unwrap_or_else(|e| panic!("loading {fixture}: {e:#}"));
            }
            mesh
        })
    })
}

/// The files one Python worker of a test mesh may hold open.
pub const PYTHON_MAX_OPEN_FILES: u64 = 64;
/// The processes the Python workers' user may have in a test mesh.
pub const PYTHON_MAX_PROCESSES: u64 = 64;

/// Python bundles run on workers that are this package's `funcmesh`
/// binary, three per bundle version whatever the machine's cores, so that
/// one held by a test leaves others to serve; with low limits, which the
/// Python suite checks.
pub fn with_python(options: &mut DevOptions) {
    options.python.worker = Some(funcmesh_runner::WorkerCommand::funcmesh(env!(
        "CARGO_BIN_EXE_funcmesh"
    )));
    options.python.workers = 3;
    options.python.max_open_files = PYTHON_MAX_OPEN_FILES;
    options.python.max_processes = PYTHON_MAX_PROCESSES;
}

/// Starts a mesh on 127.0.0.1:0.
pub async fn start(options: DevOptions) -> Arc<DevMesh> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    DevMesh::start(options, listener)
        .await
        .expect("starting the mesh")
}

/// A response as a test sees it.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Resp {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

fn client() -> &'static Client<HttpConnector, Full<Bytes>> {
    static CLIENT: OnceLock<Client<HttpConnector, Full<Bytes>>> = OnceLock::new();
    CLIENT.get_or_init(|| {
        Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(64)
            .build_http()
    })
}

/// A request builder bound to a mesh's address.
pub struct Call {
    addr: SocketAddr,
    req: http::request::Builder,
    body: Bytes,
}

/// Starts a request to a given address.
pub fn call_at(addr: SocketAddr, method: &str, path: &str) -> Call {
    let req = http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    Call {
        addr,
        req,
        body: Bytes::new(),
    }
}

impl Call {
    pub fn host(self, host: &str) -> Self {
        self.header("host", host)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.req = self.req.header(name, value);
        self
    }

    pub fn json(self, value: serde_json::Value) -> Self {
        self.header("content-type", "application/json")
            .body(value.to_string())
    }

    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    pub async fn send(self) -> Resp {
        self.try_send().await.expect("the gateway answers")
    }

    /// Sends, with a connection failure as an error instead of a panic.
    pub async fn try_send(self) -> Result<Resp, String> {
        let _ = self.addr;
        let req = self.req.body(Full::new(self.body)).expect("request");
        let resp = client().request(req).await.map_err(|e| e.to_string())?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok(Resp {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }
}

/// Writes a bundle that has a spec and a copy of an already built module.
pub fn write_bundle(dir: &Path, spec_name: &str, spec: &str, wasm: Option<&Path>) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join(spec_name), spec).expect("write spec");
    if let Some(wasm) = wasm {
        std::fs::copy(wasm, dir.join("func.wasm")).expect("copy wasm");
    }
}
