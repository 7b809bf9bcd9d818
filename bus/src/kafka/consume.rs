//! Consuming a queue: the share of the queue's partitions this consumer
//! reads (see `members`), deliveries within the prefetch, offsets committed
//! once messages are settled (see `offsets`), a few milliseconds after a
//! settle so that settles close together share one commit.
//!
//! Giving a message back (a negative acknowledgement with requeue, or a
//! delivery dropped unsettled) sends a copy to the end of the queue with its
//! delivery number raised, then settles the original; once the queue's
//! delivery limit is reached it goes to the dead-letter queue instead.
//! A partition given to another consumer is no longer read at once, but
//! stays claimed until what was delivered from it is settled (5 s at
//! most); then its position is committed and it is handed over. What is
//! still out past that is its new owner's to deliver again.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::message::{BorrowedMessage, Headers as _};
use rdkafka::{Message as _, Offset, TopicPartitionList};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};

use super::Detached;
use super::link::{ATTEMPT_HEADER, EXPIRES_HEADER, Link, Outgoing, QuietContext, headers};
use super::offsets::Offsets;
use crate::{Acker, ConsumeOptions, Consumer, Delivery, Error, Result, Subscription, now_ms};

mod upkeep;

/// How long settles are gathered into one commit.
const COMMIT_BATCH: Duration = Duration::from_millis(5);

/// Starts a consumer of `queue`.
pub(crate) async fn start(
    link: Arc<Link>,
    queue: &str,
    options: ConsumeOptions,
) -> Result<Consumer> {
    // While the broker is up, a queue nobody declared is an error; while it
    // is down the consumer starts anyway and waits.
    if link.is_up() {
        link.spec(queue).await?;
    }
    let topic = link.config.queue_topic(queue);
    let offsets = Arc::new(Offsets::default());
    let consumer: StreamConsumer<QuietContext> = link
        .config
        .queue_consumer(&topic)
        .create_with_context(QuietContext)
        .map_err(|error| Error::Unavailable(format!("kafka consumer: {error}")))?;
    // A reply queue has one reader, the process that declared it: it reads
    // the topic's one partition directly, shared with nobody. Its
    // consumers in this process take turns at that reader's deliveries:
    // each reading the partition for itself would deliver every message
    // to each of them.
    let exclusive = link.known_spec(queue).is_some_and(|spec| spec.exclusive);
    let prefetch = usize::from(options.prefetch.max(1));
    if exclusive && let Some(reader) = link.replies.lock().get(queue).and_then(Weak::upgrade) {
        reader.credit.add_permits(prefetch);
        return Ok(Consumer::new(ReplyStream { reader }));
    }
    if exclusive {
        offsets.acquired(&BTreeSet::from([0]));
        assign_from_start(&consumer, &topic)
            .map_err(|error| Error::Unavailable(format!("consuming {topic}: {error}")))?;
    }
    let consumer = Detached::new(consumer);
    let (sender, receiver) = mpsc::channel(prefetch);
    let shared = Arc::new(Shared {
        link,
        queue: queue.to_owned(),
        topic,
        consumer,
        offsets,
        commit: Notify::new(),
        done: AtomicBool::new(false),
    });
    if exclusive {
        tokio::spawn(Arc::clone(&shared).reassign_after_outages());
    } else {
        shared.link.consuming(&shared.offsets);
        let running = shared.link.upkeep();
        tokio::spawn(Arc::clone(&shared).maintain(running));
    }
    let credit = Arc::new(Semaphore::new(prefetch));
    let link = Arc::clone(&shared.link);
    tokio::spawn(drive(shared, Arc::clone(&credit), sender));
    if exclusive {
        let reader = Arc::new(ReplyReader {
            receiver: tokio::sync::Mutex::new(receiver),
            credit,
        });
        let mut replies = link.replies.lock();
        replies.retain(|_, reader| reader.strong_count() > 0);
        replies.insert(queue.to_owned(), Arc::downgrade(&reader));
        return Ok(Consumer::new(ReplyStream { reader }));
    }
    Ok(Consumer::new(QueueStream { receiver }))
}

/// The one reader of a reply queue in this process, whose deliveries its
/// consumers take in turn; it stops when the last of them is dropped.
pub(crate) struct ReplyReader {
    receiver: tokio::sync::Mutex<mpsc::Receiver<Result<Delivery>>>,
    /// The deliveries out at once: each consumer's prefetch, added up.
    credit: Arc<Semaphore>,
}

/// One consumer of a reply queue: the next delivery of the shared reader.
struct ReplyStream {
    reader: Arc<ReplyReader>,
}

#[async_trait::async_trait]
impl Subscription for ReplyStream {
    async fn next(&mut self) -> Option<Result<Delivery>> {
        self.reader.receiver.lock().await.recv().await
    }
}

/// Reads the one partition of a reply queue's topic from its start.
fn assign_from_start(consumer: &StreamConsumer<QuietContext>, topic: &str) -> KafkaResult<()> {
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, 0, Offset::Beginning)?;
    consumer.assign(&assignment)
}

/// What a consumer and its deliveries share.
struct Shared {
    link: Arc<Link>,
    queue: String,
    topic: String,
    consumer: Detached<StreamConsumer<QuietContext>>,
    offsets: Arc<Offsets>,
    /// Woken when a partition's position moved.
    commit: Notify,
    /// Set once the application dropped its consumer.
    done: AtomicBool,
}

/// Receives messages while the prefetch allows, until the application drops
/// its consumer or the bus closes.
async fn drive(
    shared: Arc<Shared>,
    credit: Arc<Semaphore>,
    sender: mpsc::Sender<Result<Delivery>>,
) {
    let mut closed = shared.link.closed();
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&credit).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = sender.closed() => break,
            _ = closed.wait_for(|closed| *closed) => break,
        };
        let taken = tokio::select! {
            message = shared.consumer.recv() => match message {
                Ok(message) => Ok(shared.take(&message, permit)),
                Err(error) => Err(error),
            },
            () = sender.closed() => break,
            _ = closed.wait_for(|closed| *closed) => break,
        };
        let delivery = match taken {
            Ok(Some(delivery)) => delivery,
            Ok(None) => continue,
            Err(error) => {
                // The topic missing for a while (a broker that lost it is
                // given it back), a broker gone: the client recovers.
                tracing::debug!(queue = %shared.queue, %error, "kafka consumer");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if sender.send(Ok(delivery)).await.is_err() {
            break;
        }
    }
    shared.done.store(true, Ordering::Release);
    shared.commit.notify_one();
}

impl Shared {
    /// Turns a message into a delivery, or settles it at once when it has
    /// expired.
    fn take(
        self: &Arc<Self>,
        message: &BorrowedMessage<'_>,
        permit: OwnedSemaphorePermit,
    ) -> Option<Delivery> {
        let partition = message.partition();
        let offset = message.offset();
        // A message buffered before its partition was given away.
        let epoch = self.offsets.taken(partition, offset)?;
        let mut expires_at_ms = None;
        let mut attempt = 1;
        if let Some(headers) = message.headers() {
            for header in headers.iter() {
                let value = header
                    .value
                    .and_then(|value| std::str::from_utf8(value).ok());
                match (header.key, value) {
                    (EXPIRES_HEADER, Some(value)) => expires_at_ms = value.parse().ok(),
                    (ATTEMPT_HEADER, Some(value)) => attempt = value.parse().unwrap_or(1),
                    _ => {}
                }
            }
        }
        if expires_at_ms.is_some_and(|at| at <= now_ms()) {
            // Its client has stopped waiting: skipped, never dead-lettered.
            self.settled(partition, offset, epoch);
            return None;
        }
        let body = Bytes::copy_from_slice(message.payload().unwrap_or_default());
        let acker = KafkaAcker {
            shared: Arc::clone(self),
            partition,
            offset,
            epoch,
            body: body.clone(),
            attempt,
            expires_at_ms,
            permit: Some(permit),
        };
        Some(Delivery::new(body, attempt, expires_at_ms, Box::new(acker)))
    }

    fn settled(&self, partition: i32, offset: i64, epoch: u64) {
        if self.offsets.settled(partition, offset, epoch) {
            self.commit.notify_one();
        }
    }

    /// A reply queue's topic is declared again whenever the broker comes
    /// back (an in-memory broker lost it): its reader starts again from the
    /// new topic's start rather than waiting for its old position.
    async fn reassign_after_outages(self: Arc<Self>) {
        let mut reconnections = self.link.reconnections();
        reconnections.mark_unchanged();
        let mut closed = self.link.closed();
        loop {
            tokio::select! {
                changed = reconnections.changed() => if changed.is_err() { return },
                _ = closed.wait_for(|closed| *closed) => return,
            }
            if Arc::strong_count(&self) == 1 {
                return;
            }
            if let Err(error) = assign_from_start(&self.consumer, &self.topic) {
                tracing::warn!(queue = %self.queue, %error, "reading a reply queue again");
            }
        }
    }

    /// Sends a copy of a message given back to the end of the queue, or to
    /// the dead-letter queue once its deliveries are used up, then settles
    /// the original. A copy that cannot be sent leaves the original
    /// unsettled: it is delivered again after the next rebalance.
    async fn give_back(&self, given: GivenBack) -> Result<()> {
        let spec = self.link.known_spec(&self.queue);
        let limit = spec.as_ref().and_then(|spec| spec.max_deliveries);
        let dead_letter = spec.as_ref().and_then(|spec| spec.dead_letter.clone());
        let used_up = !given.requeue || limit.is_some_and(|limit| given.attempt >= limit);
        let (target, attempt) = if used_up {
            match dead_letter {
                Some(dead_letter) => (Some(dead_letter), given.attempt),
                None => (None, given.attempt),
            }
        } else {
            (Some(self.queue.clone()), given.attempt + 1)
        };
        if let Some(target) = target {
            let topic = self.link.config.queue_topic(&target);
            let outgoing = Outgoing {
                key: None,
                payload: &given.body,
                headers: headers(given.expires_at_ms, attempt),
            };
            self.link.send(&topic, outgoing).await?;
            if used_up {
                tracing::warn!(
                    queue = %self.queue, dead_letter = %target, deliveries = given.attempt,
                    "message dead-lettered"
                );
            }
        }
        self.settled(given.partition, given.offset, given.epoch);
        Ok(())
    }
}

/// A message given back, with what sending it again needs.
struct GivenBack {
    partition: i32,
    offset: i64,
    epoch: u64,
    body: Bytes,
    attempt: u32,
    expires_at_ms: Option<u64>,
    requeue: bool,
}

/// Settles one delivery: commits its offset once everything before it is
/// settled, or gives it back.
struct KafkaAcker {
    shared: Arc<Shared>,
    partition: i32,
    offset: i64,
    epoch: u64,
    body: Bytes,
    attempt: u32,
    expires_at_ms: Option<u64>,
    /// Its place in the prefetch, given up once settled.
    permit: Option<OwnedSemaphorePermit>,
}

impl KafkaAcker {
    fn given_back(&mut self, requeue: bool) -> GivenBack {
        self.permit = None;
        GivenBack {
            partition: self.partition,
            offset: self.offset,
            epoch: self.epoch,
            body: std::mem::take(&mut self.body),
            attempt: self.attempt,
            expires_at_ms: self.expires_at_ms,
            requeue,
        }
    }
}

#[async_trait::async_trait]
impl Acker for KafkaAcker {
    async fn ack(mut self: Box<Self>) -> Result<()> {
        self.permit = None;
        self.shared.settled(self.partition, self.offset, self.epoch);
        Ok(())
    }

    async fn nack(mut self: Box<Self>, requeue: bool) -> Result<()> {
        let given = self.given_back(requeue);
        self.shared.give_back(given).await
    }
}

impl Drop for KafkaAcker {
    /// A delivery dropped unsettled is given back, as a dead consumer's
    /// would be.
    fn drop(&mut self) {
        if self.permit.is_none() {
            return;
        }
        let given = self.given_back(true);
        let shared = Arc::clone(&self.shared);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = shared.give_back(given).await {
                    tracing::warn!(queue = %shared.queue, %error, "giving a message back");
                }
            });
        }
    }
}

/// Deliveries of one queue, as the application takes them.
struct QueueStream {
    receiver: mpsc::Receiver<Result<Delivery>>,
}

#[async_trait::async_trait]
impl Subscription for QueueStream {
    async fn next(&mut self) -> Option<Result<Delivery>> {
        self.receiver.recv().await
    }
}
