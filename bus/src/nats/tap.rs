//! Taps: a core NATS subscription on a work queue's subject.
//!
//! A JetStream publish is a core NATS message on the queue's subject, which
//! the stream captures: a plain subscription on that subject sees every
//! message published to the queue, takes nothing from the stream, and
//! leaves the queue's depth alone. async-nats subscribes it again after a
//! reconnect. A tap that falls behind loses copies in the client (its
//! buffer is 65,536 messages), which the connection's events log as a slow
//! consumer. A message the stream refuses for its length limit still
//! reaches the tap.
//!
//! Only work queues can be tapped: a reply queue's messages are requests to
//! its consumer, which a second subscriber on the subject would answer for
//! (or leave a sender waiting), so a tap on one is
//! [`Error::UnknownQueue`](crate::Error::UnknownQueue).

use super::connection::Link;
use super::delivery::TopicStream;
use super::{consume, declare};
use crate::{Consumer, Error, Result};

/// Starts a tap on `queue`, a work queue that must exist on the server.
pub(crate) async fn start(link: &Link, queue: &str) -> Result<Consumer> {
    link.ensure_connected()?;
    if declare::find(link, queue).await?.is_none() {
        return Err(Error::UnknownQueue(queue.to_owned()));
    }
    let subject = link.config.work_subject(queue);
    let subscriber = link
        .client
        .subscribe(subject)
        .await
        .map_err(|error| link.unavailable(format_args!("tapping {queue}: {error}")))?;
    // Once the server knows the subscription, every later publish reaches it.
    consume::flush(link).await;
    Ok(Consumer::new(TopicStream { subscriber }))
}
