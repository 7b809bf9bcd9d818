//! Kafka's own ways: no acknowledgement deadline, and the URLs it refuses.

use std::time::Duration;

use funcmesh_bus::{ConsumeOptions, Error, Message, QueueDepth, QueueSpec};

use crate::Kafka;
use crate::common::assert_quiet;
use crate::contract::Run;

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
