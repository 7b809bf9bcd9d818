//! Taps on RabbitMQ: copies through the work exchange.

use std::time::{Duration, Instant};

use funcmesh_bus::{ConsumeOptions, Error, Message, QueueSpec};

use super::common::{self, assert_quiet, cleanup, next};

#[tokio::test]
async fn a_tap_copies_every_message_and_takes_none() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    common::tap_copies_without_taking(&*bus, "q", Duration::from_secs(5)).await;
    common::tap_on_an_undeclared_queue_is_unknown(&*bus).await;
    cleanup(&ns, &["q"]).await;
}

#[tokio::test]
async fn unknown_queues_and_full_queues_still_answer_through_the_exchange() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
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
    assert_eq!(next(&mut tap).await.body, "1");
    assert_eq!(next(&mut tap).await.body, "2");
    // The broker nacks the publisher but still routes the refused message
    // to the tap's own queue.
    assert_eq!(next(&mut tap).await.body, "3");
    assert_quiet(&mut tap, Duration::from_millis(300)).await;
    cleanup(&ns, &["q"]).await;
}

#[tokio::test]
async fn a_tap_does_not_outlive_its_consumer_on_the_broker() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    let tap = bus.tap("q").await.unwrap();
    let bindings = || {
        common::rabbitmqctl(&[
            "list_bindings",
            "-q",
            "--no-table-headers",
            "source_name",
            "destination_name",
            "routing_key",
        ])
        .lines()
        .filter(|line| line.starts_with(&format!("{ns}.funcmesh.work\t")))
        .count()
    };
    assert_eq!(bindings(), 2, "the queue's binding and the tap's");
    drop(tap);
    let start = Instant::now();
    while bindings() != 1 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the tap's queue stayed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cleanup(&ns, &["q"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tap_keeps_receiving_after_the_connection_is_closed() {
    let Some((ns, bus)) = common::setup().await else {
        return;
    };
    bus.declare(&QueueSpec::work("jobs")).await.unwrap();
    let mut tap = bus.tap("jobs").await.unwrap();
    let mut jobs = bus
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    bus.publish("jobs", Message::new("first")).await.unwrap();
    assert_eq!(next(&mut tap).await.body, "first");
    next(&mut jobs).await.ack().await.unwrap();

    assert_eq!(common::close_connections(&ns), 1, "one connection per bus");
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
            assert_eq!(copy.unwrap().unwrap().body, "probe");
            break;
        }
    }
    common::publish_numbered(&*bus, "jobs", "after", 5).await;
    for i in 0..5 {
        assert_eq!(next(&mut tap).await.body, format!("after{i}"));
    }
    // The queue's consumer got every probe and every later message.
    let got = common::take_set(&mut jobs, probes + 5, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 6, "the probes and after0..after4: {got:?}");
    cleanup(&ns, &["jobs"]).await;
}
