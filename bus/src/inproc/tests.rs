//! What belongs to the in-process bus alone. The promises every backend
//! keeps are tested once for all of them, in `tests/contract/`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::Local;

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
    assert_eq!(next(&mut tap).await.bytes(), "taken");
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

/// A value that counts how often it was encoded.
struct Counted {
    encoded: AtomicUsize,
}

impl Local for Counted {
    fn encode(&self) -> Bytes {
        self.encoded.fetch_add(1, Ordering::Relaxed);
        Bytes::from_static(b"counted")
    }
}

fn counted() -> Arc<Counted> {
    Arc::new(Counted {
        encoded: AtomicUsize::new(0),
    })
}

fn same(delivery: &Delivery, value: &Arc<Counted>) -> bool {
    let payload = delivery.payload().clone();
    payload
        .into_local::<Counted>()
        .is_ok_and(|got| Arc::ptr_eq(&got, value))
}

/// A value published as itself reaches its consumer as itself, also when
/// redelivered and when dead-lettered; only a tap's reader encodes it.
#[tokio::test]
async fn a_value_travels_as_itself_and_is_encoded_only_where_bytes_are_read() {
    let bus = bus_with(QueueSpec::work("q").dead_letter_after(2, "dead")).await;
    bus.declare(&QueueSpec::work("dead")).await.unwrap();
    let mut tap = bus.tap("q").await.unwrap();
    let value = counted();
    bus.publish("q", Message::local(Arc::clone(&value) as _))
        .await
        .unwrap();
    let mut consumer = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let first = next(&mut consumer).await;
    assert!(same(&first, &value));
    first.nack(true).await.unwrap();
    let second = next(&mut consumer).await;
    assert_eq!(second.attempt, 2);
    assert!(same(&second, &value));
    second.nack(true).await.unwrap();
    let mut dead = bus
        .consume("dead", ConsumeOptions::default())
        .await
        .unwrap();
    let parked = next(&mut dead).await;
    assert!(same(&parked, &value));
    assert_eq!(
        value.encoded.load(Ordering::Relaxed),
        0,
        "encoded on the way"
    );
    assert_eq!(next(&mut tap).await.bytes(), "counted");
    assert_eq!(value.encoded.load(Ordering::Relaxed), 1);
}
