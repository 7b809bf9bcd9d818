//! The NATS backend, with JetStream, through async-nats.
//!
//! `nats://host:4222?namespace=NAME` opens a [`NatsBus`]. The namespace is
//! optional: when set, every subject starts with `NAME.` and every stream
//! name with `NAME_`, while callers keep using the plain names, so several
//! meshes (or test runs) can share one server. Several servers of one
//! cluster are given as `nats://a:4222,nats://b:4222`.
//!
//! How the bus maps onto NATS:
//!
//! - A work queue (a [`QueueSpec`] that is not `exclusive`) is a JetStream
//!   stream with work-queue retention, on file when `durable` and in memory
//!   otherwise, and one durable pull consumer that every process pulls from.
//!   `max_len` is the stream's message limit, which refuses new messages
//!   once reached ([`Error::QueueFull`](crate::Error::QueueFull)); messages
//!   out for processing count towards it until acknowledged. Messages older
//!   than 15 minutes are dropped by the server, as a safety net.
//! - A message's expiry travels in the `x-funcmesh-expires-at` header
//!   (nats-server 2.9 has no per-message time to live). An expired message
//!   is acknowledged and skipped when it comes to be delivered: never
//!   handed out, never dead-lettered.
//! - The server redelivers what is not acknowledged within 5 s. While the
//!   application holds a delivery, the bus renews it every 2 s, so a long
//!   call is not delivered twice; a consumer whose process dies stops
//!   renewing, and its deliveries come back within those 5 s. A delivery
//!   given back (negatively acknowledged, or dropped without settling) is
//!   delivered again at once while its consumer pulls, possibly after a
//!   message that was ready; once the consumer is dropped, what it held or
//!   had fetched comes back after those 5 s instead (nats-server 2.9
//!   mishandles a give-back when no pull request is waiting: see
//!   `delivery`).
//! - A consumer fetches no more than its prefetch: every delivery counts
//!   until settled, whether the application holds it or it waits to be
//!   handed out.
//! - Delivery limits and dead letters are the bus's own: a message whose
//!   delivery number reaches `max_deliveries` and is given back, or that is
//!   delivered once more than that (its consumers died), goes to the
//!   `dead_letter` queue and is acknowledged. The limits are kept in the
//!   stream's description, so every process consuming the queue knows them.
//! - A reply queue (`exclusive`) has nothing on the server: consuming it is
//!   a core NATS queue subscription, and its consumer confirms a message
//!   sent to it as soon as the message arrives (one confirmation per
//!   sender for all that arrived in one read). It exists
//!   while it is consumed; sending to it otherwise answers
//!   [`Error::UnknownQueue`](crate::Error::UnknownQueue), as for a
//!   RabbitMQ exclusive queue whose connection is gone. Only the process
//!   that declared a reply queue may consume it.
//! - Publishing needs no rule to tell the two kinds apart: it tries the kind
//!   the queue is known to be (declared here, or seen before) first, then
//!   the other.
//! - Broadcasts are core NATS publish and subscribe.
//! - [`depth`](crate::Bus::depth) reads the pull consumer's counts: `ready`
//!   is what was never delivered, `unacked` what is out (including messages
//!   given back and waiting to be delivered again). A reply queue holds
//!   nothing: zeros.
//!
//! Opening a bus never fails because the server is down: the client
//! connects in the background, and reconnects for ever after a loss (100 ms
//! doubling to 5 s between attempts). Meanwhile publishing answers
//! [`Error::Unavailable`](crate::Error::Unavailable) at once, declaring
//! answers `Ok` (every declared queue is declared again on each connection),
//! and consumers wait. Consumers survive reconnects and server restarts.
//! Dropping the bus closes it: its consumers end, and settling their
//! deliveries fails.
//!
//! The modules:
//!
//! - `config`: the bus URL, and the names of things on the server.
//! - `connection`: the client, its events and logs, and re-declaring.
//! - `declare`: streams and consumers from queue specs, and queue depth.
//! - `publish`: confirmed publishing to work and reply queues.
//! - `confirm`: the confirmations of messages to reply queues, batched.
//! - `consume` and `delivery`: pulling within the prefetch, and deliveries
//!   from arrival to settling.
//! - `topics`: broadcast and listen.
//! - `tap`: copies of a work queue's messages, from its subject.
//!
//! The server must be nats-server 2.9 or later with JetStream enabled
//! (`-js`). `tls://` servers are reached over TLS (see `config`); the
//! streams have one replica.

mod config;
mod confirm;
mod connection;
mod consume;
mod declare;
mod delivery;
pub(crate) mod namespace;
mod publish;
mod tap;
mod topics;

use std::sync::Arc;

use bytes::Bytes;

use self::config::NatsConfig;
use self::connection::Link;
use crate::{Bus, ConsumeOptions, Consumer, Message, QueueDepth, QueueSpec, Result};

/// A bus on a NATS server with JetStream. Opening one never fails because
/// the server is down: it connects in the background and reconnects
/// whenever the connection is lost. Meanwhile publishing answers
/// [`Error::Unavailable`](crate::Error::Unavailable) and consumers wait.
/// Dropping it closes the connection.
pub struct NatsBus {
    link: Arc<Link>,
}

impl std::fmt::Debug for NatsBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsBus")
            .field("endpoint", &self.link.config.endpoint)
            .finish()
    }
}

impl NatsBus {
    /// Opens the bus that `url` names. Must be called on a Tokio runtime.
    pub async fn open(url: &str) -> Result<Self> {
        let config = NatsConfig::parse(url)?;
        Ok(Self {
            link: Link::open(config).await?,
        })
    }
}

impl Drop for NatsBus {
    fn drop(&mut self) {
        self.link.close();
    }
}

#[async_trait::async_trait]
impl Bus for NatsBus {
    fn system(&self) -> &'static str {
        "nats"
    }

    fn max_message_bytes(&self) -> Option<usize> {
        // The server says it on connecting; 0 until then.
        let max = self.link.max_payload();
        (max > 0).then_some(max)
    }

    /// Remembers `spec`, declared again on every connection; declares it now
    /// when connected. While disconnected it answers `Ok`.
    async fn declare(&self, spec: &QueueSpec) -> Result<()> {
        self.link.remember(spec);
        if !self.link.is_connected() {
            return Ok(());
        }
        declare::queue(&self.link, spec).await
    }

    async fn publish(&self, queue: &str, message: Message) -> Result<()> {
        crate::stats::counted("nats", publish::to_queue(&self.link, queue, message).await)
    }

    async fn consume(&self, queue: &str, options: ConsumeOptions) -> Result<Consumer> {
        consume::start(Arc::clone(&self.link), queue, options).await
    }

    /// Both counts come from the server; a reply queue answers zeros.
    async fn depth(&self, queue: &str) -> Result<QueueDepth> {
        declare::depth(&self.link, queue).await
    }

    /// Writes out what the client still holds: acknowledgements go out
    /// without waiting for the socket, and a process that exits first
    /// leaves them unsent (the server delivers those messages again after
    /// their ack wait).
    async fn finish(&self) {
        consume::flush(&self.link).await;
    }

    async fn broadcast(&self, topic: &str, body: Bytes) -> Result<()> {
        crate::stats::counted("nats", topics::broadcast(&self.link, topic, body).await)
    }

    async fn listen(&self, topic: &str) -> Result<Consumer> {
        topics::listen(&self.link, topic).await
    }

    async fn tap(&self, queue: &str) -> Result<Consumer> {
        tap::start(&self.link, queue).await
    }
}
