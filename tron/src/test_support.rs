//! Hand-made bundles for the unit tests.

use std::path::PathBuf;
use std::sync::Arc;

use funcmesh_bus::now_ms;
use funcmesh_core::bundle::{Bundle, Code, Manifest};
use funcmesh_core::envelope::{Body, RequestEnvelope, VERSION};

pub(crate) fn bundle(dir: &str, host: Option<&str>, base: &str, hash: &str) -> Arc<Bundle> {
    Arc::new(Bundle {
        hash: hash.into(),
        name: dir.into(),
        dir: PathBuf::from(dir),
        spec_file: PathBuf::from(dir).join("openapi.yaml"),
        host: host.map(str::to_owned),
        base_path: base.into(),
        operations: Vec::new(),
        manifest: Manifest::default(),
        code: Code::Wasm {
            path: PathBuf::from("x.wasm"),
            bytes: Arc::from(&b"\0asm"[..]),
        },
    })
}

/// A request for `host` and `path`, answered on `reply.test` within a minute.
pub(crate) fn request(host: &str, path: &str) -> RequestEnvelope {
    RequestEnvelope {
        version: VERSION.into(),
        id: format!("req-{path}"),
        method: "GET".into(),
        scheme: "http".into(),
        host: host.into(),
        path: path.into(),
        query: String::new(),
        headers: Vec::new(),
        body: Body::Empty,
        reply_to: Some("reply.test".into()),
        deadline_ms: now_ms() + 60_000,
        trace: None,
        bundle: None,
        remote_addr: None,
        describe: None,
    }
}
