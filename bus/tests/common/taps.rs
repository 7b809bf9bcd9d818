//! The promises of [`Bus::tap`], checked the same way on every broker.

#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is a failed test

use std::collections::BTreeSet;
use std::time::Duration;

use funcmesh_bus::{Bus, ConsumeOptions, Consumer, Error, Message};

use super::deliveries::{assert_quiet, next_within, publish_numbered};

/// The bodies of the next `n` deliveries, each acknowledged.
pub async fn take_set(consumer: &mut Consumer, n: usize, wait: Duration) -> BTreeSet<String> {
    let mut bodies = BTreeSet::new();
    for _ in 0..n {
        let delivery = next_within(consumer, wait).await;
        bodies.insert(String::from_utf8(delivery.body.to_vec()).unwrap());
        delivery.ack().await.unwrap();
    }
    bodies
}

/// On an empty, declared `queue`: a tap sees every message published after
/// it started and none from before, the queue keeps every message (its
/// depth counts them and its consumer gets them all), and consuming makes
/// no copies.
pub async fn tap_copies_without_taking(bus: &dyn Bus, queue: &str, wait: Duration) {
    bus.publish(queue, Message::new("before")).await.unwrap();
    let mut tap = bus.tap(queue).await.unwrap();
    publish_numbered(bus, queue, "m", 10).await;
    let expected: BTreeSet<String> = (0..10).map(|i| format!("m{i}")).collect();
    assert_eq!(take_set(&mut tap, 10, wait).await, expected);
    assert_quiet(&mut tap, Duration::from_millis(500)).await;
    assert_eq!(bus.depth(queue).await.unwrap().ready, 11, "nothing taken");
    let mut consumer = bus.consume(queue, ConsumeOptions::default()).await.unwrap();
    let mut all = expected;
    all.insert("before".to_owned());
    assert_eq!(take_set(&mut consumer, 11, wait).await, all);
    assert_quiet(&mut tap, Duration::from_millis(300)).await;
}

/// A tap on a queue nobody declared fails at once.
pub async fn tap_on_an_undeclared_queue_is_unknown(bus: &dyn Bus) {
    let err = bus.tap("never-declared").await.unwrap_err();
    assert!(
        matches!(&err, Error::UnknownQueue(q) if q == "never-declared"),
        "{err}"
    );
}
