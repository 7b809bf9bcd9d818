//! The end-to-end suite on the in-process bus, with every request going
//! through the firehose and the tron.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

fn mesh() -> &'static std::sync::Arc<funcmesh::dev::DevMesh> {
    common::shared_mesh(false)
}

async fn requests_served() -> u64 {
    mesh().runner_stats().requests
}

include!("suite/e2e.rs");

/// The Python suite, in a module of its own: its helpers have the same
/// names as the e2e suite's.
mod python {
    use super::{common, mesh};

    /// The in-process mesh runs in dev mode: tracebacks in 502 answers.
    const DEV_MODE: bool = true;

    include!("suite/python.rs");
}
