//! Where requests are published, and the gateway's own endpoints.

mod common;

use std::sync::Arc;

use common::{Mode, TestGateway, backend, client, get, next_seen, send};
use funcmesh_core::queues;
use funcmesh_core::routing::{Route, RouteTable};
use funcmesh_gateway::GatewayConfig;
use http::{Request, StatusCode};
use http_body_util::Full;

const BUNDLE: &str = "4a5b6c7d8e9f00112233445566778899aabbccddeeff00112233445566778899";

fn shop_route() -> Route {
    Route {
        host: Some("shop.example.com".into()),
        base_path: "/api".into(),
        queue: queues::func_queue(Some("shop.example.com"), "/api"),
        bundle: BUNDLE.into(),
        name: "shop".into(),
        pool: "default".into(),
    }
}

fn shop_request(gw: &TestGateway, path: &str) -> Request<Full<bytes::Bytes>> {
    common::get_with(&gw.url(path), &[("host", "shop.example.com:8080")])
}

#[tokio::test]
async fn a_known_route_is_published_straight_to_its_func_queue() {
    let gw = TestGateway::start(GatewayConfig::default()).await;
    let route = shop_route();
    let mut firehose = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Echo).await;
    let mut func = backend(&gw.bus, &route.queue, Mode::Echo).await;
    let client = client();

    // No table yet: the firehose, without a bundle.
    let answer = send(&client, shop_request(&gw, "/api/pets")).await;
    assert_eq!(answer.json()["queue"], gw.gateway.config().firehose);
    assert!(next_seen(&mut firehose).await.envelope.bundle.is_none());
    assert!(answer.header("x-funcmesh-bundle").is_none());

    // The tron pushes a table: the same request now skips the firehose.
    gw.routes
        .send(Arc::new(RouteTable::new(1, vec![route.clone()])))
        .unwrap();
    let answer = send(&client, shop_request(&gw, "/api/pets")).await;
    assert_eq!(answer.status, StatusCode::OK);
    let seen = next_seen(&mut func).await;
    assert_eq!(seen.queue, route.queue);
    assert_eq!(seen.envelope.bundle.as_deref(), Some(BUNDLE));
    assert_eq!(answer.header("x-funcmesh-bundle"), Some(&BUNDLE[..12]));

    // Other hosts and paths outside the base path still go to the firehose.
    let other = Request::get(gw.url("/api/pets"))
        .header("host", "other.example.com")
        .body(Full::default())
        .unwrap();
    assert_eq!(
        send(&client, other).await.json()["queue"],
        gw.gateway.config().firehose
    );
    assert_eq!(
        send(&client, shop_request(&gw, "/apiary")).await.json()["queue"],
        gw.gateway.config().firehose
    );
    assert!(func.try_recv().is_err());
}

#[tokio::test]
async fn without_direct_routing_everything_takes_the_firehose() {
    let config = GatewayConfig {
        direct_routing: false,
        ..GatewayConfig::default()
    };
    let gw = TestGateway::start(config).await;
    let route = shop_route();
    let _firehose = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Echo).await;
    let mut func = backend(&gw.bus, &route.queue, Mode::Echo).await;
    gw.routes
        .send(Arc::new(RouteTable::new(1, vec![route])))
        .unwrap();
    let answer = send(&client(), shop_request(&gw, "/api/pets")).await;
    assert_eq!(answer.json()["queue"], gw.gateway.config().firehose);
    assert_eq!(answer.json()["bundle"], serde_json::Value::Null);
    assert!(func.try_recv().is_err());
}

#[tokio::test]
async fn a_route_whose_queue_is_gone_falls_back_to_the_firehose() {
    let gw = TestGateway::start(GatewayConfig::default()).await;
    let _firehose = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Echo).await;
    // The route's queue is never declared.
    gw.routes
        .send(Arc::new(RouteTable::new(1, vec![shop_route()])))
        .unwrap();
    let answer = send(&client(), shop_request(&gw, "/api/pets")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["queue"], gw.gateway.config().firehose);
}

#[tokio::test]
async fn respond_async_is_202_at_once_and_wants_no_reply() {
    let gw = TestGateway::start(GatewayConfig::default()).await;
    let mut seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Silent).await;
    let request = Request::post(gw.url("/jobs"))
        .header("prefer", "respond-async, wait=10")
        .header("x-request-id", "job-7")
        .header("content-type", "application/json")
        .body(Full::from(r#"{"n": 1}"#))
        .unwrap();
    let answer = send(&client(), request).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert_eq!(answer.json(), serde_json::json!({"request_id": "job-7"}));
    assert_eq!(answer.header("x-request-id"), Some("job-7"));
    assert_eq!(answer.header("preference-applied"), Some("respond-async"));
    let envelope = next_seen(&mut seen).await.envelope;
    assert_eq!(envelope.id, "job-7");
    assert_eq!(envelope.reply_to, None);
    assert_eq!(envelope.body.as_bytes(), br#"{"n": 1}"#);
    assert_eq!(gw.gateway.waiting(), 0);
}

#[tokio::test]
async fn the_routing_table_is_not_public_unless_exposed() {
    let gw = TestGateway::start(GatewayConfig::default()).await;
    gw.routes
        .send(Arc::new(RouteTable::new(7, vec![shop_route()])))
        .unwrap();
    let mut seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Echo).await;
    // Routed like any other path: here, to the firehose (where a tron
    // answers 404), and the table is nowhere in the answer.
    let routes = get(&client(), &gw.url("/__routes")).await;
    assert!(!String::from_utf8_lossy(&routes.body).contains(BUNDLE));
    assert_eq!(next_seen(&mut seen).await.envelope.path, "/__routes");
}

#[tokio::test]
async fn routes_and_health_are_served_on_every_host() {
    let gw = TestGateway::start(GatewayConfig {
        expose_routes: true,
        ..GatewayConfig::default()
    })
    .await;
    let mut seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Echo).await;
    gw.routes
        .send(Arc::new(RouteTable::new(7, vec![shop_route()])))
        .unwrap();
    let client = client();

    let health = send(&client, shop_request(&gw, "/__health")).await;
    assert_eq!(
        (health.status, health.json()),
        (StatusCode::OK, serde_json::json!({"status": "ok"}))
    );
    assert_eq!(health.header("content-type"), Some("application/json"));
    assert!(health.header("x-request-id").is_some());

    let routes = get(&client, &gw.url("/__routes")).await;
    assert_eq!(routes.status, StatusCode::OK);
    let table = routes.json();
    assert_eq!(table["generation"], 7);
    assert_eq!(table["routes"][0]["host"], "shop.example.com");
    assert_eq!(table["routes"][0]["bundle"], BUNDLE);
    assert_eq!(table["routes"][0]["queue"], shop_route().queue);

    let post = send(
        &client,
        Request::post(gw.url("/__health"))
            .body(Full::default())
            .unwrap(),
    )
    .await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        seen.try_recv().is_err(),
        "reserved paths never reach a Func"
    );
}
