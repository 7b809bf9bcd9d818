//! The end-to-end suite on the in-process bus, with the gateway routing
//! requests straight to their Func queues.

mod common;

fn mesh() -> &'static std::sync::Arc<funcmesh::dev::DevMesh> {
    common::shared_mesh(true)
}

include!("suite/e2e.rs");
