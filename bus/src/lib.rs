//! The message bus that every funcmesh component talks through.
//!
//! - [`Bus`] is the one trait: declare a queue, publish, consume with
//!   acknowledge / negative-acknowledge, read a queue's depth. Its shape fits
//!   the brokers funcmesh runs on: an AMQP delivery tag, a JetStream message
//!   ack and a Kafka offset commit all sit behind [`Delivery::ack`].
//! - [`inproc`] is the embedded implementation: bounded queues, competing
//!   consumers, redelivery of anything dropped without an ack, dead letters.
//! - [`amqp`] is the RabbitMQ backend (feature `amqp`, on by default): the
//!   same promises kept by a broker, with reconnection in the background.
//! - [`nats`] is the NATS backend (feature `nats`, on by default): work
//!   queues on JetStream, reply queues and broadcasts on core NATS, with
//!   reconnection in the background.
//! - [`kafka`] is the Kafka backend (feature `kafka`, on by default): queues
//!   as topics whose partitions the consumers of a queue split among
//!   themselves (not through the broker's consumer groups), offsets
//!   committed under the queue's group id once every message before them is
//!   settled.
//! - [`connect`] picks an implementation from a bus URL; [`redact`] hides
//!   the credentials in one, for logs and errors.
//!
//! [`namespace`] finds what a mesh left on its broker and removes it.
//!
//! [`Bus::tap`] copies a work queue's traffic without consuming it; each
//! backend does it in a `tap` module of its own.
#![deny(missing_docs)]

#[cfg(feature = "amqp")]
pub mod amqp;
mod backoff;
mod bus_url;
mod error;
pub mod inproc;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod namespace;
#[cfg(feature = "nats")]
pub mod nats;
pub mod stats;
mod types;

pub use backoff::Backoff;
pub use bus_url::redact;
pub use error::{Error, Result, error_chain};
pub use types::{
    Acker, ConsumeOptions, Consumer, Delivery, Local, Message, Payload, QueueDepth, QueueSpec,
    Subscription, now_ms,
};

use std::sync::Arc;

use bytes::Bytes;

/// A message broker as funcmesh uses it.
///
/// Every method is safe to call from many tasks at once. Publishing to a queue
/// that was never declared is an error, so a typo never loses messages.
#[async_trait::async_trait]
pub trait Bus: Send + Sync + 'static {
    /// The OpenTelemetry `messaging.system` name of this backend.
    fn system(&self) -> &'static str;

    /// Creates the queue if it does not exist. Declaring twice is harmless.
    async fn declare(&self, spec: &QueueSpec) -> Result<()>;

    /// Puts one message on a queue. A full queue answers [`Error::QueueFull`]
    /// at once: that is backpressure, and nothing is dropped silently.
    async fn publish(&self, queue: &str, message: Message) -> Result<()>;

    /// Starts a consumer. Consumers of one queue compete for its messages.
    async fn consume(&self, queue: &str, options: ConsumeOptions) -> Result<Consumer>;

    /// How many messages wait on the queue and how many are out unacknowledged.
    async fn depth(&self, queue: &str) -> Result<QueueDepth>;

    /// Whether [`depth`](Self::depth)'s `ready` also counts the messages
    /// consumers hold (delivered, not yet settled). Kafka's lag does: a
    /// group's committed position moves only past settled messages. The
    /// other backends count only what waits.
    fn depth_counts_held(&self) -> bool {
        false
    }

    /// How many messages this process's consumers took that
    /// [`depth`](Self::depth) still counts as ready: on Kafka, those
    /// received behind their queues' committed positions, settled or not
    /// (a position moves only past a partition's lowest message out).
    /// 0 on the backends whose depth counts only what waits.
    fn held(&self) -> u64 {
        0
    }

    /// The largest message the broker takes, in bytes, when this backend
    /// can tell (a bigger one is refused); `None` when it cannot.
    fn max_message_bytes(&self) -> Option<usize> {
        None
    }

    /// Returns once the consumers this process has dropped owe the broker
    /// nothing more, so that what was settled here is not delivered again
    /// elsewhere. A process that stops calls it, with a bound, after
    /// dropping its consumers and before it exits. On Kafka, the last commit
    /// of each one's positions and the hand-over of its partitions; on
    /// RabbitMQ, the consumers' channels closed, a moment after their last
    /// acknowledgements (with only the connection's end behind them, such
    /// acknowledgements were seen lost); on NATS, the acknowledgements the
    /// client still holds written out. At once in process.
    async fn finish(&self) {}

    /// Fans `body` out to every listener of `topic` (routing tables, runner
    /// heartbeats). Nothing is kept: a listener that starts later sees only
    /// later messages, and a topic with no listener drops the message.
    async fn broadcast(&self, topic: &str, body: Bytes) -> Result<()>;

    /// Starts listening to `topic`. Each listener gets every message
    /// broadcast after it started; [`Delivery::ack`] is a no-op on these.
    async fn listen(&self, topic: &str) -> Result<Consumer>;

    /// Starts a tap on a work queue: a copy of every message published to
    /// `queue` from now on, without taking anything from the queue's
    /// consumers or changing its depth (traffic capture). [`Delivery::ack`]
    /// and [`Delivery::nack`] are no-ops on the copies. A tap that falls
    /// behind loses copies (the backend logs it) rather than slow or block
    /// a publisher. A queue that was never declared is
    /// [`Error::UnknownQueue`].
    async fn tap(&self, queue: &str) -> Result<Consumer>;
}

/// How long a process that stops waits for [`Bus::finish`].
pub const FINISH_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// [`Bus::finish`], waited for [`FINISH_WAIT`] at most, with a warning when
/// that was not enough. What a process that stops calls last, once its
/// consumers are dropped and what they delivered is settled.
pub async fn finish(bus: &dyn Bus) {
    if tokio::time::timeout(FINISH_WAIT, bus.finish())
        .await
        .is_err()
    {
        tracing::warn!(
            wait_ms = FINISH_WAIT.as_millis() as u64,
            "the bus's consumers did not finish in time: what was settled here may be delivered again elsewhere"
        );
    }
}

/// Opens the bus that `url` names.
///
/// `inproc://` (or `inproc://NAME`) is the embedded bus: every call with the
/// same URL in one process shares one bus.
///
/// `amqp://user:pass@host:5672/vhost?namespace=NAME` is a RabbitMQ broker
/// (see [`amqp`]). It returns at once, even when the broker is down, and
/// connects in the background. `amqps://` is the same over TLS.
///
/// `nats://host:4222?namespace=NAME` is a NATS server with JetStream (see
/// [`nats`]). It too returns at once, even when the server is down, and
/// connects in the background. `tls://` requires TLS.
///
/// `kafka://host:9092?namespace=NAME` is a Kafka cluster or a
/// Kafka-compatible broker (see [`kafka`]). It waits up to a second for the
/// broker, then connects in the background.
pub async fn connect(url: &str) -> Result<Arc<dyn Bus>> {
    // Cut by hand, not by the `url` crate: a list of servers
    // (`nats://a:4222,nats://b:4222`) is no URL to it, nor is a bare
    // `inproc`. Each backend reads its own URL with the crate.
    let scheme = url.split_once("://").map_or(url, |(scheme, _)| scheme);
    match scheme {
        "inproc" | "mem" => Ok(inproc::InProcBus::shared(url)),
        #[cfg(feature = "amqp")]
        "amqp" | "amqps" => Ok(Arc::new(amqp::AmqpBus::open(url)?)),
        #[cfg(feature = "nats")]
        "nats" | "tls" => Ok(Arc::new(nats::NatsBus::open(url).await?)),
        #[cfg(feature = "kafka")]
        "kafka" => Ok(Arc::new(kafka::KafkaBus::open(url).await?)),
        other => Err(Error::UnsupportedScheme(other.to_owned())),
    }
}
