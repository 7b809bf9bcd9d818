//! `funcmesh dev`: gateway, tron and runner in one process on the in-process
//! bus, serving every bundle found under a directory.
//!
//! The request path is the production one: gateway → (firehose → tron →)
//! Func queue → runner → reply queue → gateway. Only the bus is embedded.
//!
//! - `mesh`: [`DevMesh`], the components composed, loading and unloading
//!   bundles while it serves.
//! - `watch`: [`DevMesh::watch`], reload on save through [`crate::watch`].

mod mesh;
mod watch;

pub use crate::watch::{LoadOutcome, ReloadEvent, WatchHandle};
pub use mesh::DevMesh;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How `funcmesh dev` runs.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// The directory of bundles.
    pub dir: PathBuf,
    /// Gateway settings.
    pub gateway: funcmesh_gateway::GatewayConfig,
    /// Calls run at once by the runner.
    pub concurrency: usize,
    /// Requests that may wait on one Func queue before new ones get 503.
    pub queue_limit: usize,
    /// Deliveries of one message before it is dead-lettered.
    pub max_deliveries: u32,
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
    /// Defaults for serving `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            gateway: funcmesh_gateway::GatewayConfig::default(),
            concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()) * 2,
            queue_limit: 10_000,
            max_deliveries: 5,
            dev_mode: true,
            debounce: crate::watch::WatchOptions::default().debounce,
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
