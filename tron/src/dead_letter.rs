//! The dead-letter consumer.
//!
//! A request lands on the dead-letter queue when its Func queue's delivery
//! limit runs out: every runner that took it died (or gave it back) before
//! answering. Its client must not wait for the deadline in silence, so each
//! dead letter is answered 502 on its reply queue, then parked on a queue
//! of its own for an operator to inspect. Expired requests are dropped: no
//! client waits for them.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use funcmesh_bus::{Bus, Delivery, Error as BusError, Message, now_ms};
use funcmesh_core::envelope::{RequestEnvelope, ResponseEnvelope};
use serde::Serialize;

/// What the dead-letter consumer has done.
#[derive(Debug, Default)]
pub struct DeadLetterStats {
    answered: AtomicU64,
    expired: AtomicU64,
    parked: AtomicU64,
}

/// A point-in-time copy of [`DeadLetterStats`].
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct DeadLetterSnapshot {
    /// Dead letters whose client got a 502.
    pub answered: u64,
    /// Dead letters dropped because their client had stopped waiting.
    pub expired: u64,
    /// Dead letters moved to the parked queue.
    pub parked: u64,
}

impl DeadLetterStats {
    /// The counters now.
    pub fn snapshot(&self) -> DeadLetterSnapshot {
        DeadLetterSnapshot {
            answered: self.answered.load(Ordering::Relaxed),
            expired: self.expired.load(Ordering::Relaxed),
            parked: self.parked.load(Ordering::Relaxed),
        }
    }
}

/// Answers and parks dead letters.
pub struct DeadLetters {
    bus: Arc<dyn Bus>,
    parked: String,
    stats: Arc<DeadLetterStats>,
}

impl std::fmt::Debug for DeadLetters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadLetters")
            .field("parked", &self.parked)
            .finish()
    }
}

impl DeadLetters {
    /// Parks answered dead letters on `parked` (a declared queue).
    pub fn new(bus: Arc<dyn Bus>, parked: impl Into<String>) -> Self {
        Self::with_stats(bus, parked, Arc::default())
    }

    /// [`new`](Self::new), counting in `stats`.
    pub fn with_stats(
        bus: Arc<dyn Bus>,
        parked: impl Into<String>,
        stats: Arc<DeadLetterStats>,
    ) -> Self {
        Self {
            bus,
            parked: parked.into(),
            stats,
        }
    }

    /// Its counters.
    pub fn stats(&self) -> Arc<DeadLetterStats> {
        Arc::clone(&self.stats)
    }

    /// Consumes `queue` until `shutdown` resolves or the bus closes.
    pub async fn serve(
        &self,
        queue: &str,
        shutdown: impl Future<Output = ()>,
    ) -> funcmesh_bus::Result<()> {
        crate::consume::each_delivery(&*self.bus, queue, 32, "dead-letter", shutdown, |d| {
            self.handle(d)
        })
        .await
    }

    async fn handle(&self, delivery: Delivery) {
        let request = RequestEnvelope::decode_at(&delivery.bytes(), now_ms()).ok();
        if let Some(request) = &request {
            if request.is_expired(now_ms()) {
                self.stats.expired.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(request_id = %request.id, "dead letter past its deadline; dropped");
                return settle(delivery.ack().await);
            }
            if let Err(error) = self.answer(request).await {
                tracing::warn!(request_id = %request.id, %error, "could not answer a dead letter; retrying");
                return settle(delivery.nack(true).await);
            }
        }
        match self.park(&delivery.bytes(), request.as_ref()).await {
            Ok(()) => settle(delivery.ack().await),
            Err(error) => {
                tracing::warn!(%error, queue = %self.parked, "could not park a dead letter; retrying");
                settle(delivery.nack(true).await);
            }
        }
    }

    async fn answer(&self, request: &RequestEnvelope) -> funcmesh_bus::Result<()> {
        let Some(reply_to) = &request.reply_to else {
            return Ok(());
        };
        let bundle = request.bundle.as_deref().unwrap_or("(unrouted)");
        tracing::warn!(request_id = %request.id, bundle, path = %request.path, "request dead-lettered: every delivery failed; answering 502");
        let response = ResponseEnvelope::error(
            &request.id,
            502,
            "the request failed on every delivery: its runners stopped while running it",
        );
        let message = Message::new(response.encode()).expires_at_ms(request.deadline_ms);
        match self.bus.publish(reply_to, message).await {
            Ok(()) => {
                self.stats.answered.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            // The gateway is gone: nobody to answer.
            Err(BusError::UnknownQueue(_)) => Ok(()),
            Err(error) => Err(error),
        }
    }

    async fn park(
        &self,
        body: &[u8],
        request: Option<&RequestEnvelope>,
    ) -> funcmesh_bus::Result<()> {
        match self
            .bus
            .publish(&self.parked, Message::new(body.to_vec()))
            .await
        {
            Ok(()) => {
                self.stats.parked.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(BusError::QueueFull { queue, limit }) => {
                let request_id = request.map_or("(undecodable)", |r| r.id.as_str());
                tracing::warn!(%queue, limit, request_id, "parked dead letters at their limit; this one is dropped");
                Ok(())
            }
            Err(error) => Err(error),
        }
    }
}

fn settle(result: funcmesh_bus::Result<()>) {
    if let Err(error) = result {
        tracing::warn!(%error, "could not settle a dead letter");
    }
}

#[cfg(test)]
mod tests;
