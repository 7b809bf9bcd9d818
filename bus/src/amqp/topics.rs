//! Broadcasts: a topic exchange, and one private queue per listener.
//!
//! The exchange is `<namespace>.funcmesh.control`; the routing key is the
//! topic. A listener's queue is server-named, exclusive and auto-delete, so
//! it lives exactly as long as its subscription, and it is declared and bound
//! again on every new connection. Nothing is kept for listeners that are not
//! there, as on the in-process bus. `*` and `#` in a listened topic act as
//! the topic exchange's wildcards.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, ExchangeKind};

use super::config::AmqpConfig;

/// Declares the control exchange. Every connection does this before anyone
/// may broadcast on it: publishing to a missing exchange closes the channel.
pub(crate) async fn declare_exchange(channel: &Channel, config: &AmqpConfig) -> lapin::Result<()> {
    let options = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            config.control_exchange().into(),
            ExchangeKind::Topic,
            options,
            FieldTable::default(),
        )
        .await
}

/// Declares a listener's private queue, binds it to `topic` and returns its name.
pub(crate) async fn bind_listener(
    channel: &Channel,
    config: &AmqpConfig,
    topic: &str,
) -> lapin::Result<String> {
    let options = QueueDeclareOptions {
        exclusive: true,
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    let queue = channel
        .queue_declare("".into(), options, FieldTable::default())
        .await?;
    channel
        .queue_bind(
            queue.name().clone(),
            config.control_exchange().into(),
            topic.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(queue.name().as_str().to_owned())
}
