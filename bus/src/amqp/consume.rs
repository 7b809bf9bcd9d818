//! Consumers that outlive connections.
//!
//! Each [`Consumer`] is fed by a task that subscribes on the live connection
//! and again on every new one. Deliveries travel from lapin's delegate, which
//! runs in delivery order, through an unbounded channel that the consumer's
//! prefetch bounds in practice.

use std::sync::Arc;
use std::time::Duration;

use lapin::ConsumerDelegate;
use lapin::message::DeliveryResult;
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use parking_lot::Mutex;
use tokio::sync::{Notify, mpsc, watch};

use super::connection::{Link, Session, next_session};
use super::delivery::{Incoming, Kind, Retiring, SettleChannel, Stream, Unseen, give_back};
use super::{declare, tap, topics};
use crate::{Consumer, Error, Result};

/// How long to wait before subscribing again when the broker refused.
const RESUBSCRIBE_DELAY: Duration = Duration::from_secs(1);

/// What a consumer reads.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// A queue, acknowledged one delivery at a time.
    Queue { name: String, prefetch: u16 },
    /// Broadcasts on a topic of the control exchange.
    Topic { topic: String },
    /// Copies of what is published to a queue (see `tap`), not acknowledged.
    Tap { queue: String },
}

/// Starts consuming `source`: now if connected, else as soon as connected.
pub(crate) async fn start(link: Arc<Link>, source: Source) -> Result<Consumer> {
    let (tx, rx) = mpsc::unbounded_channel();
    let kind = match source {
        Source::Queue { .. } => Kind::Queue,
        Source::Topic { .. } => Kind::Topic,
        Source::Tap { .. } => Kind::Tap,
    };
    let retiring = matches!(kind, Kind::Queue).then(|| Retiring::new(Arc::clone(&link)));
    let feed = Feed {
        link,
        source,
        tx,
        unseen: Unseen::default(),
        _retiring: retiring.clone(),
    };
    let stream = Stream::new(rx, kind, Arc::clone(&feed.unseen), retiring);
    let sessions = feed.link.sessions();
    let first = match feed.link.session() {
        Ok(session) => match subscribe(&session, &feed).await {
            Ok(active) => Some(active),
            Err(error) => match &feed.source {
                Source::Queue { name, .. } | Source::Tap { queue: name }
                    if declare::is_not_found(&error) =>
                {
                    return Err(Error::UnknownQueue(name.clone()));
                }
                _ if session.is_alive() => return Err(feed.link.fail("subscribing", &error)),
                // The connection died meanwhile: the next one will do.
                _ => None,
            },
        },
        Err(_) => None,
    };
    tokio::spawn(feed.run(first, sessions));
    Ok(Consumer::new(stream))
}

/// What a consumer's feed task works with.
struct Feed {
    link: Arc<Link>,
    source: Source,
    tx: mpsc::UnboundedSender<Incoming>,
    unseen: Unseen,
    /// Counts the consumer, once dropped, until this feed ends.
    _retiring: Option<Retiring>,
}

impl Feed {
    /// Keeps a subscription up until the consumer is dropped.
    async fn run(
        self,
        mut active: Option<Active>,
        mut sessions: watch::Receiver<Option<Arc<Session>>>,
    ) {
        loop {
            let current = match active.take() {
                Some(current) => current,
                None => match self.resubscribe(&mut sessions).await {
                    Some(current) => current,
                    None => return,
                },
            };
            tokio::select! {
                () = current.ended.notified() => {}
                _ = sessions.changed() => {}
                () = self.tx.closed() => {
                    current.retire(&self.unseen).await;
                    return;
                }
            }
            // Cancelled by the broker, or the connection died: which one
            // shows when the next session is looked for.
            let _ = self.link.session();
        }
    }

    /// Subscribes on the next live connection; `None` once the consumer is gone.
    async fn resubscribe(
        &self,
        sessions: &mut watch::Receiver<Option<Arc<Session>>>,
    ) -> Option<Active> {
        loop {
            let session = tokio::select! {
                session = next_session(sessions) => session?,
                () = self.tx.closed() => return None,
            };
            let subscribed = tokio::select! {
                subscribed = subscribe(&session, self) => subscribed,
                () = self.tx.closed() => return None,
            };
            match subscribed {
                Ok(active) => {
                    tracing::debug!(source = ?self.source, "subscribed again");
                    return Some(active);
                }
                Err(error) if session.is_alive() => {
                    tracing::warn!(source = ?self.source, %error, "cannot subscribe; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(RESUBSCRIBE_DELAY) => {}
                        () = self.tx.closed() => return None,
                    }
                }
                Err(_) => {}
            }
        }
    }
}

/// One subscription on one channel. The channel closes once this is dropped
/// and every delivery it handed out is settled.
struct Active {
    consumer: lapin::Consumer,
    channel: Arc<Mutex<Option<Arc<SettleChannel>>>>,
    ended: Arc<Notify>,
}

impl Active {
    /// Stops the deliveries, then gives back those that came for nobody.
    async fn retire(self, unseen: &Unseen) {
        let channel = self.channel.lock().clone();
        if let Some(channel) = channel {
            let _ = channel
                .channel()
                .basic_cancel(self.consumer.tag(), BasicCancelOptions::default())
                .await;
        }
        give_back(unseen).await;
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        // Breaks the channel -> delegate -> channel cycle.
        self.channel.lock().take();
    }
}

async fn subscribe(session: &Session, feed: &Feed) -> lapin::Result<Active> {
    let channel = session.connection.create_channel().await?;
    let config = &feed.link.config;
    let (queue, options) = match &feed.source {
        Source::Queue { name, prefetch } => {
            channel
                .basic_qos((*prefetch).max(1), BasicQosOptions::default())
                .await?;
            (config.queue(name), BasicConsumeOptions::default())
        }
        Source::Topic { topic } => {
            let queue = topics::bind_listener(&channel, config, topic).await?;
            (queue, no_ack())
        }
        Source::Tap { queue } => (tap::bind(&channel, config, queue).await?, no_ack()),
    };
    let consumer = channel
        .basic_consume(queue.into(), "".into(), options, FieldTable::default())
        .await?;
    let channel = SettleChannel::new(channel, Arc::clone(&feed.link));
    let active = Active {
        consumer: consumer.clone(),
        channel: Arc::new(Mutex::new(Some(Arc::new(channel)))),
        ended: Arc::new(Notify::new()),
    };
    consumer.set_delegate(Delegate {
        acks: matches!(feed.source, Source::Queue { .. }),
        tx: feed.tx.clone(),
        unseen: Arc::clone(&feed.unseen),
        channel: Arc::clone(&active.channel),
        ended: Arc::clone(&active.ended),
    });
    Ok(active)
}

fn no_ack() -> BasicConsumeOptions {
    BasicConsumeOptions {
        no_ack: true,
        ..BasicConsumeOptions::default()
    }
}

/// Hands each delivery over with the channel it must be settled on.
struct Delegate {
    /// Whether deliveries are acknowledged (not so for broadcasts).
    acks: bool,
    tx: mpsc::UnboundedSender<Incoming>,
    unseen: Unseen,
    channel: Arc<Mutex<Option<Arc<SettleChannel>>>>,
    ended: Arc<Notify>,
}

impl ConsumerDelegate for Delegate {
    fn on_new_delivery(
        &self,
        delivery: DeliveryResult,
    ) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
        // Work is done here, synchronously, so deliveries keep their order.
        match delivery {
            Ok(Some(delivery)) => {
                let channel = self.channel.lock().clone();
                // A closed receiver means the consumer was dropped.
                if let Err(unsent) = self.tx.send(Incoming { delivery, channel })
                    && self.acks
                {
                    self.unseen.lock().push(unsent.0);
                }
            }
            Ok(None) => self.ended.notify_one(),
            Err(error) => {
                tracing::debug!(%error, "subscription failed");
                self.ended.notify_one();
            }
        }
        Box::pin(std::future::ready(()))
    }
}
