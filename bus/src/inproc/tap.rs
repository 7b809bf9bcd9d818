//! Taps on in-process queues: each publish also hands a copy to every tap.
//!
//! A tap's copies wait in a bounded channel. When it is full the copy is
//! dropped and counted, and the tap logs the count when it next delivers:
//! a capture that falls behind never holds a publisher up.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use tokio::sync::mpsc;

use super::NoAck;
use crate::{Delivery, Payload, Result, Subscription};

/// How many copies a tap may fall behind before it loses some.
pub(crate) const TAP_BACKLOG: usize = 1024;

struct Tap {
    tx: mpsc::Sender<Payload>,
    lost: Arc<AtomicU64>,
}

/// The taps of one queue.
#[derive(Default)]
pub(crate) struct Taps {
    taps: Mutex<Vec<Tap>>,
}

impl Taps {
    /// A new tap on this queue.
    pub(crate) fn add(&self, queue: &str) -> TapStream {
        let (tx, rx) = mpsc::channel(TAP_BACKLOG);
        let lost = Arc::new(AtomicU64::new(0));
        self.taps.lock().push(Tap {
            tx,
            lost: Arc::clone(&lost),
        });
        TapStream {
            queue: queue.to_owned(),
            rx,
            lost,
            reported: 0,
        }
    }

    /// Hands a copy of a published message to every tap; forgets the taps
    /// that were dropped. A value carried as itself is shared, not encoded:
    /// the tap's reader encodes it, off the publisher's path.
    pub(crate) fn offer(&self, body: &Payload) {
        let mut taps = self.taps.lock();
        if taps.is_empty() {
            return;
        }
        taps.retain(|tap| match tap.tx.try_send(body.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tap.lost.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
    }

    /// How many taps are kept.
    #[cfg(test)]
    pub(crate) fn count(&self) -> usize {
        self.taps.lock().len()
    }
}

/// The receiving end of one tap.
pub(crate) struct TapStream {
    queue: String,
    rx: mpsc::Receiver<Payload>,
    lost: Arc<AtomicU64>,
    reported: u64,
}

#[async_trait::async_trait]
impl Subscription for TapStream {
    async fn next(&mut self) -> Option<Result<Delivery>> {
        let body = self.rx.recv().await?;
        let lost = self.lost.load(Ordering::Relaxed);
        if lost > self.reported {
            tracing::warn!(
                queue = %self.queue,
                lost = lost - self.reported,
                "tap fell behind; copies lost"
            );
            self.reported = lost;
        }
        Some(Ok(Delivery::new(body, 1, None, Box::new(NoAck))))
    }
}
