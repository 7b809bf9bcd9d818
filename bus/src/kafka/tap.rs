//! Taps: a reader of a queue's topic outside any consumer group.
//!
//! A tap is assigned every partition of the queue's topic from its end as
//! it was when the tap started (the high watermarks), as a broadcast
//! listener is, so it sees every later message and commits nothing: the
//! queue's consumer group, and so its depth, never notice it. A tap that
//! falls behind only lags; it loses copies once the topic's retention
//! (15 minutes) drops them.
//!
//! A message given back is sent again to the end of its topic (see
//! `consume`); the tap skips those second copies, so each published message
//! is seen once. The tap does not follow a topic that is created again after
//! an outage of an in-memory broker: start a new tap then.

use std::time::Duration;

use bytes::Bytes;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers as _};
use rdkafka::producer::Producer as _;
use rdkafka::{Message as _, Offset, TopicPartitionList};
use tokio::sync::mpsc;

use super::Detached;
use super::link::{ATTEMPT_HEADER, Link, QuietContext, REQUEST_TIMEOUT};
use crate::inproc::NoAck;
use crate::{Consumer, Delivery, Error, Result, Subscription};

/// Copies read ahead of the application.
const TAP_BACKLOG: usize = 256;

/// Starts a tap on `queue`, which some process must have declared.
pub(crate) async fn start(link: std::sync::Arc<Link>, queue: &str) -> Result<Consumer> {
    link.ensure_up()?;
    link.spec(queue).await?;
    let topic = link.config.queue_topic(queue);
    let assignment = ends(&link, &topic)
        .await
        .map_err(|error| link.failure(&error, format_args!("tapping {queue}")))?;
    let group = link.config.private_group("tap");
    let consumer: StreamConsumer<QuietContext> = link
        .config
        .standalone_consumer(&group)
        .create_with_context(QuietContext)
        .map_err(|error| Error::Unavailable(format!("kafka tap: {error}")))?;
    consumer
        .assign(&assignment)
        .map_err(|error| Error::Unavailable(format!("tapping {queue}: {error}")))?;
    let (sender, receiver) = mpsc::channel(TAP_BACKLOG);
    tokio::spawn(forward(link, Detached::new(consumer), sender));
    Ok(Consumer::new(TapStream { receiver }))
}

/// Every partition of `topic` at its high watermark.
async fn ends(link: &Link, topic: &str) -> rdkafka::error::KafkaResult<TopicPartitionList> {
    let producer = link.producer.clone();
    let topic = topic.to_owned();
    let read = tokio::task::spawn_blocking(move || {
        let client = producer.client();
        let metadata = client.fetch_metadata(Some(&topic), REQUEST_TIMEOUT)?;
        let mut assignment = TopicPartitionList::new();
        for found in metadata.topics() {
            for partition in found.partitions() {
                let (_, high) = client.fetch_watermarks(&topic, partition.id(), REQUEST_TIMEOUT)?;
                assignment.add_partition_offset(&topic, partition.id(), Offset::Offset(high))?;
            }
        }
        Ok(assignment)
    });
    read.await
        .unwrap_or_else(|_| Err(rdkafka::error::KafkaError::Canceled))
}

/// Whether `message` is a given-back message sent again.
fn sent_again(message: &BorrowedMessage<'_>) -> bool {
    message.headers().is_some_and(|headers| {
        headers.iter().any(|header| {
            header.key == ATTEMPT_HEADER
                && header
                    .value
                    .and_then(|value| std::str::from_utf8(value).ok())
                    .and_then(|value| value.parse::<u32>().ok())
                    .is_some_and(|attempt| attempt > 1)
        })
    })
}

async fn forward(
    link: std::sync::Arc<Link>,
    consumer: Detached<StreamConsumer<QuietContext>>,
    sender: mpsc::Sender<Result<Delivery>>,
) {
    let mut closed = link.closed();
    loop {
        let received = tokio::select! {
            message = consumer.recv() => message.map(|message| {
                (!sent_again(&message))
                    .then(|| Bytes::copy_from_slice(message.payload().unwrap_or_default()))
            }),
            () = sender.closed() => break,
            _ = closed.wait_for(|closed| *closed) => break,
        };
        match received {
            Ok(Some(body)) => {
                let delivery = Delivery::new(body, 1, None, Box::new(NoAck));
                if sender.send(Ok(delivery)).await.is_err() {
                    break;
                }
            }
            Ok(None) => {}
            Err(error) => {
                tracing::debug!(%error, "kafka tap");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

struct TapStream {
    receiver: mpsc::Receiver<Result<Delivery>>,
}

#[async_trait::async_trait]
impl Subscription for TapStream {
    async fn next(&mut self) -> Option<Result<Delivery>> {
        self.receiver.recv().await
    }
}
