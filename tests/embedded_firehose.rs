//! The end-to-end suite on the in-process bus, with every request going
//! through the firehose and the tron.

mod common;

fn mesh() -> &'static std::sync::Arc<funcmesh::dev::DevMesh> {
    common::shared_mesh(false)
}

async fn requests_served() -> u64 {
    mesh().runner_stats().requests
}

include!("suite/e2e.rs");
