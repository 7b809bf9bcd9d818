//! Taps on Kafka: readers of a queue's topic outside its group.

use funcmesh_bus::{ConsumeOptions, QueueSpec};

use super::common::{self, WAIT, assert_quiet, cleanup, next};

#[tokio::test]
async fn a_tap_copies_every_message_and_takes_none() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    common::tap_copies_without_taking(&*bus, "q", WAIT).await;
    common::tap_on_an_undeclared_queue_is_unknown(&*bus).await;
    cleanup(&ns).await;
}

#[tokio::test]
async fn a_given_back_message_is_copied_once() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    let mut tap = bus.tap("q").await.unwrap();
    let mut consumer = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    bus.publish("q", funcmesh_bus::Message::new("once"))
        .await
        .unwrap();
    next(&mut consumer).await.nack(true).await.unwrap();
    let again = next(&mut consumer).await;
    assert_eq!((again.body.as_ref(), again.attempt), (&b"once"[..], 2));
    again.ack().await.unwrap();
    assert_eq!(next(&mut tap).await.body, "once");
    assert_quiet(&mut tap, std::time::Duration::from_secs(1)).await;
    cleanup(&ns).await;
}
