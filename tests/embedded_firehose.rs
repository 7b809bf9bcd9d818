//! The end-to-end suite on the in-process bus, with every request going
//! through the firehose and the tron.

mod common;

fn mesh() -> &'static std::sync::Arc<funcmesh::dev::DevMesh> {
    common::shared_mesh(false)
}

include!("suite/e2e.rs");
