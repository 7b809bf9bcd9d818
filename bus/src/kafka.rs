//! The Kafka backend, through rdkafka (librdkafka).
//!
//! `kafka://host:9092?namespace=NAME` opens a [`KafkaBus`]. The namespace is
//! optional: when set, every topic starts with `NAME.`, while callers keep
//! using the plain names, so several meshes (or test runs) can share one
//! cluster. Several bootstrap brokers are given as `kafka://a:9092,b:9092`;
//! `partitions=N` and `replication=R` shape the topics the bus creates (see
//! `config`).
//!
//! How the bus maps onto Kafka:
//!
//! - A queue is a topic: a work queue has `partitions` partitions (16 by
//!   default), a reply queue (`exclusive`) one. A work queue's consumers
//!   split its partitions among themselves (see `members`: they do not use
//!   the broker's consumer groups), so each partition is read by one
//!   consumer at a time and a queue is shared by at most `partitions`
//!   consumers. A reply
//!   queue's one consumer reads its partition directly, outside any group,
//!   and commits nothing (the queue dies with its process). Messages go to
//!   a random partition. Topics keep what nobody took for 15 minutes.
//! - A queue's limits (`max_len`, `max_deliveries`, `dead_letter`) are kept
//!   in a compacted registry topic, which every process reads, so a process
//!   that did not declare a queue knows them; publishing to a queue that no
//!   process declared answers [`Error::UnknownQueue`](crate::Error::UnknownQueue).
//! - At-least-once: a consumer commits a partition's offset only once every
//!   message before it is settled (see `offsets`), under the queue's group
//!   id. A consumer that dies leaves its partitions to the others 3 s after
//!   its last beat, and what it had not settled is delivered again there.
//! - Kafka has no per-message time to live: the expiry travels in the
//!   `x-funcmesh-expires-at` header, and a consumer skips (and commits) an
//!   expired message without handing it out.
//! - Kafka cannot deliver one message again: a message given back is sent
//!   again, to the end of its queue, with its delivery number in the
//!   `x-funcmesh-attempt` header. Once that number reaches `max_deliveries`
//!   it goes to the `dead_letter` queue instead. Deliveries lost with a
//!   consumer that dies are delivered again with the same number: only
//!   give-backs count towards the limit.
//! - Kafka has no length limit either: a queue with `max_len` refuses
//!   messages ([`Error::QueueFull`](crate::Error::QueueFull)) while its
//!   depth, sampled every 250 ms, is at the limit (see `link`).
//! - [`depth`](crate::Bus::depth) is the consumer group's lag: `ready` counts
//!   every message not committed, those out for processing included, and
//!   `unacked` is zero.
//! - Broadcasts are a topic of one partition per name, read from its end by
//!   each listener (see `topics`).
//!
//! Opening a bus never fails because the broker is down: librdkafka
//! connects in the background and reconnects after a loss. Meanwhile
//! publishing answers [`Error::Unavailable`](crate::Error::Unavailable) at
//! once, declaring answers `Ok` (every declared queue is declared again when
//! the broker is back, so one that lost its topics gets them back), and
//! consumers wait. Dropping the bus closes it: its consumers end.
//!
//! The modules:
//!
//! - `config`: the bus URL, the names of topics and groups, client settings.
//! - `link`: the shared producer, the broker's state, declaring, the
//!   registry, depth and length limits.
//! - `consume`: deliveries, commits and give-backs.
//! - `members`: which consumer of a work queue reads which partitions.
//! - `offsets`: the position of each partition a consumer reads.
//! - `topics`: broadcast and listen.
//! - `tap`: copies of a queue's messages, read outside its group.
//!
//! TLS and SASL are not compiled in; a reply queue's topic stays on the
//! broker after its gateway is gone.

mod config;
mod consume;
mod link;
mod members;
pub(crate) mod namespace;
mod offsets;
mod tap;
mod topics;

use std::sync::Arc;

use bytes::Bytes;

use self::config::KafkaConfig;
use self::link::{Link, Outgoing, headers};
use crate::{Bus, ConsumeOptions, Consumer, Message, QueueDepth, QueueSpec, Result};

/// A bus on a Kafka cluster (or a Kafka-compatible broker). Opening one
/// never fails because the broker is down: it connects in the background.
/// Meanwhile publishing answers [`Error::Unavailable`](crate::Error::Unavailable)
/// and consumers wait. Dropping it closes its consumers.
pub struct KafkaBus {
    link: Arc<Link>,
}

impl std::fmt::Debug for KafkaBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaBus")
            .field("endpoint", &self.link.config.endpoint)
            .finish()
    }
}

impl KafkaBus {
    /// Opens the bus that `url` names. Must be called on a Tokio runtime.
    /// Waits up to a second for the broker, then connects in the background.
    pub async fn open(url: &str) -> Result<Self> {
        let config = KafkaConfig::parse(url)?;
        Ok(Self {
            link: Link::open(config).await?,
        })
    }

    /// Publishes `message` on `queue`'s topic.
    async fn send(&self, queue: &str, message: Message) -> Result<()> {
        self.link.ensure_up()?;
        let spec = self.link.spec(queue).await?;
        if let Some(limit) = spec.max_len {
            self.link.check_limit(queue, limit)?;
        }
        let topic = self.link.config.queue_topic(queue);
        let body = message.bytes();
        let outgoing = Outgoing {
            key: None,
            payload: &body,
            headers: headers(message.expires_at_ms, 1),
        };
        self.link.send(&topic, outgoing).await
    }
}

impl Drop for KafkaBus {
    fn drop(&mut self) {
        self.link.close();
    }
}

#[async_trait::async_trait]
impl Bus for KafkaBus {
    fn system(&self) -> &'static str {
        "kafka"
    }

    /// Remembers `spec`, declared again whenever the broker comes back;
    /// declares it now when the broker is up. While it is down: `Ok`.
    async fn declare(&self, spec: &QueueSpec) -> Result<()> {
        self.link.declare(spec).await
    }

    async fn publish(&self, queue: &str, message: Message) -> Result<()> {
        crate::stats::counted("kafka", self.send(queue, message).await)
    }

    async fn consume(&self, queue: &str, options: ConsumeOptions) -> Result<Consumer> {
        consume::start(Arc::clone(&self.link), queue, options).await
    }

    async fn depth(&self, queue: &str) -> Result<QueueDepth> {
        self.link.depth(queue).await
    }

    fn max_message_bytes(&self) -> Option<usize> {
        // librdkafka's producer refuses a message above `message.max.bytes`,
        // left at its default.
        Some(1_000_000)
    }

    fn depth_counts_held(&self) -> bool {
        true
    }

    fn held(&self) -> u64 {
        self.link.held()
    }

    async fn finish(&self) {
        self.link.upkeeps_done().await
    }

    async fn broadcast(&self, topic: &str, body: Bytes) -> Result<()> {
        crate::stats::counted("kafka", topics::broadcast(&self.link, topic, body).await)
    }

    async fn listen(&self, topic: &str) -> Result<Consumer> {
        topics::listen(Arc::clone(&self.link), topic).await
    }

    async fn tap(&self, queue: &str) -> Result<Consumer> {
        tap::start(Arc::clone(&self.link), queue).await
    }
}

/// A client whose destruction runs on a thread of its own: closing a
/// librdkafka consumer waits for its group and brokers, which must block
/// neither the runtime nor its shutdown.
pub(crate) struct Detached<T: Send + 'static>(Option<T>);

impl<T: Send + 'static> Detached<T> {
    pub(crate) fn new(client: T) -> Self {
        Self(Some(client))
    }
}

impl<T: Send + 'static> std::ops::Deref for Detached<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("taken only when dropped"))
    }
}

impl<T: Send + 'static> Drop for Detached<T> {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            let closing = std::thread::Builder::new()
                .name("kafka-close".to_owned())
                .spawn(move || drop(client));
            if let Err(error) = closing {
                tracing::warn!(%error, "no thread to close a Kafka client on");
            }
        }
    }
}
