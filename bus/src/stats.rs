//! What this process's buses did, counted for its metrics
//! (`funcmesh_core::metrics`): messages published and refused, and
//! connections lost and opened again, per backend. Process-wide, because a
//! process may open a bus more than once (a dev mesh's components share
//! one; a test opens many) and an operator asks about the process.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::Result;

/// The backends, by their `messaging.system` name ([`crate::Bus::system`]).
const SYSTEMS: [&str; 4] = ["inproc", "rabbitmq", "nats", "kafka"];

struct Counters {
    published: [AtomicU64; 4],
    publish_failures: [AtomicU64; 4],
    reconnects: [AtomicU64; 4],
}

static COUNTERS: Counters = Counters {
    published: [const { AtomicU64::new(0) }; 4],
    publish_failures: [const { AtomicU64::new(0) }; 4],
    reconnects: [const { AtomicU64::new(0) }; 4],
};

fn index(system: &str) -> usize {
    SYSTEMS.iter().position(|s| *s == system).unwrap_or(0)
}

/// Counts a publish (or broadcast) of `system` by its result, and hands
/// the result back.
pub(crate) fn counted(system: &'static str, result: Result<()>) -> Result<()> {
    let counters = match result {
        Ok(()) => &COUNTERS.published,
        Err(_) => &COUNTERS.publish_failures,
    };
    counters[index(system)].fetch_add(1, Relaxed);
    result
}

/// Counts a lost connection of `system` that is being opened again.
pub(crate) fn reconnecting(system: &'static str) {
    COUNTERS.reconnects[index(system)].fetch_add(1, Relaxed);
}

/// One backend's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemFigures {
    /// The backend's `messaging.system` name.
    pub system: &'static str,
    /// Messages the bus took.
    pub published: u64,
    /// Publishes refused or not completed.
    pub publish_failures: u64,
    /// Connections lost and being opened again.
    pub reconnects: u64,
}

/// The counts of every backend this process used.
pub fn snapshot() -> Vec<SystemFigures> {
    SYSTEMS
        .iter()
        .enumerate()
        .map(|(i, system)| SystemFigures {
            system,
            published: COUNTERS.published[i].load(Relaxed),
            publish_failures: COUNTERS.publish_failures[i].load(Relaxed),
            reconnects: COUNTERS.reconnects[i].load(Relaxed),
        })
        .filter(|f| f.published + f.publish_failures + f.reconnects > 0)
        .collect()
}
