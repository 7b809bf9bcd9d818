//! Consumers that outlive connections.
//!
//! A work-queue consumer is fed by a task that pulls from the queue's
//! durable consumer on the server. It asks for no more messages than its
//! prefetch has room for, counting every delivery until it is settled, so
//! that a consumer never holds more than its prefetch; one pull request is
//! out at a time, and its idle heartbeats show that it is still alive. When
//! the request dies (no heartbeat, an error), the task sets up again after
//! a backoff (100 ms doubling to 5 s, short when the request worked
//! before): the consumer ends only when it is dropped or the bus closes.
//! After a reconnect the request out is given a heartbeat's time to show
//! it survived. The task also sends the `-NAK` of deliveries given back (see
//! `delivery`).
//!
//! A reply-queue consumer is a core NATS queue subscription: consumers of
//! one reply queue compete, and each message is confirmed to its sender as
//! soon as it arrives, in one batch per sender for everything that arrived
//! in one read (see `confirm`). async-nats subscribes it again after a
//! reconnect.

use std::sync::Arc;
use std::time::Duration;

use async_nats::StatusCode;
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::time::Instant;

use super::confirm::{self, Owed};
use super::connection::Link;
use super::declare::{self, CONSUMER};
use super::delivery::{Arrival, Held, Queue, ReplyStream, Requeued, WorkStream};
use super::publish::PUBLISH_TIMEOUT;
use crate::backoff::Backoff;
use crate::{ConsumeOptions, Consumer, Error, Result};

/// How long the server keeps a pull request waiting for messages.
const PULL_EXPIRES: Duration = Duration::from_secs(30);
/// How often the server shows a waiting pull request is alive.
const PULL_HEARTBEAT: Duration = Duration::from_secs(2);
/// Silence after which a pull request counts as lost.
const PULL_SILENCE: Duration = Duration::from_secs(5);
/// Silence after a new connection after which the pull request out counts
/// as lost. A request may outlive a lost connection (the server keeps it
/// while the inbox, subscribed again, has interest) or not: kept, it shows
/// within a heartbeat.
const PULL_SILENCE_AFTER_RECONNECT: Duration = Duration::from_secs(3);
/// Failed set-ups in a row before they are logged as warnings.
const QUIET_FAILURES: u32 = 3;

/// The queue group of reply-queue consumers.
const REPLY_GROUP: &str = "funcmesh";
/// The most messages a reply-queue consumer takes in one read before it
/// sends the confirmations they owe.
const MAX_READ: usize = 256;

/// Starts consuming `queue`: now if connected, else as soon as connected.
pub(crate) async fn start(
    link: Arc<Link>,
    queue: &str,
    options: ConsumeOptions,
) -> Result<Consumer> {
    if link.is_local_reply(queue) {
        return reply(&link, queue).await;
    }
    if link.is_connected() {
        match declare::find(&link, queue).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(Error::UnknownQueue(queue.to_owned())),
            // The feed tries again.
            Err(_) => {}
        }
    }
    let (queue, requeued) = Queue::new(link, queue);
    let (tx, rx) = mpsc::unbounded_channel();
    let (gone_tx, gone_rx) = oneshot::channel();
    let prefetch = usize::from(options.prefetch.max(1));
    let feed = Feed {
        queue,
        tx,
        credit: Arc::new(Semaphore::new(prefetch)),
        requeued,
        to_nak: Vec::new(),
        gone: Gone {
            rx: Some(gone_rx),
            unseen: Vec::new(),
        },
    };
    tokio::spawn(feed.run());
    Ok(Consumer::new(WorkStream::new(rx, gone_tx)))
}

/// Subscribes to a reply queue declared in this process.
async fn reply(link: &Arc<Link>, queue: &str) -> Result<Consumer> {
    let subject = link.config.reply_subject(queue);
    let mut subscriber = link
        .client
        .queue_subscribe(subject, REPLY_GROUP.to_owned())
        .await
        .map_err(|error| link.unavailable(format_args!("subscribing to {queue}: {error}")))?;
    flush(link).await;
    let (tx, rx) = mpsc::unbounded_channel();
    let client = link.client.clone();
    tokio::spawn(async move {
        let mut draining = false;
        let mut owed = Owed::default();
        loop {
            let message = tokio::select! {
                message = subscriber.next() => message,
                () = tx.closed(), if !draining => {
                    // The consumer is gone. Until the server has seen the
                    // unsubscription, messages still come: refused, their
                    // senders look elsewhere at once.
                    draining = true;
                    if subscriber.drain().await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            // Ended by draining, or by the bus closing.
            let Some(first) = message else { return };
            // Everything that has arrived is one read: its batching senders
            // get one confirmation each.
            let mut next = Some(first);
            let mut read = 0;
            while let Some(mut message) = next.take() {
                let sender = message.reply.take();
                let batched = confirm::wants_batch(message.headers.as_ref());
                let taken = !draining && tx.send(message).is_ok();
                if let Some(sender) = sender
                    && !(taken && batched && owed.add(&sender))
                {
                    // The answer the sender waits for. Lost, it times out
                    // there and the sender may send again.
                    let _ = if taken {
                        client.publish(sender, Bytes::new()).await
                    } else {
                        client
                            .publish_with_headers(sender, confirm::refusal(), Bytes::new())
                            .await
                    };
                }
                read += 1;
                if read < MAX_READ {
                    next = subscriber.next().now_or_never().flatten();
                }
            }
            for (subject, tokens) in owed.take() {
                let _ = client.publish(subject, tokens).await;
            }
        }
    });
    Ok(Consumer::new(ReplyStream { rx }))
}

/// Waits, when connected, until the server has seen what the client sent
/// (a new subscription takes messages from then on).
pub(crate) async fn flush(link: &Link) {
    if link.is_connected() {
        // Failing, the subscription is in place a moment later.
        let _ = tokio::time::timeout(PUBLISH_TIMEOUT, link.client.flush()).await;
    }
}

/// The signal that the consumer was dropped, with the deliveries it never
/// handed out.
struct Gone {
    rx: Option<oneshot::Receiver<Vec<Held>>>,
    unseen: Vec<Held>,
}

impl Gone {
    /// Resolves once the consumer is dropped; at once after that.
    async fn wait(&mut self) {
        if let Some(rx) = &mut self.rx {
            if let Ok(unseen) = rx.await {
                self.unseen.extend(unseen);
            }
            self.rx = None;
        }
    }
}

/// Why pulling on one inbox ended.
enum Pulled {
    /// The consumer was dropped or the bus closed.
    Ended,
    /// The request failed; `healthy` if the consumer worked before.
    Failed { healthy: bool, why: String },
}

/// The body of a pull request.
#[derive(Serialize)]
struct PullRequest {
    batch: usize,
    /// Nanoseconds.
    expires: u128,
    /// Nanoseconds.
    idle_heartbeat: u128,
}

/// What feeds one work-queue consumer.
struct Feed {
    queue: Arc<Queue>,
    tx: mpsc::UnboundedSender<Held>,
    /// The prefetch: one permit per delivery asked for or not yet settled.
    credit: Arc<Semaphore>,
    /// Deliveries given back for another try.
    requeued: mpsc::UnboundedReceiver<Requeued>,
    /// Given back while no pull request of ours was waiting: their `-NAK`
    /// follows the next request.
    to_nak: Vec<Requeued>,
    gone: Gone,
}

impl Feed {
    async fn run(mut self) {
        let mut backoff = Backoff::default();
        let mut failures = 0u32;
        loop {
            let connected = tokio::select! {
                connected = self.queue.link.wait_connected() => connected,
                () = self.gone.wait() => false,
            };
            if !connected {
                break;
            }
            // A request in flight when the connection drops gets no answer:
            // start again on the new connection rather than wait it out.
            let mut connections = self.queue.link.connections();
            connections.borrow_and_update();
            let set_up = tokio::select! {
                set_up = self.set_up() => set_up,
                _ = connections.changed() => continue,
            };
            if let Err(error) = set_up {
                failures += 1;
                if failures == QUIET_FAILURES {
                    tracing::warn!(queue = %self.queue.name, %error, "cannot consume the queue; retrying");
                } else {
                    tracing::debug!(queue = %self.queue.name, %error, failures, "cannot consume the queue yet");
                }
                if !self.pause(backoff.next_delay()).await {
                    break;
                }
                continue;
            }
            match self.pull().await {
                Pulled::Ended => break,
                Pulled::Failed { healthy, why } => {
                    tracing::debug!(queue = %self.queue.name, %why, "pulling again");
                    if healthy {
                        backoff.reset();
                        failures = 0;
                    }
                    if !self.pause(backoff.next_delay()).await {
                        break;
                    }
                }
            }
        }
        self.retire();
    }

    /// Reads the queue's limits and makes sure its consumer exists.
    async fn set_up(&self) -> Result<()> {
        let link = &self.queue.link;
        let Some((stream, limits)) = declare::find(link, &self.queue.name).await? else {
            return Err(Error::UnknownQueue(self.queue.name.clone()));
        };
        self.queue.set_limits(limits);
        declare::consumer(link, &self.queue.name, &stream).await
    }

    /// Sleeps; `false` if the consumer was dropped or the bus closed meanwhile.
    async fn pause(&mut self, delay: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(delay) => true,
            () = self.gone.wait() => false,
            () = self.queue.link.closed() => false,
        }
    }

    /// Pulls on one inbox until the request dies or the consumer ends.
    async fn pull(&mut self) -> Pulled {
        let link = Arc::clone(&self.queue.link);
        let inbox = link.client.new_inbox();
        let mut messages = match link.client.subscribe(inbox.clone()).await {
            Ok(subscriber) => subscriber,
            Err(error) => {
                return Pulled::Failed {
                    healthy: false,
                    why: error.to_string(),
                };
            }
        };
        let subject = format!(
            "$JS.API.CONSUMER.MSG.NEXT.{}.{CONSUMER}",
            link.config.stream_name(&self.queue.name)
        );
        let mut healthy = false;
        loop {
            // No request out: wait for room in the prefetch, then ask for as
            // many messages as there is room for.
            let credit = tokio::select! {
                biased;
                () = self.gone.wait() => return Pulled::Ended,
                () = link.closed() => return Pulled::Ended,
                Some(mut requeued) = self.requeued.recv() => {
                    requeued.free_credit();
                    self.to_nak.push(requeued);
                    continue;
                }
                credit = Arc::clone(&self.credit).acquire_owned() => credit,
            };
            // The semaphore is never closed.
            let Ok(mut credit) = credit else {
                return Pulled::Ended;
            };
            if let Ok(more) = u32::try_from(self.credit.available_permits())
                && more > 0
                && let Ok(extra) = Arc::clone(&self.credit).try_acquire_many_owned(more)
            {
                credit.merge(extra);
            }
            let request = PullRequest {
                batch: credit.num_permits(),
                expires: PULL_EXPIRES.as_nanos(),
                idle_heartbeat: PULL_HEARTBEAT.as_nanos(),
            };
            let Ok(request) = serde_json::to_vec(&request) else {
                return Pulled::Ended;
            };
            if let Err(error) = link
                .client
                .publish_with_reply(subject.clone(), inbox.clone(), request.into())
                .await
            {
                return Pulled::Failed {
                    healthy,
                    why: error.to_string(),
                };
            }
            // A request of ours waits now: give back what waited for one.
            for requeued in std::mem::take(&mut self.to_nak) {
                requeued.nak().await;
            }
            match self.take(&mut messages, credit, &mut healthy).await {
                Taken::Done => {}
                Taken::Pulled(pulled) => return pulled,
            }
        }
    }

    /// Takes the messages of the request out, with `credit` for them, until
    /// it is done (fully served, or expired).
    async fn take(
        &mut self,
        messages: &mut async_nats::Subscriber,
        mut credit: OwnedSemaphorePermit,
        healthy: &mut bool,
    ) -> Taken {
        let link = Arc::clone(&self.queue.link);
        let mut connections = link.connections();
        connections.borrow_and_update();
        let mut silence = Instant::now() + PULL_SILENCE;
        loop {
            let message = tokio::select! {
                biased;
                () = self.gone.wait() => return Taken::Pulled(Pulled::Ended),
                () = link.closed() => return Taken::Pulled(Pulled::Ended),
                _ = connections.changed() => {
                    silence = silence.min(Instant::now() + PULL_SILENCE_AFTER_RECONNECT);
                    continue;
                }
                Some(mut requeued) = self.requeued.recv() => {
                    // Our request waits: the server may hand it to anyone.
                    requeued.free_credit();
                    requeued.nak().await;
                    continue;
                }
                message = messages.next() => message,
                () = tokio::time::sleep_until(silence) => {
                    return Taken::Pulled(Pulled::Failed {
                        healthy: *healthy,
                        why: "the pull request went silent".to_owned(),
                    });
                }
            };
            // The subscription ends only when the client closes.
            let Some(message) = message else {
                return Taken::Pulled(Pulled::Ended);
            };
            silence = Instant::now() + PULL_SILENCE;
            match message.status {
                None | Some(StatusCode::OK) => {
                    *healthy = true;
                    // One permit goes with the delivery; the rest stay asked.
                    match credit.split(1) {
                        Some(one) if credit.num_permits() > 0 => self.deliver(message, one),
                        one => {
                            // That was the last message asked for.
                            if let Some(one) = one {
                                credit.merge(one);
                            }
                            self.deliver(message, credit);
                            return Taken::Done;
                        }
                    }
                }
                Some(StatusCode::IDLE_HEARTBEAT) => *healthy = true,
                // Expired with room left: ask again.
                Some(StatusCode::TIMEOUT) => {
                    *healthy = true;
                    return Taken::Done;
                }
                Some(status) => {
                    return Taken::Pulled(Pulled::Failed {
                        healthy: *healthy,
                        why: format!(
                            "{status} {}",
                            message.description.as_deref().unwrap_or_default()
                        ),
                    });
                }
            }
        }
    }

    /// Hands a delivered message to the consumer, with its prefetch permit.
    fn deliver(&mut self, message: async_nats::Message, credit: OwnedSemaphorePermit) {
        let Some(held) = Held::new(&self.queue, message, credit) else {
            tracing::debug!(queue = %self.queue.name, "not a JetStream delivery; ignored");
            return;
        };
        let Arrival::Deliver(held) = held.arrive() else {
            return;
        };
        if let Err(unsent) = self.tx.send(held) {
            // The consumer is gone.
            self.gone.unseen.push(unsent.0);
        }
    }

    /// Ends the consumer. Deliveries that nobody saw, or given back with no
    /// request out, are left to come back after their ack wait (a `-NAK`
    /// with no request waiting is what nats-server 2.9 mishandles).
    fn retire(self) {
        let Feed {
            tx,
            mut requeued,
            to_nak,
            gone,
            ..
        } = self;
        drop(tx);
        requeued.close();
        while let Ok(requeued) = requeued.try_recv() {
            requeued.abandon();
        }
        to_nak.into_iter().for_each(Requeued::abandon);
        gone.unseen.into_iter().for_each(Held::abandon);
    }
}

/// How taking a request's messages ended.
enum Taken {
    /// The request is done: ask again.
    Done,
    /// Pulling on this inbox is over.
    Pulled(Pulled),
}
