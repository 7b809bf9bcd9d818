//! The clients waiting for replies, by request id.
//!
//! Every request takes one short lock to register and the reply consumer one
//! to complete, so the map is split into shards by a hash of the id and no
//! lock is held across an `.await`.

use std::collections::HashMap;

use funcmesh_core::ResponseEnvelope;
use parking_lot::{Mutex, MutexGuard};
use tokio::sync::oneshot;

const SHARDS: usize = 32;

type Shard = HashMap<String, oneshot::Sender<ResponseEnvelope>>;

/// Request id → the waiting client.
pub(crate) struct PendingReplies {
    shards: [Mutex<Shard>; SHARDS],
}

impl PendingReplies {
    pub(crate) fn new() -> Self {
        Self {
            shards: std::array::from_fn(|_| Mutex::default()),
        }
    }

    fn shard(&self, id: &str) -> MutexGuard<'_, Shard> {
        // FNV-1a: cheap, and the random tail of a UUID spreads it well.
        let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        self.shards[(hash % SHARDS as u64) as usize].lock()
    }

    /// Starts waiting for the reply to `id`; `None` when another request
    /// with the same id is waiting already.
    pub(crate) fn register(&self, id: &str) -> Option<oneshot::Receiver<ResponseEnvelope>> {
        let mut shard = self.shard(id);
        if shard.contains_key(id) {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        shard.insert(id.to_owned(), tx);
        Some(rx)
    }

    /// Hands a reply to its client; says which reply it was when nobody
    /// waits for it any more.
    pub(crate) fn complete(&self, reply: ResponseEnvelope) -> Result<(), Late> {
        let waiter = self.shard(&reply.id).remove(&reply.id);
        let unwanted = match waiter {
            Some(tx) => tx.send(reply).err(),
            None => Some(reply),
        };
        match unwanted {
            None => Ok(()),
            Some(reply) => Err(Late {
                id: reply.id,
                status: reply.status,
            }),
        }
    }

    /// Stops waiting for `id`; a reply arriving later is dropped.
    pub(crate) fn cancel(&self, id: &str) {
        self.shard(id).remove(id);
    }

    /// How many clients wait.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

/// A reply nobody waited for (late, after a 504, or a duplicate).
#[derive(Debug)]
pub(crate) struct Late {
    pub id: String,
    pub status: u16,
}

/// One client's wait; dropping it (deadline passed, client gone) cancels.
pub(crate) struct Waiter<'a> {
    pending: &'a PendingReplies,
    id: &'a str,
    rx: oneshot::Receiver<ResponseEnvelope>,
    done: bool,
}

impl<'a> Waiter<'a> {
    pub(crate) fn new(
        pending: &'a PendingReplies,
        id: &'a str,
        rx: oneshot::Receiver<ResponseEnvelope>,
    ) -> Self {
        Self {
            pending,
            id,
            rx,
            done: false,
        }
    }

    /// The reply, or `None` when the reply consumers are gone.
    pub(crate) async fn reply(&mut self) -> Option<ResponseEnvelope> {
        let reply = (&mut self.rx).await.ok();
        // Either way the entry has left the map: completed, or dropped with it.
        self.done = true;
        reply
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.pending.cancel(self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reply_reaches_its_waiter_once() {
        let pending = PendingReplies::new();
        let rx = pending.register("a").unwrap();
        let mut waiter = Waiter::new(&pending, "a", rx);
        assert!(
            pending.register("a").is_none(),
            "ids are unique among waiters"
        );
        assert!(pending.complete(ResponseEnvelope::new("a", 200)).is_ok());
        assert_eq!(waiter.reply().await.unwrap().status, 200);
        assert!(
            pending.complete(ResponseEnvelope::new("a", 200)).is_err(),
            "a duplicate reply has no waiter"
        );
        assert_eq!(pending.len(), 0);
    }

    #[test]
    fn dropping_a_waiter_cancels_it() {
        let pending = PendingReplies::new();
        let rx = pending.register("b").unwrap();
        drop(Waiter::new(&pending, "b", rx));
        assert_eq!(pending.len(), 0);
        assert!(pending.complete(ResponseEnvelope::new("b", 200)).is_err());
        assert!(pending.register("b").is_some(), "the id is free again");
    }
}
