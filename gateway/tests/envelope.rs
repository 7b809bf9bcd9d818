//! What the gateway puts in the envelope, and what it answers with.

mod common;

use bytes::Bytes;
use common::{Mode, TestGateway, backend, client, get, next_seen, send};
use funcmesh_gateway::GatewayConfig;
use http::{Request, StatusCode};
use http_body_util::Full;

#[tokio::test]
async fn the_envelope_carries_the_request() {
    let gw = TestGateway::start(GatewayConfig::default()).await;
    let mut seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Echo).await;
    let request = Request::post(gw.url("/api/pets%20x?b=2&a=1"))
        .header("host", "Shop.Example.COM:8443")
        .header("content-type", "application/json")
        .header("accept", "text/plain")
        .header("x-tag", "one")
        .header("x-tag", "two")
        .header("accept", "application/json")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .header("tracestate", "vendor=1")
        .body(Full::from(r#"{"name": "rex", "tags": [1, 2]}"#))
        .unwrap();
    let answer = send(&client(), request).await;
    assert_eq!(answer.status, StatusCode::OK);
    let echo = answer.json();
    assert_eq!(echo["method"], "POST");
    assert_eq!(echo["scheme"], "http");
    assert_eq!(echo["host"], "shop.example.com");
    assert_eq!(echo["path"], "/api/pets%20x");
    assert_eq!(echo["query"], "b=2&a=1");
    assert_eq!(echo["encoding"], "json");
    assert_eq!(
        echo["body"]["json"],
        serde_json::json!({"name": "rex", "tags": [1, 2]})
    );
    assert_eq!(
        echo["trace"]["traceparent"],
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    );
    assert_eq!(echo["trace"]["tracestate"], "vendor=1");
    assert_eq!(echo["reply_to"], gw.gateway.reply_queue());
    assert!(
        echo["remote_addr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );

    let headers: Vec<(String, String)> = serde_json::from_value(echo["headers"].clone()).unwrap();
    let values = |name: &str| {
        headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(values("x-tag"), ["one", "two"]);
    assert_eq!(values("accept"), ["text/plain", "application/json"]);
    assert!(headers.iter().all(|(k, _)| k == &k.to_ascii_lowercase()));

    // The JSON body travelled inline, as JSON, not as a string or base64.
    let envelope = next_seen(&mut seen).await.envelope;
    assert_eq!(envelope.body.encoding(), "json");
    assert_eq!(
        envelope.body.as_bytes(),
        br#"{"name": "rex", "tags": [1, 2]}"#
    );
    let deadline_in = envelope.deadline_ms.saturating_sub(funcmesh_bus::now_ms());
    assert!(
        (25_000..=30_000).contains(&deadline_in),
        "deadline {deadline_in} ms away"
    );
}

#[tokio::test]
async fn hop_by_hop_headers_stay_behind() {
    let gw = TestGateway::start(GatewayConfig::default()).await;
    let _seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Echo).await;
    let request = Request::get(gw.url("/x"))
        .header("connection", "keep-alive, x-secret")
        .header("x-secret", "hop")
        .header("keep-alive", "timeout=5")
        .header("proxy-authorization", "Basic Zm9v")
        .header("x-kept", "yes")
        .body(Full::default())
        .unwrap();
    let echo = send(&client(), request).await.json();
    let names: Vec<String> = echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_str().unwrap().to_owned())
        .collect();
    assert!(names.contains(&"x-kept".to_owned()), "{names:?}");
    for dropped in [
        "connection",
        "x-secret",
        "keep-alive",
        "proxy-authorization",
    ] {
        assert!(
            !names.contains(&dropped.to_owned()),
            "{dropped} forwarded: {names:?}"
        );
    }
}

#[tokio::test]
async fn binary_bodies_round_trip_byte_exact() {
    let gw = TestGateway::start(GatewayConfig::default()).await;
    let mut seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Echo).await;
    let bytes: Vec<u8> = (0..=255u8)
        .cycle()
        .take(70_000)
        .chain([0xff, 0x00, 0xc3])
        .collect();
    let request = Request::put(gw.url("/raw/blob"))
        .header("content-type", "application/octet-stream")
        .body(Full::from(bytes.clone()))
        .unwrap();
    let answer = send(&client(), request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("x-echo-encoding"), Some("base64"));
    assert_eq!(
        answer.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(answer.body, Bytes::from(bytes.clone()));
    assert_eq!(
        next_seen(&mut seen).await.envelope.body.as_bytes(),
        &bytes[..]
    );
}

#[tokio::test]
async fn text_stays_text_and_invalid_utf8_text_becomes_base64() {
    let gw = TestGateway::start(GatewayConfig::default()).await;
    let _seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Echo).await;
    let text = Request::post(gw.url("/raw/t"))
        .header("content-type", "text/plain; charset=utf-8")
        .body(Full::from("héllo"))
        .unwrap();
    let answer = send(&client(), text).await;
    assert_eq!(
        (answer.header("x-echo-encoding"), &answer.body[..]),
        (Some("text"), "héllo".as_bytes())
    );
    let latin1 = Request::post(gw.url("/raw/t"))
        .header("content-type", "text/plain")
        .body(Full::from(vec![0x68, 0xe9]))
        .unwrap();
    let answer = send(&client(), latin1).await;
    assert_eq!(
        (answer.header("x-echo-encoding"), &answer.body[..]),
        (Some("base64"), &[0x68, 0xe9][..])
    );
}

#[tokio::test]
async fn request_ids_pass_through_or_are_generated() {
    let gw = TestGateway::start(GatewayConfig::default()).await;
    let mut seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Echo).await;
    let client = client();

    let mine = Request::get(gw.url("/a"))
        .header("x-request-id", "client-id-42")
        .body(Full::default())
        .unwrap();
    let answer = send(&client, mine).await;
    assert_eq!(answer.header("x-request-id"), Some("client-id-42"));
    assert_eq!(next_seen(&mut seen).await.envelope.id, "client-id-42");

    let too_long = "x".repeat(129);
    for bad in [None, Some(too_long.as_str()), Some("has space")] {
        let mut request = Request::get(gw.url("/a"));
        if let Some(bad) = bad {
            request = request.header("x-request-id", bad);
        }
        let answer = send(&client, request.body(Full::default()).unwrap()).await;
        let id = answer.header("x-request-id").unwrap().to_owned();
        assert_eq!(uuid::Uuid::parse_str(&id).unwrap().get_version_num(), 7);
        assert_eq!(next_seen(&mut seen).await.envelope.id, id);
    }
}

#[tokio::test]
async fn the_reply_is_answered_as_sent_with_the_bundle_named() {
    let gw = TestGateway::start(GatewayConfig::default()).await;
    let mut seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Silent).await;
    let client = client();
    let pending = tokio::spawn({
        let url = gw.url("/thing");
        async move { send(&client, Request::get(url).body(Full::default()).unwrap()).await }
    });
    let envelope = next_seen(&mut seen).await.envelope;
    let mut response = funcmesh_core::ResponseEnvelope::new(&envelope.id, 418);
    response.headers = vec![
        ("content-type".into(), "text/plain".into()),
        ("x-custom".into(), "1".into()),
        ("x-custom".into(), "2".into()),
        ("content-length".into(), "9999".into()),
        ("transfer-encoding".into(), "chunked".into()),
    ];
    response.body = funcmesh_core::Body::Text("short and stout".into());
    response.bundle =
        Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into());
    common::reply(&gw.bus, &envelope, response).await;

    let answer = pending.await.unwrap();
    assert_eq!(answer.status, StatusCode::IM_A_TEAPOT);
    assert_eq!(&answer.body[..], b"short and stout");
    assert_eq!(
        answer.header("content-length"),
        Some("15"),
        "hyper frames the body, not the Func"
    );
    assert_eq!(
        answer
            .headers
            .get_all("x-custom")
            .iter()
            .collect::<Vec<_>>(),
        ["1", "2"]
    );
    assert_eq!(answer.header("x-funcmesh-bundle"), Some("9f86d081884c"));
    assert_eq!(answer.header("x-request-id"), Some(envelope.id.as_str()));
}

#[tokio::test]
async fn an_unparsable_host_is_400_and_never_published() {
    let gw = TestGateway::start(GatewayConfig::default()).await;
    let mut seen = backend(&gw.bus, &gw.gateway.config().firehose, Mode::Echo).await;
    let request = Request::get(gw.url("/a"))
        .header("host", "bad host!")
        .header("x-request-id", "r-400")
        .body(Full::default())
        .unwrap();
    let answer = send(&client(), request).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.json()["request_id"], "r-400");
    assert!(answer.json()["error"].as_str().unwrap().contains("Host"));
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert!(seen.try_recv().is_err());
    // The gateway keeps serving.
    assert_eq!(get(&client(), &gw.url("/a")).await.status, StatusCode::OK);
}
