//! The end-to-end suites on NATS with JetStream, with the tron, the gateway
//! and two runners as separate `funcmesh` processes: the RabbitMQ cluster's
//! suites, unchanged but for the bus URL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::cluster::{Cluster, NATS};

fn mesh() -> &'static Cluster {
    common::cluster::shared(NATS)
}

async fn requests_served() -> u64 {
    mesh().requests_served().await
}

include!("suite/e2e.rs");
include!("suite/capture.rs");
include!("suite/security.rs");

/// The Python suite, in a module of its own: its helpers have the same
/// names as the e2e suite's.
mod python {
    use super::{common, mesh};

    /// The runners run without `--dev-mode`: no tracebacks in 502 answers.
    const DEV_MODE: bool = false;

    include!("suite/python.rs");
}
