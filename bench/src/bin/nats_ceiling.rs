//! The ceiling of the NATS benchmark: the plainest HTTP-over-NATS round trip
//! with the delivery guarantees of the mesh, so what no mesh on the same
//! server can beat.
//!
//! Per HTTP request, the front publishes a small JSON message to a JetStream
//! work-queue stream on file, waits for the server's acknowledgement, and
//! names its own reply subject and a correlation id in headers. An echo
//! consumer on its own connection pulls from the stream's durable consumer
//! (explicit acks, at most PREFETCH messages out unacknowledged), publishes
//! each request's body to its reply subject with core NATS, and only then
//! acks the request. The front answers the HTTP client with the reply.
//!
//!   nats_ceiling [LISTEN] [NATS_URL] [STREAM] [PREFETCH]
//!   nats_ceiling --echo LISTEN NATS_URL STREAM [PREFETCH]
//!   nats_ceiling --front LISTEN NATS_URL STREAM [PREFETCH]
//!   nats_ceiling --delete-namespace NS [NATS_URL]
//!
//! The first form runs the front and the echo in one process; `--echo` and
//! `--front`, started on the same STREAM, run them as two (the echo ignores
//! LISTEN), as a mesh request crosses two processes. The stream (default: a
//! random name) is deleted by the echo on SIGINT or SIGTERM.
//! PREFETCH defaults to 64, the runner's concurrency in the benchmark.
//! `--delete-namespace` deletes every stream of the funcmesh namespace NS
//! (the streams a mesh on `nats://...?namespace=NS` leaves behind), and the
//! stream named NS itself (a ceiling's, left behind by a killed run).

#[path = "../ceiling.rs"]
mod ceiling;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_nats::HeaderMap;
use async_nats::jetstream::consumer::{self, AckPolicy};
use async_nats::jetstream::stream::{self, RetentionPolicy, StorageType};
use async_nats::jetstream::{self, Context};
use bytes::Bytes;
use futures::StreamExt as _;
use hyper::Request;

use ceiling::{Command, RoundTrip, Waiters, request_body};

/// The header with a request's correlation id, copied onto its reply.
const CORRELATION_ID: &str = "x-correlation-id";
/// The header with the subject a request's reply goes to.
const REPLY_TO: &str = "x-reply-to";
/// The echo's durable consumer.
const CONSUMER: &str = "echo";
const DEFAULT_URL: &str = "nats://127.0.0.1:4222";

/// The publishing side: the stream's subject and the replies it waits for.
struct Front {
    js: Context,
    subject: String,
    reply_to: String,
    waiters: Arc<Waiters>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (role, listen, url, name, prefetch) =
        match Command::from_args("127.0.0.1:8092", DEFAULT_URL)? {
            Command::DeleteNamespace { namespace, server } => {
                return delete_namespace(&server, &namespace).await;
            }
            Command::Serve {
                role,
                listen,
                server,
                name,
                window,
            } => (role, listen, server, name, i64::from(window)),
        };
    let subject = format!("{name}.requests");

    // Either side may start first: both make sure the stream is there.
    let echo_client = connect(&url).await?;
    let echo_js = jetstream::new(echo_client.clone());
    let stream = echo_js
        .get_or_create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            retention: RetentionPolicy::WorkQueue,
            storage: StorageType::File,
            num_replicas: 1,
            ..stream::Config::default()
        })
        .await
        .with_context(|| format!("creating stream {name}"))?;
    let echo = if role.echo() {
        let consumer = stream
            .create_consumer(consumer::pull::Config {
                durable_name: Some(CONSUMER.to_owned()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_secs(5),
                max_ack_pending: prefetch,
                ..consumer::pull::Config::default()
            })
            .await
            .with_context(|| format!("creating the consumer of {name}"))?;
        Some(tokio::spawn(echo(echo_client, consumer, prefetch)))
    } else {
        None
    };

    let served = if role.front() {
        let front_client = connect(&url).await?;
        let front = Arc::new(Front::start(front_client, subject).await?);
        ceiling::serve("nats_ceiling", &listen, &format!("stream {name}"), front).await
    } else {
        eprintln!("nats_ceiling: answering the requests of stream {name}");
        ceiling::until_stopped().await
    };

    // The echo owns the stream. It stops first: deleting the stream would
    // end it with an error.
    let Some(echo) = echo else {
        return served;
    };
    echo.abort();
    let deleted = echo_js
        .delete_stream(&name)
        .await
        .with_context(|| format!("deleting stream {name}"));
    served?;
    deleted?;
    Ok(())
}

async fn connect(url: &str) -> anyhow::Result<async_nats::Client> {
    async_nats::connect(url)
        .await
        .with_context(|| format!("connecting to {url}"))
}

/// Deletes the streams of funcmesh namespace `namespace`, whose names start
/// with the namespace (dots written `_`) and `_`, and the stream named
/// `namespace` if there is one.
async fn delete_namespace(url: &str, namespace: &str) -> anyhow::Result<()> {
    let js = jetstream::new(connect(url).await?);
    let prefix = format!("{}_", namespace.replace('.', "_"));
    let names: Vec<String> = js
        .stream_names()
        .filter_map(|name| async move { name.ok() })
        .filter(|name| std::future::ready(name == namespace || name.starts_with(&prefix)))
        .collect()
        .await;
    for name in names {
        js.delete_stream(&name)
            .await
            .with_context(|| format!("deleting stream {name}"))?;
        eprintln!("nats_ceiling: deleted stream {name}");
    }
    Ok(())
}

impl Front {
    /// Subscribes to its own reply subject and starts routing replies to
    /// their waiting requests.
    async fn start(client: async_nats::Client, subject: String) -> anyhow::Result<Self> {
        let reply_to = client.new_inbox();
        let mut replies = client.subscribe(reply_to.clone()).await?;
        // The subscription is in place before the first request goes out.
        client.flush().await?;
        let waiters = Arc::new(Waiters::default());
        let routed = waiters.clone();
        tokio::spawn(async move {
            while let Some(message) = replies.next().await {
                let id = message
                    .headers
                    .as_ref()
                    .and_then(|headers| headers.get(CORRELATION_ID))
                    .and_then(|id| id.as_str().parse::<u64>().ok());
                if let Some(id) = id {
                    routed.deliver(id, message.payload);
                }
            }
        });
        Ok(Self {
            js: jetstream::new(client),
            subject,
            reply_to,
            waiters,
        })
    }
}

impl RoundTrip for Front {
    /// Publishes the request, waits for the stream's ack, then for the reply.
    async fn call(&self, req: &Request<hyper::body::Incoming>) -> anyhow::Result<Bytes> {
        let waiting = self.waiters.wait();
        let id = waiting.id;
        let mut headers = HeaderMap::new();
        headers.insert(CORRELATION_ID, id.to_string());
        headers.insert(REPLY_TO, self.reply_to.as_str());
        self.js
            .publish_with_headers(self.subject.clone(), headers, request_body(req)?.into())
            .await?
            .await
            .with_context(|| format!("the stream did not take request {id}"))?;
        waiting.reply().await
    }
}

/// The echo consumer: each request's answer goes to its reply subject
/// before the request is acked.
async fn echo(
    client: async_nats::Client,
    consumer: consumer::Consumer<consumer::pull::Config>,
    prefetch: i64,
) {
    if let Err(error) = consume_echo(client, consumer, prefetch).await {
        eprintln!("nats_ceiling: the echo consumer failed: {error:#}");
    }
}

async fn consume_echo(
    client: async_nats::Client,
    consumer: consumer::Consumer<consumer::pull::Config>,
    prefetch: i64,
) -> anyhow::Result<()> {
    let batch = usize::try_from(prefetch.max(1))?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(batch)
        .messages()
        .await?;
    while let Some(message) = messages.next().await {
        let message = message?;
        let client = client.clone();
        tokio::spawn(async move {
            if let Err(error) = reply(&client, &message).await {
                eprintln!("nats_ceiling: echo: {error:#}");
                let _ = message.ack_with(jetstream::AckKind::Nak(None)).await;
            }
        });
    }
    Ok(())
}

/// The hello function's answer, sent to the request's reply subject with its
/// correlation id; then the request is acked.
async fn reply(client: &async_nats::Client, message: &jetstream::Message) -> anyhow::Result<()> {
    let headers = message
        .headers
        .as_ref()
        .context("a request without headers")?;
    let reply_to = headers
        .get(REPLY_TO)
        .context("a request without a reply subject")?
        .to_string();
    let mut out = HeaderMap::new();
    if let Some(id) = headers.get(CORRELATION_ID) {
        out.insert(CORRELATION_ID, id.as_str());
    }
    client
        .publish_with_headers(
            reply_to,
            out,
            Bytes::from_static(br#"{"greeting":"Hello, Ada!"}"#),
        )
        .await?;
    message
        .ack()
        .await
        .map_err(|error| anyhow::anyhow!(error))?;
    Ok(())
}
