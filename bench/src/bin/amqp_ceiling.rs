//! The ceiling of the RabbitMQ benchmark: the plainest HTTP-over-broker round
//! trip with the delivery guarantees of the mesh, so what no mesh on the same
//! broker can beat.
//!
//! Per HTTP request, the front publishes a small persistent JSON message to a
//! durable quorum queue, with a publisher confirm, a correlation id and its
//! own exclusive reply queue as `reply_to`. An echo consumer on its own
//! connection (prefetch 2 x cores, manual acks) publishes each request's body
//! back to its `reply_to` with a confirm, and only then acks the request. The
//! front answers the HTTP client with the reply.
//!
//!   amqp_ceiling [LISTEN] [AMQP_URL] [QUEUE_PREFIX] [PREFETCH]
//!
//! The prefix keeps runs apart; the request queue is deleted on SIGINT or
//! SIGTERM. PREFETCH (default 2 x cores, as the mesh's runners) shows how
//! much of the ceiling is the consumer's window.

#[path = "../ceiling.rs"]
// Its command line has no namespace to delete, so `Command` goes unused.
#[allow(dead_code)]
mod ceiling;

use std::sync::Arc;

use anyhow::{Context as _, ensure};
use bytes::Bytes;
use futures::StreamExt as _;
use hyper::Request;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

use ceiling::{RoundTrip, Waiters, request_body};

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
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8091".to_owned());
    let url = args
        .next()
        .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let prefix = args.next().unwrap_or_else(ceiling::run_name);
    let requests = ShortString::try_new(format!("{prefix}.requests"))
        .context("QUEUE_PREFIX makes a queue name over 255 bytes")?;
    let prefetch = match args.next() {
        Some(n) => n.parse().context("PREFETCH must be a number below 65536")?,
        None => u16::try_from(2 * std::thread::available_parallelism()?.get())?,
    };

    let echo_conn = connect(&url).await?;
    let echo_channel = confirmed_channel(&echo_conn).await?;
    declare_requests(&echo_channel, &requests).await?;
    tokio::spawn(echo(echo_channel.clone(), requests.clone(), prefetch));

    let front_conn = connect(&url).await?;
    let front = Arc::new(Front::start(&front_conn, requests.clone()).await?);

    ceiling::serve("amqp_ceiling", &listen, requests.as_str(), front.clone()).await?;

    front
        .channel
        .queue_delete(requests.clone(), QueueDeleteOptions::default())
        .await
        .with_context(|| format!("deleting {requests}"))?;
    front_conn.close(200, "bye".into()).await?;
    echo_conn.close(200, "bye".into()).await?;
    Ok(())
}

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
