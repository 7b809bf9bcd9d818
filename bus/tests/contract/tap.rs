//! Taps: a copy of a work queue's traffic, taking nothing from it.

use std::time::Duration;

use funcmesh_bus::{ConsumeOptions, Error, Message, QueueDepth, QueueSpec};

use super::{Backend, Run};
use crate::common::{assert_quiet, numbered, publish_numbered, take};

/// On an empty, declared queue: a tap sees every message published after
/// it started and none from before, the queue keeps every message (its
/// depth counts them and its consumer gets them all), and consuming makes
/// no copies.
pub async fn a_tap_copies_every_message_and_takes_none<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let (bus, wait) = (&run.bus, B::SHAPE.wait);
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    bus.publish("q", Message::new("before")).await.unwrap();
    let mut tap = bus.tap("q").await.unwrap();
    publish_numbered(&**bus, "q", "m", 10).await;
    let mut copies = take(&mut tap, 10, wait).await;
    assert_quiet(&mut tap, Duration::from_millis(500)).await;
    run.depth_becomes(
        "q",
        QueueDepth {
            ready: 11,
            unacked: 0,
        },
    )
    .await;
    let mut consumer = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let mut taken = take(&mut consumer, 11, wait).await;
    let mut expected = numbered("m", 10);
    let mut all = vec!["before".to_owned()];
    all.extend(numbered("m", 10));
    if !B::SHAPE.ordered {
        for bodies in [&mut copies, &mut expected, &mut taken, &mut all] {
            bodies.sort();
        }
    }
    assert_eq!(copies, expected);
    assert_eq!(taken, all);
    assert_quiet(&mut tap, Duration::from_millis(300)).await;
    run.finish().await;
}

pub async fn a_tap_on_an_undeclared_queue_is_unknown<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let err = run.bus.tap("never-declared").await.unwrap_err();
    assert!(
        matches!(&err, Error::UnknownQueue(q) if q == "never-declared"),
        "{err}"
    );
    run.finish().await;
}

/// A message given back and delivered again was published once: one copy.
pub async fn a_given_back_message_is_copied_once<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    let mut tap = bus.tap("q").await.unwrap();
    let mut consumer = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    bus.publish("q", Message::new("once")).await.unwrap();
    run.next(&mut consumer).await.nack(true).await.unwrap();
    let again = run.next(&mut consumer).await;
    assert_eq!((&again.bytes()[..], again.attempt), (&b"once"[..], 2));
    again.ack().await.unwrap();
    assert_eq!(run.next(&mut tap).await.bytes(), "once");
    assert_quiet(&mut tap, Duration::from_secs(1)).await;
    run.finish().await;
}
