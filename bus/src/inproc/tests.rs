//! What belongs to the in-process bus alone. The promises every backend
//! keeps are tested once for all of them, in `tests/contract/`.

use std::time::Duration;

use super::*;

async fn bus_with(spec: QueueSpec) -> InProcBus {
    let bus = InProcBus::new();
    bus.declare(&spec).await.unwrap();
    bus
}

async fn next(consumer: &mut Consumer) -> Delivery {
    tokio::time::timeout(Duration::from_secs(5), consumer.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

/// Only what the queue took is copied (a broker's exchange or subject
/// carries a refused message to its taps too).
#[tokio::test]
async fn a_message_the_queue_refuses_is_not_copied() {
    let bus = bus_with(QueueSpec::work("q").max_len(1)).await;
    let mut tap = bus.tap("q").await.unwrap();
    bus.publish("q", Message::new("taken")).await.unwrap();
    bus.publish("q", Message::new("refused")).await.unwrap_err();
    assert_eq!(next(&mut tap).await.body, "taken");
    let more = tokio::time::timeout(Duration::from_millis(50), tap.next()).await;
    assert!(more.is_err(), "the refused message reached the tap");
}

#[tokio::test]
async fn a_tap_that_falls_behind_loses_copies_and_never_blocks_a_publisher() {
    let bus = bus_with(QueueSpec::work("q")).await;
    let mut tap = bus.tap("q").await.unwrap();
    let published = tap::TAP_BACKLOG + 10;
    for i in 0..published {
        bus.publish("q", Message::new(format!("m{i}")))
            .await
            .unwrap();
    }
    assert_eq!(bus.depth("q").await.unwrap().ready, published as u64);
    let mut copies = 0;
    while let Ok(Some(copy)) = tokio::time::timeout(Duration::from_millis(50), tap.next()).await {
        copy.unwrap();
        copies += 1;
    }
    assert_eq!(copies, tap::TAP_BACKLOG, "the oldest copies are kept");
}

#[tokio::test]
async fn a_dropped_tap_is_forgotten() {
    let bus = bus_with(QueueSpec::work("q")).await;
    let tap = bus.tap("q").await.unwrap();
    drop(tap);
    bus.publish("q", Message::new("m")).await.unwrap();
    let queue = bus.queue("q").unwrap();
    assert_eq!(queue.taps.count(), 0);
}
