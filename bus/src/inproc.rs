//! The embedded bus: queues in this process's memory.
//!
//! It keeps the promises the broker backends keep, so that `funcmesh dev` and
//! the fast tests see the behaviour production sees: bounded queues answer
//! `QueueFull`, consumers compete, a delivery dropped without an ack goes back
//! to the front of its queue, and a message that exhausts its delivery limit
//! moves to the dead-letter queue. A tap (see `tap`) gets a copy of every
//! message a queue takes.

mod tap;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::Mutex;

use bytes::Bytes;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, broadcast};

use crate::{
    Acker, Bus, ConsumeOptions, Consumer, Delivery, Error, Message, Payload, QueueDepth, QueueSpec,
    Result, Subscription, now_ms,
};

/// The in-process bus. Cheap to clone; clones share queues.
#[derive(Clone, Default)]
pub struct InProcBus {
    queues: Arc<Mutex<HashMap<String, Arc<Queue>>>>,
    topics: Arc<Mutex<HashMap<String, broadcast::Sender<Bytes>>>>,
}

/// How many broadcasts a slow listener may fall behind before it skips some.
const TOPIC_BACKLOG: usize = 256;

impl std::fmt::Debug for InProcBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InProcBus")
    }
}

impl InProcBus {
    /// A new, empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bus that `url` names in this process, created on first use.
    pub fn shared(url: &str) -> Arc<dyn Bus> {
        static BUSES: OnceLock<Mutex<HashMap<String, InProcBus>>> = OnceLock::new();
        let mut buses = BUSES.get_or_init(Default::default).lock();
        Arc::new(buses.entry(url.to_owned()).or_default().clone())
    }

    /// Puts `message` on `queue`.
    fn put(&self, queue: &str, message: Message) -> Result<()> {
        let queue = self.queue(queue)?;
        let body = message.payload;
        queue.push(
            Pending {
                body: body.clone(),
                expires_at_ms: message.expires_at_ms,
                attempt: 1,
            },
            false,
        )?;
        // Only what the queue took: a refused message was never published.
        queue.taps.offer(&body);
        Ok(())
    }

    fn queue(&self, name: &str) -> Result<Arc<Queue>> {
        self.queues
            .lock()
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownQueue(name.to_owned()))
    }
}

struct Pending {
    body: Payload,
    expires_at_ms: Option<u64>,
    attempt: u32,
}

struct Queue {
    spec: QueueSpec,
    ready: Mutex<VecDeque<Pending>>,
    unacked: std::sync::atomic::AtomicU64,
    notify: Notify,
    bus: Weak<Mutex<HashMap<String, Arc<Queue>>>>,
    taps: tap::Taps,
}

impl Queue {
    fn push(&self, msg: Pending, front: bool) -> Result<()> {
        let mut ready = self.ready.lock();
        if !front && self.spec.max_len.is_some_and(|limit| ready.len() >= limit) {
            return Err(Error::QueueFull {
                queue: self.spec.name.clone(),
                limit: self.spec.max_len.unwrap_or_default(),
            });
        }
        if front {
            ready.push_front(msg)
        } else {
            ready.push_back(msg)
        }
        drop(ready);
        self.notify.notify_one();
        Ok(())
    }

    fn pop(&self) -> Option<Pending> {
        let now = now_ms();
        let mut ready = self.ready.lock();
        while let Some(msg) = ready.pop_front() {
            if msg.expires_at_ms.is_some_and(|at| at <= now) {
                tracing::debug!(queue = %self.spec.name, "expired message not delivered");
                continue;
            }
            return Some(msg);
        }
        None
    }

    /// A delivery came back unacknowledged: retry it or dead-letter it.
    fn give_back(&self, msg: Pending, requeue: bool) {
        let exhausted = self
            .spec
            .max_deliveries
            .is_some_and(|max| msg.attempt >= max);
        if requeue && !exhausted {
            let msg = Pending {
                attempt: msg.attempt + 1,
                ..msg
            };
            // Requeueing at the front never hits the length limit.
            let _ = self.push(msg, true);
            return;
        }
        let Some(dlq) = &self.spec.dead_letter else {
            tracing::warn!(queue = %self.spec.name, attempt = msg.attempt, "message discarded: no dead-letter queue");
            return;
        };
        let target = self.bus.upgrade().and_then(|q| q.lock().get(dlq).cloned());
        match target {
            Some(dead) => {
                let dead_msg = Pending {
                    attempt: 1,
                    expires_at_ms: None,
                    ..msg
                };
                if let Err(error) = dead.push(dead_msg, false) {
                    tracing::error!(queue = %self.spec.name, %error, "dead letter lost");
                }
            }
            None => {
                tracing::error!(queue = %self.spec.name, dead_letter = %dlq, "dead-letter queue not declared; message lost")
            }
        }
    }
}

#[async_trait::async_trait]
impl Bus for InProcBus {
    fn system(&self) -> &'static str {
        "inproc"
    }

    async fn declare(&self, spec: &QueueSpec) -> Result<()> {
        let mut queues = self.queues.lock();
        queues.entry(spec.name.clone()).or_insert_with(|| {
            Arc::new(Queue {
                spec: spec.clone(),
                ready: Mutex::default(),
                unacked: Default::default(),
                notify: Notify::new(),
                bus: Arc::downgrade(&self.queues),
                taps: tap::Taps::default(),
            })
        });
        Ok(())
    }

    async fn publish(&self, queue: &str, message: Message) -> Result<()> {
        crate::stats::counted("inproc", self.put(queue, message))
    }

    async fn consume(&self, queue: &str, options: ConsumeOptions) -> Result<Consumer> {
        let queue = self.queue(queue)?;
        let credit = Arc::new(Semaphore::new(usize::from(options.prefetch.max(1))));
        Ok(Consumer::new(InProcSubscription { queue, credit }))
    }

    async fn depth(&self, queue: &str) -> Result<QueueDepth> {
        let queue = self.queue(queue)?;
        let ready = queue.ready.lock().len() as u64;
        Ok(QueueDepth {
            ready,
            unacked: queue.unacked.load(std::sync::atomic::Ordering::Relaxed),
        })
    }

    async fn broadcast(&self, topic: &str, body: Bytes) -> Result<()> {
        if let Some(sender) = self.topics.lock().get(topic) {
            // No receiver is not an error: a broadcast is for whoever listens.
            let _ = sender.send(body);
        }
        crate::stats::counted("inproc", Ok(()))
    }

    async fn listen(&self, topic: &str) -> Result<Consumer> {
        let receiver = self
            .topics
            .lock()
            .entry(topic.to_owned())
            .or_insert_with(|| broadcast::channel(TOPIC_BACKLOG).0)
            .subscribe();
        Ok(Consumer::new(TopicListener {
            topic: topic.to_owned(),
            receiver,
        }))
    }

    async fn tap(&self, queue: &str) -> Result<Consumer> {
        let tapped = self.queue(queue)?;
        Ok(Consumer::new(tapped.taps.add(queue)))
    }
}

struct TopicListener {
    topic: String,
    receiver: broadcast::Receiver<Bytes>,
}

#[async_trait::async_trait]
impl Subscription for TopicListener {
    async fn next(&mut self) -> Option<Result<Delivery>> {
        loop {
            match self.receiver.recv().await {
                Ok(body) => return Some(Ok(Delivery::new(body, 1, None, Box::new(NoAck)))),
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    tracing::warn!(topic = %self.topic, skipped, "listener fell behind; broadcasts skipped");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// Settles nothing: broadcasts are not acknowledged.
pub(crate) struct NoAck;

#[async_trait::async_trait]
impl Acker for NoAck {
    async fn ack(self: Box<Self>) -> Result<()> {
        Ok(())
    }

    async fn nack(self: Box<Self>, _requeue: bool) -> Result<()> {
        Ok(())
    }
}

struct InProcSubscription {
    queue: Arc<Queue>,
    credit: Arc<Semaphore>,
}

#[async_trait::async_trait]
impl Subscription for InProcSubscription {
    async fn next(&mut self) -> Option<Result<Delivery>> {
        let permit = Arc::clone(&self.credit).acquire_owned().await.ok()?;
        loop {
            let notified = self.queue.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(msg) = self.queue.pop() {
                self.queue
                    .unacked
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let body = msg.body.clone();
                let (attempt, expires_at_ms) = (msg.attempt, msg.expires_at_ms);
                let acker = InProcAcker {
                    queue: Arc::clone(&self.queue),
                    msg: Some(msg),
                    _permit: permit,
                };
                return Some(Ok(Delivery::new(
                    body,
                    attempt,
                    expires_at_ms,
                    Box::new(acker),
                )));
            }
            notified.await;
        }
    }
}

struct InProcAcker {
    queue: Arc<Queue>,
    msg: Option<Pending>,
    _permit: OwnedSemaphorePermit,
}

impl InProcAcker {
    fn settle(&mut self, requeue: Option<bool>) {
        if let Some(msg) = self.msg.take() {
            self.queue
                .unacked
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            if let Some(requeue) = requeue {
                self.queue.give_back(msg, requeue);
            }
        }
    }
}

impl Drop for InProcAcker {
    fn drop(&mut self) {
        // Dropped unsettled: the consumer died with it, so it goes round again.
        self.settle(Some(true));
    }
}

#[async_trait::async_trait]
impl Acker for InProcAcker {
    async fn ack(mut self: Box<Self>) -> Result<()> {
        self.settle(None);
        Ok(())
    }

    async fn nack(mut self: Box<Self>, requeue: bool) -> Result<()> {
        self.settle(Some(requeue));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
