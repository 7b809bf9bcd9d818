//! Names on NATS subjects: queue names that would be wildcards, listened
//! topics that are, and taps as core subscriptions on a queue's subject.

use std::time::Duration;

use bytes::Bytes;
use funcmesh_bus::{Error, Message, QueueSpec};

use crate::Nats;
use crate::common::assert_quiet;
use crate::contract::Run;

#[tokio::test]
async fn queue_names_that_would_be_wildcards_are_names_like_any_other() {
    let Some(run) = Run::<Nats>::start().await else {
        return;
    };
    let bus = &run.bus;
    for name in ["*", ">", "a.*", "a b"] {
        let err = bus.publish(name, Message::new("x")).await.unwrap_err();
        assert!(matches!(err, Error::UnknownQueue(_)), "{name}: {err}");
    }
    bus.declare(&QueueSpec::work("a.*")).await.unwrap();
    let err = bus.publish("a.b", Message::new("x")).await.unwrap_err();
    assert!(
        matches!(err, Error::UnknownQueue(_)),
        "a.* is no wildcard: {err}"
    );
    bus.publish("a.*", Message::new("x")).await.unwrap();
    run.finish().await;
}

#[tokio::test]
async fn a_listened_star_is_a_wildcard_and_a_broadcast_one_is_not() {
    let Some(run) = Run::<Nats>::start().await else {
        return;
    };
    let mut any_runner = run.bus.listen("runner.*").await.unwrap();
    run.bus
        .broadcast("runner.stats", Bytes::from("s"))
        .await
        .unwrap();
    assert_eq!(run.next(&mut any_runner).await.bytes(), "s");
    run.bus
        .broadcast("runner.*", Bytes::from("star"))
        .await
        .unwrap();
    assert_eq!(run.next(&mut any_runner).await.bytes(), "star");
    run.finish().await;
}

/// The subject carries a message the queue refuses too: the tap sees it
/// (the in-process bus copies only what the queue took).
#[tokio::test]
async fn a_full_queue_still_answers_queue_full_with_a_tap() {
    let Some(run) = Run::<Nats>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("q").max_len(1)).await.unwrap();
    let mut tap = bus.tap("q").await.unwrap();
    bus.publish("q", Message::new("1")).await.unwrap();
    let err = bus.publish("q", Message::new("2")).await.unwrap_err();
    assert!(
        matches!(&err, Error::QueueFull { queue, .. } if queue == "q"),
        "{err}"
    );
    assert_eq!(run.next(&mut tap).await.bytes(), "1");
    assert_eq!(run.next(&mut tap).await.bytes(), "2");
    assert_quiet(&mut tap, Duration::from_millis(300)).await;
    run.finish().await;
}

#[tokio::test]
async fn a_reply_queue_cannot_be_tapped() {
    let Some(run) = Run::<Nats>::start().await else {
        return;
    };
    run.bus
        .declare(&QueueSpec::reply("reply.g1"))
        .await
        .unwrap();
    let _replies = run
        .bus
        .consume("reply.g1", Default::default())
        .await
        .unwrap();
    let err = run.bus.tap("reply.g1").await.unwrap_err();
    assert!(
        matches!(&err, Error::UnknownQueue(q) if q == "reply.g1"),
        "{err}"
    );
    run.finish().await;
}
