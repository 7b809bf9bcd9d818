//! The server: concurrency over HTTP/1.1 and h2c, cancellation, graceful shutdown.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{Mode, TestGateway, backend, client, get, h2_client, next_seen, send};
use funcmesh_gateway::GatewayConfig;
use funcmesh_testkit::eventually;
use http::{Request, StatusCode};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::task::JoinSet;

#[allow(clippy::unwrap_used)] // a test body shared by two tests
async fn thousand_concurrent(client: Client<HttpConnector, Full<Bytes>>) {
    let gw = TestGateway::start(GatewayConfig::default()).await;
    let _seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Echo).await;
    let mut requests = JoinSet::new();
    for i in 0..1000 {
        let (client, url) = (client.clone(), gw.url(&format!("/raw/{i}")));
        requests.spawn(async move {
            let body = format!("request number {i}");
            let request = Request::post(url)
                .header("content-type", "text/plain")
                .body(Full::from(body.clone()))
                .unwrap();
            let answer = send(&client, request).await;
            assert_eq!(answer.status, StatusCode::OK, "request {i}");
            assert_eq!(answer.body, body, "request {i} got another's answer");
        });
    }
    let mut answered = 0;
    while let Some(done) = requests.join_next().await {
        done.unwrap();
        answered += 1;
    }
    assert_eq!(answered, 1000);
    let stats = gw.gateway.stats();
    assert_eq!(
        (stats.requests, stats.responses_2xx, stats.in_flight),
        (1000, 1000, 0)
    );
    assert_eq!(gw.gateway.waiting(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_http1_requests_get_their_own_answers() {
    thousand_concurrent(client()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_h2c_requests_get_their_own_answers() {
    thousand_concurrent(h2_client()).await;
}

#[tokio::test]
async fn a_client_that_goes_away_stops_waiting() {
    let gw = TestGateway::start(GatewayConfig::default()).await;
    let mut seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Silent).await;
    let url = gw.url("/slow");
    let request = tokio::spawn(async move { get(&client(), &url).await });
    let envelope = next_seen(&mut seen).await.envelope;
    assert_eq!(gw.gateway.waiting(), 1);
    request.abort();
    let _ = request.await;
    eventually(
        Duration::from_secs(5),
        "the abandoned request stops waiting",
        || async { gw.gateway.waiting() == 0 && gw.gateway.stats().in_flight == 0 },
    )
    .await;
    // Its reply, when it comes, is dropped.
    common::reply(&gw.bus, &envelope, common::echo(&envelope, "q")).await;
    eventually(
        Duration::from_secs(5),
        "the late reply is consumed",
        || async { gw.gateway.stats().late_replies == 1 },
    )
    .await;
}

#[tokio::test]
async fn shutdown_answers_in_flight_requests_before_serve_returns() {
    let mut gw = TestGateway::start(GatewayConfig::default()).await;
    let mut seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Silent).await;
    let mut in_flight = JoinSet::new();
    for (i, client) in [client(), h2_client()].into_iter().enumerate() {
        let url = gw.url(&format!("/raw/{i}"));
        in_flight.spawn(async move {
            let request = Request::post(url)
                .header("content-type", "text/plain")
                .body(Full::from(format!("in flight {i}")))
                .unwrap();
            send(&client, request).await
        });
    }
    let envelopes = [
        next_seen(&mut seen).await.envelope,
        next_seen(&mut seen).await.envelope,
    ];

    gw.begin_shutdown();
    let addr = gw.addr;
    eventually(
        Duration::from_secs(5),
        "new connections are refused",
        || async move { tokio::net::TcpStream::connect(addr).await.is_err() },
    )
    .await;
    assert!(
        !gw.server.is_finished(),
        "serve returned with requests in flight"
    );
    assert_eq!(gw.gateway.waiting(), 2, "both requests still wait");

    for envelope in &envelopes {
        common::reply(&gw.bus, envelope, common::echo(envelope, "q")).await;
    }
    let mut bodies = Vec::new();
    while let Some(answer) = in_flight.join_next().await {
        let answer = answer.unwrap();
        assert_eq!(answer.status, StatusCode::OK);
        bodies.push(String::from_utf8(answer.body.to_vec()).unwrap());
    }
    bodies.sort();
    assert_eq!(bodies, ["in flight 0", "in flight 1"]);
    let served = tokio::time::timeout(Duration::from_secs(5), &mut gw.server).await;
    served
        .expect("serve did not return after draining")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn shutdown_with_idle_keep_alive_connections_returns_promptly() {
    let mut gw = TestGateway::start(GatewayConfig::default()).await;
    let _seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Echo).await;
    let (http1, h2) = (client(), h2_client());
    assert_eq!(get(&http1, &gw.url("/a")).await.status, StatusCode::OK);
    assert_eq!(get(&h2, &gw.url("/a")).await.status, StatusCode::OK);
    gw.begin_shutdown();
    let served = tokio::time::timeout(Duration::from_secs(5), &mut gw.server).await;
    served
        .expect("idle connections held up shutdown")
        .unwrap()
        .unwrap();
}
