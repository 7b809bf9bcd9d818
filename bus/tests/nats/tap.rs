//! Taps on NATS: core subscriptions on a work queue's subject.

use std::time::Duration;

use funcmesh_bus::{Error, Message, QueueSpec};

use super::common::{self, assert_quiet, cleanup, next};

#[tokio::test]
async fn a_tap_copies_every_message_and_takes_none() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    common::tap_copies_without_taking(&*bus, "q", Duration::from_secs(5)).await;
    common::tap_on_an_undeclared_queue_is_unknown(&*bus).await;
    cleanup(&ns).await;
}

#[tokio::test]
async fn a_full_queue_still_answers_queue_full_with_a_tap() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("q").max_len(1)).await.unwrap();
    let mut tap = bus.tap("q").await.unwrap();
    bus.publish("q", Message::new("1")).await.unwrap();
    let err = bus.publish("q", Message::new("2")).await.unwrap_err();
    assert!(
        matches!(&err, Error::QueueFull { queue, .. } if queue == "q"),
        "{err}"
    );
    assert_eq!(next(&mut tap).await.body, "1");
    // The subject carried the refused message too.
    assert_eq!(next(&mut tap).await.body, "2");
    assert_quiet(&mut tap, Duration::from_millis(300)).await;
    cleanup(&ns).await;
}

#[tokio::test]
async fn a_reply_queue_cannot_be_tapped() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::reply("reply.g1")).await.unwrap();
    let _replies = bus.consume("reply.g1", Default::default()).await.unwrap();
    let err = bus.tap("reply.g1").await.unwrap_err();
    assert!(
        matches!(&err, Error::UnknownQueue(q) if q == "reply.g1"),
        "{err}"
    );
    cleanup(&ns).await;
}
