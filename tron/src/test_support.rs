//! Hand-made bundles for the unit tests.

use std::path::PathBuf;
use std::sync::Arc;

use funcmesh_core::bundle::{Bundle, Code, Manifest};

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
