//! Taps on RabbitMQ: copies through the work exchange, on a queue of the
//! tap's own.

use std::time::{Duration, Instant};

use funcmesh_bus::{ConsumeOptions, Error, Message, QueueSpec};

use crate::RabbitMq;
use crate::broker::{close_connections, rabbitmqctl};
use crate::common::{assert_quiet, publish_numbered, take_set};
use crate::contract::Run;

/// The broker nacks the publisher of a message the queue refuses, but the
/// exchange still routes it to the tap's queue: the tap sees it (the
/// in-process bus copies only what the queue took).
#[tokio::test]
async fn unknown_queues_and_full_queues_still_answer_through_the_exchange() {
    let Some(run) = Run::<RabbitMq>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("q").max_len(2)).await.unwrap();
    let mut tap = bus.tap("q").await.unwrap();
    bus.publish("q", Message::new("1")).await.unwrap();
    bus.publish("q", Message::new("2")).await.unwrap();
    let err = bus.publish("q", Message::new("3")).await.unwrap_err();
    assert!(
        matches!(&err, Error::QueueFull { queue, limit: 2 } if queue == "q"),
        "{err}"
    );
    let err = bus.publish("nope", Message::new("x")).await.unwrap_err();
    assert!(
        matches!(&err, Error::UnknownQueue(q) if q == "nope"),
        "{err}"
    );
    assert_eq!(bus.depth("q").await.unwrap().ready, 2);
    for copy in ["1", "2", "3"] {
        assert_eq!(run.next(&mut tap).await.bytes(), copy);
    }
    assert_quiet(&mut tap, Duration::from_millis(300)).await;
    run.finish().await;
}

#[tokio::test]
async fn a_tap_does_not_outlive_its_consumer_on_the_broker() {
    let Some(run) = Run::<RabbitMq>::start().await else {
        return;
    };
    run.bus.declare(&QueueSpec::work("q")).await.unwrap();
    let tap = run.bus.tap("q").await.unwrap();
    let exchange = format!("{}.funcmesh.work\t", run.ns);
    let bindings = || {
        rabbitmqctl(&[
            "list_bindings",
            "-q",
            "--no-table-headers",
            "source_name",
            "destination_name",
            "routing_key",
        ])
        .lines()
        .filter(|line| line.starts_with(&exchange))
        .count()
    };
    assert_eq!(bindings(), 2, "the queue's binding and the tap's");
    drop(tap);
    funcmesh_testkit::eventually(Duration::from_secs(5), "the tap's queue goes", || {
        let left = bindings();
        async move { left == 1 }
    })
    .await;
    run.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tap_keeps_receiving_after_the_connection_is_closed() {
    let Some(run) = Run::<RabbitMq>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("jobs")).await.unwrap();
    let mut tap = bus.tap("jobs").await.unwrap();
    let mut jobs = bus
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    bus.publish("jobs", Message::new("first")).await.unwrap();
    assert_eq!(run.next(&mut tap).await.bytes(), "first");
    run.next(&mut jobs).await.ack().await.unwrap();

    assert_eq!(close_connections(&run.ns), 1, "one connection per bus");
    // Publishing comes back first; the tap's queue is declared and bound
    // again a moment later, so probes go out until one is copied.
    let closed_at = Instant::now();
    let mut probes = 0;
    loop {
        assert!(
            closed_at.elapsed() < Duration::from_secs(10),
            "the tap is not back within 10 s"
        );
        match bus.publish("jobs", Message::new("probe")).await {
            Ok(()) => probes += 1,
            Err(Error::Unavailable(_)) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            Err(other) => panic!("unexpected {other}"),
        }
        if let Ok(copy) = tokio::time::timeout(Duration::from_millis(200), tap.next()).await {
            assert_eq!(copy.unwrap().unwrap().bytes(), "probe");
            break;
        }
    }
    publish_numbered(&**bus, "jobs", "after", 5).await;
    for i in 0..5 {
        assert_eq!(run.next(&mut tap).await.bytes(), format!("after{i}"));
    }
    // The queue's consumer got every probe and every later message.
    let got = take_set(&mut jobs, probes + 5, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 6, "the probes and after0..after4: {got:?}");
    run.finish().await;
}
