//! The ceiling of the RabbitMQ benchmark: the plainest HTTP-over-broker round
//! trip with the delivery guarantees of the mesh, so what no mesh on the same
//! broker can beat.
//!
//! Per HTTP request, the front publishes a small persistent JSON message to a
//! durable quorum queue, with a publisher confirm, a correlation id and its
//! own exclusive reply queue as `reply_to`. An echo consumer on its own
//! connection (prefetch PREFETCH, manual acks) publishes each request's body
//! back to its `reply_to` with a confirm, and only then acks the request. The
//! front answers the HTTP client with the reply.
//!
//!   amqp_ceiling [LISTEN] [AMQP_URL] [QUEUE_PREFIX] [PREFETCH]
//!   amqp_ceiling --echo LISTEN AMQP_URL QUEUE_PREFIX [PREFETCH]
//!   amqp_ceiling --front LISTEN AMQP_URL QUEUE_PREFIX [PREFETCH]
//!   amqp_ceiling --delete-namespace QUEUE_PREFIX [AMQP_URL]
//!
//! The first form runs the front and the echo in one process; `--echo` and
//! `--front`, started on the same prefix, run them as two (the echo ignores
//! LISTEN), as a mesh request crosses two processes. The prefix (default: a
//! random one) keeps runs apart; the echo deletes the request queue on
//! SIGINT or SIGTERM. `--delete-namespace` deletes what a killed ceiling left
//! (its request queue), or a mesh on `amqp://...?namespace=NS` (its queues,
//! listed with `rabbitmqctl`, and its exchanges).
//! PREFETCH (default 64, the runner's concurrency in the benchmark) shows
//! how much of the ceiling is the consumer's window.

#[path = "../ceiling.rs"]
mod ceiling;

use std::sync::Arc;

use anyhow::{Context as _, ensure};
use bytes::Bytes;
use futures::StreamExt as _;
use hyper::Request;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

use ceiling::{Command, RoundTrip, Waiters, request_body};

/// AMQP delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;

/// The publishing side: one confirmed channel and the replies it waits for.
struct Front {
    channel: Channel,
    requests: ShortString,
    reply_to: ShortString,
    waiters: Arc<Waiters>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (role, listen, url, prefix, prefetch) =
        match Command::from_args("127.0.0.1:8091", "amqp://guest:guest@127.0.0.1:5672/%2f")? {
            Command::DeleteNamespace { namespace, server } => {
                return delete_namespace(&server, &namespace).await;
            }
            Command::Serve {
                role,
                listen,
                server,
                name,
                window,
            } => (role, listen, server, name, window),
        };
    let requests = requests_queue(&prefix)?;

    // Either side may start first: both declare the request queue.
    let echo = if role.echo() {
        let conn = connect(&url).await?;
        let channel = confirmed_channel(&conn).await?;
        declare_requests(&channel, &requests).await?;
        tokio::spawn(echo(channel.clone(), requests.clone(), prefetch));
        Some((conn, channel))
    } else {
        None
    };

    let served = if role.front() {
        let conn = connect(&url).await?;
        let front = Arc::new(Front::start(&conn, requests.clone()).await?);
        let served = ceiling::serve("amqp_ceiling", &listen, requests.as_str(), front).await;
        conn.close(200, "bye".into()).await?;
        served
    } else {
        eprintln!("amqp_ceiling: answering the requests of {requests}");
        ceiling::until_stopped().await
    };

    // The echo owns the request queue.
    if let Some((conn, channel)) = echo {
        channel
            .queue_delete(requests.clone(), QueueDeleteOptions::default())
            .await
            .with_context(|| format!("deleting {requests}"))?;
        conn.close(200, "bye".into()).await?;
    }
    served
}

/// The request queue of the ceiling whose queues are named after `prefix`.
fn requests_queue(prefix: &str) -> anyhow::Result<ShortString> {
    ShortString::try_new(format!("{prefix}.requests"))
        .context("QUEUE_PREFIX makes a queue name over 255 bytes")
}

/// Deletes what a run left on the broker under `namespace`: the queues
/// named `namespace.*` (a mesh's, listed with `rabbitmqctl` where it is
/// installed, as AMQP cannot list queues), a ceiling's request queue
/// `namespace.requests`, and a mesh's two exchanges.
async fn delete_namespace(url: &str, namespace: &str) -> anyhow::Result<()> {
    let prefix = format!("{namespace}.");
    let mut queues: Vec<String> = match std::process::Command::new("rabbitmqctl")
        .args(["-q", "list_queues", "--no-table-headers", "name"])
        .output()
    {
        Ok(listed) if listed.status.success() => String::from_utf8_lossy(&listed.stdout)
            .lines()
            .map(str::trim)
            .filter(|name| name.starts_with(&prefix))
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let requests = requests_queue(namespace)?;
    if !queues.iter().any(|name| name == requests.as_str()) {
        queues.push(requests.to_string());
    }
    let exchanges = ["funcmesh.control", "funcmesh.work"].map(|name| format!("{prefix}{name}"));
    let targets = queues.iter().map(|name| (Target::Queue, name));
    let targets = targets.chain(exchanges.iter().map(|name| (Target::Exchange, name)));
    let conn = connect(url).await?;
    // A deletion the broker does not answer (seen with a thousand quorum
    // queues on two cores) is reported, and the others go on, unless
    // GIVE_UP deletions in a row went unanswered.
    let mut failed = 0;
    let mut unanswered = 0;
    for (target, name) in targets {
        if unanswered == GIVE_UP {
            eprintln!(
                "amqp_ceiling: the broker answered none of the last {GIVE_UP} deletions; \
                 giving up on the others under {namespace}"
            );
            failed += 1;
            break;
        }
        match tokio::time::timeout(DELETE_TIMEOUT, target.delete(&conn, name)).await {
            Ok(Ok(())) => unanswered = 0,
            Ok(Err(error)) => {
                eprintln!("amqp_ceiling: deleting {target} {name}: {error:#}");
                failed += 1;
            }
            Err(_) => {
                eprintln!("amqp_ceiling: deleting {target} {name}: the broker did not answer");
                failed += 1;
                unanswered += 1;
            }
        }
    }
    let _ = tokio::time::timeout(DELETE_TIMEOUT, conn.close(200, "bye".into())).await;
    ensure!(failed == 0, "{failed} deletions under {namespace} failed");
    Ok(())
}

/// What [`delete_namespace`] deletes.
#[derive(Clone, Copy)]
enum Target {
    Queue,
    Exchange,
}

impl Target {
    /// Deletes `name` on a channel of its own, as an error closes its
    /// channel. RabbitMQ takes the deletion of a queue or exchange that is
    /// not there as done.
    async fn delete(self, conn: &Connection, name: &str) -> lapin::Result<()> {
        let channel = conn.create_channel().await?;
        match self {
            Self::Queue => channel
                .queue_delete(name.into(), QueueDeleteOptions::default())
                .await
                .map(drop),
            Self::Exchange => {
                channel
                    .exchange_delete(name.into(), ExchangeDeleteOptions::default())
                    .await
            }
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Queue => "queue",
            Self::Exchange => "exchange",
        })
    }
}

/// How long one deletion may take.
const DELETE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// How many deletions in a row may go unanswered before the rest are not
/// tried.
const GIVE_UP: u32 = 3;

async fn connect(url: &str) -> anyhow::Result<Connection> {
    Connection::connect(url, ConnectionProperties::default())
        .await
        .with_context(|| format!("connecting to {url}"))
}

async fn confirmed_channel(conn: &Connection) -> anyhow::Result<Channel> {
    let channel = conn.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok(channel)
}

/// The request queue: durable and quorum, as the mesh's Func queues are.
async fn declare_requests(channel: &Channel, name: &ShortString) -> anyhow::Result<()> {
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    channel
        .queue_declare(name.clone(), QueueDeclareOptions::durable(), arguments)
        .await
        .with_context(|| format!("declaring {name}"))?;
    Ok(())
}

impl Front {
    /// Declares the request queue and an exclusive, server-named reply queue,
    /// and starts routing replies to their waiting requests.
    async fn start(conn: &Connection, requests: ShortString) -> anyhow::Result<Self> {
        let channel = confirmed_channel(conn).await?;
        declare_requests(&channel, &requests).await?;
        let replies = conn.create_channel().await?;
        let reply_queue = replies
            .queue_declare(
                "".into(),
                QueueDeclareOptions::exclusive(),
                FieldTable::default(),
            )
            .await?;
        let reply_to = reply_queue.name().clone();
        // No acks on the replies: a reply is worth nothing once its
        // waiter is gone, and the exclusive queue dies with this connection.
        let options = BasicConsumeOptions {
            no_ack: true,
            ..BasicConsumeOptions::default()
        };
        let mut consumer = replies
            .basic_consume(reply_to.clone(), "".into(), options, FieldTable::default())
            .await?;
        let waiters = Arc::new(Waiters::default());
        let routed = waiters.clone();
        tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let id = delivery.properties.correlation_id().as_ref();
                if let Some(id) = id.and_then(|id| id.as_str().parse::<u64>().ok()) {
                    routed.deliver(id, Bytes::from(delivery.data));
                }
            }
        });
        Ok(Self {
            channel,
            requests,
            reply_to,
            waiters,
        })
    }
}

impl RoundTrip for Front {
    /// Publishes the request, waits for its confirm, then for its reply.
    async fn call(&self, req: &Request<hyper::body::Incoming>) -> anyhow::Result<Bytes> {
        let waiting = self.waiters.wait();
        let id = waiting.id;
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_delivery_mode(PERSISTENT)
            .with_correlation_id(id.to_string().into())
            .with_reply_to(self.reply_to.clone());
        let confirm = self
            .channel
            .basic_publish(
                "".into(),
                self.requests.clone(),
                BasicPublishOptions::default(),
                &request_body(req)?,
                properties,
            )
            .await?
            .await?;
        ensure!(confirm.is_ack(), "the broker refused request {id}");
        waiting.reply().await
    }
}

/// The echo consumer: each request's body goes back to its `reply_to`,
/// confirmed, before the request is acked.
async fn echo(channel: Channel, requests: ShortString, prefetch: u16) {
    if let Err(error) = consume_echo(channel, requests, prefetch).await {
        eprintln!("amqp_ceiling: the echo consumer failed: {error:#}");
    }
}

async fn consume_echo(
    channel: Channel,
    requests: ShortString,
    prefetch: u16,
) -> anyhow::Result<()> {
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await?;
    let mut consumer = channel
        .basic_consume(
            requests,
            "echo".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery?;
        let channel = channel.clone();
        tokio::spawn(async move {
            if let Err(error) = reply(&channel, &delivery).await {
                eprintln!("amqp_ceiling: echo: {error:#}");
                let requeue = BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                };
                let _ = delivery.nack(requeue).await;
            }
        });
    }
    Ok(())
}

async fn reply(channel: &Channel, delivery: &Delivery) -> anyhow::Result<()> {
    let props = &delivery.properties;
    let reply_to = props
        .reply_to()
        .clone()
        .context("a request without reply_to")?;
    let mut properties = BasicProperties::default().with_content_type("application/json".into());
    if let Some(id) = props.correlation_id() {
        properties = properties.with_correlation_id(id.clone());
    }
    let confirm = channel
        .basic_publish(
            "".into(),
            reply_to,
            BasicPublishOptions::default(),
            &delivery.data,
            properties,
        )
        .await?
        .await?;
    ensure!(confirm.is_ack(), "the broker refused a reply");
    delivery.ack(BasicAckOptions::default()).await?;
    Ok(())
}
