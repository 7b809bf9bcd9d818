//! The RabbitMQ (AMQP 0-9-1) backend, through lapin.
//!
//! `amqp://user:pass@host:5672/vhost?namespace=NAME` opens an [`AmqpBus`].
//! The namespace is optional: when set, every queue and the control exchange
//! are named `NAME.<name>` on the broker while callers keep using the plain
//! names, so several meshes (or test runs) can share one broker.
//!
//! - `config`: the bus URL.
//! - `connection`: the one connection, its supervisor
//!   and reconnection with backoff; the only code that connects.
//! - `declare`: queue specs as quorum (work) and classic
//!   (reply) queues, and queue depth.
//! - `publish`: confirmed, mandatory publishing on a pool
//!   of channels.
//! - `consume` and `delivery`:
//!   consumers that re-subscribe after a reconnect, and their deliveries.
//! - `topics`: broadcast and listen on a topic exchange.
//! - `namespace`: a namespace's queues and exchanges, listed and deleted
//!   through the management API (`funcmesh clean`).
//! - `tap`: copies of a queue's messages, through the work exchange that
//!   every queue is published through.
//!
//! The broker must be RabbitMQ 3.10 or later (quorum queues with message
//! TTL and delivery counts).

mod config;
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

use self::config::AmqpConfig;
use self::connection::Link;
use self::consume::Source;
use crate::{Bus, ConsumeOptions, Consumer, Error, Message, QueueDepth, QueueSpec, Result};

/// A bus on a RabbitMQ broker. Opening one never fails because the broker is
/// down: it connects in the background and reconnects whenever the
/// connection is lost. Meanwhile publishing answers [`Error::Unavailable`]
/// and consumers wait.
pub struct AmqpBus {
    link: Arc<Link>,
}

impl std::fmt::Debug for AmqpBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AmqpBus")
            .field("endpoint", &self.link.config.endpoint)
            .finish()
    }
}

impl AmqpBus {
    /// Opens the bus that `url` names. Must be called on a Tokio runtime.
    pub fn open(url: &str) -> Result<Self> {
        let config = AmqpConfig::parse(url)?;
        Ok(Self {
            link: Link::start(config),
        })
    }
}

#[async_trait::async_trait]
impl Bus for AmqpBus {
    fn system(&self) -> &'static str {
        "rabbitmq"
    }

    /// Remembers `spec`, declared again on every connection; declares it now
    /// when connected. While disconnected it answers `Ok`.
    async fn declare(&self, spec: &QueueSpec) -> Result<()> {
        self.link.remember(spec);
        let Ok(channel) = self.link.channel().await else {
            return Ok(());
        };
        declare::queue(&channel, &self.link.config, spec)
            .await
            .map_err(|error| {
                self.link
                    .fail(&format!("declaring queue {}", spec.name), &error)
            })
    }

    async fn publish(&self, queue: &str, message: Message) -> Result<()> {
        crate::stats::counted(
            "rabbitmq",
            publish::to_queue(&self.link, queue, message).await,
        )
    }

    async fn consume(&self, queue: &str, options: ConsumeOptions) -> Result<Consumer> {
        let source = Source::Queue {
            name: queue.to_owned(),
            prefetch: options.prefetch,
        };
        consume::start(Arc::clone(&self.link), source).await
    }

    /// `unacked` is always 0: AMQP 0-9-1 reports only the ready messages
    /// (the management API, which knows more, is not used).
    async fn depth(&self, queue: &str) -> Result<QueueDepth> {
        let channel = self.link.channel().await?;
        match declare::ready(&channel, &self.link.config, queue).await {
            Ok(ready) => Ok(QueueDepth { ready, unacked: 0 }),
            Err(error) if declare::is_not_found(&error) => {
                Err(Error::UnknownQueue(queue.to_owned()))
            }
            Err(error) => Err(self
                .link
                .fail(&format!("reading the depth of {queue}"), &error)),
        }
    }

    /// Waits for the channels of the dropped consumers to close, a moment
    /// after their last acknowledgement (see `delivery::SettleChannel`).
    async fn finish(&self) {
        self.link.settled().await;
    }

    async fn broadcast(&self, topic: &str, body: Bytes) -> Result<()> {
        let exchange = self.link.config.control_exchange();
        let result = publish::to_exchange(&self.link, &exchange, topic, &body).await;
        crate::stats::counted("rabbitmq", result)
    }

    async fn listen(&self, topic: &str) -> Result<Consumer> {
        let source = Source::Topic {
            topic: topic.to_owned(),
        };
        consume::start(Arc::clone(&self.link), source).await
    }

    async fn tap(&self, queue: &str) -> Result<Consumer> {
        let source = Source::Tap {
            queue: queue.to_owned(),
        };
        consume::start(Arc::clone(&self.link), source).await
    }
}
