use std::time::Duration;

use funcmesh_bus::inproc::InProcBus;
use funcmesh_bus::{ConsumeOptions, QueueSpec, now_ms};
use funcmesh_core::queues;

use super::*;
use crate::Registry;
use crate::test_support::{bundle, request};

struct Setup {
    bus: InProcBus,
    registry: Registry,
    queue: String,
}

async fn setup(func_queue_len: Option<usize>) -> Setup {
    let bus = InProcBus::new();
    let registry = Registry::new();
    registry
        .install(bundle(
            "pets",
            Some("api.example.com"),
            "/pets",
            "hash-pets",
        ))
        .unwrap();
    let queue = queues::func_queue(Some("api.example.com"), "/pets");
    let mut spec = QueueSpec::work(&queue);
    spec.max_len = func_queue_len;
    bus.declare(&spec).await.unwrap();
    bus.declare(&QueueSpec::work("firehose")).await.unwrap();
    bus.declare(&QueueSpec::reply("reply.test")).await.unwrap();
    let dispatcher = Dispatcher::new(Arc::new(bus.clone()), registry.subscribe());
    tokio::spawn(async move { dispatcher.serve("firehose", std::future::pending()).await });
    Setup {
        bus,
        registry,
        queue,
    }
}

async fn take(bus: &InProcBus, queue: &str) -> Vec<u8> {
    let mut c = bus.consume(queue, ConsumeOptions::default()).await.unwrap();
    let d = tokio::time::timeout(Duration::from_secs(5), c.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let body = d.bytes().to_vec();
    d.ack().await.unwrap();
    body
}

async fn send(bus: &InProcBus, env: &RequestEnvelope) {
    bus.publish("firehose", Message::new(env.encode()))
        .await
        .unwrap();
}

#[tokio::test]
async fn routed_requests_reach_the_func_queue_stamped_with_the_bundle() {
    let s = setup(None).await;
    send(&s.bus, &request("api.example.com", "/pets/7")).await;
    let fwd = RequestEnvelope::decode(&take(&s.bus, &s.queue).await).unwrap();
    assert_eq!(fwd.bundle.as_deref(), Some("hash-pets"));
    assert_eq!(fwd.path, "/pets/7");
    assert_eq!(
        s.bus.depth("firehose").await.unwrap().unacked,
        0,
        "acked after forwarding"
    );
}

#[tokio::test]
async fn unknown_routes_are_answered_404_on_the_reply_queue() {
    let s = setup(None).await;
    send(&s.bus, &request("api.example.com", "/petsitters")).await;
    let resp = ResponseEnvelope::decode(&take(&s.bus, "reply.test").await).unwrap();
    assert_eq!(resp.status, 404);
    assert_eq!(resp.id, "req-/petsitters");
    let body: serde_json::Value = serde_json::from_slice(resp.body.as_bytes()).unwrap();
    assert_eq!(body["error"], "no Func serves api.example.com/petsitters");
    send(&s.bus, &request("unknown.example.com", "/pets")).await;
    assert_eq!(
        ResponseEnvelope::decode(&take(&s.bus, "reply.test").await)
            .unwrap()
            .status,
        404
    );
}

#[tokio::test]
async fn a_description_request_on_the_firehose_is_answered_not_routed() {
    let s = setup(None).await;
    let mut asked = request("api.example.com", "/pets/7");
    asked.describe = Some(funcmesh_core::envelope::Describe::OpenApi);
    send(&s.bus, &asked).await;
    let resp = ResponseEnvelope::decode(&take(&s.bus, "reply.test").await).unwrap();
    assert_eq!(resp.status, 503);
    assert_eq!(
        s.bus.depth(&s.queue).await.unwrap().ready,
        0,
        "not forwarded"
    );
}

#[tokio::test]
async fn a_full_func_queue_answers_503() {
    let s = setup(Some(1)).await;
    send(&s.bus, &request("api.example.com", "/pets/1")).await;
    send(&s.bus, &request("api.example.com", "/pets/2")).await;
    let resp = ResponseEnvelope::decode(&take(&s.bus, "reply.test").await).unwrap();
    assert_eq!(resp.status, 503);
    assert_eq!(resp.id, "req-/pets/2");
    assert_eq!(
        s.bus.depth(&s.queue).await.unwrap().ready,
        1,
        "the first one waits, nothing lost"
    );
}

#[tokio::test]
async fn expired_requests_are_not_forwarded() {
    let s = setup(None).await;
    let mut late = request("api.example.com", "/pets/late");
    late.deadline_ms = now_ms() - 1;
    send(&s.bus, &late).await;
    send(&s.bus, &request("api.example.com", "/pets/fresh")).await;
    let fwd = RequestEnvelope::decode(&take(&s.bus, &s.queue).await).unwrap();
    assert_eq!(fwd.path, "/pets/fresh");
}

#[tokio::test]
async fn route_changes_apply_to_the_next_request() {
    let s = setup(None).await;
    s.registry
        .install(bundle(
            "pets",
            Some("api.example.com"),
            "/pets",
            "hash-pets-v2",
        ))
        .unwrap();
    send(&s.bus, &request("api.example.com", "/pets")).await;
    let fwd = RequestEnvelope::decode(&take(&s.bus, &s.queue).await).unwrap();
    assert_eq!(fwd.bundle.as_deref(), Some("hash-pets-v2"));
}

#[tokio::test]
async fn garbage_is_dead_lettered_not_retried_forever() {
    let bus = InProcBus::new();
    bus.declare(&QueueSpec::work("firehose").dead_letter_after(5, "dead"))
        .await
        .unwrap();
    bus.declare(&QueueSpec::work("dead")).await.unwrap();
    let registry = Registry::new();
    let dispatcher = Dispatcher::new(Arc::new(bus.clone()), registry.subscribe());
    tokio::spawn(async move { dispatcher.serve("firehose", std::future::pending()).await });
    bus.publish("firehose", Message::new("not an envelope"))
        .await
        .unwrap();
    assert_eq!(take(&bus, "dead").await, b"not an envelope");
}
