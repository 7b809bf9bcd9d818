//! Expiry (a client that stopped waiting) and the length limit
//! (backpressure).

use std::time::Duration;

use funcmesh_bus::{ConsumeOptions, Error, Message, QueueDepth, QueueSpec, now_ms};

use super::{Backend, LimitElsewhere, Run};
use crate::common::assert_quiet;

pub async fn an_expired_message_is_never_delivered_nor_dead_lettered<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("dead")).await.unwrap();
    bus.declare(&QueueSpec::work("q").dead_letter_after(1, "dead"))
        .await
        .unwrap();
    bus.publish("q", Message::new("late").expires_at_ms(now_ms() - 1))
        .await
        .unwrap();
    bus.publish("q", Message::new("stale").expires_at_ms(now_ms() + 200))
        .await
        .unwrap();
    let fresh_until = now_ms() + 60_000;
    bus.publish("q", Message::new("fresh").expires_at_ms(fresh_until))
        .await
        .unwrap();
    // The test is about time: "stale" expires while it waits.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let d = run.next(&mut c).await;
    assert_eq!(
        (&d.bytes()[..], d.expires_at_ms),
        (&b"fresh"[..], Some(fresh_until))
    );
    d.ack().await.unwrap();
    assert_quiet(&mut c, Duration::from_secs(1)).await;
    let mut dead = bus
        .consume("dead", ConsumeOptions::default())
        .await
        .unwrap();
    assert_quiet(&mut dead, Duration::from_millis(300)).await;
    // The expired ones were settled, not left behind.
    run.depth_becomes("q", QueueDepth::default()).await;
    assert_eq!(bus.depth("dead").await.unwrap(), QueueDepth::default());
    run.finish().await;
}

pub async fn a_full_queue_answers_queue_full<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("q").max_len(2)).await.unwrap();
    bus.publish("q", Message::new("1")).await.unwrap();
    bus.publish("q", Message::new("2")).await.unwrap();
    let err = bus.publish("q", Message::new("3")).await.unwrap_err();
    assert!(
        matches!(&err, Error::QueueFull { queue, limit: 2 } if queue == "q"),
        "{err}"
    );
    run.depth_becomes(
        "q",
        QueueDepth {
            ready: 2,
            unacked: 0,
        },
    )
    .await;

    // Another process, which did not declare the queue, is refused too
    // (where the limit is sampled, once it has sampled the depth).
    let other = run.other().await;
    let mut overshoot = 0;
    let err = loop {
        match other.publish("q", Message::new("5")).await {
            Err(err) => break err,
            Ok(()) => overshoot += 1,
        }
        assert_eq!(B::SHAPE.limit_elsewhere, LimitElsewhere::Sampled);
        assert!(overshoot < 20, "still not refused after {overshoot}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let Error::QueueFull { queue, limit } = &err else {
        panic!("{err}");
    };
    assert_eq!(queue, "q");
    if B::SHAPE.limit_elsewhere == LimitElsewhere::Named {
        assert_eq!(*limit, 2, "{err}");
    }

    // Taking a message makes room; the acknowledgement may travel apart
    // from the publish (or the depth be sampled anew): allow it to land.
    let mut c = bus
        .consume("q", ConsumeOptions { prefetch: 1 })
        .await
        .unwrap();
    for _ in 0..=overshoot {
        run.next(&mut c).await.ack().await.unwrap();
    }
    funcmesh_testkit::eventually(B::SHAPE.wait, "room after an ack", || async {
        match bus.publish("q", Message::new("4")).await {
            Ok(()) => true,
            Err(Error::QueueFull { .. }) => false,
            Err(err) => panic!("unexpected {err}"),
        }
    })
    .await;
    run.finish().await;
}

pub async fn a_queue_of_length_zero_takes_nothing<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("none").max_len(0))
        .await
        .unwrap();
    let err = bus.publish("none", Message::new("x")).await.unwrap_err();
    assert!(
        matches!(&err, Error::QueueFull { queue, limit: 0 } if queue == "none"),
        "{err}"
    );
    run.depth_becomes("none", QueueDepth::default()).await;
    run.finish().await;
}

/// A message larger than the broker takes is refused for what it is
/// (sending it again cannot help), on a work queue and on a reply queue,
/// and nothing else suffers: the next message goes through.
pub async fn a_message_over_the_bus_limit_is_refused_for_good<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let bus = &run.bus;
    // Declaring waits for the connection, which tells NATS's limit.
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    let Some(limit) = bus.max_message_bytes() else {
        // No limit the bus knows of (RabbitMQ's is 128 MiB; its refusals
        // have a test of their own).
        assert!(matches!(B::SYSTEM, "inproc" | "rabbitmq"), "{}", B::SYSTEM);
        return run.finish().await;
    };
    bus.declare(&QueueSpec::reply("r")).await.unwrap();
    let mut replies = bus.consume("r", ConsumeOptions::default()).await.unwrap();
    let huge = vec![b'x'; limit + 1];
    for queue in ["q", "r"] {
        let err = bus
            .publish(queue, Message::new(huge.clone()))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Refused(_)), "{queue}: {err}");
        bus.publish(queue, Message::new("small")).await.unwrap();
    }
    assert_eq!(run.next(&mut replies).await.bytes(), "small");
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let d = run.next(&mut c).await;
    assert_eq!(d.bytes(), "small");
    d.ack().await.unwrap();
    run.finish().await;
}
