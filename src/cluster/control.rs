//! Control messages, JSON on the bus's fan-out topics.
//!
//! A tron announces its routing table on [`queues::ROUTES_TOPIC`] whenever it
//! changes and every [`ANNOUNCE_EVERY`], and at once when a gateway or runner
//! says hello on [`queues::HELLO_TOPIC`]. The table names each route's Func
//! queue and bundle hash: gateways route by it, and runners serve every
//! route in it (placing routes on some runners only is the scaler's job).
//! Runners send a [`RunnerHeartbeat`] on [`queues::RUNNER_STATS_TOPIC`]
//! every [`HEARTBEAT_EVERY`]; a tron forgets a runner not heard from for
//! [`RUNNER_EXPIRY`]. The announcement also carries the capture rules that
//! the gateways apply (see [`crate::capture::control`]).

use std::time::Duration;

use funcmesh_core::capture::CaptureRules;
use funcmesh_core::queues;
use funcmesh_core::routing::RouteTable;
use funcmesh_runner::StatsSnapshot;
use serde::{Deserialize, Serialize};

/// How often a tron repeats its routing table unasked.
pub const ANNOUNCE_EVERY: Duration = Duration::from_secs(2);
/// How often a runner reports.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// How long a runner's last heartbeat counts.
pub const RUNNER_EXPIRY: Duration = Duration::from_secs(5);

/// A tron's routing table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoutesAnnouncement {
    /// The announcing tron's id (a tron that restarts has a new one).
    pub tron: String,
    /// Where runners fetch bundles: `http://host:port` of its admin listener.
    pub store: Option<String>,
    /// The routes, with the bundle hash live on each.
    pub table: RouteTable,
    /// What the gateways capture (older trons send none: nothing).
    #[serde(default)]
    pub capture: CaptureRules,
}

/// A gateway or runner that just connected asks for the routes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    /// `gateway` or `runner`.
    pub component: String,
    /// Its id.
    pub id: String,
}

/// What a runner reports about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunnerHeartbeat {
    /// The runner's id.
    pub runner: String,
    /// Its host name and process id, for an operator.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// Calls it runs at once.
    pub concurrency: usize,
    /// The Func queues it consumes.
    pub queues: Vec<String>,
    /// The bundle versions installed.
    pub bundles: Vec<String>,
    /// Its counters since it started.
    pub stats: StatsSnapshot,
    /// When it sent this, in milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// Encodes a control message.
pub fn encode<T: Serialize>(message: &T) -> bytes::Bytes {
    // These types serialize infallibly (no maps with non-string keys).
    serde_json::to_vec(message).map_or_else(|_| bytes::Bytes::new(), bytes::Bytes::from)
}

/// Decodes a control message, logging (not failing on) garbage.
pub fn decode<T: for<'de> Deserialize<'de>>(topic: &str, body: &[u8]) -> Option<T> {
    match serde_json::from_slice(body) {
        Ok(message) => Some(message),
        Err(error) => {
            tracing::warn!(topic, %error, "malformed control message ignored");
            None
        }
    }
}

/// The topics, re-exported for the nodes.
pub use queues::{HELLO_TOPIC, ROUTES_TOPIC, RUNNER_STATS_TOPIC};

/// A short random id for a process.
pub fn new_id() -> String {
    let uuid = uuid::Uuid::now_v7().simple().to_string();
    uuid[uuid.len() - 12..].to_owned()
}
