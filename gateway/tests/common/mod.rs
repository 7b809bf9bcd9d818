//! Helpers for the gateway's integration tests: a gateway on an in-process
//! bus served on 127.0.0.1:0, fake backends, and an HTTP client.
#![allow(dead_code)] // each test file uses a different part
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is a failed test

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use funcmesh_bus::inproc::InProcBus;
use funcmesh_bus::{Bus, ConsumeOptions, Message, QueueSpec};
use funcmesh_core::routing::RouteTable;
use funcmesh_core::{Body, RequestEnvelope, ResponseEnvelope};
use funcmesh_gateway::{Gateway, GatewayConfig};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// A gateway serving on a local port.
pub struct TestGateway {
    pub bus: InProcBus,
    pub gateway: Arc<Gateway>,
    pub addr: SocketAddr,
    pub routes: watch::Sender<Arc<RouteTable>>,
    pub server: JoinHandle<anyhow::Result<()>>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestGateway {
    /// Starts a gateway on a new bus whose firehose has no length limit.
    pub async fn start(config: GatewayConfig) -> Self {
        let bus = InProcBus::new();
        bus.declare(&QueueSpec::work(&config.firehose))
            .await
            .unwrap();
        Self::start_on(bus, config).await
    }

    /// Starts a gateway on `bus`; the firehose is the caller's to declare.
    pub async fn start_on(bus: InProcBus, config: GatewayConfig) -> Self {
        let (routes, routes_rx) = watch::channel(RouteTable::empty());
        let shared: Arc<dyn Bus> = Arc::new(bus.clone());
        let gateway = Gateway::start(shared, config, routes_rx).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(funcmesh_gateway::serve(
            listener,
            Arc::clone(&gateway),
            async move {
                let _ = rx.await;
            },
        ));
        Self {
            bus,
            gateway,
            addr,
            routes,
            server,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{}", self.addr, path_and_query)
    }

    /// Tells the server to stop accepting and drain.
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// An HTTP/1.1 client.
pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// An HTTP/2 client without TLS (h2c, prior knowledge).
pub fn h2_client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

/// What came back.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// Sends a request and reads the whole answer (10 s at most).
pub async fn send<B>(client: &Client<HttpConnector, B>, request: Request<B>) -> Answer
where
    B: hyper::body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let exchange = async {
        let response = client.request(request).await.expect("request failed");
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .expect("reading the answer failed")
            .to_bytes();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("no answer within 10 s")
}

/// A GET of `url`.
pub async fn get(client: &Client<HttpConnector, Full<Bytes>>, url: &str) -> Answer {
    send(client, Request::get(url).body(Full::default()).unwrap()).await
}

/// A GET of `url` with extra headers.
pub fn get_with(url: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut request = Request::get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Full::default()).unwrap()
}

/// An envelope a backend received, and the queue it came from.
#[derive(Debug)]
pub struct Seen {
    pub queue: String,
    pub envelope: RequestEnvelope,
}

/// How a fake backend answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Replies at once: `/raw...` paths get their body back byte for byte,
    /// every other path a JSON account of the envelope.
    Echo,
    /// Never replies.
    Silent,
}

/// Starts a backend consuming `queue`; every envelope it receives is also
/// sent to the returned channel.
pub async fn backend(bus: &InProcBus, queue: &str, mode: Mode) -> mpsc::UnboundedReceiver<Seen> {
    bus.declare(&QueueSpec::work(queue)).await.unwrap();
    let mut consumer = bus
        .consume(queue, ConsumeOptions { prefetch: 1024 })
        .await
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let (bus, queue) = (bus.clone(), queue.to_owned());
    tokio::spawn(async move {
        while let Some(Ok(delivery)) = consumer.next().await {
            let envelope = RequestEnvelope::decode(&delivery.bytes())
                .expect("the gateway published a bad envelope");
            if mode == Mode::Echo && envelope.reply_to.is_some() {
                reply(&bus, &envelope, echo(&envelope, &queue)).await;
            }
            delivery.ack().await.unwrap();
            let _ = tx.send(Seen {
                queue: queue.clone(),
                envelope,
            });
        }
    });
    rx
}

/// The echo backend's answer to `envelope`.
pub fn echo(envelope: &RequestEnvelope, queue: &str) -> ResponseEnvelope {
    let mut response = ResponseEnvelope::new(&envelope.id, 200);
    response.bundle = envelope.bundle.clone();
    if envelope.path.starts_with("/raw") {
        if let Some(ct) = envelope.header("content-type") {
            response.headers.push(("content-type".into(), ct.into()));
        }
        response
            .headers
            .push(("x-echo-encoding".into(), envelope.body.encoding().into()));
        response.body = envelope.body.clone();
        return response;
    }
    let account = serde_json::json!({
        "queue": queue,
        "method": envelope.method,
        "scheme": envelope.scheme,
        "host": envelope.host,
        "path": envelope.path,
        "query": envelope.query,
        "headers": envelope.headers,
        "encoding": envelope.body.encoding(),
        "body": envelope.body,
        "reply_to": envelope.reply_to,
        "bundle": envelope.bundle,
        "trace": envelope.trace,
        "remote_addr": envelope.remote_addr,
        "deadline_ms": envelope.deadline_ms,
    });
    response
        .headers
        .push(("content-type".into(), "application/json".into()));
    response.headers.push(("set-cookie".into(), "a=1".into()));
    response.headers.push(("set-cookie".into(), "b=2".into()));
    response.body = Body::json_value(&account);
    response
}

/// Publishes `response` to the envelope's reply queue.
pub async fn reply(bus: &InProcBus, envelope: &RequestEnvelope, response: ResponseEnvelope) {
    let reply_to = envelope
        .reply_to
        .as_deref()
        .expect("the envelope wants no reply");
    bus.publish(reply_to, Message::new(response.encode()))
        .await
        .unwrap();
}

/// The next envelope a backend saw (5 s at most).
pub async fn next_seen(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(Duration::from_secs(5), seen.recv())
        .await
        .expect("the backend saw nothing")
        .unwrap()
}
