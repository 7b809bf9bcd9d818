//! Queues on the broker: how a [`QueueSpec`] becomes a queue, and its depth.
//!
//! A work queue (durable, not exclusive) is a quorum queue: replicated, and
//! the only kind that counts deliveries, which the delivery limit needs. A
//! reply queue (exclusive) is a classic queue that goes with its connection
//! and is declared again under the same name on the next one.
//!
//! Every queue is bound to the work exchange under its own broker name, and
//! publishing goes through that exchange rather than the default one (which
//! cannot be bound): a tap binds a queue of its own with the same key and
//! gets a copy of every message (see `tap`).

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, ErrorKind, ExchangeKind};

use super::config::AmqpConfig;
use crate::QueueSpec;

/// Declares `spec` on `channel`. A refusal closes the channel.
pub(crate) async fn queue(
    channel: &Channel,
    config: &AmqpConfig,
    spec: &QueueSpec,
) -> lapin::Result<()> {
    let (options, arguments) = shape(config, spec);
    let name = config.queue(&spec.name);
    channel
        .queue_declare(name.as_str().into(), options, arguments)
        .await?;
    channel
        .queue_bind(
            name.as_str().into(),
            config.work_exchange().into(),
            name.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}

/// Declares the work exchange. Every connection does this before declaring
/// a queue or publishing: publishing to a missing exchange closes the channel.
pub(crate) async fn work_exchange(channel: &Channel, config: &AmqpConfig) -> lapin::Result<()> {
    let options = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            config.work_exchange().into(),
            ExchangeKind::Direct,
            options,
            FieldTable::default(),
        )
        .await
}

/// How many messages are ready on `queue`. A missing queue closes the channel.
pub(crate) async fn ready(
    channel: &Channel,
    config: &AmqpConfig,
    queue: &str,
) -> lapin::Result<u64> {
    let options = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let declared = channel
        .queue_declare(config.queue(queue).into(), options, FieldTable::default())
        .await?;
    Ok(u64::from(declared.message_count()))
}

/// The broker's options and arguments for `spec`.
fn shape(config: &AmqpConfig, spec: &QueueSpec) -> (QueueDeclareOptions, FieldTable) {
    let mut args = FieldTable::default();
    let mut put = |key: &str, value: AMQPValue| {
        args.insert(ShortString::from(key), value);
    };
    let work = spec.durable && !spec.exclusive;
    if work {
        put("x-queue-type", text("quorum"));
        if let Some(max) = spec.max_deliveries {
            put(
                "x-delivery-limit",
                AMQPValue::LongLongInt(delivery_limit(max)),
            );
        }
    }
    if let Some(dead_letter) = &spec.dead_letter {
        put("x-dead-letter-exchange", text(""));
        put(
            "x-dead-letter-routing-key",
            text(&config.queue(dead_letter)),
        );
    }
    if let Some(max_len) = spec.max_len {
        let limit = if work {
            quorum_max_length(max_len)
        } else {
            max_len
        };
        put(
            "x-max-length",
            AMQPValue::LongLongInt(limit.try_into().unwrap_or(i64::MAX)),
        );
        put("x-overflow", text("reject-publish"));
    }
    let options = QueueDeclareOptions {
        durable: work,
        exclusive: spec.exclusive,
        auto_delete: spec.exclusive,
        ..QueueDeclareOptions::default()
    };
    (options, args)
}

/// A quorum queue's `x-delivery-limit` counts the times a message came back
/// (`x-delivery-count`), not its deliveries: a message delivered `max` times
/// has come back `max` times by its last return, and is dead-lettered once
/// that count exceeds the limit.
fn delivery_limit(max_deliveries: u32) -> i64 {
    i64::from(max_deliveries.max(1)) - 1
}

/// A quorum queue rejects publishes only once it holds more than
/// `x-max-length` messages, so it takes one more than its limit: this limit
/// makes it take exactly `max_len`.
fn quorum_max_length(max_len: usize) -> usize {
    max_len.saturating_sub(1)
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(value.into())
}

fn soft(error: &lapin::Error) -> Option<&AMQPSoftError> {
    match error.kind() {
        ErrorKind::ProtocolError(amqp) => match amqp.kind() {
            AMQPErrorKind::Soft(soft) => Some(soft),
            AMQPErrorKind::Hard(_) => None,
        },
        _ => None,
    }
}

/// The broker still holds an exclusive queue of a connection that is gone.
pub(crate) fn is_locked(error: &lapin::Error) -> bool {
    soft(error) == Some(&AMQPSoftError::RESOURCELOCKED)
}

/// The queue (or exchange) does not exist.
pub(crate) fn is_not_found(error: &lapin::Error) -> bool {
    soft(error) == Some(&AMQPSoftError::NOTFOUND)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AmqpConfig {
        AmqpConfig::parse("amqp://h/?namespace=ns").unwrap()
    }

    fn arg<'a>(args: &'a FieldTable, key: &str) -> Option<&'a AMQPValue> {
        args.inner().get(key)
    }

    #[test]
    fn work_queues_are_quorum_queues_with_limits() {
        let spec = QueueSpec::work("rpc.f")
            .max_len(10)
            .dead_letter_after(3, "dead");
        let (options, args) = shape(&config(), &spec);
        assert!(options.durable && !options.exclusive && !options.auto_delete);
        assert_eq!(arg(&args, "x-queue-type"), Some(&text("quorum")));
        assert_eq!(
            arg(&args, "x-delivery-limit"),
            Some(&AMQPValue::LongLongInt(2))
        );
        assert_eq!(arg(&args, "x-dead-letter-exchange"), Some(&text("")));
        assert_eq!(
            arg(&args, "x-dead-letter-routing-key"),
            Some(&text("ns.dead"))
        );
        assert_eq!(arg(&args, "x-max-length"), Some(&AMQPValue::LongLongInt(9)));
        assert_eq!(arg(&args, "x-overflow"), Some(&text("reject-publish")));
    }

    #[test]
    fn reply_queues_are_classic_and_go_with_their_connection() {
        let (options, args) = shape(&config(), &QueueSpec::reply("reply.g1"));
        assert!(!options.durable && options.exclusive && options.auto_delete);
        assert!(args.inner().is_empty());
    }
}
