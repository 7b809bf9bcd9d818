//! From JetStream messages to the bus's deliveries: attempts, expiry, dead
//! letters, settling, and keeping held deliveries alive.
//!
//! A [`Held`] is one delivery from the moment it arrives until it is settled.
//! It holds one unit of its consumer's prefetch, and while it lives its
//! consumer's keep-alive task tells the server every [`PROGRESS_INTERVAL`]
//! that it is still being worked on, so that a long call is not delivered
//! again after the consumer's `ack_wait`. Settling stops that; so does the
//! bus closing, after which the server delivers the message again once
//! `ack_wait` has passed, as it does when the process dies.
//!
//! Giving a delivery back for another try (a negative acknowledgement, or
//! dropping it) goes through the consumer's feed, which sends the server's
//! `-NAK` only once one of its own pull requests is waiting: nats-server 2.9
//! mishandles a `-NAK` that arrives while no pull request waits (it loses
//! one message until its ack wait and delivers another twice). So a
//! consumer whose prefetch was full asks for more first, and that request
//! may take a message that was ready before the one given back. A delivery
//! given back when its consumer no longer pulls is left to come back after
//! the ack wait instead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_nats::{HeaderMap, Subject};
use bytes::Bytes;
use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};

use super::connection::Link;
use super::declare::Limits;
use super::publish::{self, PUBLISH_TIMEOUT};
use crate::inproc::NoAck;
use crate::{Acker, Delivery, Error, Result, Subscription, now_ms};

/// How often a held delivery's lease is renewed; well inside the ack wait.
pub(crate) const PROGRESS_INTERVAL: Duration = Duration::from_secs(2);

/// JetStream's verdicts on a delivery.
const ACK: &[u8] = b"+ACK";
const NAK: &[u8] = b"-NAK";
const PROGRESS: &[u8] = b"+WPI";
const TERM: &[u8] = b"+TERM";

/// What one work-queue consumer's deliveries share.
pub(crate) struct Queue {
    pub(crate) link: Arc<Link>,
    pub(crate) name: String,
    /// The queue's limits as its stream describes them.
    limits: Mutex<Limits>,
    /// The ack subjects of unsettled deliveries, renewed by [`keep_alive`].
    held: Mutex<HashMap<u64, Subject>>,
    next_id: AtomicU64,
    /// Deliveries given back, to the feed that sends their `-NAK`.
    requeues: mpsc::UnboundedSender<Requeued>,
    runtime: Handle,
}

impl Queue {
    /// A consumer's shared state, and the feed's end of its give-backs.
    /// Must be called on the runtime: dropped deliveries are given back on it.
    pub(crate) fn new(
        link: Arc<Link>,
        name: &str,
    ) -> (Arc<Self>, mpsc::UnboundedReceiver<Requeued>) {
        let limits = link.known_limits(name).unwrap_or_else(|| Limits {
            queue: name.to_owned(),
            ..Limits::default()
        });
        let (requeues, requeued) = mpsc::unbounded_channel();
        let queue = Arc::new(Self {
            link,
            name: name.to_owned(),
            limits: Mutex::new(limits),
            held: Mutex::default(),
            next_id: AtomicU64::new(0),
            requeues,
            runtime: Handle::current(),
        });
        tokio::spawn(keep_alive(Arc::downgrade(&queue)));
        (queue, requeued)
    }

    pub(crate) fn set_limits(&self, limits: Limits) {
        *self.limits.lock() = limits;
    }

    fn limits(&self) -> Limits {
        self.limits.lock().clone()
    }
}

/// Renews the lease of every held delivery of `queue` until the consumer
/// and all its deliveries are gone, or the bus is closed.
async fn keep_alive(queue: Weak<Queue>) {
    let mut ticks = tokio::time::interval(PROGRESS_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(queue) = queue.upgrade() else { return };
        if queue.link.is_closed() {
            return;
        }
        if !queue.link.is_connected() {
            continue;
        }
        let subjects: Vec<Subject> = queue.held.lock().values().cloned().collect();
        for subject in subjects {
            let renew = queue
                .link
                .client
                .publish(subject, Bytes::from_static(PROGRESS));
            if !matches!(
                tokio::time::timeout(PUBLISH_TIMEOUT, renew).await,
                Ok(Ok(()))
            ) {
                break;
            }
        }
    }
}

/// One delivery from a work queue, from arrival until settled.
pub(crate) struct Held(Option<Inner>);

struct Inner {
    queue: Arc<Queue>,
    id: u64,
    ack_subject: Subject,
    body: Bytes,
    headers: Option<HeaderMap>,
    attempt: u64,
    /// One unit of the consumer's prefetch, returned once settled.
    credit: Option<OwnedSemaphorePermit>,
}

/// What becomes of a delivery that just arrived.
pub(crate) enum Arrival {
    /// For the application.
    Deliver(Held),
    /// Dealt with by the bus (expired, or past its delivery limit).
    Handled,
}

impl Held {
    /// Takes over a message delivered by the queue's consumer. `None` for
    /// what is not a JetStream delivery (it has no ack subject).
    pub(crate) fn new(
        queue: &Arc<Queue>,
        message: async_nats::Message,
        credit: OwnedSemaphorePermit,
    ) -> Option<Self> {
        let ack_subject = message.reply.clone()?;
        let message = async_nats::jetstream::Message {
            message,
            context: queue.link.js.clone(),
        };
        let delivered = message.info().ok()?.delivered;
        let message = message.message;
        let id = queue.next_id.fetch_add(1, Ordering::Relaxed);
        queue.held.lock().insert(id, ack_subject.clone());
        Some(Self(Some(Inner {
            queue: Arc::clone(queue),
            id,
            ack_subject,
            body: message.payload,
            headers: message.headers,
            attempt: u64::try_from(delivered).unwrap_or(1).max(1),
            credit: Some(credit),
        })))
    }

    /// Sorts out, as it arrives, what the application must not see: an
    /// expired message is acknowledged and skipped; one delivered more
    /// often than its limit (its consumers died holding it) is
    /// dead-lettered without being handed out once more.
    pub(crate) fn arrive(mut self) -> Arrival {
        let Some(inner) = self.0.take() else {
            return Arrival::Handled;
        };
        let runtime = inner.queue.runtime.clone();
        if inner.expired() {
            tracing::debug!(queue = %inner.queue.name, "expired message not delivered");
            runtime.spawn(inner.settle_quietly(ACK));
            return Arrival::Handled;
        }
        let limits = inner.queue.limits();
        if limits
            .max_deliveries
            .is_some_and(|max| inner.attempt > u64::from(max))
        {
            runtime.spawn(async move {
                let _ = inner.give_back(false, "delivery limit").await;
            });
            return Arrival::Handled;
        }
        Arrival::Deliver(Self(Some(inner)))
    }

    /// Gives back a delivery nobody saw, once its consumer no longer pulls:
    /// the server delivers it again after its ack wait.
    pub(crate) fn abandon(mut self) {
        if let Some(inner) = self.0.take() {
            inner.abandon();
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(inner) = self.0.take() else { return };
        let runtime = Handle::try_current().unwrap_or_else(|_| inner.queue.runtime.clone());
        runtime.spawn(async move {
            if let Err(error) = inner.give_back(true, "dropped").await {
                tracing::debug!(%error, "dropped delivery not given back; the server delivers it again after its ack wait");
            }
        });
    }
}

impl Inner {
    fn expired(&self) -> bool {
        publish::expires_at_ms(self.headers.as_ref()).is_some_and(|at| at <= now_ms())
    }

    /// Stops renewing the lease.
    fn forget(&self) {
        self.queue.held.lock().remove(&self.id);
    }

    /// Stops renewing the lease and returns the prefetch unit: the server
    /// delivers the message again after its ack wait.
    fn abandon(self) {
        self.forget();
        tracing::debug!(queue = %self.queue.name, "delivery left to come back after its ack wait");
    }

    /// Sends the server a verdict on the delivery.
    async fn settle(self, verdict: &'static [u8]) -> Result<()> {
        self.forget();
        let link = &self.queue.link;
        link.ensure_connected()?;
        let sent = link
            .client
            .publish(self.ack_subject.clone(), Bytes::from_static(verdict));
        match tokio::time::timeout(PUBLISH_TIMEOUT, sent).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(link.unavailable(format_args!("settling a delivery: {error}"))),
            Err(_) => Err(link.unavailable("settling a delivery timed out")),
        }
    }

    /// [`settle`](Self::settle), where failing needs no more than a log: the
    /// message comes back after its ack wait.
    async fn settle_quietly(self, verdict: &'static [u8]) {
        if let Err(error) = self.settle(verdict).await {
            tracing::debug!(%error, "delivery not settled; the server delivers it again after its ack wait");
        }
    }

    /// Returns the delivery: to be delivered again when `requeue` and the
    /// delivery limit allows, else to the dead-letter queue, else discarded.
    async fn give_back(self, requeue: bool, why: &'static str) -> Result<()> {
        let limits = self.queue.limits();
        if requeue && !limits.exhausted(self.attempt) {
            self.requeue();
            return Ok(());
        }
        match limits.dead_letter {
            Some(dead_letter) => self.dead_letter(&dead_letter, why).await,
            None => {
                tracing::warn!(queue = %self.queue.name, attempt = self.attempt, why, "message discarded: no dead-letter queue");
                self.settle(TERM).await
            }
        }
    }

    /// Hands the delivery to the feed, which sends the `-NAK` once a pull
    /// request of its own waits (see the module docs).
    fn requeue(mut self) {
        self.forget();
        let credit = self.credit.take();
        let requeues = self.queue.requeues.clone();
        if let Err(unsent) = requeues.send(Requeued {
            inner: self,
            credit,
        }) {
            // The consumer no longer pulls.
            unsent.0.inner.abandon();
        }
    }

    /// Moves the message to `dead_letter` (without its expiry: dead letters
    /// do not expire), then acknowledges it here. When that fails for now,
    /// the message comes back after its ack wait and is tried again.
    async fn dead_letter(self, dead_letter: &str, why: &'static str) -> Result<()> {
        let link = Arc::clone(&self.queue.link);
        let headers = publish::without_expiry(self.headers.as_ref());
        match publish::send(&link, dead_letter, self.body.clone(), headers).await {
            Ok(()) => {
                tracing::debug!(queue = %self.queue.name, %dead_letter, attempt = self.attempt, why, "message dead-lettered");
                self.settle(ACK).await
            }
            Err(Error::UnknownQueue(_)) => {
                tracing::error!(queue = %self.queue.name, %dead_letter, "dead-letter queue not declared; message lost");
                self.settle(TERM).await
            }
            Err(error) => {
                tracing::warn!(queue = %self.queue.name, %dead_letter, %error, "cannot dead-letter the message now; it comes back later");
                self.abandon();
                Err(error)
            }
        }
    }
}

/// A delivery given back for another try, on its way to the feed.
pub(crate) struct Requeued {
    inner: Inner,
    credit: Option<OwnedSemaphorePermit>,
}

impl Requeued {
    /// Returns the delivery's prefetch unit, so the feed can ask for it.
    pub(crate) fn free_credit(&mut self) {
        self.credit = None;
    }

    /// Sends the `-NAK`: the caller has a pull request waiting.
    pub(crate) async fn nak(self) {
        self.inner.settle_quietly(NAK).await;
    }

    /// The feed stopped pulling: the message comes back after its ack wait.
    pub(crate) fn abandon(self) {
        self.inner.abandon();
    }
}

/// Settles a delivery handed to the application.
struct NatsAcker(Held);

impl NatsAcker {
    fn take(&mut self) -> Option<Inner> {
        self.0.0.take()
    }
}

#[async_trait::async_trait]
impl Acker for NatsAcker {
    async fn ack(mut self: Box<Self>) -> Result<()> {
        match self.take() {
            Some(inner) => inner.settle(ACK).await,
            None => Ok(()),
        }
    }

    async fn nack(mut self: Box<Self>, requeue: bool) -> Result<()> {
        match self.take() {
            Some(inner) => inner.give_back(requeue, "rejected").await,
            None => Ok(()),
        }
    }
}

/// The receiving end of a work-queue consumer.
pub(crate) struct WorkStream {
    rx: mpsc::UnboundedReceiver<Held>,
    /// Hands the deliveries that arrived for nobody back to the feed.
    gone: Option<oneshot::Sender<Vec<Held>>>,
}

impl WorkStream {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<Held>, gone: oneshot::Sender<Vec<Held>>) -> Self {
        Self {
            rx,
            gone: Some(gone),
        }
    }
}

#[async_trait::async_trait]
impl Subscription for WorkStream {
    async fn next(&mut self) -> Option<Result<Delivery>> {
        loop {
            let mut held = self.rx.recv().await?;
            let Some(inner) = held.0.as_ref() else {
                continue;
            };
            // It may have expired while it waited here.
            if inner.expired() {
                if let Some(inner) = held.0.take() {
                    tracing::debug!(queue = %inner.queue.name, "expired message not delivered");
                    inner.settle_quietly(ACK).await;
                }
                continue;
            }
            let body = inner.body.clone();
            let attempt = u32::try_from(inner.attempt).unwrap_or(u32::MAX);
            let expires_at_ms = publish::expires_at_ms(inner.headers.as_ref());
            return Some(Ok(Delivery::new(
                body,
                attempt,
                expires_at_ms,
                Box::new(NatsAcker(held)),
            )));
        }
    }
}

impl Drop for WorkStream {
    fn drop(&mut self) {
        // Arrived, never handed out: the feed deals with these once it has
        // stopped pulling.
        self.rx.close();
        let mut unseen = Vec::new();
        while let Ok(held) = self.rx.try_recv() {
            unseen.push(held);
        }
        if let Some(gone) = self.gone.take()
            && let Err(unseen) = gone.send(unseen)
        {
            unseen.into_iter().for_each(Held::abandon);
        }
    }
}

/// The receiving end of a reply-queue consumer: confirmed already, settled
/// by nothing.
pub(crate) struct ReplyStream {
    pub(crate) rx: mpsc::UnboundedReceiver<async_nats::Message>,
}

#[async_trait::async_trait]
impl Subscription for ReplyStream {
    async fn next(&mut self) -> Option<Result<Delivery>> {
        loop {
            let message = self.rx.recv().await?;
            let expires_at_ms = publish::expires_at_ms(message.headers.as_ref());
            if expires_at_ms.is_some_and(|at| at <= now_ms()) {
                tracing::debug!(subject = %message.subject, "expired reply not delivered");
                continue;
            }
            return Some(Ok(Delivery::new(
                message.payload,
                1,
                expires_at_ms,
                Box::new(NoAck),
            )));
        }
    }
}

/// A topic's broadcasts, as they come.
pub(crate) struct TopicStream {
    pub(crate) subscriber: async_nats::Subscriber,
}

#[async_trait::async_trait]
impl Subscription for TopicStream {
    async fn next(&mut self) -> Option<Result<Delivery>> {
        use futures::StreamExt;
        let message = self.subscriber.next().await?;
        Some(Ok(Delivery::new(message.payload, 1, None, Box::new(NoAck))))
    }
}
