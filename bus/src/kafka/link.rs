//! The bus's clients of the broker: one producer and one admin client shared
//! by every queue, whether the broker is up, what is declared and what every
//! process declared (the registry), and declaring again after an outage.
//!
//! librdkafka reconnects by itself. What it does not do is tell a client
//! that the brokers are back, nor fail a publish at once while they are
//! down: the bus watches for that itself. librdkafka's "all brokers down"
//! error marks the link down; from then a probe asks for the cluster's
//! metadata (100 ms doubling to 1 s between attempts) until it answers, and
//! the link declares everything again before it is marked up. A broker that
//! lost its topics (a restart of an in-memory broker) gets them back.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer as _, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Message as _, Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::Detached;
use super::config::KafkaConfig;
use super::offsets::Offsets;
use crate::backoff::Backoff;
use crate::{Error, QueueDepth, QueueSpec, Result};

/// How long a metadata, offsets or admin request to the broker may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a broadcast topic keeps its messages (nobody reads old ones).
const BROADCAST_RETENTION_MS: &str = "60000";

/// How long a queue's topic keeps messages nobody took: a safety net, as on
/// the other brokers (15 minutes).
const QUEUE_RETENTION_MS: &str = "900000";

/// The header holding a message's absolute expiry (ms since the epoch).
pub(crate) const EXPIRES_HEADER: &str = "x-funcmesh-expires-at";
/// The header holding a message's delivery number when it is sent again.
pub(crate) const ATTEMPT_HEADER: &str = "x-funcmesh-attempt";

/// Whether the broker is reachable, shared with librdkafka's callbacks.
pub(crate) struct LinkContext {
    up: watch::Sender<bool>,
}

impl ClientContext for LinkContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::AllBrokersDown) {
            self.up.send_if_modified(|up| std::mem::replace(up, false));
        } else {
            tracing::debug!(target: "librdkafka", %error, "{reason}");
        }
    }
}

/// librdkafka's log lines. Connection failures are logged once per outage
/// by the link, so the client's own lines stay at debug level unless they
/// are critical; with `FUNCMESH_KAFKA_DEBUG` set they go to stderr as well.
pub(crate) fn log(level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg | RDKafkaLogLevel::Alert | RDKafkaLogLevel::Critical => {
            tracing::error!(target: "librdkafka", facility, "{message}")
        }
        _ => tracing::debug!(target: "librdkafka", facility, "{message}"),
    }
    if std::env::var_os("FUNCMESH_KAFKA_DEBUG").is_some() {
        eprintln!(
            "{} librdkafka {facility}: {message}",
            crate::now_ms() % 100_000
        );
    }
}

/// The context of the clients that need no callbacks of their own.
pub(crate) struct QuietContext;

impl ClientContext for QuietContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(target: "librdkafka", %error, "{reason}");
    }
}

impl rdkafka::consumer::ConsumerContext for QuietContext {}

/// Limits of a queue as the registry keeps them.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RegistryEntry {
    max_len: Option<usize>,
    max_deliveries: Option<u32>,
    dead_letter: Option<String>,
    durable: bool,
    exclusive: bool,
}

impl RegistryEntry {
    fn of(spec: &QueueSpec) -> Self {
        Self {
            max_len: spec.max_len,
            max_deliveries: spec.max_deliveries,
            dead_letter: spec.dead_letter.clone(),
            durable: spec.durable,
            exclusive: spec.exclusive,
        }
    }

    fn into_spec(self, name: String) -> QueueSpec {
        QueueSpec {
            name,
            max_len: self.max_len,
            max_deliveries: self.max_deliveries,
            dead_letter: self.dead_letter,
            durable: self.durable,
            exclusive: self.exclusive,
        }
    }
}

/// The bus's connection to the brokers.
pub(crate) struct Link {
    pub(crate) config: KafkaConfig,
    pub(crate) producer: FutureProducer<LinkContext>,
    admin: AdminClient<QuietContext>,
    up: watch::Sender<bool>,
    /// Counts the times the link came up.
    reconnections: watch::Sender<u64>,
    closed: watch::Sender<bool>,
    /// Queues declared by this process, declared again after each outage.
    declared: Mutex<HashMap<String, QueueSpec>>,
    /// Every queue any process declared, as read from the registry.
    known: Mutex<HashMap<String, Known>>,
    /// How far the registry has been read (the next offset).
    registry_read: watch::Sender<i64>,
    /// Broadcast topics created by this process.
    broadcast_topics: Mutex<HashSet<String>>,
    /// Consumers that read the committed offsets of a queue's group.
    depth_probes: Mutex<HashMap<String, Arc<Detached<BaseConsumer<QuietContext>>>>>,
    /// The last known depth of each queue with a length limit.
    gauges: Mutex<HashMap<String, Arc<Gauge>>>,
    /// The positions of this process's work queue consumers.
    consumers: Mutex<Vec<Weak<Offsets>>>,
    /// The reader of each reply queue this process consumes, which all
    /// its consumers of that queue share.
    pub(crate) replies: Mutex<HashMap<String, Weak<crate::kafka::consume::ReplyReader>>>,
    /// The work queue consumers whose upkeep still runs: their last
    /// commits and hand-overs are owed the broker.
    upkeeps: watch::Sender<usize>,
}

/// One running consumer upkeep, counted in [`Link::upkeeps_done`] until it
/// is dropped.
pub(crate) struct Upkeep(watch::Sender<usize>);

impl Drop for Upkeep {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// A queue's spec and the registry offset of the declaration that gave it.
struct Known {
    spec: QueueSpec,
    /// [`PENDING`] for this process's own declaration until the registry
    /// took it. An entry read from the registry replaces the spec only when
    /// it is not older: the reader may still be catching up with earlier
    /// declarations when this process declares again with other limits.
    at: i64,
}

/// The offset of a declaration made here that the registry has not taken yet.
const PENDING: i64 = i64::MAX;

/// How long a sampled depth is trusted before it is read again.
const GAUGE_TTL: Duration = Duration::from_millis(250);

/// A queue's depth as last read from the broker, plus what this process
/// published since that reading started.
#[derive(Default)]
struct Gauge {
    /// The depth last read.
    sampled: AtomicU64,
    /// Messages this process published, in all.
    published: AtomicU64,
    /// `published` when the last reading started.
    published_at_sample: AtomicU64,
    sampled_at: Mutex<Option<Instant>>,
    sampling: AtomicBool,
}

impl Gauge {
    fn estimate(&self) -> u64 {
        let since = self.published.load(Ordering::Acquire)
            - self.published_at_sample.load(Ordering::Acquire);
        self.sampled.load(Ordering::Acquire) + since
    }
}

impl Link {
    /// Creates the clients and, when the broker answers within a second,
    /// returns connected; otherwise it returns at once, down, and connects
    /// in the background.
    pub(crate) async fn open(config: KafkaConfig) -> Result<Arc<Self>> {
        let (up, _) = watch::channel(false);
        let producer: FutureProducer<LinkContext> = config
            .producer()
            .create_with_context(LinkContext { up: up.clone() })
            .map_err(|error| Error::InvalidUrl(format!("kafka client: {error}")))?;
        let admin: AdminClient<QuietContext> = config
            .client()
            .create_with_context(QuietContext)
            .map_err(|error| Error::InvalidUrl(format!("kafka admin client: {error}")))?;
        let link = Arc::new(Self {
            config,
            producer,
            admin,
            up,
            reconnections: watch::channel(0).0,
            closed: watch::channel(false).0,
            declared: Default::default(),
            known: Default::default(),
            registry_read: watch::channel(0).0,
            broadcast_topics: Default::default(),
            depth_probes: Default::default(),
            replies: Default::default(),
            upkeeps: watch::Sender::new(0),
            gauges: Default::default(),
            consumers: Default::default(),
        });
        if link.probe().await {
            link.connected().await;
        }
        tokio::spawn(Arc::clone(&link).watch_broker());
        tokio::spawn(Arc::clone(&link).read_registry());
        Ok(link)
    }

    /// Marks the bus closed: its tasks and consumers end.
    /// Counts a consumer's upkeep as running until the guard drops.
    pub(crate) fn upkeep(&self) -> Upkeep {
        self.upkeeps.send_modify(|n| *n += 1);
        Upkeep(self.upkeeps.clone())
    }

    /// Returns once no consumer's upkeep runs, or the link is closed.
    pub(crate) async fn upkeeps_done(&self) {
        let mut upkeeps = self.upkeeps.subscribe();
        let mut closed = self.closed();
        tokio::select! {
            _ = upkeeps.wait_for(|n| *n == 0) => {}
            _ = closed.wait_for(|closed| *closed) => {}
        }
    }

    pub(crate) fn close(&self) {
        self.closed.send_replace(true);
    }

    /// A receiver that turns true once the bus is closed.
    pub(crate) fn closed(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }

    /// A receiver of whether the broker is reachable.
    pub(crate) fn watch_up(&self) -> watch::Receiver<bool> {
        self.up.subscribe()
    }

    pub(crate) fn is_up(&self) -> bool {
        *self.up.borrow()
    }

    /// Marks the broker down after a failure that says so.
    pub(crate) fn mark_down(&self) {
        self.up.send_if_modified(|up| std::mem::replace(up, false));
    }

    /// [`Error::Unavailable`], refusing at once while the broker is down.
    pub(crate) fn ensure_up(&self) -> Result<()> {
        if self.is_up() {
            Ok(())
        } else {
            Err(Error::Unavailable(format!(
                "no Kafka broker answers at {}",
                self.config.endpoint
            )))
        }
    }

    /// Whether the cluster answers a metadata request.
    async fn probe(&self) -> bool {
        let producer = self.producer.clone();
        tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_metadata(None, Duration::from_secs(1))
                .is_ok()
        })
        .await
        .unwrap_or(false)
    }

    /// Watches the broker: one warning per outage, and on each recovery
    /// everything declared again before publishing is let through.
    async fn watch_broker(self: Arc<Self>) {
        let mut state = self.up.subscribe();
        let mut closed = self.closed.subscribe();
        loop {
            tokio::select! {
                changed = state.wait_for(|up| !*up) => if changed.is_err() { return },
                _ = closed.wait_for(|closed| *closed) => return,
            }
            tracing::warn!(
                endpoint = %self.config.endpoint,
                "Kafka broker unreachable; publishing is refused until it is back"
            );
            crate::stats::reconnecting("kafka");
            // librdkafka itself retries every second at most; the probe
            // follows it closely, so that the mesh is back soon after the
            // broker.
            let mut backoff = Backoff::up_to(Duration::from_secs(1));
            loop {
                tokio::select! {
                    () = tokio::time::sleep(backoff.next_delay()) => {}
                    _ = closed.wait_for(|closed| *closed) => return,
                }
                if self.probe().await {
                    break;
                }
            }
            self.connected().await;
            tracing::info!(endpoint = %self.config.endpoint, "Kafka broker reachable again");
        }
    }

    /// Declares everything this process declared, then marks the link up.
    async fn connected(&self) {
        if let Err(error) = self.create_registry().await {
            tracing::warn!(%error, "creating the queue registry");
        }
        let specs: Vec<QueueSpec> = self.declared.lock().values().cloned().collect();
        for spec in specs {
            if let Err(error) = self.create_queue(&spec).await {
                tracing::warn!(queue = %spec.name, %error, "declaring again after an outage");
            }
        }
        let topics: Vec<String> = self.broadcast_topics.lock().iter().cloned().collect();
        for topic in topics {
            if let Err(error) = self.create_broadcast_topic(&topic).await {
                tracing::warn!(%topic, %error, "creating a broadcast topic again");
            }
        }
        self.up.send_replace(true);
        self.reconnections.send_modify(|n| *n += 1);
    }

    /// A receiver that changes each time the link comes (back) up.
    pub(crate) fn reconnections(&self) -> watch::Receiver<u64> {
        self.reconnections.subscribe()
    }

    /// Remembers `spec` and declares it now when the broker is up.
    pub(crate) async fn declare(&self, spec: &QueueSpec) -> Result<()> {
        self.declared.lock().insert(spec.name.clone(), spec.clone());
        let own = Known {
            spec: spec.clone(),
            at: PENDING,
        };
        self.known.lock().insert(spec.name.clone(), own);
        if !self.is_up() {
            return Ok(());
        }
        self.create_queue(spec).await
    }

    /// Creates a queue's topic and records its limits in the registry.
    async fn create_queue(&self, spec: &QueueSpec) -> Result<()> {
        let topic = self.config.queue_topic(&spec.name);
        let partitions = if spec.exclusive {
            1
        } else {
            self.config.partitions
        };
        let new = NewTopic::new(
            &topic,
            partitions,
            TopicReplication::Fixed(self.config.replication),
        )
        .set("retention.ms", QUEUE_RETENTION_MS);
        self.create_topic(new).await?;
        let entry = serde_json::to_vec(&RegistryEntry::of(spec))
            .map_err(|error| Error::Unavailable(format!("encoding a registry entry: {error}")))?;
        let registry = self.config.registry_topic();
        let outgoing = Outgoing {
            key: Some(&spec.name),
            payload: &entry,
            headers: None,
        };
        let at = self.deliver(&registry, outgoing).await?;
        if let Some(known) = self.known.lock().get_mut(&spec.name)
            && known.at == PENDING
            && known.spec == *spec
        {
            known.at = at;
        }
        Ok(())
    }

    async fn create_registry(&self) -> Result<()> {
        let topic = self.config.registry_topic();
        let new = NewTopic::new(&topic, 1, TopicReplication::Fixed(self.config.replication))
            .set("cleanup.policy", "compact");
        self.create_topic(new).await
    }

    /// Creates a broadcast topic once per process (and after each outage).
    pub(crate) async fn ensure_broadcast_topic(&self, topic: &str) -> Result<()> {
        if self.broadcast_topics.lock().contains(topic) {
            return Ok(());
        }
        self.ensure_up()?;
        self.create_broadcast_topic(topic).await?;
        self.broadcast_topics.lock().insert(topic.to_owned());
        Ok(())
    }

    async fn create_broadcast_topic(&self, topic: &str) -> Result<()> {
        let new = NewTopic::new(topic, 1, TopicReplication::Fixed(self.config.replication))
            .set("retention.ms", BROADCAST_RETENTION_MS);
        self.create_topic(new).await
    }

    /// Creates a topic; one that exists already is fine.
    async fn create_topic(&self, new: NewTopic<'_>) -> Result<()> {
        let options = AdminOptions::new().operation_timeout(Some(REQUEST_TIMEOUT));
        let results = self
            .admin
            .create_topics([&new], &options)
            .await
            .map_err(|error| self.failure(&error, format_args!("creating topic {}", new.name)))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(Error::Unavailable(format!(
                        "creating topic {topic}: {code}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Sends one record and waits for the broker's confirmation; refuses at
    /// once while the broker is down, and gives up as soon as it goes down.
    pub(crate) async fn send(&self, topic: &str, outgoing: Outgoing<'_>) -> Result<()> {
        self.ensure_up()?;
        let mut state = self.up.subscribe();
        tokio::select! {
            delivered = self.deliver(topic, outgoing) => delivered.map(drop),
            _ = state.wait_for(|up| !*up) => Err(Error::Unavailable(format!(
                "the Kafka broker went away while publishing to {topic}"
            ))),
        }
    }

    /// Sends one record and waits for the broker's confirmation, whatever
    /// the link's state (for declaring while the link comes up). A topic the
    /// client believes missing may just have been created (again): its
    /// metadata is read anew and the record sent again, for up to a second.
    /// Returns the record's offset in its partition.
    async fn deliver(&self, topic: &str, outgoing: Outgoing<'_>) -> Result<i64> {
        let mut tries = 0;
        loop {
            let mut record = FutureRecord::<str, [u8]>::to(topic).payload(outgoing.payload);
            if let Some(key) = outgoing.key {
                record = record.key(key);
            }
            if let Some(headers) = &outgoing.headers {
                record = record.headers(headers.clone());
            }
            // The client refuses a record at once for a topic its metadata
            // says is missing, as the broker would after sending it.
            let (error, taken) = match self.producer.send_result(record) {
                Ok(delivery) => match delivery.await.map_err(|_| Error::Closed)? {
                    Ok((_, offset)) => return Ok(offset),
                    Err((error, _)) => (error, true),
                },
                Err((error, _)) => (error, false),
            };
            let missing = matches!(
                error.rdkafka_error_code(),
                Some(RDKafkaErrorCode::UnknownTopic | RDKafkaErrorCode::UnknownTopicOrPartition)
            );
            if let Some(code) = error.rdkafka_error_code()
                && refuses_for_good(code)
            {
                return Err(Error::Refused(format!("publishing to {topic}: {error}")));
            }
            tries += 1;
            if !missing || tries > 10 {
                if !taken {
                    return Err(Error::Unavailable(format!(
                        "the Kafka client took no message for {topic}: {error}"
                    )));
                }
                return Err(self.failure(&error, format_args!("publishing to {topic}")));
            }
            let producer = self.producer.clone();
            let name = topic.to_owned();
            let _ = tokio::task::spawn_blocking(move || {
                producer
                    .client()
                    .fetch_metadata(Some(&name), Duration::from_millis(500))
            })
            .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// [`Error::Unavailable`] for a failed request, `what` saying what was
    /// asked; marks the link down when `error` says the broker is gone or
    /// too slow to answer.
    pub(crate) fn failure(&self, error: &KafkaError, what: std::fmt::Arguments<'_>) -> Error {
        if matches!(
            error.rdkafka_error_code(),
            Some(
                RDKafkaErrorCode::AllBrokersDown
                    | RDKafkaErrorCode::BrokerTransportFailure
                    | RDKafkaErrorCode::MessageTimedOut
                    | RDKafkaErrorCode::OperationTimedOut
                    | RDKafkaErrorCode::RequestTimedOut
            )
        ) {
            self.mark_down();
        }
        Error::Unavailable(format!("{what}: {error}"))
    }

    /// The spec of `queue`: declared here, or by another process (read from
    /// the registry). [`Error::UnknownQueue`] when nobody declared it.
    pub(crate) async fn spec(&self, queue: &str) -> Result<QueueSpec> {
        if let Some(spec) = self.known_spec(queue) {
            return Ok(spec);
        }
        self.ensure_up()?;
        // Catch up with everything written to the registry so far.
        let registry = self.config.registry_topic();
        let producer = self.producer.clone();
        let high = tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_watermarks(&registry, 0, REQUEST_TIMEOUT)
        })
        .await
        .map_err(|_| Error::Closed)?
        .map(|(_, high)| high)
        .map_err(|error| self.failure(&error, format_args!("reading the queue registry")))?;
        let mut read = self.registry_read.subscribe();
        let caught_up = tokio::time::timeout(REQUEST_TIMEOUT, read.wait_for(|at| *at >= high));
        if caught_up.await.is_err() {
            return Err(Error::Unavailable(
                "the queue registry was not read in time".to_owned(),
            ));
        }
        self.known_spec(queue)
            .ok_or_else(|| Error::UnknownQueue(queue.to_owned()))
    }

    /// The spec of `queue` if this process knows it already.
    pub(crate) fn known_spec(&self, queue: &str) -> Option<QueueSpec> {
        self.known.lock().get(queue).map(|known| known.spec.clone())
    }

    /// Reads the registry for as long as the bus is open.
    async fn read_registry(self: Arc<Self>) {
        let registry = self.config.registry_topic();
        let group = self.config.private_group("registry");
        let consumer: StreamConsumer<QuietContext> = match self
            .config
            .standalone_consumer(&group)
            .create_with_context(QuietContext)
        {
            Ok(consumer) => consumer,
            Err(error) => {
                tracing::error!(%error, "cannot read the queue registry");
                return;
            }
        };
        let consumer = Detached::new(consumer);
        let mut assignment = TopicPartitionList::new();
        if let Err(error) = assignment
            .add_partition_offset(&registry, 0, Offset::Beginning)
            .and_then(|()| consumer.assign(&assignment))
        {
            tracing::error!(%error, "cannot read the queue registry");
            return;
        }
        let mut closed = self.closed.subscribe();
        loop {
            let message = tokio::select! {
                message = consumer.recv() => message,
                _ = closed.wait_for(|closed| *closed) => break,
            };
            match message {
                Ok(message) => {
                    let entry = message
                        .payload()
                        .and_then(|payload| serde_json::from_slice::<RegistryEntry>(payload).ok());
                    let name = message.key().and_then(|key| std::str::from_utf8(key).ok());
                    let at = message.offset();
                    if let (Some(name), Some(entry)) = (name, entry) {
                        let spec = entry.into_spec(name.to_owned());
                        let mut known = self.known.lock();
                        let older = known.get(name).is_some_and(|known| known.at > at);
                        if !older {
                            known.insert(name.to_owned(), Known { spec, at });
                        }
                    }
                    let next = at + 1;
                    self.registry_read.send_if_modified(|at| {
                        let advanced = next > *at;
                        *at = (*at).max(next);
                        advanced
                    });
                }
                Err(error) => {
                    tracing::debug!(%error, "reading the queue registry");
                    // A recreated registry starts again from offset 0.
                    if matches!(
                        error,
                        KafkaError::MessageConsumption(RDKafkaErrorCode::OffsetOutOfRange)
                    ) {
                        self.registry_read.send_replace(0);
                        for known in self.known.lock().values_mut() {
                            if known.at != PENDING {
                                known.at = -1;
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// The queue's lag: what its group has not committed, over every
    /// partition. Messages out for processing are part of it.
    pub(crate) async fn depth(&self, queue: &str) -> Result<QueueDepth> {
        self.ensure_up()?;
        let topic = self.config.queue_topic(queue);
        let probe = self.depth_probe(&topic)?;
        let ready = tokio::task::spawn_blocking(move || lag(&probe, &topic))
            .await
            .map_err(|_| Error::Closed)?
            .map_err(|error| match error {
                LagError::NoTopic => Error::UnknownQueue(queue.to_owned()),
                LagError::Kafka(error) => {
                    self.failure(&error, format_args!("reading the depth of {queue}"))
                }
            })?;
        Ok(QueueDepth { ready, unacked: 0 })
    }

    /// Keeps `offsets`, a work queue consumer's, for [`Self::held`].
    pub(crate) fn consuming(&self, offsets: &Arc<Offsets>) {
        let mut consumers = self.consumers.lock();
        consumers.retain(|offsets| offsets.strong_count() > 0);
        consumers.push(Arc::downgrade(offsets));
    }

    /// The messages this process's consumers received that their queues'
    /// lag still counts (see [`Offsets::held`]).
    pub(crate) fn held(&self) -> u64 {
        self.consumers
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .map(|offsets| offsets.held())
            .sum()
    }

    /// Kafka has no length limit: a queue with one is refused new messages
    /// while its depth, sampled at most every 250 ms and counting what this
    /// process published since, is at the limit. Several publishers may
    /// overshoot it together by what they publish within one sample.
    pub(crate) fn check_limit(self: &Arc<Self>, queue: &str, limit: usize) -> Result<()> {
        let gauge = Arc::clone(self.gauges.lock().entry(queue.to_owned()).or_default());
        let stale = gauge
            .sampled_at
            .lock()
            .is_none_or(|at| at.elapsed() > GAUGE_TTL);
        if stale && !gauge.sampling.swap(true, Ordering::AcqRel) {
            let link = Arc::clone(self);
            let queue = queue.to_owned();
            let gauge = Arc::clone(&gauge);
            let published = gauge.published.load(Ordering::Acquire);
            tokio::spawn(async move {
                if let Ok(depth) = link.depth(&queue).await {
                    // Published before the reading began: counted in it.
                    gauge.sampled.store(depth.ready, Ordering::Release);
                    gauge
                        .published_at_sample
                        .store(published, Ordering::Release);
                    *gauge.sampled_at.lock() = Some(Instant::now());
                }
                gauge.sampling.store(false, Ordering::Release);
            });
        }
        if gauge.estimate() >= limit as u64 {
            return Err(Error::QueueFull {
                queue: queue.to_owned(),
                limit,
            });
        }
        gauge.published.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    fn depth_probe(&self, topic: &str) -> Result<Arc<Detached<BaseConsumer<QuietContext>>>> {
        let mut probes = self.depth_probes.lock();
        if let Some(probe) = probes.get(topic) {
            return Ok(Arc::clone(probe));
        }
        // A consumer of the queue's group that never subscribes: it only
        // reads the group's committed offsets.
        let probe: BaseConsumer<QuietContext> = self
            .config
            .standalone_consumer(topic)
            .create_with_context(QuietContext)
            .map_err(|error| Error::Unavailable(format!("kafka depth probe: {error}")))?;
        let probe = Arc::new(Detached::new(probe));
        probes.insert(topic.to_owned(), Arc::clone(&probe));
        Ok(probe)
    }
}

/// A record to send.
pub(crate) struct Outgoing<'a> {
    pub(crate) key: Option<&'a str>,
    pub(crate) payload: &'a [u8],
    pub(crate) headers: Option<OwnedHeaders>,
}

/// Headers for a message: its expiry and, past the first, its delivery number.
pub(crate) fn headers(expires_at_ms: Option<u64>, attempt: u32) -> Option<OwnedHeaders> {
    if expires_at_ms.is_none() && attempt <= 1 {
        return None;
    }
    let mut headers = OwnedHeaders::new();
    if let Some(at) = expires_at_ms {
        headers = headers.insert(Header {
            key: EXPIRES_HEADER,
            value: Some(&at.to_string()),
        });
    }
    if attempt > 1 {
        headers = headers.insert(Header {
            key: ATTEMPT_HEADER,
            value: Some(&attempt.to_string()),
        });
    }
    Some(headers)
}

enum LagError {
    NoTopic,
    Kafka(KafkaError),
}

impl From<KafkaError> for LagError {
    fn from(error: KafkaError) -> Self {
        Self::Kafka(error)
    }
}

/// Uncommitted messages of `topic` for the probe's group.
fn lag(probe: &BaseConsumer<QuietContext>, topic: &str) -> Result<u64, LagError> {
    let metadata = probe.fetch_metadata(Some(topic), REQUEST_TIMEOUT)?;
    let Some(found) = metadata.topics().first() else {
        return Err(LagError::NoTopic);
    };
    if found.error() == Some(RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        || found.partitions().is_empty()
    {
        return Err(LagError::NoTopic);
    }
    let mut partitions = TopicPartitionList::new();
    for partition in found.partitions() {
        partitions.add_partition(topic, partition.id());
    }
    let committed = probe.committed_offsets(partitions, REQUEST_TIMEOUT)?;
    let mut lag = 0;
    for element in committed.elements() {
        let (low, high) = probe.fetch_watermarks(topic, element.partition(), REQUEST_TIMEOUT)?;
        let from = match element.offset() {
            Offset::Offset(at) => at.max(low),
            _ => low,
        };
        lag += u64::try_from(high - from).unwrap_or(0);
    }
    Ok(lag)
}

/// Whether the broker (or the client, before sending) refuses a record for
/// what it is, so that sending it again would be refused again.
fn refuses_for_good(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::InvalidMessageSize
            | RDKafkaErrorCode::InvalidRecord
            | RDKafkaErrorCode::InvalidTimestamp
    )
}
