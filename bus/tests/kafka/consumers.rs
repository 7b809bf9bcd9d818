//! Kafka's own ways: no acknowledgement deadline, and the URLs it refuses.

use std::collections::BTreeSet;
use std::time::Duration;

use funcmesh_bus::{ConsumeOptions, Error, Message, QueueDepth, QueueSpec};

use crate::Kafka;
use crate::common::{assert_quiet, numbered, take_set};
use crate::contract::{Backend, Run};

#[tokio::test]
async fn a_slow_consumer_keeps_its_delivery_without_redelivery() {
    let Some(run) = Run::<Kafka>::start().await else {
        return;
    };
    run.bus.declare(&QueueSpec::work("q")).await.unwrap();
    run.bus.publish("q", Message::new("long")).await.unwrap();
    let mut c = run
        .bus
        .consume("q", ConsumeOptions::default())
        .await
        .unwrap();
    let held = run.next(&mut c).await;
    // Kafka has no ack deadline: held past the session timeout, the message
    // stays with this consumer and nothing else is delivered.
    assert_quiet(&mut c, Duration::from_secs(8)).await;
    held.ack().await.unwrap();
    run.depth_becomes("q", QueueDepth::default()).await;
    run.finish().await;
}

/// Messages published together travel in batches of several, so a
/// position committed after some of a batch is inside it. The consumer
/// that takes the partition on from there gets the rest of that batch:
/// tansu answers a fetch only with batches that start at or after the
/// offset asked, and without reading from before the position, the rest
/// of the batch was read by nobody (a runner killed under load lost up to
/// five requests that way).
#[tokio::test]
async fn a_partition_taken_on_from_inside_a_batch_is_read_on_from_there() {
    let Some(run) = Run::<Kafka>::start().await else {
        return;
    };
    let wait = Kafka::SHAPE.wait;
    run.bus.declare(&QueueSpec::work("q")).await.unwrap();
    let mut sends = tokio::task::JoinSet::new();
    for body in numbered("m", 40) {
        let bus = std::sync::Arc::clone(&run.bus);
        sends.spawn(async move { bus.publish("q", Message::new(body)).await });
    }
    while let Some(sent) = sends.join_next().await {
        sent.unwrap().unwrap();
    }
    let first = run.other().await;
    let mut c = first
        .consume("q", ConsumeOptions { prefetch: 1 })
        .await
        .unwrap();
    let taken = take_set(&mut c, 10, wait).await;
    // Gives its partitions away, each committed where it stopped.
    drop(c);
    let mut next = run
        .bus
        .consume("q", ConsumeOptions::default())
        .await
        .unwrap();
    let rest = take_set(&mut next, 30, wait).await;
    assert!(taken.is_disjoint(&rest), "{:?}", taken.intersection(&rest));
    let all: BTreeSet<String> = taken.union(&rest).cloned().collect();
    assert_eq!(all, numbered("m", 40).into_iter().collect());
    assert_quiet(&mut next, Duration::from_secs(1)).await;
    run.finish().await;
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
