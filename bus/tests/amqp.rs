//! The RabbitMQ backend against a real broker on 127.0.0.1:5672.
//!
//! Each test works in its own random namespace, so runs never see each
//! other's queues. Without a broker the tests say so and pass.
#![cfg(feature = "amqp")]

mod common;
#[path = "amqp/tap.rs"]
mod tap;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{assert_quiet, broker_up, cleanup, namespace, next, publish_numbered};
use funcmesh_bus::{ConsumeOptions, Error, Message, QueueDepth, QueueSpec, now_ms};

#[tokio::test]
async fn publish_consume_ack_in_order() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    assert_eq!(bus.system(), "rabbitmq");
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
    cleanup(&ns, &["q"]).await;
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
    let again = next(&mut c).await;
    assert_eq!(again.body, "once more");
    assert_eq!(again.attempt, 2);
    again.ack().await.unwrap();
    assert_quiet(&mut c, Duration::from_millis(300)).await;
    cleanup(&ns, &["q"]).await;
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
    cleanup(&ns, &["q", "dead"]).await;
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
    // The ack travels on another channel than the publish: allow it to land.
    let start = Instant::now();
    while let Err(err) = bus.publish("q", Message::new("4")).await {
        assert!(matches!(err, Error::QueueFull { .. }), "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "still full after an ack"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cleanup(&ns, &["q"]).await;
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
    // The bus is still fine after the broker refused.
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    bus.publish("q", Message::new("x")).await.unwrap();
    cleanup(&ns, &["q"]).await;
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
            d = common::next(&mut a) => { from_a += 1; d }
            d = common::next(&mut b) => { from_b += 1; d }
        };
        assert!(seen.insert(d.body.clone()), "delivered twice: {d:?}");
        // Slow enough that the other consumer gets its turn.
        tokio::time::sleep(Duration::from_millis(5)).await;
        d.ack().await.unwrap();
    }
    assert!(from_a > 0 && from_b > 0, "a got {from_a}, b got {from_b}");
    cleanup(&ns, &["q"]).await;
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
    assert_eq!(bus.depth("q").await.unwrap().ready, 3);
    first.ack().await.unwrap();
    let third = next(&mut c).await;
    assert_eq!(third.body, "2");
    assert_quiet(&mut c, Duration::from_millis(300)).await;
    second.ack().await.unwrap();
    third.ack().await.unwrap();
    cleanup(&ns, &["q"]).await;
}

#[tokio::test]
async fn broadcasts_reach_every_listener_of_their_topic_only() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    let mut one = bus.listen("routes").await.unwrap();
    let mut two = bus.listen("routes").await.unwrap();
    let mut other = bus.listen("heartbeats").await.unwrap();
    bus.broadcast("routes", Bytes::from("table v2"))
        .await
        .unwrap();
    for listener in [&mut one, &mut two] {
        let d = next(listener).await;
        assert_eq!(d.body, "table v2");
        d.ack().await.unwrap();
    }
    assert_quiet(&mut other, Duration::from_millis(300)).await;
    bus.broadcast("heartbeats", Bytes::from("runner 1"))
        .await
        .unwrap();
    assert_eq!(next(&mut other).await.body, "runner 1");
    assert_quiet(&mut one, Duration::from_millis(200)).await;
    // Nobody listens: dropped, not an error.
    bus.broadcast("nobody", Bytes::from("x")).await.unwrap();
    cleanup(&ns, &[]).await;
}

#[tokio::test]
async fn depth_counts_ready_messages() {
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
    cleanup(&ns, &["q"]).await;
}

#[tokio::test]
async fn a_consumer_started_before_the_connection_starts_with_it() {
    if !broker_up() {
        return;
    }
    let ns = namespace();
    let bus = funcmesh_bus::connect(&common::url(&ns)).await.unwrap();
    // Straight away, before the background connection is up.
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    common::wait_connected(&bus).await;
    bus.publish("q", Message::new("hello")).await.unwrap();
    next(&mut c).await.ack().await.unwrap();
    cleanup(&ns, &["q"]).await;
}

#[tokio::test]
async fn a_broker_that_is_down_does_not_fail_connect_but_publish_fails_fast() {
    // Port 1 on localhost: nothing listens there.
    let bus = funcmesh_bus::connect("amqp://guest:guest@127.0.0.1:1/%2f?namespace=down")
        .await
        .unwrap();
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    let _consumer = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    for _ in 0..3 {
        let start = Instant::now();
        let err = bus.publish("q", Message::new("x")).await.unwrap_err();
        assert!(matches!(err, Error::Unavailable(_)), "{err}");
        assert!(start.elapsed() < Duration::from_millis(100));
        let err = bus.broadcast("t", Bytes::from("x")).await.unwrap_err();
        assert!(matches!(err, Error::Unavailable(_)), "{err}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn amqps_is_refused_with_a_reason() {
    let Err(err) = funcmesh_bus::connect("amqps://h/").await else {
        panic!("amqps:// accepted");
    };
    assert!(err.to_string().contains("TLS is not compiled in"), "{err}");
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
        bus.publish(queue, Message::new(queue)).await.unwrap();
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
        d.ack().await.unwrap();
    }
    cleanup(&ns, &["jobs", "once", "dead"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_comes_back_after_the_connection_is_closed() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
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

    assert_eq!(common::close_connections(&ns), 1, "one connection per bus");
    // While it is down, publishing answers at once: Unavailable, or Ok once
    // the bus has reconnected.
    let closed_at = Instant::now();
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
            closed_at.elapsed() < Duration::from_secs(5),
            "not back within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "back after {:?} (saw Unavailable: {saw_unavailable})",
        closed_at.elapsed()
    );

    // The consumer that existed before the loss keeps receiving.
    let d = next(&mut jobs).await;
    assert_eq!(d.body, "after");
    d.ack().await.unwrap();
    // The exclusive reply queue went with the old connection and was declared
    // again under the same name.
    bus.publish("reply.gw", Message::new("reply"))
        .await
        .unwrap();
    assert_eq!(next(&mut replies).await.body, "reply");
    // The listener is bound again.
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
    cleanup(&ns, &["jobs", "reply.gw"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_held_across_a_reconnect_is_redelivered() {
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
    assert_eq!(common::close_connections(&ns), 1);
    // The broker took it back with the connection: acking now is an error,
    // not a panic, and the message comes round again.
    let again = next(&mut jobs).await;
    assert_eq!(again.body, "work");
    assert_eq!(again.attempt, 2);
    assert!(matches!(held.ack().await, Err(Error::Unavailable(_))));
    again.ack().await.unwrap();
    cleanup(&ns, &["jobs"]).await;
}

/// One WARN per outage, however many attempts fail; an INFO on recovery.
#[tokio::test]
async fn an_outage_is_logged_once_and_the_recovery_too() {
    let logs = common::LogCapture::default();
    // A current-thread runtime runs the supervisor on this thread, where the
    // capture is the default subscriber.
    let _guard = tracing::subscriber::set_default(logs.clone());
    let down = funcmesh_bus::connect("amqp://127.0.0.1:1/").await.unwrap();
    // 100 ms doubling: about six attempts in a second and a half.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        logs.at(tracing::Level::WARN).len(),
        1,
        "{:?}",
        logs.at(tracing::Level::WARN)
    );
    drop(down);
    if !broker_up() {
        return;
    }
    let logs = common::LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.clone());
    let ns = namespace();
    let bus = common::bus(&ns).await;
    assert_eq!(common::close_connections(&ns), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    common::wait_connected(&bus).await;
    let warns = logs.at(tracing::Level::WARN);
    let infos = logs.at(tracing::Level::INFO);
    assert_eq!(warns.len(), 1, "{warns:?}");
    assert!(warns[0].contains("lost"), "{warns:?}");
    assert_eq!(infos.len(), 2, "connected, then recovered: {infos:?}");
    assert!(infos[1].contains("recovered"), "{infos:?}");
    cleanup(&ns, &[]).await;
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
    let mut b = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    for i in 1..5 {
        let d = next(&mut b).await;
        assert_eq!(d.body, format!("{i}"));
        // Given back once, after the consumer was cancelled: a quorum queue
        // counts that return, but nothing bounced back and forth.
        assert!(d.attempt <= 2, "{d:?}");
        d.ack().await.unwrap();
    }
    // Draining: the work in hand is acknowledged after its consumer went.
    in_hand.ack().await.unwrap();
    assert_quiet(&mut b, Duration::from_millis(300)).await;
    cleanup(&ns, &["q"]).await;
}
