//! The NATS backend against a real nats-server (JetStream enabled) on
//! 127.0.0.1:4222.
//!
//! Each test works in its own random namespace and deletes its streams at
//! the end, so runs never see each other's queues and the shared server
//! does not fill up. The server is never stopped: connection losses go
//! through a proxy. Without a server the tests say so and pass.
#![cfg(feature = "nats")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/nats.rs"]
mod common;
#[path = "nats/tap.rs"]
mod tap;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{
    Proxy, assert_quiet, cleanup, namespace, next, next_within, publish_numbered, server_up,
};
use funcmesh_bus::{ConsumeOptions, Error, Message, QueueDepth, QueueSpec, now_ms};

/// The server's ack wait: how soon a dead consumer's deliveries come back.
const ACK_WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn publish_consume_ack_in_order() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    assert_eq!(bus.system(), "nats");
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    publish_numbered(&*bus, "q", "m", 5).await;
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    for i in 0..5 {
        let d = next(&mut c).await;
        assert_eq!(d.body, format!("m{i}"));
        assert_eq!(d.attempt, 1);
        assert_eq!(d.expires_at_ms, None);
        d.ack().await.unwrap();
    }
    assert_quiet(&mut c, Duration::from_millis(300)).await;
    assert_eq!(bus.depth("q").await.unwrap(), QueueDepth::default());
    cleanup(&ns).await;
}

#[tokio::test]
async fn a_transient_queue_lives_in_memory_and_works_the_same() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    let spec = QueueSpec {
        durable: false,
        ..QueueSpec::work("funcmesh.func.0123abcd")
    };
    bus.declare(&spec).await.unwrap();
    publish_numbered(&*bus, &spec.name, "m", 3).await;
    let mut c = bus
        .consume(&spec.name, ConsumeOptions::default())
        .await
        .unwrap();
    for i in 0..3 {
        let d = next(&mut c).await;
        assert_eq!(d.body, format!("m{i}"));
        d.ack().await.unwrap();
    }
    assert_eq!(common::streams_of(&ns).await, 1);
    cleanup(&ns).await;
    assert_eq!(
        common::streams_of(&ns).await,
        0,
        "cleanup deletes the streams"
    );
}

#[tokio::test]
async fn a_dropped_delivery_comes_back_as_attempt_two() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    bus.publish("q", Message::new("once more")).await.unwrap();
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let first = next(&mut c).await;
    assert_eq!(first.attempt, 1);
    drop(first);
    let again = next_within(&mut c, Duration::from_secs(2)).await;
    assert_eq!(again.body, "once more");
    assert_eq!(again.attempt, 2);
    again.ack().await.unwrap();
    assert_quiet(&mut c, Duration::from_millis(300)).await;
    cleanup(&ns).await;
}

/// A consumer whose prefetch is all held has no pull request waiting when
/// it gives a delivery back: the message still comes back at once (maybe
/// after a message that was ready), once, and nothing else is disturbed
/// (nats-server 2.9 loses or duplicates messages given back while no pull
/// request waits).
#[tokio::test]
async fn a_consumer_at_its_prefetch_gives_back_at_once() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    publish_numbered(&*bus, "q", "", 3).await;
    let mut c = bus
        .consume("q", ConsumeOptions { prefetch: 1 })
        .await
        .unwrap();
    // "0" is given back twice (rejected, then dropped), the others acked.
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let d = next_within(&mut c, Duration::from_secs(1)).await;
        seen.push((String::from_utf8(d.body.to_vec()).unwrap(), d.attempt));
        match (&d.body[..], d.attempt) {
            (b"0", 1) => d.nack(true).await.unwrap(),
            (b"0", 2) => drop(d),
            _ => d.ack().await.unwrap(),
        }
    }
    let zeros: Vec<u32> = seen
        .iter()
        .filter(|(body, _)| body == "0")
        .map(|(_, attempt)| *attempt)
        .collect();
    assert_eq!(zeros, [1, 2, 3], "{seen:?}");
    for other in ["1", "2"] {
        let attempts: Vec<u32> = seen
            .iter()
            .filter(|(body, _)| body == other)
            .map(|(_, attempt)| *attempt)
            .collect();
        assert_eq!(attempts, [1], "{seen:?}");
    }
    assert_quiet(&mut c, Duration::from_millis(300)).await;
    assert_eq!(bus.depth("q").await.unwrap(), QueueDepth::default());
    cleanup(&ns).await;
}

#[tokio::test]
async fn an_expired_message_is_never_delivered_nor_dead_lettered() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("dead")).await.unwrap();
    bus.declare(&QueueSpec::work("q").dead_letter_after(3, "dead"))
        .await
        .unwrap();
    bus.publish("q", Message::new("stale").expires_at_ms(now_ms() + 100))
        .await
        .unwrap();
    let fresh_until = now_ms() + 60_000;
    bus.publish("q", Message::new("fresh").expires_at_ms(fresh_until))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let d = next(&mut c).await;
    assert_eq!(d.body, "fresh");
    assert_eq!(d.expires_at_ms, Some(fresh_until));
    d.ack().await.unwrap();
    assert_quiet(&mut c, Duration::from_millis(300)).await;
    let mut dead = bus
        .consume("dead", ConsumeOptions::default())
        .await
        .unwrap();
    assert_quiet(&mut dead, Duration::from_millis(300)).await;
    // The stale one was acknowledged, not left behind.
    assert_eq!(bus.depth("q").await.unwrap(), QueueDepth::default());
    cleanup(&ns).await;
}

#[tokio::test]
async fn a_full_queue_answers_queue_full() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("q").max_len(2)).await.unwrap();
    bus.publish("q", Message::new("1")).await.unwrap();
    bus.publish("q", Message::new("2")).await.unwrap();
    let err = bus.publish("q", Message::new("3")).await.unwrap_err();
    assert!(
        matches!(err, Error::QueueFull { ref queue, limit: 2 } if queue == "q"),
        "{err}"
    );
    assert_eq!(bus.depth("q").await.unwrap().ready, 2);
    let mut c = bus
        .consume("q", ConsumeOptions { prefetch: 1 })
        .await
        .unwrap();
    next(&mut c).await.ack().await.unwrap();
    // The acknowledgement travels apart from the publish: allow it to land.
    let start = Instant::now();
    while let Err(err) = bus.publish("q", Message::new("4")).await {
        assert!(matches!(err, Error::QueueFull { .. }), "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "still full after an ack"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Another process, which did not declare the queue, learns the limit
    // from the server.
    let other = common::bus(&ns).await;
    let err = other.publish("q", Message::new("5")).await.unwrap_err();
    assert!(matches!(err, Error::QueueFull { limit: 2, .. }), "{err}");

    // A queue of length 0 takes nothing.
    bus.declare(&QueueSpec::work("none").max_len(0))
        .await
        .unwrap();
    let err = bus.publish("none", Message::new("x")).await.unwrap_err();
    assert!(
        matches!(err, Error::QueueFull { ref queue, limit: 0 } if queue == "none"),
        "{err}"
    );
    cleanup(&ns).await;
}

#[tokio::test]
async fn declaring_again_is_harmless_and_other_limits_keep_the_queue() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("q").max_len(1)).await.unwrap();
    bus.publish("q", Message::new("kept")).await.unwrap();
    bus.declare(&QueueSpec::work("q").max_len(1)).await.unwrap();
    // Other limits: logged, and the queue stays as it was, message and all.
    bus.declare(&QueueSpec::work("q").max_len(5)).await.unwrap();
    let err = bus.publish("q", Message::new("x")).await.unwrap_err();
    assert!(matches!(err, Error::QueueFull { .. }), "{err}");
    assert_eq!(bus.depth("q").await.unwrap().ready, 1);
    cleanup(&ns).await;
}

#[tokio::test]
async fn undeclared_queues_are_unknown() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    let err = bus.publish("nope", Message::new("x")).await.unwrap_err();
    assert!(
        matches!(err, Error::UnknownQueue(ref q) if q == "nope"),
        "{err}"
    );
    let err = bus.depth("nope").await.unwrap_err();
    assert!(
        matches!(err, Error::UnknownQueue(ref q) if q == "nope"),
        "{err}"
    );
    let err = bus
        .consume("nope", ConsumeOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::UnknownQueue(ref q) if q == "nope"),
        "{err}"
    );
    // Names that would be wildcards are names like any other.
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
    // The bus is still fine after the server refused.
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    bus.publish("q", Message::new("x")).await.unwrap();
    bus.publish("a.*", Message::new("x")).await.unwrap();
    cleanup(&ns).await;
}

#[tokio::test]
async fn competing_consumers_share_the_work() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    let options = ConsumeOptions { prefetch: 1 };
    let mut a = bus.consume("q", options).await.unwrap();
    let mut b = bus.consume("q", options).await.unwrap();
    publish_numbered(&*bus, "q", "", 20).await;
    let (mut seen, mut from_a, mut from_b) = (BTreeSet::new(), 0, 0);
    while seen.len() < 20 {
        let d = tokio::select! {
            d = next(&mut a) => { from_a += 1; d }
            d = next(&mut b) => { from_b += 1; d }
        };
        assert!(seen.insert(d.body.clone()), "delivered twice: {d:?}");
        // Slow enough that the other consumer gets its turn.
        tokio::time::sleep(Duration::from_millis(5)).await;
        d.ack().await.unwrap();
    }
    assert!(from_a > 0 && from_b > 0, "a got {from_a}, b got {from_b}");
    cleanup(&ns).await;
}

#[tokio::test]
async fn prefetch_bounds_unacknowledged_deliveries() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    publish_numbered(&*bus, "q", "", 5).await;
    let mut c = bus
        .consume("q", ConsumeOptions { prefetch: 2 })
        .await
        .unwrap();
    let first = next(&mut c).await;
    let second = next(&mut c).await;
    assert_quiet(&mut c, Duration::from_millis(500)).await;
    assert_eq!(
        bus.depth("q").await.unwrap(),
        QueueDepth {
            ready: 3,
            unacked: 2
        }
    );
    first.ack().await.unwrap();
    let third = next(&mut c).await;
    assert_eq!(third.body, "2");
    assert_quiet(&mut c, Duration::from_millis(300)).await;
    second.ack().await.unwrap();
    third.ack().await.unwrap();
    cleanup(&ns).await;
}

#[tokio::test]
async fn broadcasts_reach_every_listener_of_their_topic_only() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    let mut one = bus.listen("routes").await.unwrap();
    let mut two = bus.listen("routes").await.unwrap();
    let mut other = bus.listen("heartbeats").await.unwrap();
    let mut any_runner = bus.listen("runner.*").await.unwrap();
    bus.broadcast("routes", Bytes::from("table v2"))
        .await
        .unwrap();
    for listener in [&mut one, &mut two] {
        let d = next(listener).await;
        assert_eq!(d.body, "table v2");
        assert_eq!(d.attempt, 1);
        d.ack().await.unwrap();
    }
    assert_quiet(&mut other, Duration::from_millis(300)).await;
    bus.broadcast("heartbeats", Bytes::from("runner 1"))
        .await
        .unwrap();
    assert_eq!(next(&mut other).await.body, "runner 1");
    assert_quiet(&mut one, Duration::from_millis(200)).await;
    // A listened `*` is a wildcard; a broadcast one is not.
    bus.broadcast("runner.stats", Bytes::from("s"))
        .await
        .unwrap();
    assert_eq!(next(&mut any_runner).await.body, "s");
    bus.broadcast("runner.*", Bytes::from("star"))
        .await
        .unwrap();
    assert_eq!(next(&mut any_runner).await.body, "star");
    // Nobody listens: dropped, not an error.
    bus.broadcast("nobody", Bytes::from("x")).await.unwrap();
    // Another bus in the same namespace hears it; one in another does not.
    let same = common::bus(&ns).await;
    let elsewhere = common::bus(&namespace()).await;
    let mut theirs = elsewhere.listen("routes").await.unwrap();
    same.broadcast("routes", Bytes::from("v3")).await.unwrap();
    assert_eq!(next(&mut one).await.body, "v3");
    assert_quiet(&mut theirs, Duration::from_millis(300)).await;
    cleanup(&ns).await;
}

#[tokio::test]
async fn depth_counts_ready_and_unacked_messages() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    assert_eq!(bus.depth("q").await.unwrap(), QueueDepth::default());
    for _ in 0..3 {
        bus.publish("q", Message::new("x")).await.unwrap();
    }
    assert_eq!(
        bus.depth("q").await.unwrap(),
        QueueDepth {
            ready: 3,
            unacked: 0
        }
    );
    let mut c = bus
        .consume("q", ConsumeOptions { prefetch: 1 })
        .await
        .unwrap();
    let d = next(&mut c).await;
    assert_eq!(
        bus.depth("q").await.unwrap(),
        QueueDepth {
            ready: 2,
            unacked: 1
        }
    );
    d.ack().await.unwrap();
    drop(c);
    cleanup(&ns).await;
}

#[tokio::test]
async fn a_consumer_started_before_the_connection_starts_with_it() {
    if !server_up() {
        return;
    }
    let ns = namespace();
    let bus = funcmesh_bus::connect(&common::url(&ns)).await.unwrap();
    // Straight away, before the background connection is up.
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let mut routes = bus.listen("routes").await.unwrap();
    common::wait_connected(&bus).await;
    bus.publish("q", Message::new("hello")).await.unwrap();
    let d = next(&mut c).await;
    assert_eq!(d.body, "hello");
    d.ack().await.unwrap();
    bus.broadcast("routes", Bytes::from("v1")).await.unwrap();
    assert_eq!(next(&mut routes).await.body, "v1");
    cleanup(&ns).await;
}

#[tokio::test]
async fn a_server_that_is_down_does_not_fail_connect_but_publish_fails_fast() {
    // Port 1 on localhost: nothing listens there.
    let bus = funcmesh_bus::connect("nats://127.0.0.1:1?namespace=down")
        .await
        .unwrap();
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    let _consumer = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let _listener = bus.listen("routes").await.unwrap();
    for _ in 0..3 {
        let start = Instant::now();
        let err = bus.publish("q", Message::new("x")).await.unwrap_err();
        assert!(matches!(err, Error::Unavailable(_)), "{err}");
        assert!(start.elapsed() < Duration::from_millis(100));
        assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
        let err = bus.broadcast("t", Bytes::from("x")).await.unwrap_err();
        assert!(matches!(err, Error::Unavailable(_)), "{err}");
        let err = bus.depth("q").await.unwrap_err();
        assert!(matches!(err, Error::Unavailable(_)), "{err}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn tls_and_bad_urls_are_refused_with_a_reason() {
    for url in ["tls://h:4222", "nats+tls://h:4222"] {
        let Err(err) = funcmesh_bus::connect(url).await else {
            panic!("{url} accepted");
        };
        assert!(matches!(err, Error::UnsupportedScheme(_)), "{err}");
        assert!(err.to_string().contains("TLS"), "{err}");
    }
    for url in [
        "nats://h?namespace=a*",
        "nats://h?replicas=3",
        "nats://u:secret@h:port",
    ] {
        let Err(err) = funcmesh_bus::connect(url).await else {
            panic!("{url} accepted");
        };
        assert!(matches!(err, Error::InvalidUrl(_)), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}

#[tokio::test]
async fn delivery_limit_dead_letters_after_max_deliveries() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("dead")).await.unwrap();
    let options = ConsumeOptions::default();
    for (queue, max) in [("jobs", 3), ("once", 1)] {
        let spec = QueueSpec::work(queue).dead_letter_after(max, "dead");
        bus.declare(&spec).await.unwrap();
        bus.publish(queue, Message::new(queue).expires_at_ms(now_ms() + 60_000))
            .await
            .unwrap();
        let mut c = bus.consume(queue, options).await.unwrap();
        for attempt in 1..=max {
            let d = next(&mut c).await;
            assert_eq!((&d.body[..], d.attempt), (queue.as_bytes(), attempt));
            // Dropped or given back, both count.
            if attempt == 2 {
                drop(d);
            } else {
                d.nack(true).await.unwrap();
            }
        }
        assert_quiet(&mut c, Duration::from_millis(500)).await;
        let mut dead = bus.consume("dead", options).await.unwrap();
        let d = next(&mut dead).await;
        assert_eq!(d.body, queue);
        assert_eq!(d.attempt, 1, "a dead letter starts counting again");
        assert_eq!(d.expires_at_ms, None, "a dead letter does not expire");
        d.ack().await.unwrap();
        assert_eq!(bus.depth(queue).await.unwrap(), QueueDepth::default());
    }
    // Rejected outright: dead-lettered at once.
    bus.publish("jobs", Message::new("poison")).await.unwrap();
    let mut c = bus.consume("jobs", options).await.unwrap();
    next(&mut c).await.nack(false).await.unwrap();
    let mut dead = bus.consume("dead", options).await.unwrap();
    assert_eq!(next(&mut dead).await.body, "poison");
    cleanup(&ns).await;
}

/// The process holding a delivery dies (here: its bus is dropped, the
/// delivery neither settled nor dropped): the message comes back to another
/// process once the ack wait has passed, and counts that delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_consumers_deliveries_come_back() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("jobs")).await.unwrap();
    bus.publish("jobs", Message::new("work")).await.unwrap();
    let mut jobs = bus
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    let held = next(&mut jobs).await;
    let died = Instant::now();
    drop(bus);
    // The consumer of a closed bus ends.
    let ended = tokio::time::timeout(Duration::from_secs(2), jobs.next()).await;
    assert!(matches!(ended, Ok(None)), "{ended:?}");

    let other = common::bus(&ns).await;
    let mut jobs = other
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    let again = next_within(&mut jobs, ACK_WAIT + Duration::from_secs(3)).await;
    eprintln!("redelivered after {:?}", died.elapsed());
    assert_eq!(again.body, "work");
    assert_eq!(again.attempt, 2);
    // Settling on a closed bus is an error, not a panic.
    assert!(matches!(held.ack().await, Err(Error::Closed)));
    again.ack().await.unwrap();
    assert_quiet(&mut jobs, Duration::from_millis(300)).await;
    cleanup(&ns).await;
}

/// As above with a delivery limit of 1: the redelivery is past the limit,
/// so the other process dead-letters it instead of handing it out. That
/// process never declared the queue: it reads the limit from the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_consumers_die_is_dead_lettered_after_max_deliveries() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("dead")).await.unwrap();
    bus.declare(&QueueSpec::work("jobs").dead_letter_after(1, "dead"))
        .await
        .unwrap();
    bus.publish("jobs", Message::new("crash")).await.unwrap();
    let mut jobs = bus
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    let held = next(&mut jobs).await;
    assert_eq!(held.attempt, 1);
    drop(bus);
    std::mem::forget(held);

    let other = common::bus(&ns).await;
    let mut jobs = other
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    let mut dead = other
        .consume("dead", ConsumeOptions::default())
        .await
        .unwrap();
    let d = next_within(&mut dead, ACK_WAIT + Duration::from_secs(3)).await;
    assert_eq!((&d.body[..], d.attempt), (&b"crash"[..], 1));
    d.ack().await.unwrap();
    assert_quiet(&mut jobs, Duration::from_millis(300)).await;
    assert_eq!(other.depth("jobs").await.unwrap(), QueueDepth::default());
    cleanup(&ns).await;
}

/// A call longer than the ack wait: the bus keeps the delivery alive, and
/// nobody gets it twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_held_delivery_is_not_delivered_again_while_held() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("jobs")).await.unwrap();
    bus.publish("jobs", Message::new("slow")).await.unwrap();
    let mut mine = bus
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    let held = next(&mut mine).await;
    let other = common::bus(&ns).await;
    let mut theirs = other
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    let hold = ACK_WAIT * 2 + Duration::from_secs(2);
    tokio::select! {
        got = mine.next() => panic!("delivered again to the holder: {got:?}"),
        got = theirs.next() => panic!("delivered again to another: {got:?}"),
        () = tokio::time::sleep(hold) => {}
    }
    assert_eq!(
        bus.depth("jobs").await.unwrap(),
        QueueDepth {
            ready: 0,
            unacked: 1
        }
    );
    assert_eq!(held.attempt, 1);
    held.ack().await.unwrap();
    assert_quiet(&mut theirs, Duration::from_millis(300)).await;
    assert_eq!(bus.depth("jobs").await.unwrap(), QueueDepth::default());
    cleanup(&ns).await;
}

#[tokio::test]
async fn a_reply_queue_takes_messages_while_its_consumer_lives() {
    let Some((ns, gateway)) = common::setup().await else {
        return;
    };
    let runner = common::bus(&ns).await;
    gateway
        .declare(&QueueSpec::reply("reply.gw-1"))
        .await
        .unwrap();
    // Declared, not consumed: nobody would take the message.
    let err = runner
        .publish("reply.gw-1", Message::new("early"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnknownQueue(_)), "{err}");

    let mut replies = gateway
        .consume("reply.gw-1", ConsumeOptions::default())
        .await
        .unwrap();
    let until = now_ms() + 60_000;
    runner
        .publish("reply.gw-1", Message::new("answer").expires_at_ms(until))
        .await
        .unwrap();
    let d = next(&mut replies).await;
    assert_eq!((&d.body[..], d.attempt), (&b"answer"[..], 1));
    assert_eq!(d.expires_at_ms, Some(until));
    d.ack().await.unwrap();
    // An expired reply is not handed out.
    runner
        .publish(
            "reply.gw-1",
            Message::new("late").expires_at_ms(now_ms() - 1),
        )
        .await
        .unwrap();
    assert_quiet(&mut replies, Duration::from_millis(300)).await;
    assert_eq!(
        gateway.depth("reply.gw-1").await.unwrap(),
        QueueDepth::default()
    );

    // Two consumers of one reply queue compete.
    let mut second = gateway
        .consume("reply.gw-1", ConsumeOptions::default())
        .await
        .unwrap();
    publish_numbered(&*runner, "reply.gw-1", "r", 20).await;
    let mut seen = BTreeSet::new();
    while seen.len() < 20 {
        let d = tokio::select! {
            d = next(&mut replies) => d,
            d = next(&mut second) => d,
        };
        assert!(seen.insert(d.body.clone()), "delivered twice: {d:?}");
    }
    assert_quiet(&mut replies, Duration::from_millis(200)).await;

    // Its consumers gone, the reply queue is gone.
    drop((replies, second));
    let start = Instant::now();
    loop {
        match runner.publish("reply.gw-1", Message::new("x")).await {
            Err(Error::UnknownQueue(q)) => {
                assert_eq!(q, "reply.gw-1");
                break;
            }
            Ok(()) => {}
            Err(other) => panic!("unexpected {other}"),
        }
        assert!(start.elapsed() < Duration::from_secs(2), "still taken");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cleanup(&ns).await;
}

/// Many sends in flight at once from two processes: the gateway confirms
/// what arrives together in batches, one per sender, and every send learns
/// that its message was taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_replies_are_all_confirmed() {
    let Some((ns, gateway)) = common::setup().await else {
        return;
    };
    let runners = [common::bus(&ns).await, common::bus(&ns).await];
    gateway
        .declare(&QueueSpec::reply("reply.gw-batch"))
        .await
        .unwrap();
    let mut replies = gateway
        .consume("reply.gw-batch", ConsumeOptions::default())
        .await
        .unwrap();
    let sends = runners.iter().enumerate().flat_map(|(r, runner)| {
        (0..300).map(move |i| async move {
            runner
                .publish("reply.gw-batch", Message::new(format!("{r}-{i}")))
                .await
        })
    });
    let results = futures::future::join_all(sends).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let mut seen = BTreeSet::new();
    while seen.len() < 600 {
        let d = next(&mut replies).await;
        assert!(seen.insert(d.body.clone()), "delivered twice: {d:?}");
    }
    assert_quiet(&mut replies, Duration::from_millis(200)).await;
    cleanup(&ns).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_comes_back_after_the_connection_is_lost() {
    if !server_up() {
        return;
    }
    let proxy = Proxy::start().await;
    let ns = namespace();
    let bus = common::connected(&proxy.url(&ns)).await;
    bus.declare(&QueueSpec::work("jobs")).await.unwrap();
    bus.declare(&QueueSpec::reply("reply.gw")).await.unwrap();
    let mut jobs = bus
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    let mut replies = bus
        .consume("reply.gw", ConsumeOptions::default())
        .await
        .unwrap();
    let mut routes = bus.listen("routes").await.unwrap();

    assert_eq!(proxy.cut(), 1, "one connection per bus");
    // The client sees the loss at once; meanwhile publishing answers at
    // once: Unavailable, or Ok once the bus has reconnected.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let cut_at = Instant::now();
    let mut saw_unavailable = false;
    loop {
        let start = Instant::now();
        let result = bus.publish("jobs", Message::new("after")).await;
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "publish hung while reconnecting"
        );
        match result {
            Ok(()) => break,
            Err(Error::Unavailable(_)) => saw_unavailable = true,
            Err(other) => panic!("unexpected {other}"),
        }
        assert!(
            cut_at.elapsed() < Duration::from_secs(5),
            "not back within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "back after {:?} (saw Unavailable: {saw_unavailable})",
        cut_at.elapsed()
    );

    // The consumer that existed before the loss keeps receiving.
    let d = next(&mut jobs).await;
    assert_eq!(d.body, "after");
    d.ack().await.unwrap();
    // The reply queue's subscription is back (async-nats subscribes again,
    // a moment after the connection).
    let start = Instant::now();
    while let Err(err) = bus.publish("reply.gw", Message::new("reply")).await {
        assert!(matches!(err, Error::UnknownQueue(_)), "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "reply queue not back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(next(&mut replies).await.body, "reply");
    // The listener is back.
    let start = Instant::now();
    loop {
        bus.broadcast("routes", Bytes::from("v3")).await.unwrap();
        if let Ok(d) = tokio::time::timeout(Duration::from_millis(200), routes.next()).await {
            assert_eq!(d.unwrap().unwrap().body, "v3");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "listener not back within 5 s"
        );
    }
    cleanup(&ns).await;
}

/// Unlike a broker that takes back what a lost connection held, JetStream
/// keeps a delivery pending across a short loss: it can still be
/// acknowledged, and is not delivered again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_held_across_a_short_reconnect_can_still_be_acked() {
    if !server_up() {
        return;
    }
    let proxy = Proxy::start().await;
    let ns = namespace();
    let bus = common::connected(&proxy.url(&ns)).await;
    bus.declare(&QueueSpec::work("jobs")).await.unwrap();
    bus.publish("jobs", Message::new("work")).await.unwrap();
    let mut jobs = bus
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    let held = next(&mut jobs).await;
    assert_eq!(proxy.cut(), 1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    common::wait_connected(&bus).await;
    // Renewed across the loss: not delivered again after the ack wait.
    assert_quiet(&mut jobs, ACK_WAIT + Duration::from_secs(1)).await;
    held.ack().await.unwrap();
    assert_eq!(bus.depth("jobs").await.unwrap(), QueueDepth::default());
    // And the consumer still pulls.
    bus.publish("jobs", Message::new("next")).await.unwrap();
    assert_eq!(next(&mut jobs).await.body, "next");
    cleanup(&ns).await;
}

/// One WARN per outage, however many attempts fail; an INFO on recovery.
#[tokio::test]
async fn an_outage_is_logged_once_and_the_recovery_too() {
    let logs = common::LogCapture::default();
    // A current-thread runtime runs the client's tasks on this thread, where
    // the capture is the default subscriber.
    let _guard = tracing::subscriber::set_default(logs.clone());
    let down = funcmesh_bus::connect("nats://127.0.0.1:1").await.unwrap();
    // 100 ms doubling: about six attempts in a second and a half.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let warns = logs.at(tracing::Level::WARN);
    assert_eq!(warns.len(), 1, "{warns:?}");
    assert!(warns[0].contains("cannot reach"), "{warns:?}");
    drop(down);
    if !server_up() {
        return;
    }
    let logs = common::LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.clone());
    let proxy = Proxy::start().await;
    let ns = namespace();
    let bus = common::connected(&proxy.url(&ns)).await;
    // The server looks down for a while: several attempts fail.
    proxy.refuse(true);
    assert_eq!(proxy.cut(), 1);
    tokio::time::sleep(Duration::from_millis(800)).await;
    proxy.refuse(false);
    common::wait_connected(&bus).await;
    let warns = logs.at(tracing::Level::WARN);
    let infos = logs.at(tracing::Level::INFO);
    assert_eq!(warns.len(), 1, "{warns:?}");
    assert!(warns[0].contains("lost"), "{warns:?}");
    assert_eq!(infos.len(), 2, "connected, then recovered: {infos:?}");
    assert!(infos[1].contains("recovered"), "{infos:?}");
    cleanup(&ns).await;
}

#[tokio::test]
async fn a_dropped_consumer_gives_back_its_prefetch_and_lets_work_in_hand_finish() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    publish_numbered(&*bus, "q", "", 5).await;
    let mut a = bus
        .consume("q", ConsumeOptions { prefetch: 10 })
        .await
        .unwrap();
    let in_hand = next(&mut a).await;
    assert_eq!(in_hand.body, "0");
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(a);
    let dropped = Instant::now();
    let mut b = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    // Prefetched and never seen: back once the ack wait has passed (a
    // `-NAK` without a pull request waiting is unsafe on nats-server 2.9),
    // in order, counting that one delivery.
    for i in 1..5 {
        let d = next_within(&mut b, ACK_WAIT + Duration::from_secs(2)).await;
        assert_eq!(d.body, format!("{i}"));
        assert_eq!(d.attempt, 2, "{d:?}");
        d.ack().await.unwrap();
    }
    eprintln!("given back after {:?}", dropped.elapsed());
    // Work in hand outlives its consumer, kept alive past the ack wait, and
    // is acknowledged after its consumer went.
    in_hand.ack().await.unwrap();
    assert_quiet(&mut b, Duration::from_millis(300)).await;
    assert_eq!(bus.depth("q").await.unwrap(), QueueDepth::default());
    cleanup(&ns).await;
}
