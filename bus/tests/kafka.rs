//! The Kafka backend against a real Kafka-compatible broker on
//! 127.0.0.1:9092 (`scripts/test` starts tansu there).
//!
//! Each test works in its own random namespace and deletes its topics at
//! the end. The broker is never stopped here; the cluster fault suite
//! restarts it. Without a broker the tests say so and pass.
#![cfg(feature = "kafka")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/kafka.rs"]
mod common;
#[path = "kafka/tap.rs"]
mod tap;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{WAIT, assert_quiet, cleanup, next, publish_numbered};
use funcmesh_bus::{ConsumeOptions, Error, Message, QueueSpec, now_ms};

async fn take_bodies(consumer: &mut funcmesh_bus::Consumer, n: usize) -> BTreeSet<String> {
    let mut bodies = BTreeSet::new();
    for _ in 0..n {
        let d = next(consumer).await;
        bodies.insert(String::from_utf8(d.body.to_vec()).unwrap());
        d.ack().await.unwrap();
    }
    bodies
}

fn numbered(prefix: &str, n: usize) -> BTreeSet<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Waits until the queue's depth is `ready`.
async fn wait_depth(bus: &dyn funcmesh_bus::Bus, queue: &str, ready: u64) {
    let deadline = Instant::now() + WAIT;
    loop {
        let depth = bus.depth(queue).await.unwrap();
        if depth.ready == ready {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "depth stayed {depth:?}, not {ready}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn publish_consume_ack_and_the_commit_empties_the_queue() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    assert_eq!(bus.system(), "kafka");
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    publish_numbered(&*bus, "q", "m", 20).await;
    wait_depth(&*bus, "q", 20).await;
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let bodies = take_bodies(&mut c, 20).await;
    assert_eq!(bodies, numbered("m", 20));
    assert_quiet(&mut c, Duration::from_millis(500)).await;
    wait_depth(&*bus, "q", 0).await;
    cleanup(&ns).await;
}

#[tokio::test]
async fn a_dropped_delivery_comes_back_as_attempt_two_then_is_dead_lettered() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("dlq")).await.unwrap();
    bus.declare(&QueueSpec::work("q").dead_letter_after(3, "dlq"))
        .await
        .unwrap();
    bus.publish("q", Message::new("poison")).await.unwrap();
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let first = next(&mut c).await;
    assert_eq!(first.attempt, 1);
    drop(first);
    let second = next(&mut c).await;
    assert_eq!((second.attempt, &second.body[..]), (2, &b"poison"[..]));
    second.nack(true).await.unwrap();
    let third = next(&mut c).await;
    assert_eq!(third.attempt, 3);
    drop(third);
    let mut dead = bus.consume("dlq", ConsumeOptions::default()).await.unwrap();
    let letter = next(&mut dead).await;
    assert_eq!(&letter.body[..], b"poison");
    letter.ack().await.unwrap();
    assert_quiet(&mut c, Duration::from_secs(1)).await;
    cleanup(&ns).await;
}

#[tokio::test]
async fn a_rejected_message_goes_to_the_dead_letter_queue_at_once() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("dlq")).await.unwrap();
    bus.declare(&QueueSpec::work("q").dead_letter_after(5, "dlq"))
        .await
        .unwrap();
    bus.publish("q", Message::new("bad")).await.unwrap();
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    next(&mut c).await.nack(false).await.unwrap();
    let mut dead = bus.consume("dlq", ConsumeOptions::default()).await.unwrap();
    assert_eq!(&next(&mut dead).await.body[..], b"bad");
    cleanup(&ns).await;
}

#[tokio::test]
async fn another_process_knows_a_queues_limits_from_the_registry() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("dlq")).await.unwrap();
    bus.declare(&QueueSpec::work("q").dead_letter_after(2, "dlq"))
        .await
        .unwrap();
    // A second bus, as a runner that never declared the queue.
    let other = common::connected(&common::url(&ns)).await;
    other.publish("q", Message::new("x")).await.unwrap();
    let mut c = other.consume("q", ConsumeOptions::default()).await.unwrap();
    drop(next(&mut c).await);
    drop(next(&mut c).await);
    let mut dead = other
        .consume("dlq", ConsumeOptions::default())
        .await
        .unwrap();
    assert_eq!(&next(&mut dead).await.body[..], b"x");
    assert_quiet(&mut c, Duration::from_secs(1)).await;
    cleanup(&ns).await;
}

#[tokio::test]
async fn an_expired_message_is_never_delivered_nor_dead_lettered() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("dlq")).await.unwrap();
    bus.declare(&QueueSpec::work("q").dead_letter_after(1, "dlq"))
        .await
        .unwrap();
    bus.publish("q", Message::new("late").expires_at_ms(now_ms() + 200))
        .await
        .unwrap();
    let deadline = now_ms() + 60_000;
    bus.publish("q", Message::new("in time").expires_at_ms(deadline))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let d = next(&mut c).await;
    assert_eq!(
        (&d.body[..], d.expires_at_ms),
        (&b"in time"[..], Some(deadline))
    );
    d.ack().await.unwrap();
    assert_quiet(&mut c, Duration::from_secs(1)).await;
    wait_depth(&*bus, "q", 0).await;
    assert_eq!(bus.depth("dlq").await.unwrap().ready, 0);
    cleanup(&ns).await;
}

#[tokio::test]
async fn a_full_queue_answers_queue_full() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("q").max_len(3)).await.unwrap();
    publish_numbered(&*bus, "q", "m", 3).await;
    match bus.publish("q", Message::new("one too many")).await {
        Err(Error::QueueFull { limit: 3, .. }) => {}
        other => panic!("expected QueueFull, got {other:?}"),
    }
    // Taking messages makes room again once the depth is sampled anew.
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    take_bodies(&mut c, 3).await;
    let deadline = Instant::now() + WAIT;
    while bus.publish("q", Message::new("room")).await.is_err() {
        assert!(Instant::now() < deadline, "the queue stayed full");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cleanup(&ns).await;
}

#[tokio::test]
async fn undeclared_queues_are_unknown() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    for result in [
        bus.publish("nope", Message::new("x")).await.map(|_| ()),
        bus.consume("nope", ConsumeOptions::default())
            .await
            .map(|_| ()),
        bus.depth("nope").await.map(|_| ()),
    ] {
        assert!(
            matches!(result, Err(Error::UnknownQueue(ref q)) if q == "nope"),
            "{result:?}"
        );
    }
    cleanup(&ns).await;
}

#[tokio::test]
async fn competing_consumers_share_the_work_and_prefetch_bounds_each() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    let options = ConsumeOptions { prefetch: 2 };
    let mut a = bus.consume("q", options).await.unwrap();
    let mut b = bus.consume("q", options).await.unwrap();
    // Let both join the group before the work arrives.
    tokio::time::sleep(Duration::from_secs(3)).await;
    publish_numbered(&*bus, "q", "m", 40).await;
    // Each holds at most its prefetch while nothing is settled.
    let held_a = [next(&mut a).await, next(&mut a).await];
    assert_quiet(&mut a, Duration::from_millis(500)).await;
    drop(held_a.into_iter().map(|d| d.ack()).collect::<Vec<_>>());
    let mut seen = BTreeSet::new();
    let mut from = [0, 0];
    while seen.len() < 38 {
        tokio::select! {
            Some(Ok(d)) = a.next() => { from[0] += 1; seen.insert(d.body.clone()); d.ack().await.unwrap(); }
            Some(Ok(d)) = b.next() => { from[1] += 1; seen.insert(d.body.clone()); d.ack().await.unwrap(); }
            () = tokio::time::sleep(WAIT) => panic!("stalled at {} ({from:?})", seen.len()),
        }
    }
    assert!(from[1] > 0, "the second consumer got nothing: {from:?}");
    cleanup(&ns).await;
}

#[tokio::test]
async fn broadcasts_reach_every_listener_of_their_topic_only() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.broadcast("routes", "before".into()).await.unwrap();
    let mut one = bus.listen("routes").await.unwrap();
    let mut two = bus.listen("routes").await.unwrap();
    let mut other = bus.listen("stats").await.unwrap();
    bus.broadcast("routes", "table".into()).await.unwrap();
    for listener in [&mut one, &mut two] {
        let got = next(listener).await;
        assert_eq!(
            &got.body[..],
            b"table",
            "a listener sees only later broadcasts"
        );
        got.ack().await.unwrap();
    }
    assert_quiet(&mut other, Duration::from_millis(500)).await;
    cleanup(&ns).await;
}

#[tokio::test]
async fn a_broker_that_is_down_does_not_fail_connect_but_publish_fails_fast() {
    let url = "kafka://127.0.0.1:1?namespace=down";
    let started = Instant::now();
    let bus = funcmesh_bus::connect(url).await.unwrap();
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    let started_publish = Instant::now();
    let result = bus.publish("q", Message::new("x")).await;
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert!(started_publish.elapsed() < Duration::from_millis(100));
    assert!(started.elapsed() < Duration::from_secs(3));
    // A consumer started now waits for the broker.
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    assert_quiet(&mut c, Duration::from_millis(200)).await;
}

#[tokio::test]
async fn bad_urls_are_refused_with_a_reason() {
    for url in [
        "kafka://u:p@h:9092",
        "kafka://h:99999",
        "kafka://h?namespace=a/b",
    ] {
        match funcmesh_bus::connect(url).await {
            Err(Error::InvalidUrl(why)) => assert!(why.contains("kafka"), "{why}"),
            Err(other) => panic!("{url}: {other}"),
            Ok(_) => panic!("{url} was accepted"),
        }
    }
}

#[tokio::test]
async fn a_slow_consumer_keeps_its_delivery_without_redelivery() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    bus.publish("q", Message::new("long")).await.unwrap();
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let held = next(&mut c).await;
    // Kafka has no ack deadline: held past the session timeout, the message
    // stays with this consumer and nothing else is delivered.
    assert_quiet(&mut c, Duration::from_secs(8)).await;
    held.ack().await.unwrap();
    wait_depth(&*bus, "q", 0).await;
    cleanup(&ns).await;
}
