//! Names of the well-known queues.
//!
//! A Func queue is named from the route it serves (`host;basePath`), not from
//! the bundle version, so that a reload keeps the queue and its waiting
//! messages; the version that must answer travels in the envelope.

use sha2::{Digest, Sha256};

/// The queue every gateway publishes unrouted requests to.
pub const FIREHOSE: &str = "funcmesh.firehose";

/// Where messages go after too many failed deliveries. The tron answers
/// each request found here with a 502, then parks it on [`PARKED`].
pub const DEAD_LETTER: &str = "funcmesh.dead-letter";

/// Dead letters already answered, kept for an operator to inspect or replay.
pub const PARKED: &str = "funcmesh.dead-letter.parked";

/// The control topic on which trons announce the routing table.
pub const ROUTES_TOPIC: &str = "routes";

/// The control topic on which a starting gateway or runner asks the trons
/// to announce the routing table now.
pub const HELLO_TOPIC: &str = "hello";

/// The control topic on which `funcmesh capture on|off` asks the trons to
/// change the capture rules they announce to the gateways.
pub const CAPTURE_TOPIC: &str = "capture";

/// The control topic on which `funcmesh log-level` asks the trons to
/// change the per-Func log levels they announce.
pub const LOG_LEVEL_TOPIC: &str = "log-level";

/// The control topic on which trons claim the scaler's lease.
pub const SCALER_TOPIC: &str = "scaler";

/// The control topic of runner heartbeats and statistics.
pub const RUNNER_STATS_TOPIC: &str = "runner.stats";

/// The start of every Func queue's name.
pub const FUNC_QUEUE_PREFIX: &str = "funcmesh.func.";

/// The queue of the Func that serves `host` (`None`: any host) and `base_path`.
pub fn func_queue(host: Option<&str>, base_path: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(host.unwrap_or("*").as_bytes());
    hasher.update(b";");
    hasher.update(base_path.as_bytes());
    let digest = hasher.finalize();
    format!("{FUNC_QUEUE_PREFIX}{}", hex::encode(&digest[..8]))
}

/// A gateway's own reply queue.
pub fn reply_queue(gateway_id: &str) -> String {
    format!("funcmesh.reply.{gateway_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn func_queue_depends_on_route_only() {
        assert_eq!(
            func_queue(Some("a.com"), "/x"),
            func_queue(Some("a.com"), "/x")
        );
        assert_ne!(func_queue(Some("a.com"), "/x"), func_queue(None, "/x"));
        assert_ne!(
            func_queue(Some("a.com"), "/x"),
            func_queue(Some("a.com"), "/y")
        );
        assert!(func_queue(None, "").starts_with("funcmesh.func."));
    }
}
