//! The messages of the control protocol, as they travel (less the version
//! stamp, which [`super::encode`] adds).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::LogLevels;
use crate::capture::CaptureRules;
use crate::routing::RouteTable;

/// A tron's routing table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// The per-Func log levels in force (older trons send none).
    #[serde(default, skip_serializing_if = "LogLevels::is_empty")]
    pub log_levels: LogLevels,
}

/// A gateway or runner that just connected asks for the routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// `gateway` or `runner`.
    pub component: String,
    /// Its id.
    pub id: String,
}

/// What a runner reports about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunnerHeartbeat {
    /// The runner's id.
    pub runner: String,
    /// Its host name, for an operator.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// The runner pool it serves; `None`: every pool (a mesh in one
    /// process).
    #[serde(default)]
    pub pool: Option<String>,
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

/// A runner's counters since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Requests taken on (valid envelope, not expired).
    pub requests: u64,
    /// Requests the function itself answered (any status).
    pub answered: u64,
    /// Requests being worked on now.
    pub in_flight: u64,
    /// Time spent in calls, instantiation included, in microseconds.
    pub run_us_total: u64,
    /// Time requests held one of its slots, in microseconds: the call, and
    /// around it the answer's publication and the delivery's settlement.
    /// What the scaler sizes the pool by (`in_flight` counts slots); 0
    /// from a runner that does not report it.
    #[serde(default)]
    pub busy_us_total: u64,
    /// Messages taken off its queues that their depth still counts as
    /// waiting (Kafka's lag: those received behind a committed position,
    /// running or settled); 0 on the other buses and from a runner that
    /// does not report it. A gauge, like `in_flight`.
    #[serde(default)]
    pub queue_held: u64,
    /// Deliveries skipped because their client had stopped waiting.
    pub expired: u64,
    /// Deliveries that were not envelopes (dead-lettered).
    pub malformed_envelopes: u64,
    /// Replies not published: not taken by the request's deadline, or the
    /// bus closing (the request was then requeued).
    pub publish_failures: u64,
    /// Requests answered by the runner instead, by reason.
    pub failures: BTreeMap<String, u64>,
}

/// A tron's claim to the scaler's lease: of the claims heard within the
/// expiry, the one with the earliest `since` (then the lowest id) holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalerClaim {
    /// The claiming tron's id.
    pub tron: String,
    /// When it started claiming, in milliseconds since the Unix epoch.
    pub since_ms: u64,
}
