//! Declaring, publishing and consuming in order; unknown queues; depth.

use std::time::Duration;

use funcmesh_bus::{ConsumeOptions, Error, Message, QueueDepth, QueueSpec};

use super::{Backend, Redeclared, Run};
use crate::common::{assert_quiet, numbered, publish_numbered, take, text};

pub async fn publish_consume_ack_in_order<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let bus = &run.bus;
    assert_eq!(bus.system(), B::SYSTEM);
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    publish_numbered(&**bus, "q", "m", 20).await;
    run.depth_becomes(
        "q",
        QueueDepth {
            ready: 20,
            unacked: 0,
        },
    )
    .await;
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let mut bodies = Vec::new();
    for _ in 0..20 {
        let d = run.next(&mut c).await;
        assert_eq!((d.attempt, d.expires_at_ms), (1, None), "{d:?}");
        bodies.push(text(&d));
        d.ack().await.unwrap();
    }
    let mut expected = numbered("m", 20);
    if !B::SHAPE.ordered {
        bodies.sort();
        expected.sort();
    }
    assert_eq!(bodies, expected);
    assert_quiet(&mut c, Duration::from_millis(500)).await;
    run.depth_becomes("q", QueueDepth::default()).await;
    run.finish().await;
}

pub async fn a_waiting_consumer_wakes_on_publish<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    run.bus.declare(&QueueSpec::work("q")).await.unwrap();
    let mut c = run
        .bus
        .consume("q", ConsumeOptions::default())
        .await
        .unwrap();
    let wait = B::SHAPE.wait;
    let waiter = tokio::spawn(async move { take(&mut c, 1, wait).await });
    tokio::task::yield_now().await;
    run.bus.publish("q", Message::new("hi")).await.unwrap();
    assert_eq!(waiter.await.unwrap(), ["hi"]);
    run.finish().await;
}

pub async fn undeclared_queues_are_unknown<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let bus = &run.bus;
    let unknown = |result: Result<(), Error>| {
        assert!(
            matches!(&result, Err(Error::UnknownQueue(q)) if q == "nope"),
            "{result:?}"
        );
    };
    unknown(bus.publish("nope", Message::new("x")).await);
    unknown(bus.depth("nope").await.map(drop));
    unknown(
        bus.consume("nope", ConsumeOptions::default())
            .await
            .map(drop),
    );
    // The bus is still fine after the broker refused.
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    bus.publish("q", Message::new("x")).await.unwrap();
    run.finish().await;
}

/// Declaring again is harmless: the queue keeps its messages, and its
/// limits unless the backend takes the last declaration's.
pub async fn declaring_again_is_harmless_and_other_limits_keep_the_queue<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("q").max_len(1)).await.unwrap();
    bus.publish("q", Message::new("kept")).await.unwrap();
    bus.declare(&QueueSpec::work("q").max_len(1)).await.unwrap();
    let other_limits = bus.declare(&QueueSpec::work("q").max_len(5)).await;
    let refused = B::SHAPE.redeclared == Redeclared::Refused;
    assert_eq!(other_limits.is_err(), refused, "{other_limits:?}");
    let published = bus.publish("q", Message::new("x")).await;
    if B::SHAPE.redeclared == Redeclared::Replaced {
        published.unwrap();
        run.depth_becomes(
            "q",
            QueueDepth {
                ready: 2,
                unacked: 0,
            },
        )
        .await;
    } else {
        let err = published.unwrap_err();
        assert!(matches!(err, Error::QueueFull { .. }), "{err}");
        run.depth_becomes(
            "q",
            QueueDepth {
                ready: 1,
                unacked: 0,
            },
        )
        .await;
    }
    run.finish().await;
}

/// A second bus in the namespace, as a runner that never declared the
/// queue, publishes to it and consumes from it under the limits it was
/// declared with.
pub async fn another_bus_in_the_namespace_knows_the_queues_and_their_limits<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    run.bus.declare(&QueueSpec::work("dlq")).await.unwrap();
    run.bus
        .declare(&QueueSpec::work("q").dead_letter_after(2, "dlq"))
        .await
        .unwrap();
    let other = run.other().await;
    other.publish("q", Message::new("x")).await.unwrap();
    run.depth_becomes(
        "q",
        QueueDepth {
            ready: 1,
            unacked: 0,
        },
    )
    .await;
    let mut c = other.consume("q", ConsumeOptions::default()).await.unwrap();
    drop(run.next(&mut c).await);
    drop(run.next(&mut c).await);
    let mut dead = other
        .consume("dlq", ConsumeOptions::default())
        .await
        .unwrap();
    assert_eq!(run.next(&mut dead).await.bytes(), "x");
    assert_quiet(&mut c, Duration::from_secs(1)).await;
    run.finish().await;
}

pub async fn depth_counts_ready_and_held_messages<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    assert_eq!(bus.depth("q").await.unwrap(), QueueDepth::default());
    for _ in 0..3 {
        bus.publish("q", Message::new("x")).await.unwrap();
    }
    run.depth_becomes(
        "q",
        QueueDepth {
            ready: 3,
            unacked: 0,
        },
    )
    .await;
    let mut c = bus
        .consume("q", ConsumeOptions { prefetch: 1 })
        .await
        .unwrap();
    let d = run.next(&mut c).await;
    run.depth_becomes("q", B::SHAPE.held.depth(2, 1)).await;
    d.ack().await.unwrap();
    drop(c);
    run.finish().await;
}
