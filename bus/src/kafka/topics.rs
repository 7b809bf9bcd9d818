//! Broadcasts: a topic `<ns>.t.<topic>` of one partition, kept for a minute.
//! Each listener reads it outside any group, from the end as it was when
//! the listener started, so it sees every later broadcast and no earlier
//! one.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::producer::Producer as _;
use rdkafka::{Message as _, Offset, TopicPartitionList};
use tokio::sync::mpsc;

use super::Detached;
use super::link::{Link, Outgoing, QuietContext, REQUEST_TIMEOUT};
use crate::inproc::NoAck;
use crate::{Consumer, Delivery, Error, Result, Subscription};

/// Fans `body` out to the listeners of `topic`. Nobody listening is fine.
pub(crate) async fn broadcast(link: &Link, topic: &str, body: Bytes) -> Result<()> {
    let name = link.config.broadcast_topic(topic);
    link.ensure_broadcast_topic(&name).await?;
    let outgoing = Outgoing {
        key: None,
        payload: &body,
        headers: None,
    };
    link.send(&name, outgoing).await
}

/// Starts listening to `topic`. While the broker is down the listener
/// starts anyway and reads from the start of the topic once it is back.
pub(crate) async fn listen(link: Arc<Link>, topic: &str) -> Result<Consumer> {
    let name = link.config.broadcast_topic(topic);
    read_from_end(link, name, topic).await
}

/// Reads the one-partition topic `name` from its end (from its start when
/// the broker is down); `topic` names it in errors.
pub(crate) async fn read_from_end(link: Arc<Link>, name: String, topic: &str) -> Result<Consumer> {
    let mut start = Offset::Beginning;
    if link.is_up() {
        link.ensure_broadcast_topic(&name).await?;
        let producer = link.producer.clone();
        let topic_name = name.clone();
        let (_, high) = tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_watermarks(&topic_name, 0, REQUEST_TIMEOUT)
        })
        .await
        .map_err(|_| Error::Closed)?
        .map_err(|error| link.failure(&error, format_args!("listening to {topic}")))?;
        start = Offset::Offset(high);
    }
    let group = link.config.private_group("listener");
    let consumer: StreamConsumer<QuietContext> = link
        .config
        .standalone_consumer(&group)
        .create_with_context(QuietContext)
        .map_err(|error| Error::Unavailable(format!("kafka listener: {error}")))?;
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(&name, 0, start)
        .and_then(|()| consumer.assign(&assignment))
        .map_err(|error| Error::Unavailable(format!("listening to {topic}: {error}")))?;
    let (sender, receiver) = mpsc::channel(256);
    tokio::spawn(forward(link, Detached::new(consumer), sender));
    Ok(Consumer::new(TopicStream { receiver }))
}

async fn forward(
    link: Arc<Link>,
    consumer: Detached<StreamConsumer<QuietContext>>,
    sender: mpsc::Sender<Result<Delivery>>,
) {
    let mut closed = link.closed();
    loop {
        let received = tokio::select! {
            message = consumer.recv() => message
                .map(|message| Bytes::copy_from_slice(message.payload().unwrap_or_default())),
            () = sender.closed() => break,
            _ = closed.wait_for(|closed| *closed) => break,
        };
        match received {
            Ok(body) => {
                let delivery = Delivery::new(body, 1, None, Box::new(NoAck));
                if sender.send(Ok(delivery)).await.is_err() {
                    break;
                }
            }
            Err(error) => {
                tracing::debug!(%error, "kafka listener");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

struct TopicStream {
    receiver: mpsc::Receiver<Result<Delivery>>,
}

#[async_trait::async_trait]
impl Subscription for TopicStream {
    async fn next(&mut self) -> Option<Result<Delivery>> {
        self.receiver.recv().await
    }
}
