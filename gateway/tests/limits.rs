//! Limits: body size, queue capacity, requests in flight, deadlines.

mod common;

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use common::{Mode, TestGateway, backend, client, get, next_seen, send};
use funcmesh_bus::inproc::InProcBus;
use funcmesh_bus::{Bus, QueueSpec};
use funcmesh_gateway::GatewayConfig;
use funcmesh_testkit::eventually;
use http::{Request, StatusCode};
use http_body_util::{Full, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn small_body_limit() -> GatewayConfig {
    GatewayConfig {
        body_limit: 1024,
        ..GatewayConfig::default()
    }
}

#[tokio::test]
async fn content_length_over_the_limit_is_413_before_the_body_is_sent() {
    let gw = TestGateway::start(small_body_limit()).await;
    let mut seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Echo).await;
    // Announce 100 MB and send none of it: the answer must come anyway.
    let mut stream = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    stream.write_all(b"POST /upload HTTP/1.1\r\nhost: a.example\r\nx-request-id: big-1\r\ncontent-length: 100000000\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    read.expect("no answer without the body").unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains("1024 bytes"),
        "the answer names the limit: {answer}"
    );
    assert!(answer.contains(r#""request_id":"big-1""#), "{answer}");
    assert!(seen.try_recv().is_err(), "nothing was published");
}

#[tokio::test]
async fn a_streamed_body_over_the_limit_is_413() {
    let gw = TestGateway::start(small_body_limit()).await;
    let mut seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Echo).await;
    // No content-length: chunked, and the limit is only found while reading.
    let chunks = (0..4).map(|_| Ok::<_, Infallible>(Frame::data(Bytes::from(vec![b'x'; 512]))));
    let body = StreamBody::new(futures::stream::iter(chunks));
    let client = Client::builder(TokioExecutor::new()).build_http();
    let answer = send(
        &client,
        Request::post(gw.url("/upload")).body(body).unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        answer.json()["error"].as_str().unwrap().contains("1024"),
        "{:?}",
        answer.json()
    );
    assert!(seen.try_recv().is_err(), "nothing was published");

    // At the limit exactly is fine.
    let exact = Request::post(gw.url("/raw"))
        .body(Full::from(vec![b'y'; 1024]))
        .unwrap();
    let answer = send(&common::client(), exact).await;
    assert_eq!((answer.status, answer.body.len()), (StatusCode::OK, 1024));
}

#[tokio::test]
async fn a_full_firehose_is_503_with_retry_after() {
    let bus = InProcBus::new();
    let config = GatewayConfig::default();
    bus.declare(&QueueSpec::work(&config.firehose).max_len(1))
        .await
        .unwrap();
    let gw = TestGateway::start_on(bus, config).await;
    let client = client();
    let fill = Request::post(gw.url("/a"))
        .header("prefer", "respond-async")
        .body(Full::default())
        .unwrap();
    assert_eq!(send(&client, fill).await.status, StatusCode::ACCEPTED);

    let answer = send(
        &client,
        Request::get(gw.url("/a")).body(Full::default()).unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.header("retry-after"), Some("1"));
    assert_eq!(
        answer.json()["request_id"],
        answer.header("x-request-id").unwrap()
    );
    assert_eq!(gw.gateway.waiting(), 0, "the refused request does not wait");
    assert_eq!(gw.gateway.stats().overloaded, 1);
}

#[tokio::test]
async fn beyond_max_in_flight_is_503_at_once() {
    let config = GatewayConfig {
        max_in_flight: 1,
        ..GatewayConfig::default()
    };
    let gw = TestGateway::start(config).await;
    let mut seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Silent).await;
    let first = tokio::spawn({
        let url = gw.url("/slow");
        async move { get(&client(), &url).await }
    });
    let envelope = next_seen(&mut seen).await.envelope;

    let answer = get(&client(), &gw.url("/second")).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.header("retry-after"), Some("1"));
    assert!(
        seen.try_recv().is_err(),
        "the refused request was not published"
    );
    // Reserved endpoints are not requests in flight.
    assert_eq!(
        get(&client(), &gw.url("/__health")).await.status,
        StatusCode::OK
    );

    common::reply(&gw.bus, &envelope, common::echo(&envelope, "q")).await;
    assert_eq!(first.await.unwrap().status, StatusCode::OK);
    assert_eq!(gw.gateway.stats().in_flight, 0);
    assert_eq!(
        get(&client(), &gw.url("/__health")).await.status,
        StatusCode::OK
    );
}

#[tokio::test(start_paused = true)]
async fn no_reply_by_the_deadline_is_504_and_the_late_reply_is_dropped() {
    let config = GatewayConfig {
        timeout: Duration::from_secs(2),
        ..GatewayConfig::default()
    };
    let gw = TestGateway::start(config).await;
    let mut seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Silent).await;
    let client = client();
    let started = tokio::time::Instant::now();
    let answer = send(
        &client,
        Request::get(gw.url("/slow"))
            .header("x-request-id", "late-1")
            .body(Full::default())
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        started.elapsed().as_secs(),
        2,
        "answered at the deadline, not before or long after"
    );
    let error = answer.json();
    assert!(
        error["error"].as_str().unwrap().contains("2000 ms"),
        "{error}"
    );
    assert_eq!(error["request_id"], "late-1");
    assert_eq!(gw.gateway.waiting(), 0);

    // The backend finally answers: the reply is acknowledged and dropped.
    let envelope = next_seen(&mut seen).await.envelope;
    common::reply(&gw.bus, &envelope, common::echo(&envelope, "q")).await;
    eventually(
        Duration::from_secs(5),
        "the late reply is consumed",
        || async { gw.gateway.stats().late_replies == 1 },
    )
    .await;
    let depth = gw.bus.depth(gw.gateway.reply_queue()).await.unwrap();
    assert_eq!((depth.ready, depth.unacked), (0, 0));
    let stats = gw.gateway.stats();
    assert_eq!(
        (stats.timeouts, stats.responses_5xx, stats.in_flight),
        (1, 1, 0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_client_may_ask_for_a_shorter_deadline_never_a_longer_one() {
    let config = GatewayConfig {
        timeout: Duration::from_secs(5),
        ..GatewayConfig::default()
    };
    let gw = TestGateway::start(config).await;
    let mut seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Silent).await;
    let client = client();

    let started = tokio::time::Instant::now();
    let shorter = Request::get(gw.url("/a"))
        .header("x-funcmesh-timeout-ms", "300")
        .body(Full::default())
        .unwrap();
    let answer = send(&client, shorter).await;
    assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(started.elapsed().as_millis(), 300);
    let envelope = next_seen(&mut seen).await.envelope;
    // The envelope's deadline is wall-clock time, which a paused tokio clock does not move.
    assert!(envelope.deadline_ms <= funcmesh_bus::now_ms() + 300);

    let started = tokio::time::Instant::now();
    let longer = Request::get(gw.url("/a"))
        .header("x-funcmesh-timeout-ms", "60000")
        .body(Full::default())
        .unwrap();
    assert_eq!(
        send(&client, longer).await.status,
        StatusCode::GATEWAY_TIMEOUT
    );
    assert_eq!(started.elapsed().as_secs(), 5);

    let nonsense = Request::get(gw.url("/a"))
        .header("x-funcmesh-timeout-ms", "soon")
        .body(Full::default())
        .unwrap();
    assert_eq!(
        send(&client, nonsense).await.status,
        StatusCode::BAD_REQUEST
    );
}

/// A connection to `gw` that never sends a byte: whether the gateway has
/// closed it after `wait`.
async fn closed_within(stream: &mut tokio::net::TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(wait, stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn silent_and_idle_connections_are_closed_and_capped() {
    let gw = TestGateway::start(GatewayConfig {
        header_timeout: Duration::from_millis(300),
        max_connections: Some(4),
        ..GatewayConfig::default()
    })
    .await;
    let _seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Echo).await;

    // Four silent connections fill the gateway; a fifth is closed at once.
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(tokio::net::TcpStream::connect(gw.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut fifth = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    assert!(closed_within(&mut fifth, Duration::from_millis(200)).await);

    // The silent ones are let go after the header timeout...
    for stream in &mut silent {
        assert!(closed_within(stream, Duration::from_secs(3)).await);
    }
    // ...so clients are served again.
    let answer = get(&client(), &gw.url("/raw/after")).await;
    assert_eq!(answer.status, StatusCode::OK);

    // A keep-alive connection idle after its answer is closed too.
    let mut idle = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    idle.write_all(b"GET /raw/x HTTP/1.1\r\nhost: a\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let read = idle.read(&mut answer).await.unwrap();
    assert!(answer[..read].starts_with(b"HTTP/1.1 200"));
    assert!(closed_within(&mut idle, Duration::from_secs(3)).await);
}
