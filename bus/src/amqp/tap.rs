//! Taps: a private queue bound to the work exchange under a queue's key.
//!
//! Every queue is published through the work exchange, bound under its own
//! broker name (see `declare`). A tap's queue is bound under the same name,
//! so the exchange routes a copy of every message there as well; nothing is
//! taken from the tapped queue, and its depth is unchanged.
//!
//! The tap's queue is server-named, exclusive and auto-delete, so it lives
//! exactly as long as its subscription, and it is declared and bound again
//! on every new connection (the consumer's feed does that, as for a
//! listener). It holds at most [`TAP_BACKLOG`] copies and then drops the
//! oldest (`x-overflow=drop-head`): it never refuses a message, which would
//! make the broker nack the publisher's. Copies are consumed without
//! acknowledgements, so the broker pushes them as they come; the consumer
//! drops (and logs) the oldest it holds once the application is more than
//! [`TAP_BACKLOG`] behind.
//!
//! Three edges: a message the tapped queue refuses for its length limit
//! (`QueueFull` for the publisher) still reaches the tap; messages published
//! after a reconnect and before the tap is bound again are not copied; and
//! copies the broker drops from a tap that fell behind are not counted here
//! (`rabbitmqctl list_queues` shows the tap queue's length).

use lapin::Channel;
use lapin::options::{QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};

use super::config::AmqpConfig;
use super::declare;

/// The most copies a tap's queue holds before it drops the oldest, and
/// the most its consumer holds in memory ahead of the application.
pub(crate) const TAP_BACKLOG: usize = 10_000;

/// Declares a tap's private queue, binds it under `queue`'s key and returns
/// its name. A `queue` that does not exist is a `NOT_FOUND` error (which
/// closes the channel), so that a tap on a misspelt queue fails rather than
/// wait for ever.
pub(crate) async fn bind(
    channel: &Channel,
    config: &AmqpConfig,
    queue: &str,
) -> lapin::Result<String> {
    declare::ready(channel, config, queue).await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        ShortString::from("x-max-length"),
        AMQPValue::LongLongInt(TAP_BACKLOG as i64),
    );
    arguments.insert(
        ShortString::from("x-overflow"),
        AMQPValue::LongString("drop-head".into()),
    );
    let options = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    let tap = channel.queue_declare("".into(), options, arguments).await?;
    let key = config.queue(queue);
    channel
        .queue_bind(
            tap.name().clone(),
            config.work_exchange().into(),
            key.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::debug!(queue, tap = %tap.name(), "tap bound");
    Ok(tap.name().as_str().to_owned())
}
