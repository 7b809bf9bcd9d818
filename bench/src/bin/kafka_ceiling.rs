//! The ceiling of the Kafka benchmark: the plainest HTTP-over-Kafka round
//! trip with the delivery guarantees of the mesh, so what no mesh on the same
//! broker can beat.
//!
//! Per HTTP request, the front produces a small JSON message to a request
//! topic of 16 partitions (acks=all, no linger), waits for the broker's
//! delivery confirmation, and names its own reply topic and a correlation id
//! in headers. An echo consumer, the one member of the request topic's
//! consumer group (no auto-commit, at most PREFETCH messages out unfinished),
//! produces the hello function's answer to the reply topic and, once that
//! reply is confirmed, lets the request's offset be committed: a partition's
//! committed position is its lowest unfinished offset, so a commit never
//! passes a request that has no reply. The front reads its reply topic (one
//! partition, assigned, outside any group) and answers the HTTP client.
//!
//!   kafka_ceiling [LISTEN] [BROKERS] [TOPIC_PREFIX] [PREFETCH]
//!   kafka_ceiling --echo LISTEN BROKERS TOPIC_PREFIX [PREFETCH]
//!   kafka_ceiling --front LISTEN BROKERS TOPIC_PREFIX [PREFETCH]
//!   kafka_ceiling --delete-namespace NS [BROKERS]
//!
//! The first form runs the front and the echo in one process; `--echo` and
//! `--front`, started on the same prefix, run them as two (the echo ignores
//! LISTEN), as a mesh request crosses two processes. The topics,
//! `TOPIC_PREFIX.requests` and `TOPIC_PREFIX.replies` (default: a random
//! prefix), are created by whichever side starts first and deleted by the
//! echo on SIGINT or SIGTERM.
//! BROKERS defaults to 127.0.0.1:9092; PREFETCH to 64, the runner's
//! concurrency in the benchmark. `--delete-namespace` deletes every topic of
//! the funcmesh namespace NS (the topics a mesh on `kafka://...?namespace=NS`
//! leaves behind, `NS.q.*`, `NS.t.*` and `NS.funcmesh-queues`), which also
//! covers a ceiling's topics when NS is its prefix (left behind by a killed
//! run).
//!
//! As it stops, the ceiling prints where its round trips spent their time,
//! as means: the request produced and confirmed, then from that confirmation
//! to the reply at the front, which is the reply produced and confirmed plus
//! the two fetches (the echo's of the request, the front's of the reply).
//! Run as two processes, each prints the legs it saw.

#[path = "../ceiling.rs"]
mod ceiling;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use hyper::Request;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::message::{Header, Headers as _, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{ClientConfig, Message as _, Offset, TopicPartitionList};
use tokio::sync::{Notify, Semaphore};

use ceiling::{Command, RoundTrip, Waiters, request_body};

/// The header with a request's correlation id, copied onto its reply.
const CORRELATION_ID: &str = "x-correlation-id";
/// The header with the topic a request's reply goes to.
const REPLY_TO: &str = "x-reply-to";
const DEFAULT_BROKERS: &str = "127.0.0.1:9092";
/// Partitions of the request topic, as many as a mesh's queue topic has.
const REQUEST_PARTITIONS: i32 = 16;
/// How long finished requests are gathered into one commit.
const COMMIT_BATCH: Duration = Duration::from_millis(5);
/// How long a metadata or admin request to the broker may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);
/// The hello function's answer.
const GREETING: &[u8] = br#"{"greeting":"Hello, Ada!"}"#;

/// The producing side: the request topic and the replies it waits for (see
/// [`route_replies`]).
struct Front {
    producer: FutureProducer,
    request_topic: String,
    reply_topic: String,
    waiters: Arc<Waiters>,
    timings: Arc<Timings>,
}

/// Where a round trip's time goes, summed over the run and printed when the
/// ceiling stops.
#[derive(Default)]
struct Timings {
    /// From producing a request to the broker's confirmation.
    request_delivered: Mean,
    /// From the request's confirmation to its reply at the front: the echo's
    /// fetch, its reply's production, the front's fetch.
    reply_received: Mean,
    /// From producing a reply (in the echo) to the broker's confirmation.
    reply_delivered: Mean,
}

/// A running mean of durations.
#[derive(Default)]
struct Mean {
    total_us: AtomicU64,
    count: AtomicU64,
}

impl Mean {
    fn add(&self, since: Instant) {
        let us = u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.total_us.fetch_add(us, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn us(&self) -> u64 {
        self.total_us.load(Ordering::Relaxed) / self.count().max(1)
    }
}

impl Timings {
    /// One line: the mean of each leg of a round trip this process saw.
    fn summary(&self) -> String {
        let mut legs = Vec::new();
        if self.reply_received.count() > 0 {
            legs.push(format!(
                "means of {} round trips: request produced and confirmed {} us; confirmed \
                 request to reply at the front {} us",
                self.reply_received.count(),
                self.request_delivered.us(),
                self.reply_received.us(),
            ));
        }
        if self.reply_delivered.count() > 0 {
            legs.push(format!(
                "reply produced and confirmed {} us",
                self.reply_delivered.us()
            ));
        }
        if self.reply_received.count() > 0 && self.reply_delivered.count() > 0 {
            let fetches = self
                .reply_received
                .us()
                .saturating_sub(self.reply_delivered.us());
            legs.push(format!("the two fetches (echo, front) {fetches} us"));
        }
        if legs.is_empty() {
            legs.push("no round trips".to_owned());
        }
        format!("where the time goes: {}", legs.join("; "))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (role, listen, brokers, prefix, prefetch) =
        match Command::from_args("127.0.0.1:8093", DEFAULT_BROKERS)? {
            Command::DeleteNamespace { namespace, server } => {
                return delete_namespace(&server, &namespace).await;
            }
            Command::Serve {
                role,
                listen,
                server,
                name,
                window,
            } => (role, listen, server, name, usize::from(window)),
        };
    let request_topic = format!("{prefix}.requests");
    let reply_topic = format!("{prefix}.replies");

    let admin = admin(&brokers)?;
    create_topics(
        &admin,
        &[(&request_topic, REQUEST_PARTITIONS), (&reply_topic, 1)],
    )
    .await?;
    let timings = Arc::new(Timings::default());

    let echo = if role.echo() {
        let consumer: StreamConsumer = client(&brokers)
            .set("group.id", format!("{prefix}.echo"))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("fetch.wait.max.ms", "10")
            .set("fetch.min.bytes", "1")
            .create()
            .context("creating the echo consumer")?;
        consumer
            .subscribe(&[&request_topic])
            .with_context(|| format!("subscribing to {request_topic}"))?;
        let consumer = Arc::new(consumer);
        let task = tokio::spawn(echo(
            consumer.clone(),
            producer(&brokers)?,
            request_topic.clone(),
            prefetch,
            timings.clone(),
        ));
        Some((consumer, task))
    } else {
        None
    };

    let (served, replies) = if role.front() {
        let replies: StreamConsumer = client(&brokers)
            .set("group.id", format!("{reply_topic}.front"))
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "10")
            .set("fetch.min.bytes", "1")
            .create()
            .context("creating the reply consumer")?;
        // The topic is new: from its start is from before the first request.
        let mut assignment = TopicPartitionList::new();
        assignment.add_partition_offset(&reply_topic, 0, Offset::Beginning)?;
        replies
            .assign(&assignment)
            .with_context(|| format!("reading {reply_topic}"))?;
        let replies = Arc::new(replies);
        let waiters = Arc::new(Waiters::default());
        let routing = tokio::spawn(route_replies(replies.clone(), waiters.clone()));
        let front = Arc::new(Front {
            producer: producer(&brokers)?,
            request_topic: request_topic.clone(),
            reply_topic: reply_topic.clone(),
            waiters,
            timings: timings.clone(),
        });
        let served = ceiling::serve(
            "kafka_ceiling",
            &listen,
            &format!("topic {request_topic}"),
            front,
        )
        .await;
        routing.abort();
        let _ = routing.await;
        (served, Some(replies))
    } else {
        eprintln!("kafka_ceiling: answering the requests of topic {request_topic}");
        (ceiling::until_stopped().await, None)
    };

    // The consumers are closed before their topics go: one whose topic was
    // deleted under it was seen never to finish closing. Closing waits for
    // the broker, so it runs off the runtime's threads.
    let echo_consumer = match echo {
        Some((consumer, task)) => {
            task.abort();
            let _ = task.await;
            Some(consumer)
        }
        None => None,
    };
    eprintln!("kafka_ceiling: {}", timings.summary());
    let owns_topics = echo_consumer.is_some();
    tokio::task::spawn_blocking(move || drop((echo_consumer, replies))).await?;
    // The echo owns the topics.
    if owns_topics {
        delete_topics(&admin, &[&request_topic, &reply_topic]).await?;
    }
    served
}

/// Settings every client starts from.
fn client(brokers: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("client.id", "kafka_ceiling")
        .set("log_level", "4");
    config
}

/// A producer that sends every message at once, to a random partition, and
/// reports it delivered once every replica has it.
fn producer(brokers: &str) -> anyhow::Result<FutureProducer> {
    client(brokers)
        .set("linger.ms", "0")
        .set("sticky.partitioning.linger.ms", "0")
        .set("acks", "all")
        .set("message.timeout.ms", "5000")
        .create()
        .context("creating a producer")
}

fn admin(brokers: &str) -> anyhow::Result<AdminClient<DefaultClientContext>> {
    client(brokers)
        .create()
        .with_context(|| format!("connecting to {brokers}"))
}

async fn create_topics(
    admin: &AdminClient<DefaultClientContext>,
    topics: &[(&str, i32)],
) -> anyhow::Result<()> {
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|&(name, partitions)| NewTopic::new(name, partitions, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    for result in admin
        .create_topics(&new, &options)
        .await
        .context("creating topics")?
    {
        match result {
            // The other process of a two-process ceiling made it first.
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => anyhow::bail!("creating topic {name}: {code}"),
        }
    }
    Ok(())
}

async fn delete_topics(
    admin: &AdminClient<DefaultClientContext>,
    names: &[&str],
) -> anyhow::Result<()> {
    let options = AdminOptions::new().operation_timeout(Some(ADMIN_TIMEOUT));
    for result in admin
        .delete_topics(names, &options)
        .await
        .context("deleting topics")?
    {
        let name =
            result.map_err(|(name, code)| anyhow::anyhow!("deleting topic {name}: {code}"))?;
        eprintln!("kafka_ceiling: deleted topic {name}");
    }
    Ok(())
}

/// Deletes the topics of funcmesh namespace `namespace`, whose names start
/// with the namespace and `.`, and the topic named `namespace` if there is
/// one.
async fn delete_namespace(brokers: &str, namespace: &str) -> anyhow::Result<()> {
    let admin = admin(brokers)?;
    let prefix = format!("{namespace}.");
    let metadata = admin
        .inner()
        .fetch_metadata(None, ADMIN_TIMEOUT)
        .with_context(|| format!("listing the topics of {brokers}"))?;
    let names: Vec<&str> = metadata
        .topics()
        .iter()
        .map(|topic| topic.name())
        .filter(|name| *name == namespace || name.starts_with(&prefix))
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    delete_topics(&admin, &names).await
}

/// Hands each reply on the reply topic to the request waiting for it.
async fn route_replies(replies: Arc<StreamConsumer>, waiters: Arc<Waiters>) {
    loop {
        let message = match replies.recv().await {
            Ok(message) => message,
            Err(error) => {
                eprintln!("kafka_ceiling: reading replies: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let id = header(&message, CORRELATION_ID).and_then(|id| id.parse::<u64>().ok());
        if let Some(id) = id {
            let body = Bytes::copy_from_slice(message.payload().unwrap_or_default());
            waiters.deliver(id, body);
        }
    }
}

impl RoundTrip for Front {
    /// Produces the request, waits for its delivery, then for the reply.
    async fn call(&self, req: &Request<hyper::body::Incoming>) -> anyhow::Result<Bytes> {
        let waiting = self.waiters.wait();
        let id = waiting.id.to_string();
        let body = request_body(req)?;
        let headers = OwnedHeaders::new_with_capacity(2)
            .insert(Header {
                key: CORRELATION_ID,
                value: Some(id.as_bytes()),
            })
            .insert(Header {
                key: REPLY_TO,
                value: Some(self.reply_topic.as_bytes()),
            });
        let record = FutureRecord::<(), _>::to(&self.request_topic)
            .payload(&body[..])
            .headers(headers);
        let produced = Instant::now();
        self.producer
            .send(record, Timeout::Never)
            .await
            .map_err(|(error, _)| error)
            .with_context(|| format!("the broker did not take request {id}"))?;
        self.timings.request_delivered.add(produced);
        let delivered = Instant::now();
        let reply = waiting.reply().await?;
        self.timings.reply_received.add(delivered);
        Ok(reply)
    }
}

/// The value of header `key` of `message`, if it is UTF-8.
fn header<'a>(message: &'a impl rdkafka::Message, key: &str) -> Option<&'a str> {
    message
        .headers()?
        .iter()
        .find(|header| header.key == key)
        .and_then(|header| std::str::from_utf8(header.value?).ok())
}

/// The echo consumer: each request's answer goes to its reply topic, and
/// the request's offset may be committed once the answer is delivered.
async fn echo(
    consumer: Arc<StreamConsumer>,
    producer: FutureProducer,
    topic: String,
    prefetch: usize,
    timings: Arc<Timings>,
) {
    let positions = Arc::new(Positions::default());
    let commit = Arc::new(Notify::new());
    let commits = commit_loop(consumer.clone(), topic, positions.clone(), commit.clone());
    let echo = consume_echo(consumer, producer, prefetch, positions, commit, timings);
    tokio::select! {
        () = commits => {}
        consumed = echo => {
            if let Err(error) = consumed {
                eprintln!("kafka_ceiling: the echo consumer failed: {error:#}");
            }
        }
    }
}

async fn consume_echo(
    consumer: Arc<StreamConsumer>,
    producer: FutureProducer,
    prefetch: usize,
    positions: Arc<Positions>,
    commit: Arc<Notify>,
    timings: Arc<Timings>,
) -> anyhow::Result<()> {
    let window = Arc::new(Semaphore::new(prefetch.max(1)));
    loop {
        let permit = window.clone().acquire_owned().await?;
        let (partition, offset, reply_to, id) = match consumer.recv().await {
            Ok(message) => (
                message.partition(),
                message.offset(),
                header(&message, REPLY_TO).map(str::to_owned),
                header(&message, CORRELATION_ID).map(str::to_owned),
            ),
            Err(error) => {
                eprintln!("kafka_ceiling: echo: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        positions.taken(partition, offset);
        let producer = producer.clone();
        let positions = positions.clone();
        let commit = commit.clone();
        let timings = timings.clone();
        tokio::spawn(async move {
            let produced = Instant::now();
            match reply(&producer, reply_to, id).await {
                Ok(()) => {
                    timings.reply_delivered.add(produced);
                    if positions.finished(partition, offset) {
                        commit.notify_one();
                    }
                }
                // Left unfinished: its partition commits no further, and a
                // new echo consumer would receive it again.
                Err(error) => eprintln!("kafka_ceiling: echo: {error:#}"),
            }
            drop(permit);
        });
    }
}

/// The hello function's answer, produced to the request's reply topic with
/// its correlation id; returns once the broker confirmed it.
async fn reply(
    producer: &FutureProducer,
    reply_to: Option<String>,
    id: Option<String>,
) -> anyhow::Result<()> {
    let reply_to = reply_to.context("a request without a reply topic")?;
    let mut headers = OwnedHeaders::new_with_capacity(1);
    if let Some(id) = &id {
        headers = headers.insert(Header {
            key: CORRELATION_ID,
            value: Some(id.as_bytes()),
        });
    }
    let record = FutureRecord::<(), _>::to(&reply_to)
        .payload(GREETING)
        .headers(headers);
    producer
        .send(record, Timeout::Never)
        .await
        .map_err(|(error, _)| error)
        .with_context(|| format!("replying to {reply_to}"))?;
    Ok(())
}

/// Commits every partition whose position moved, a few milliseconds after
/// the first request finished, for as long as the echo runs.
async fn commit_loop(
    consumer: Arc<StreamConsumer>,
    topic: String,
    positions: Arc<Positions>,
    commit: Arc<Notify>,
) {
    loop {
        commit.notified().await;
        tokio::time::sleep(COMMIT_BATCH).await;
        let moved = positions.to_commit(&topic);
        if moved.count() > 0
            && let Err(error) = consumer.commit(&moved, CommitMode::Async)
        {
            eprintln!("kafka_ceiling: committing offsets: {error}");
        }
    }
}

/// The echo's requests by partition: which are still unfinished, and what
/// each partition's committed position is.
#[derive(Default)]
struct Positions {
    partitions: Mutex<HashMap<i32, Partition>>,
}

#[derive(Default)]
struct Partition {
    /// Offsets received and not yet replied to.
    unfinished: BTreeSet<i64>,
    /// The offset after the last one received.
    next: i64,
    /// The position last committed (or about to be).
    committed: i64,
}

impl Partition {
    /// Where the partition may be committed: its lowest unfinished offset,
    /// or the next one to come.
    fn position(&self) -> i64 {
        self.unfinished.first().copied().unwrap_or(self.next)
    }
}

impl Positions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, Partition>> {
        self.partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn taken(&self, partition: i32, offset: i64) {
        let mut partitions = self.lock();
        let entry = partitions.entry(partition).or_default();
        entry.unfinished.insert(offset);
        entry.next = entry.next.max(offset + 1);
    }

    /// Marks a request replied to; true if its partition's position moved.
    fn finished(&self, partition: i32, offset: i64) -> bool {
        let mut partitions = self.lock();
        let Some(entry) = partitions.get_mut(&partition) else {
            return false;
        };
        entry.unfinished.remove(&offset);
        entry.position() > entry.committed
    }

    /// The positions that moved since the last call.
    fn to_commit(&self, topic: &str) -> TopicPartitionList {
        let mut moved = TopicPartitionList::new();
        for (&partition, entry) in self.lock().iter_mut() {
            let position = entry.position();
            if position > entry.committed
                && moved
                    .add_partition_offset(topic, partition, Offset::Offset(position))
                    .is_ok()
            {
                entry.committed = position;
            }
        }
        moved
    }
}
