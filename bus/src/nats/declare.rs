//! Work queues on the server: how a [`QueueSpec`] becomes a JetStream
//! stream and its consumer, and a queue's depth.
//!
//! A work queue is a stream with work-queue retention (a message is gone
//! once acknowledged) capturing the queue's one subject, and one durable
//! pull consumer, [`CONSUMER`], that every process consuming the queue
//! pulls from. The stream's description holds the queue's [`Limits`], so a
//! process that consumes a queue another one declared knows its delivery
//! limit and dead-letter queue.
//!
//! A reply queue (exclusive) has nothing on the server: it is a core NATS
//! subscription (see the module docs of the backend).

use std::time::Duration;

use async_nats::jetstream::consumer::{self, AckPolicy, DeliverPolicy};
use async_nats::jetstream::context::{
    ConsumerInfoErrorKind, CreateStreamErrorKind, GetStreamErrorKind,
};
use async_nats::jetstream::stream::{self, DiscardPolicy, RetentionPolicy, StorageType};
use async_nats::jetstream::{self as js, ErrorCode};
use serde::{Deserialize, Serialize};

use super::config::NatsConfig;
use super::connection::Link;
use crate::{Error, QueueDepth, QueueSpec, Result};

/// The durable consumer of every work queue's stream.
pub(crate) const CONSUMER: &str = "workers";

/// How long the server waits for an acknowledgement before delivering a
/// message again. A delivery held longer is kept alive by progress
/// acknowledgements, so this is how soon a dead consumer's work comes back.
pub(crate) const ACK_WAIT: Duration = Duration::from_secs(5);

/// The longest a message waits on a work queue: a safety net, as messages
/// carry their own, shorter, expiry (which the server does not enforce).
const MAX_AGE: Duration = Duration::from_secs(15 * 60);

/// What every process must know about a work queue, kept as JSON in its
/// stream's description.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Limits {
    /// The queue's name, which also marks the stream as a funcmesh queue.
    #[serde(rename = "funcmesh_queue")]
    pub(crate) queue: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_len: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_deliveries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) dead_letter: Option<String>,
}

impl Limits {
    pub(crate) fn of(spec: &QueueSpec) -> Self {
        Self {
            queue: spec.name.clone(),
            max_len: spec.max_len,
            // As on the AMQP backend, a limit of 0 deliveries means 1.
            max_deliveries: spec.max_deliveries.map(|max| max.max(1)),
            dead_letter: spec.dead_letter.clone(),
        }
    }

    fn describe(&self) -> String {
        // Serializing plain strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The limits a stream's description holds; none for a stream that
    /// funcmesh did not create.
    fn read(queue: &str, description: Option<&str>) -> Self {
        description
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_else(|| Self {
                queue: queue.to_owned(),
                ..Self::default()
            })
    }

    /// Whether a delivery numbered `attempt` is past the delivery limit.
    pub(crate) fn exhausted(&self, attempt: u64) -> bool {
        self.max_deliveries
            .is_some_and(|max| attempt >= u64::from(max))
    }
}

/// Creates the stream and consumer of work queue `spec`; nothing for a reply
/// queue. A stream that exists with other limits is kept as it is, with a
/// warning: limits are changed by deleting the queue, not by declaring it.
pub(crate) async fn queue(link: &Link, spec: &QueueSpec) -> Result<()> {
    if spec.exclusive {
        return Ok(());
    }
    let config = stream_config(&link.config, spec);
    let name = config.name.clone();
    let stream = match link.js.create_stream(config).await {
        Ok(stream) => stream,
        Err(error) => match error.kind() {
            CreateStreamErrorKind::JetStream(js)
                if js.error_code() == ErrorCode::STREAM_NAME_EXIST =>
            {
                let stream = link.js.get_stream(&name).await.map_err(|error| {
                    link.unavailable(format_args!("reading queue {}: {error}", spec.name))
                })?;
                if !link.warned_kept(&name) {
                    let kept = Limits::read(
                        &spec.name,
                        stream.cached_info().config.description.as_deref(),
                    );
                    tracing::warn!(
                        queue = %spec.name, stream = %name, declared = ?Limits::of(spec), kept = ?kept,
                        "queue exists with other settings; keeping them (delete the stream to change them)"
                    );
                }
                stream
            }
            _ => {
                return Err(
                    link.unavailable(format_args!("declaring queue {}: {error}", spec.name))
                );
            }
        },
    };
    consumer(link, &spec.name, &stream).await
}

/// The stream of work queue `queue` if it exists, with its limits.
pub(crate) async fn find(link: &Link, queue: &str) -> Result<Option<(js::stream::Stream, Limits)>> {
    match link.js.get_stream(link.config.stream_name(queue)).await {
        Ok(stream) => {
            let limits = Limits::read(queue, stream.cached_info().config.description.as_deref());
            link.learn_limits(queue, &limits);
            Ok(Some((stream, limits)))
        }
        Err(error) => match error.kind() {
            GetStreamErrorKind::JetStream(js) if js.error_code() == ErrorCode::STREAM_NOT_FOUND => {
                Ok(None)
            }
            _ => Err(link.unavailable(format_args!("reading queue {queue}: {error}"))),
        },
    }
}

/// The consumer that every process pulls `stream`'s messages from.
pub(crate) async fn consumer(link: &Link, queue: &str, stream: &js::stream::Stream) -> Result<()> {
    stream
        .get_or_create_consumer::<consumer::pull::Config>(CONSUMER, consumer_config())
        .await
        .map(drop)
        .map_err(|error| {
            link.unavailable(format_args!(
                "reading the consumer of queue {queue}: {error}"
            ))
        })
}

/// Messages waiting and out unacknowledged: the consumer's own counts. A
/// reply queue has nothing on the server and answers zeros.
pub(crate) async fn depth(link: &Link, queue: &str) -> Result<QueueDepth> {
    if link.is_local_reply(queue) {
        return Ok(QueueDepth::default());
    }
    link.ensure_connected()?;
    let Some((stream, _)) = find(link, queue).await? else {
        return Err(Error::UnknownQueue(queue.to_owned()));
    };
    match stream.consumer_info(CONSUMER).await {
        Ok(info) => Ok(QueueDepth {
            ready: info.num_pending,
            unacked: info.num_ack_pending as u64,
        }),
        // Not created yet: nothing was delivered.
        Err(error) if error.kind() == ConsumerInfoErrorKind::NotFound => Ok(QueueDepth {
            ready: stream.cached_info().state.messages,
            unacked: 0,
        }),
        Err(error) => Err(link.unavailable(format_args!("reading the depth of {queue}: {error}"))),
    }
}

/// The stream that `spec` describes.
fn stream_config(config: &NatsConfig, spec: &QueueSpec) -> stream::Config {
    let (max_messages, max_bytes) = match spec.max_len {
        None => (-1, -1),
        // The server reads a limit of 0 messages as none at all; a limit of
        // one byte refuses every message, as a queue of length 0 must.
        Some(0) => (-1, 1),
        Some(n) => (i64::try_from(n).unwrap_or(i64::MAX), -1),
    };
    stream::Config {
        name: config.stream_name(&spec.name),
        description: Some(Limits::of(spec).describe()),
        subjects: vec![config.work_subject(&spec.name)],
        retention: RetentionPolicy::WorkQueue,
        storage: if spec.durable {
            StorageType::File
        } else {
            StorageType::Memory
        },
        max_messages,
        max_bytes,
        max_messages_per_subject: -1,
        discard: DiscardPolicy::New,
        max_age: MAX_AGE,
        max_consumers: -1,
        num_replicas: 1,
        ..stream::Config::default()
    }
}

/// The durable pull consumer of every work queue.
fn consumer_config() -> consumer::pull::Config {
    consumer::pull::Config {
        durable_name: Some(CONSUMER.to_owned()),
        description: Some("funcmesh workers".to_owned()),
        deliver_policy: DeliverPolicy::All,
        ack_policy: AckPolicy::Explicit,
        ack_wait: ACK_WAIT,
        // Unlimited: the bus counts deliveries itself, to dead-letter.
        max_deliver: -1,
        // Unlimited: each consumer's prefetch bounds what it holds.
        max_ack_pending: -1,
        ..consumer::pull::Config::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NatsConfig {
        NatsConfig::parse("nats://h?namespace=ns").unwrap()
    }

    #[test]
    fn work_queues_are_work_queue_streams_with_limits() {
        let spec = QueueSpec::work("rpc.f")
            .max_len(10)
            .dead_letter_after(3, "dead");
        let c = stream_config(&config(), &spec);
        assert_eq!(c.subjects, ["ns.funcmesh.q.rpc.f"]);
        assert_eq!(c.name, config().stream_name("rpc.f"));
        assert_eq!(c.retention, RetentionPolicy::WorkQueue);
        assert_eq!(c.storage, StorageType::File);
        assert_eq!((c.max_messages, c.max_bytes), (10, -1));
        assert_eq!(c.discard, DiscardPolicy::New);
        assert_eq!(c.max_age, MAX_AGE);
        let limits = Limits::read("rpc.f", c.description.as_deref());
        assert_eq!(limits, Limits::of(&spec));
        assert_eq!(limits.max_deliveries, Some(3));
        assert_eq!(limits.dead_letter.as_deref(), Some("dead"));
    }

    #[test]
    fn transient_queues_live_in_memory_and_length_zero_refuses_everything() {
        let mut spec = QueueSpec::work("q").max_len(0);
        spec.durable = false;
        let c = stream_config(&config(), &spec);
        assert_eq!(c.storage, StorageType::Memory);
        assert_eq!((c.max_messages, c.max_bytes), (-1, 1));
        let c = stream_config(&config(), &QueueSpec::work("q"));
        assert_eq!((c.max_messages, c.max_bytes), (-1, -1));
    }

    #[test]
    fn limits_of_foreign_streams_are_empty() {
        assert_eq!(Limits::read("q", None).queue, "q");
        assert_eq!(Limits::read("q", Some("orders")).max_deliveries, None);
        let limits = Limits::of(&QueueSpec::work("q").dead_letter_after(0, "d"));
        assert_eq!(limits.max_deliveries, Some(1), "0 deliveries means 1");
        assert!(limits.exhausted(1));
        assert!(!Limits::of(&QueueSpec::work("q")).exhausted(u64::MAX));
    }

    #[test]
    fn the_consumer_counts_nothing_itself() {
        let c = consumer_config();
        assert_eq!(c.durable_name.as_deref(), Some(CONSUMER));
        assert_eq!(c.ack_policy, AckPolicy::Explicit);
        assert_eq!((c.max_deliver, c.max_ack_pending), (-1, -1));
        assert_eq!(c.ack_wait, ACK_WAIT);
    }
}
