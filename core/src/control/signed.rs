//! Control messages that prove they come from the mesh: a [`Bus`] whose
//! broadcasts carry a MAC under the mesh token, and whose listeners drop
//! (and count, and log) every message that does not verify.
//!
//! A signed message is the message's bytes followed by a 44-byte trailer:
//! the time it was sent (milliseconds since the epoch, big-endian u64), the
//! HMAC-SHA-256 of the topic, a zero byte, that time and the message, and
//! the marker [`MARKER`]. A listener takes it only if the MAC verifies for
//! the topic it arrived on (a heartbeat cannot pass for an announcement),
//! if it was sent within [`MAX_SKEW`] of the listener's clock, and if that
//! listener has not taken the same message before (a recorded message
//! cannot be sent again later to undo a change).
//!
//! Work queues (requests and replies) are not signed here: who may publish
//! on them is the broker's permissions' business (see the operations
//! guide).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{BufMut as _, Bytes, BytesMut};
use funcmesh_bus::{
    Bus, ConsumeOptions, Consumer, Delivery, Message, QueueDepth, QueueSpec, Result, Subscription,
    now_ms,
};

use crate::auth::MeshToken;

/// The last four bytes of a signed message.
pub const MARKER: &[u8; 4] = b"fmS1";
/// How far a message's time may be from the listener's clock.
pub const MAX_SKEW: Duration = Duration::from_secs(60);
const TRAILER: usize = 8 + 32 + MARKER.len();

/// A bus whose broadcasts are signed and whose listeners verify.
pub struct SignedBus {
    inner: Arc<dyn Bus>,
    token: MeshToken,
    rejected: Arc<AtomicU64>,
}

impl SignedBus {
    /// `inner` with its control messages signed and checked under `token`.
    pub fn wrap(inner: Arc<dyn Bus>, token: MeshToken) -> Arc<dyn Bus> {
        Arc::new(Self {
            inner,
            token,
            rejected: Arc::new(AtomicU64::new(0)),
        })
    }
}

/// `body` signed for `topic` at `sent_ms`.
pub fn sign(token: &MeshToken, topic: &str, sent_ms: u64, body: &[u8]) -> Bytes {
    let time = sent_ms.to_be_bytes();
    let tag = token.control_mac(&[topic.as_bytes(), &[0], &time, body]);
    let mut signed = BytesMut::with_capacity(body.len() + TRAILER);
    signed.put_slice(body);
    signed.put_slice(&time);
    signed.put_slice(&tag);
    signed.put_slice(MARKER);
    signed.freeze()
}

/// Why a control message was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// No trailer: sent by a process without the token.
    #[error("it is not signed (is every process of the mesh given the same FUNCMESH_TOKEN?)")]
    Unsigned,
    /// The MAC does not verify: another token, or altered bytes.
    #[error("its signature does not verify (another mesh token, or altered on the way)")]
    BadSignature,
    /// Sent too long ago or too far ahead.
    #[error("it was sent {0} ms from this clock, beyond the {max} ms allowed", max = MAX_SKEW.as_millis())]
    Stale(i64),
    /// Taken once already by this listener.
    #[error("it repeats a message already taken")]
    Replayed,
}

/// The message inside a signed `body` received on `topic`, and its MAC.
pub fn open<'a>(
    token: &MeshToken,
    topic: &str,
    body: &'a [u8],
    now_ms: u64,
) -> Result<(&'a [u8], u64, [u8; 32]), Refused> {
    let split = body
        .len()
        .checked_sub(TRAILER)
        .filter(|_| body.ends_with(MARKER))
        .ok_or(Refused::Unsigned)?;
    let (message, trailer) = body.split_at(split);
    let (time, rest) = trailer.split_at(8);
    let tag = &rest[..32];
    if !token.verify_control_mac(&[topic.as_bytes(), &[0], time, message], tag) {
        return Err(Refused::BadSignature);
    }
    let mut sent = [0u8; 8];
    sent.copy_from_slice(time);
    let sent = u64::from_be_bytes(sent);
    let off = i64::try_from(sent).unwrap_or(i64::MAX) - i64::try_from(now_ms).unwrap_or(0);
    if off.unsigned_abs() > MAX_SKEW.as_millis() as u64 {
        return Err(Refused::Stale(off));
    }
    let mut mac = [0u8; 32];
    mac.copy_from_slice(tag);
    Ok((message, sent, mac))
}

#[async_trait::async_trait]
impl Bus for SignedBus {
    fn system(&self) -> &'static str {
        self.inner.system()
    }

    async fn declare(&self, spec: &QueueSpec) -> Result<()> {
        self.inner.declare(spec).await
    }

    async fn publish(&self, queue: &str, message: Message) -> Result<()> {
        self.inner.publish(queue, message).await
    }

    async fn consume(&self, queue: &str, options: ConsumeOptions) -> Result<Consumer> {
        self.inner.consume(queue, options).await
    }

    async fn depth(&self, queue: &str) -> Result<QueueDepth> {
        self.inner.depth(queue).await
    }

    fn depth_counts_held(&self) -> bool {
        self.inner.depth_counts_held()
    }

    fn held(&self) -> u64 {
        self.inner.held()
    }

    fn max_message_bytes(&self) -> Option<usize> {
        self.inner.max_message_bytes()
    }

    async fn finish(&self) {
        self.inner.finish().await
    }

    async fn broadcast(&self, topic: &str, body: Bytes) -> Result<()> {
        let signed = sign(&self.token, topic, now_ms(), &body);
        self.inner.broadcast(topic, signed).await
    }

    async fn listen(&self, topic: &str) -> Result<Consumer> {
        let inner = self.inner.listen(topic).await?;
        Ok(Consumer::new(Verified {
            inner,
            topic: topic.to_owned(),
            token: self.token.clone(),
            rejected: Arc::clone(&self.rejected),
            seen: Seen::default(),
            last_warning_ms: 0,
        }))
    }

    async fn tap(&self, queue: &str) -> Result<Consumer> {
        self.inner.tap(queue).await
    }
}

/// A listener that passes on only the messages that verify.
struct Verified {
    inner: Consumer,
    topic: String,
    token: MeshToken,
    rejected: Arc<AtomicU64>,
    seen: Seen,
    last_warning_ms: u64,
}

#[async_trait::async_trait]
impl Subscription for Verified {
    async fn next(&mut self) -> Option<Result<Delivery>> {
        loop {
            let mut delivery = match self.inner.next().await? {
                Ok(delivery) => delivery,
                Err(error) => return Some(Err(error)),
            };
            let now = now_ms();
            let body = delivery.bytes();
            let opened =
                open(&self.token, &self.topic, &body, now).and_then(|(message, sent, mac)| {
                    self.seen.admit(mac, sent, now).map(|()| message.len())
                });
            match opened {
                Ok(len) => {
                    delivery.set_payload(body.slice(..len));
                    return Some(Ok(delivery));
                }
                Err(why) => self.refuse(why, now),
            }
        }
    }
}

impl Verified {
    /// Counts a refusal and logs it, at most once a second per listener
    /// (a flood of forgeries must not flood the log).
    fn refuse(&mut self, why: Refused, now: u64) {
        let total = self.rejected.fetch_add(1, Ordering::Relaxed) + 1;
        if now.saturating_sub(self.last_warning_ms) >= 1000 {
            self.last_warning_ms = now;
            tracing::warn!(
                topic = %self.topic,
                refused_total = total,
                "control message ignored: {why}"
            );
        }
    }
}

/// The MACs of the messages a listener took within the skew window.
#[derive(Default)]
struct Seen {
    macs: HashSet<[u8; 32]>,
    order: VecDeque<(u64, [u8; 32])>,
}

impl Seen {
    fn admit(&mut self, mac: [u8; 32], sent_ms: u64, now_ms: u64) -> Result<(), Refused> {
        let horizon = now_ms.saturating_sub(2 * MAX_SKEW.as_millis() as u64);
        while let Some(&(sent, old)) = self.order.front() {
            if sent >= horizon {
                break;
            }
            self.macs.remove(&old);
            self.order.pop_front();
        }
        if !self.macs.insert(mac) {
            return Err(Refused::Replayed);
        }
        self.order.push_back((sent_ms, mac));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
