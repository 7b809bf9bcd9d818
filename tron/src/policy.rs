//! The queues of a cluster and their limits. Only the tron declares the
//! shared queues (the firehose, the dead letters, the Func queues), so that
//! their arguments come from one place; a broker refuses a second
//! declaration with other limits.

use funcmesh_bus::{Bus, QueueSpec};
use funcmesh_core::queues;

/// Limits of the shared queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePolicy {
    /// Requests that may wait on one queue before new ones get 503.
    pub queue_limit: usize,
    /// Deliveries of one request before it is dead-lettered (its client
    /// then gets 502).
    pub max_deliveries: u32,
    /// Dead letters kept for inspection.
    pub parked_limit: usize,
}

impl Default for QueuePolicy {
    fn default() -> Self {
        Self {
            queue_limit: 10_000,
            max_deliveries: 5,
            parked_limit: 100_000,
        }
    }
}

impl QueuePolicy {
    /// A work queue for requests (the firehose or a Func queue).
    pub fn work(&self, name: &str) -> QueueSpec {
        QueueSpec::work(name)
            .max_len(self.queue_limit)
            .dead_letter_after(self.max_deliveries, queues::DEAD_LETTER)
    }

    /// Declares the firehose (named `firehose`) and the dead-letter queues.
    pub async fn declare_shared(&self, bus: &dyn Bus, firehose: &str) -> funcmesh_bus::Result<()> {
        bus.declare(&QueueSpec::work(queues::DEAD_LETTER)).await?;
        bus.declare(&QueueSpec::work(queues::PARKED).max_len(self.parked_limit))
            .await?;
        bus.declare(&self.work(firehose)).await
    }
}
