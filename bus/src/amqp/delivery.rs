//! From lapin's deliveries to the bus's: attempts, expiry, settling.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use lapin::Channel;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::{AMQPValue, FieldTable};
use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::connection::{Lingering, Link};
use super::publish::EXPIRES_AT;
use crate::inproc::NoAck;
use crate::{Acker, Delivery, Error, Result, Subscription, now_ms};

/// One delivery on its way to a consumer, with the channel to settle it on.
pub(crate) struct Incoming {
    pub(crate) delivery: lapin::message::Delivery,
    pub(crate) channel: Option<Arc<SettleChannel>>,
}

/// How long a channel that handed out deliveries to settle stays open after
/// its last holder let go (see [`SettleChannel`]).
const SETTLE_GRACE: Duration = Duration::from_millis(500);
/// The longest the close of such a channel is waited for.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The channel a consumer's deliveries are settled on, shared by its
/// subscription and by every delivery it handed out.
///
/// Closed, not left to go with the connection: acknowledgements that a
/// process sent after cancelling its consumer and just before it exited,
/// its connection simply cut, were seen lost, whole batches delivered again
/// though answered already. And a quorum queue may apply an
/// acknowledgement after the channel's close when the two come close
/// together (rabbitmq-server issue 10327). So a channel that handed out
/// deliveries to settle is closed [`SETTLE_GRACE`] after its last holder
/// lets go, and the [`Link`] counts it until the broker has answered the
/// close: [`Link::settled`], which `Bus::finish` is, waits for these.
pub(crate) struct SettleChannel {
    channel: Channel,
    handed_out: AtomicBool,
    link: Arc<Link>,
    runtime: Handle,
}

impl SettleChannel {
    /// Must be called on the runtime: closing in `Drop` spawns onto it.
    pub(crate) fn new(channel: Channel, link: Arc<Link>) -> Self {
        Self {
            channel,
            handed_out: AtomicBool::new(false),
            link,
            runtime: Handle::current(),
        }
    }

    pub(crate) fn channel(&self) -> &Channel {
        &self.channel
    }

    fn handing_out(&self) {
        self.handed_out.store(true, Ordering::Relaxed);
    }
}

impl Drop for SettleChannel {
    fn drop(&mut self) {
        if !self.handed_out.load(Ordering::Relaxed) {
            // Nothing to wait for: lapin closes it with its last clone.
            return;
        }
        let channel = self.channel.clone();
        let lingering = self.link.lingering();
        self.runtime.spawn(async move {
            tokio::time::sleep(SETTLE_GRACE).await;
            let closed = channel.close(200, "OK".into());
            match tokio::time::timeout(CLOSE_TIMEOUT, closed).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::debug!(%error, "closing a consumer's channel"),
                Err(_) => tracing::debug!("closing a consumer's channel: no answer in time"),
            }
            drop(lingering);
        });
    }
}

/// Whether deliveries are acknowledged.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Queue,
    Topic,
    /// Copies for a tap: not acknowledged, and the oldest dropped once the
    /// application is more than [`TAP_BACKLOG`](super::tap::TAP_BACKLOG)
    /// behind (the broker pushes them without waiting).
    Tap,
}

/// The receiving end of a consumer.
pub(crate) struct Stream {
    rx: mpsc::UnboundedReceiver<Incoming>,
    kind: Kind,
    runtime: Handle,
    unseen: Unseen,
    retiring: Option<Retiring>,
}

impl Stream {
    /// Must be called on the runtime: settling in `Drop` spawns onto it.
    pub(crate) fn new(
        rx: mpsc::UnboundedReceiver<Incoming>,
        kind: Kind,
        unseen: Unseen,
        retiring: Option<Retiring>,
    ) -> Self {
        Self {
            rx,
            kind,
            runtime: Handle::current(),
            unseen,
            retiring,
        }
    }

    async fn admit(&self, incoming: Incoming) -> Option<Delivery> {
        let Incoming { delivery, channel } = incoming;
        let body = Bytes::from(delivery.data);
        if let Kind::Topic | Kind::Tap = self.kind {
            return Some(Delivery::new(body, 1, None, Box::new(NoAck)));
        }
        if !delivery.acker.usable() {
            // Its channel died before it was handed out: the broker has
            // taken it back and delivers it again.
            return None;
        }
        let headers = delivery.properties.headers().as_ref();
        let text = |key| headers.and_then(|h| h.inner().get(key)).and_then(as_text);
        let first_death = text("x-first-death-reason");
        // Dead letters do not expire, as on the in-process bus.
        let expires_at_ms = match first_death.as_deref() {
            None => number(headers, EXPIRES_AT),
            Some(_) => None,
        };
        let expired = first_death.as_deref() == Some("expired")
            || expires_at_ms.is_some_and(|at| at <= now_ms());
        if expired {
            tracing::debug!(routing_key = %delivery.routing_key, "expired message not delivered");
            let _ = bounded(delivery.acker.ack(BasicAckOptions::default())).await;
            return None;
        }
        let attempt = match number(headers, "x-delivery-count") {
            Some(returns) => returns.saturating_add(1),
            None if delivery.redelivered => 2,
            None => 1,
        };
        if let Some(channel) = &channel {
            channel.handing_out();
        }
        let acker = AmqpAcker {
            acker: Some(delivery.acker),
            channel,
            runtime: self.runtime.clone(),
        };
        let attempt = u32::try_from(attempt).unwrap_or(u32::MAX);
        Some(Delivery::new(body, attempt, expires_at_ms, Box::new(acker)))
    }
}

impl Stream {
    /// Drops the oldest copies a tap holds beyond its backlog.
    fn drop_behind(&mut self) {
        let behind = self.rx.len();
        let backlog = super::tap::TAP_BACKLOG;
        if behind <= backlog {
            return;
        }
        let lost = behind - backlog;
        for _ in 0..lost {
            let _ = self.rx.try_recv();
        }
        tracing::warn!(lost, "tap fell behind; copies lost");
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        if let Kind::Queue = self.kind {
            // Prefetched but never handed out: the feed task gives these
            // back once it has cancelled the subscription.
            self.rx.close();
            let mut unseen = self.unseen.lock();
            while let Ok(incoming) = self.rx.try_recv() {
                unseen.push(incoming);
            }
        }
        if let Some(retiring) = &self.retiring {
            retiring.begin();
        }
    }
}

/// A dropped consumer, counted by its [`Link`] from the drop until its feed
/// has retired the subscription (and its channel counts for itself, see
/// [`SettleChannel`]): [`Link::settled`] waits for it too. Shared by the
/// consumer and its feed; the count ends with the last of them.
#[derive(Clone)]
pub(crate) struct Retiring {
    link: Arc<Link>,
    count: Arc<Mutex<Option<Lingering>>>,
}

impl Retiring {
    pub(crate) fn new(link: Arc<Link>) -> Self {
        Self {
            link,
            count: Arc::default(),
        }
    }

    fn begin(&self) {
        *self.count.lock() = Some(self.link.lingering());
    }
}

/// Deliveries that arrived for a consumer that is gone.
pub(crate) type Unseen = Arc<Mutex<Vec<Incoming>>>;

/// Returns deliveries nobody will see to their queue, in order. Only once
/// their consumer is cancelled: else the broker sends them straight back to
/// it, and every round trip counts as a delivery.
pub(crate) async fn give_back(unseen: &Unseen) {
    let deliveries = std::mem::take(&mut *unseen.lock());
    let options = BasicNackOptions {
        requeue: true,
        multiple: false,
    };
    for incoming in deliveries {
        let _ = bounded(incoming.delivery.acker.nack(options)).await;
    }
}

#[async_trait::async_trait]
impl Subscription for Stream {
    async fn next(&mut self) -> Option<Result<Delivery>> {
        loop {
            if let Kind::Tap = self.kind {
                self.drop_behind();
            }
            let incoming = self.rx.recv().await?;
            if let Some(delivery) = self.admit(incoming).await {
                return Some(Ok(delivery));
            }
        }
    }
}

fn number(headers: Option<&FieldTable>, key: &str) -> Option<u64> {
    let value = headers?.inner().get(key)?;
    match *value {
        AMQPValue::ShortShortUInt(n) => Some(n.into()),
        AMQPValue::ShortUInt(n) => Some(n.into()),
        AMQPValue::LongUInt(n) => Some(n.into()),
        AMQPValue::Timestamp(n) => Some(n),
        AMQPValue::ShortShortInt(n) => u64::try_from(n).ok(),
        AMQPValue::ShortInt(n) => u64::try_from(n).ok(),
        AMQPValue::LongInt(n) => u64::try_from(n).ok(),
        AMQPValue::LongLongInt(n) => u64::try_from(n).ok(),
        _ => None,
    }
}

fn as_text(value: &AMQPValue) -> Option<String> {
    match value {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        _ => None,
    }
}

/// Settles one delivery; one left unsettled is given back when dropped.
struct AmqpAcker {
    acker: Option<lapin::Acker>,
    /// Keeps the channel open until the delivery is settled.
    channel: Option<Arc<SettleChannel>>,
    runtime: Handle,
}

/// The longest a settle waits for the client. An ack or nack on a channel
/// whose connection died under it can wait for ever; the broker gives such
/// a delivery back with its channel anyway, so the caller is told and goes
/// on rather than holding up every delivery after it.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);

/// `settle` bounded by [`SETTLE_TIMEOUT`].
async fn bounded(settle: impl Future<Output = lapin::Result<bool>>) -> Result<()> {
    match tokio::time::timeout(SETTLE_TIMEOUT, settle).await {
        Ok(outcome) => settled(outcome),
        Err(_) => Err(Error::Unavailable(format!(
            "settling a delivery: no answer within {SETTLE_TIMEOUT:?}; the broker delivers it again with its channel"
        ))),
    }
}

fn settled(outcome: lapin::Result<bool>) -> Result<()> {
    match outcome {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::Unavailable(
            "the delivery's channel closed; the broker delivers it again".to_owned(),
        )),
        Err(error) => Err(Error::Unavailable(format!("settling a delivery: {error}"))),
    }
}

#[async_trait::async_trait]
impl Acker for AmqpAcker {
    async fn ack(mut self: Box<Self>) -> Result<()> {
        let Some(acker) = self.acker.take() else {
            return Ok(());
        };
        bounded(acker.ack(BasicAckOptions::default())).await
    }

    async fn nack(mut self: Box<Self>, requeue: bool) -> Result<()> {
        let Some(acker) = self.acker.take() else {
            return Ok(());
        };
        let options = BasicNackOptions {
            requeue,
            multiple: false,
        };
        bounded(acker.nack(options)).await
    }
}

impl Drop for AmqpAcker {
    fn drop(&mut self) {
        let Some(acker) = self.acker.take() else {
            return;
        };
        let channel = self.channel.take();
        self.runtime.spawn(async move {
            let options = BasicNackOptions {
                requeue: true,
                multiple: false,
            };
            if let Err(error) = bounded(acker.nack(options)).await {
                tracing::debug!(%error, "dropped delivery not given back; the broker redelivers it with its channel");
            }
            drop(channel);
        });
    }
}

#[cfg(test)]
mod tests {
    use lapin::BasicProperties;

    use super::*;

    fn incoming(redelivered: bool, headers: &[(&str, AMQPValue)]) -> Incoming {
        let mut delivery =
            lapin::message::Delivery::mock(1, "".into(), "q".into(), redelivered, b"m".to_vec());
        let mut table = FieldTable::default();
        for (key, value) in headers {
            table.insert((*key).into(), value.clone());
        }
        delivery.properties = BasicProperties::default().with_headers(table);
        Incoming {
            delivery,
            channel: None,
        }
    }

    fn stream(kind: Kind) -> Stream {
        Stream::new(mpsc::unbounded_channel().1, kind, Unseen::default(), None)
    }

    fn text(s: &str) -> AMQPValue {
        AMQPValue::LongString(s.into())
    }

    #[tokio::test]
    async fn attempts_come_from_the_delivery_count_or_the_redelivered_flag() {
        let s = stream(Kind::Queue);
        let first = s.admit(incoming(false, &[])).await.unwrap();
        assert_eq!(first.attempt, 1);
        let classic = s.admit(incoming(true, &[])).await.unwrap();
        assert_eq!(classic.attempt, 2);
        let count = ("x-delivery-count", AMQPValue::LongLongInt(2));
        let quorum = s.admit(incoming(true, &[count])).await.unwrap();
        assert_eq!(quorum.attempt, 3);
        for d in [first, classic, quorum] {
            d.ack().await.unwrap();
        }
    }

    #[tokio::test]
    async fn expired_messages_are_skipped_and_live_ones_keep_their_expiry() {
        let s = stream(Kind::Queue);
        let past = AMQPValue::LongLongInt(now_ms() as i64 - 1);
        assert!(
            s.admit(incoming(false, &[(EXPIRES_AT, past)]))
                .await
                .is_none()
        );
        let at = now_ms() + 60_000;
        let live = AMQPValue::LongLongInt(at as i64);
        let d = s
            .admit(incoming(false, &[(EXPIRES_AT, live)]))
            .await
            .unwrap();
        assert_eq!(d.expires_at_ms, Some(at));
        d.ack().await.unwrap();
    }

    #[tokio::test]
    async fn dead_letters_never_expire_unless_expiry_killed_them() {
        let s = stream(Kind::Queue);
        let past = AMQPValue::LongLongInt(now_ms() as i64 - 1);
        let expired = [("x-first-death-reason", text("expired"))];
        assert!(s.admit(incoming(false, &expired)).await.is_none());
        let poison = [
            ("x-first-death-reason", text("delivery_limit")),
            (EXPIRES_AT, past),
        ];
        let d = s.admit(incoming(false, &poison)).await.unwrap();
        assert_eq!((d.attempt, d.expires_at_ms), (1, None));
        d.ack().await.unwrap();
    }

    #[tokio::test]
    async fn a_tap_that_falls_behind_drops_its_oldest_copies() {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut s = Stream::new(rx, Kind::Tap, Unseen::default(), None);
        let backlog = super::super::tap::TAP_BACKLOG;
        for i in 0..backlog + 3 {
            let body = format!("m{i}").into_bytes();
            let delivery = lapin::message::Delivery::mock(1, "".into(), "q".into(), false, body);
            tx.send(Incoming {
                delivery,
                channel: None,
            })
            .unwrap();
        }
        let first = s.next().await.unwrap().unwrap();
        assert_eq!(first.bytes(), "m3", "the three oldest were dropped");
        first.ack().await.unwrap();
        assert_eq!(s.rx.len(), backlog - 1);
    }

    #[tokio::test]
    async fn broadcasts_are_handed_over_as_they_are() {
        let s = stream(Kind::Topic);
        let past = AMQPValue::LongLongInt(now_ms() as i64 - 1);
        let d = s
            .admit(incoming(true, &[(EXPIRES_AT, past)]))
            .await
            .unwrap();
        assert_eq!((d.attempt, d.expires_at_ms), (1, None));
        assert_eq!(d.bytes(), "m");
    }
}
