use std::time::Duration;

use funcmesh_bus::inproc::InProcBus;
use funcmesh_bus::{ConsumeOptions, Consumer, QueueSpec};
use funcmesh_core::queues;

use super::*;
use crate::test_support::request;

const FUNC: &str = "funcmesh.func.test";

async fn setup() -> (Arc<dyn Bus>, Consumer, Consumer) {
    let bus: Arc<dyn Bus> = Arc::new(InProcBus::new());
    for spec in [
        QueueSpec::work(queues::DEAD_LETTER),
        QueueSpec::work(queues::PARKED),
        QueueSpec::reply("reply.test"),
        QueueSpec::work(FUNC).dead_letter_after(2, queues::DEAD_LETTER),
    ] {
        bus.declare(&spec).await.unwrap();
    }
    let dead = DeadLetters::new(Arc::clone(&bus), queues::PARKED);
    tokio::spawn(async move {
        dead.serve(queues::DEAD_LETTER, std::future::pending())
            .await
    });
    let replies = bus
        .consume("reply.test", ConsumeOptions::default())
        .await
        .unwrap();
    let parked = bus
        .consume(queues::PARKED, ConsumeOptions::default())
        .await
        .unwrap();
    (bus, replies, parked)
}

/// Takes the request off the Func queue and drops it unsettled, as a
/// runner that dies mid-request does, until the delivery limit runs out.
async fn crash_on_every_delivery(bus: &Arc<dyn Bus>, deliveries: u32) {
    let mut runner = bus.consume(FUNC, ConsumeOptions::default()).await.unwrap();
    for attempt in 1..=deliveries {
        let delivery = runner.next().await.unwrap().unwrap();
        assert_eq!(delivery.attempt, attempt);
        drop(delivery);
    }
}

async fn next(consumer: &mut Consumer) -> Option<Delivery> {
    tokio::time::timeout(Duration::from_millis(500), consumer.next())
        .await
        .ok()
        .flatten()
        .map(Result::unwrap)
}

#[tokio::test]
async fn a_poison_request_is_answered_502_and_parked() {
    let (bus, mut replies, mut parked) = setup().await;
    let poison = request("a.com", "/crash");
    bus.publish(FUNC, Message::new(poison.encode()))
        .await
        .unwrap();
    crash_on_every_delivery(&bus, 2).await;

    let reply = next(&mut replies).await.expect("the client is answered");
    let reply = ResponseEnvelope::decode(&reply.bytes()).unwrap();
    assert_eq!((reply.id.as_str(), reply.status), (poison.id.as_str(), 502));
    let kept = next(&mut parked).await.expect("the dead letter is parked");
    assert_eq!(
        RequestEnvelope::decode(&kept.bytes()).unwrap().id,
        poison.id
    );
}

#[tokio::test]
async fn an_expired_dead_letter_is_dropped_unanswered() {
    let (bus, mut replies, mut parked) = setup().await;
    let mut late = request("a.com", "/late");
    late.deadline_ms = now_ms().saturating_sub(1);
    bus.publish(queues::DEAD_LETTER, Message::new(late.encode()))
        .await
        .unwrap();
    assert!(next(&mut replies).await.is_none());
    assert!(next(&mut parked).await.is_none());
}

#[tokio::test]
async fn an_undecodable_dead_letter_is_parked_as_it_came() {
    let (bus, mut replies, mut parked) = setup().await;
    bus.publish(queues::DEAD_LETTER, Message::new(&b"not an envelope"[..]))
        .await
        .unwrap();
    let kept = next(&mut parked).await.expect("parked");
    assert_eq!(&kept.bytes()[..], b"not an envelope");
    assert!(next(&mut replies).await.is_none());
}
