//! `funcmesh dev`: the mesh's own tron, gateway and runner nodes, on the
//! in-process bus, in one process, serving every bundle found under a
//! directory.
//!
//! The request path is the cluster's: gateway → (firehose → tron →) Func
//! queue → runner → reply queue → gateway, with the routes announced on
//! the bus's control topics as in a cluster. Only the bus is embedded, and
//! the runner takes bundles from the tron in memory instead of over HTTP.
//!
//! - `mesh`: [`DevMesh`], the nodes composed.

mod mesh;

pub use funcmesh_tron::watch::{LoadOutcome, ReloadEvent, WatchHandle};
pub use mesh::DevMesh;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use funcmesh_tron::QueuePolicy;

/// How `funcmesh dev` runs.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// The directory of bundles.
    pub dir: PathBuf,
    /// Gateway settings.
    pub gateway: funcmesh_gateway::GatewayConfig,
    /// Calls run at once by the runner.
    pub concurrency: usize,
    /// The queues' limits, as a tron declares them in a cluster.
    pub policy: QueuePolicy,
    /// Whether error bodies may carry a function's panic message.
    pub dev_mode: bool,
    /// How long the watcher holds a file's events to merge a burst of
    /// writes into one reload.
    pub debounce: Duration,
    /// How Python bundles run; without a worker command they are refused.
    pub python: funcmesh_runner::PythonConfig,
    /// Where captured exchanges are written; without it nothing is captured.
    pub capture: Option<funcmesh_core::capture::WriterConfig>,
    /// Which Funcs are captured from the start (the gateway's
    /// [`Capture`](funcmesh_core::capture::Capture) changes them at run time).
    pub capture_rules: funcmesh_core::capture::CaptureRules,
}

impl DevOptions {
    /// Defaults for serving `dir`: each node's own defaults.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let tron = funcmesh_tron::TronOptions::new(PathBuf::new());
        Self {
            dir: dir.into(),
            // Development serves every bundle's contract (`/__openapi`).
            gateway: funcmesh_gateway::GatewayConfig {
                expose_openapi: true,
                ..Default::default()
            },
            concurrency: funcmesh_runner::ExecutorConfig::default().concurrency,
            policy: tron.policy,
            dev_mode: true,
            debounce: tron.debounce,
            python: funcmesh_runner::PythonConfig::default(),
            capture: None,
            capture_rules: funcmesh_core::capture::CaptureRules::default(),
        }
    }

    /// Sets the gateway's request timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.gateway.timeout = timeout;
        self
    }
}

/// What the listener of a running mesh is bound to.
pub fn describe(addr: SocketAddr) -> String {
    format!("http://{addr}")
}
