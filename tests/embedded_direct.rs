//! The end-to-end suite on the in-process bus, with the gateway routing
//! requests straight to their Func queues.

mod common;

fn mesh() -> &'static std::sync::Arc<funcmesh::dev::DevMesh> {
    common::shared_mesh(true)
}

async fn requests_served() -> u64 {
    mesh().runner_stats().requests
}

include!("suite/e2e.rs");
