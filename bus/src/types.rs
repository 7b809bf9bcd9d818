use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::Result;

/// A value that can travel as itself on the in-process bus and as bytes
/// on the others (an envelope). Its bytes are made only when something
/// needs them: a network broker's publish, a tap, a consumer that reads
/// bytes.
pub trait Local: Any + Send + Sync {
    /// The bytes a broker carries for this value.
    fn encode(&self) -> Bytes;
}

/// What a message carries: bytes, or a value in its own type.
#[derive(Clone)]
pub enum Payload {
    /// Encoded bytes, as every broker carries them.
    Bytes(Bytes),
    /// A value that has not been encoded (in one process, it never needs
    /// to be).
    Local(Arc<dyn Local>),
}

impl Payload {
    /// The bytes: as they are, or the value encoded now.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Payload::Bytes(bytes) => bytes.clone(),
            Payload::Local(value) => value.encode(),
        }
    }

    /// The value when it is a `T` carried as itself; the payload back when
    /// it is bytes (decode them) or another type.
    pub fn into_local<T: Local>(self) -> std::result::Result<Arc<T>, Payload> {
        let Payload::Local(value) = self else {
            return Err(self);
        };
        let any: Arc<dyn Any + Send + Sync> = value.clone();
        match any.downcast::<T>() {
            // The count is back to what it was once `value` goes.
            Ok(typed) => Ok(typed),
            Err(_) => Err(Payload::Local(value)),
        }
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Payload::Bytes(bytes) => write!(f, "{} bytes", bytes.len()),
            Payload::Local(_) => f.write_str("a value in its own type"),
        }
    }
}

impl From<Bytes> for Payload {
    fn from(bytes: Bytes) -> Self {
        Payload::Bytes(bytes)
    }
}

/// One message as published.
#[derive(Debug, Clone)]
pub struct Message {
    /// The payload (an envelope, encoded or as itself).
    pub payload: Payload,
    /// Absolute expiry in milliseconds since the Unix epoch: after it the
    /// message is not delivered (its client has stopped waiting).
    pub expires_at_ms: Option<u64>,
}

impl Message {
    /// A message of bytes that never expires.
    pub fn new(body: impl Into<Bytes>) -> Self {
        Self {
            payload: Payload::Bytes(body.into()),
            expires_at_ms: None,
        }
    }

    /// A message carrying `value` as itself, encoded only where a broker or
    /// a reader needs its bytes; never expires.
    pub fn local(value: Arc<dyn Local>) -> Self {
        Self {
            payload: Payload::Local(value),
            expires_at_ms: None,
        }
    }

    /// Sets the absolute expiry.
    pub fn expires_at_ms(mut self, at: u64) -> Self {
        self.expires_at_ms = Some(at);
        self
    }

    /// Whether the message has expired by `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expires_at_ms.is_some_and(|at| at <= now_ms)
    }

    /// The payload's bytes (see [`Payload::to_bytes`]).
    pub fn bytes(&self) -> Bytes {
        self.payload.to_bytes()
    }
}

/// Milliseconds since the Unix epoch, the clock that expiries use.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// How a queue behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    /// The queue's name.
    pub name: String,
    /// The most messages that may wait; publishing beyond it fails.
    pub max_len: Option<usize>,
    /// After this many deliveries without an ack the message is dead-lettered.
    pub max_deliveries: Option<u32>,
    /// Where dead letters go (a queue that is declared with it).
    pub dead_letter: Option<String>,
    /// Whether the queue survives a broker restart.
    pub durable: bool,
    /// Whether the queue belongs to one consumer process and goes with it
    /// (a gateway's reply queue).
    pub exclusive: bool,
}

impl QueueSpec {
    /// A durable work queue with no limits.
    pub fn work(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            max_len: None,
            max_deliveries: None,
            dead_letter: None,
            durable: true,
            exclusive: false,
        }
    }

    /// A reply queue owned by one process.
    pub fn reply(name: impl Into<String>) -> Self {
        Self {
            durable: false,
            exclusive: true,
            ..Self::work(name)
        }
    }

    /// Sets the length limit.
    pub fn max_len(mut self, n: usize) -> Self {
        self.max_len = Some(n);
        self
    }

    /// Sets the delivery limit and the dead-letter queue.
    pub fn dead_letter_after(mut self, deliveries: u32, queue: impl Into<String>) -> Self {
        self.max_deliveries = Some(deliveries);
        self.dead_letter = Some(queue.into());
        self
    }
}

/// How a consumer takes messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumeOptions {
    /// The most unacknowledged messages this consumer holds at once.
    pub prefetch: u16,
}

impl Default for ConsumeOptions {
    fn default() -> Self {
        Self { prefetch: 64 }
    }
}

/// Messages waiting and messages out for processing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Ready to be delivered.
    pub ready: u64,
    /// Delivered and not yet acknowledged.
    pub unacked: u64,
}

/// Settles one delivery with its broker.
#[async_trait::async_trait]
pub trait Acker: Send + 'static {
    /// The message is done; the broker forgets it.
    async fn ack(self: Box<Self>) -> Result<()>;
    /// The message was not processed; `requeue` puts it back for another try.
    async fn nack(self: Box<Self>, requeue: bool) -> Result<()>;
}

/// One message handed to a consumer. Dropping it without [`ack`](Self::ack)
/// leaves it to be delivered again, as a consumer's death would.
pub struct Delivery {
    payload: Payload,
    /// 1 for the first delivery, more for redeliveries.
    pub attempt: u32,
    /// The message's absolute expiry, if it has one.
    pub expires_at_ms: Option<u64>,
    acker: Box<dyn Acker>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("payload", &self.payload)
            .field("attempt", &self.attempt)
            .finish()
    }
}

impl Delivery {
    /// Builds a delivery for a backend.
    pub fn new(
        payload: impl Into<Payload>,
        attempt: u32,
        expires_at_ms: Option<u64>,
        acker: Box<dyn Acker>,
    ) -> Self {
        Self {
            payload: payload.into(),
            attempt,
            expires_at_ms,
            acker,
        }
    }

    /// The payload's bytes: as received, or the value encoded now.
    pub fn bytes(&self) -> Bytes {
        self.payload.to_bytes()
    }

    /// What the delivery carries.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// Replaces the payload (a reader that strips a wrapper off the bytes).
    pub fn set_payload(&mut self, payload: impl Into<Payload>) {
        self.payload = payload.into();
    }

    /// Acknowledges: the message is done.
    pub async fn ack(self) -> Result<()> {
        self.acker.ack().await
    }

    /// Gives the message back, to be redelivered when `requeue` is true.
    pub async fn nack(self, requeue: bool) -> Result<()> {
        self.acker.nack(requeue).await
    }

    /// Time left before expiry, if the message has one.
    pub fn time_left(&self) -> Option<Duration> {
        self.expires_at_ms
            .map(|at| Duration::from_millis(at.saturating_sub(now_ms())))
    }
}

/// A stream of deliveries from one queue.
#[async_trait::async_trait]
pub trait Subscription: Send + 'static {
    /// The next delivery; `None` once the bus is closed.
    async fn next(&mut self) -> Option<Result<Delivery>>;
}

/// A consumer of one queue.
pub struct Consumer(Box<dyn Subscription>);

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Consumer")
    }
}

impl Consumer {
    /// Wraps a backend's subscription.
    pub fn new(inner: impl Subscription) -> Self {
        Self(Box::new(inner))
    }

    /// The next delivery; `None` once the bus is closed.
    pub async fn next(&mut self) -> Option<Result<Delivery>> {
        self.0.next().await
    }
}
