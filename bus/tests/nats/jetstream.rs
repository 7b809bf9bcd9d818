//! Work queues on JetStream: streams, the ack wait, and the server's ways
//! with given-back messages.

use std::time::{Duration, Instant};

use funcmesh_bus::{ConsumeOptions, Error, Message, QueueDepth, QueueSpec};

use crate::Nats;
use crate::common::{assert_quiet, next_within, publish_numbered, text};
use crate::contract::Run;
use crate::server::{ACK_WAIT, streams_of};

#[tokio::test]
async fn a_transient_queue_lives_in_memory_and_works_the_same() {
    let Some(run) = Run::<Nats>::start().await else {
        return;
    };
    let spec = QueueSpec {
        durable: false,
        ..QueueSpec::work("funcmesh.func.0123abcd")
    };
    run.bus.declare(&spec).await.unwrap();
    publish_numbered(&*run.bus, &spec.name, "m", 3).await;
    let mut c = run
        .bus
        .consume(&spec.name, ConsumeOptions::default())
        .await
        .unwrap();
    for i in 0..3 {
        let d = run.next(&mut c).await;
        assert_eq!(d.bytes(), format!("m{i}"));
        d.ack().await.unwrap();
    }
    let ns = run.ns.clone();
    assert_eq!(streams_of(&ns).await, 1);
    run.finish().await;
    assert_eq!(streams_of(&ns).await, 0, "cleanup deletes the streams");
}

/// A consumer whose prefetch is all held has no pull request waiting when
/// it gives a delivery back: the message still comes back at once (maybe
/// after a message that was ready), once, and nothing else is disturbed
/// (nats-server 2.9 loses or duplicates messages given back while no pull
/// request waits).
#[tokio::test]
async fn a_consumer_at_its_prefetch_gives_back_at_once() {
    let Some(run) = Run::<Nats>::start().await else {
        return;
    };
    run.bus.declare(&QueueSpec::work("q")).await.unwrap();
    publish_numbered(&*run.bus, "q", "", 3).await;
    let mut c = run
        .bus
        .consume("q", ConsumeOptions { prefetch: 1 })
        .await
        .unwrap();
    // "0" is given back twice (rejected, then dropped), the others acked.
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let d = next_within(&mut c, Duration::from_secs(1)).await;
        seen.push((text(&d), d.attempt));
        match (&d.bytes()[..], d.attempt) {
            (b"0", 1) => d.nack(true).await.unwrap(),
            (b"0", 2) => drop(d),
            _ => d.ack().await.unwrap(),
        }
    }
    let attempts = |body: &str| -> Vec<u32> {
        seen.iter()
            .filter(|(b, _)| b == body)
            .map(|(_, attempt)| *attempt)
            .collect()
    };
    assert_eq!(attempts("0"), [1, 2, 3], "{seen:?}");
    assert_eq!(attempts("1"), [1], "{seen:?}");
    assert_eq!(attempts("2"), [1], "{seen:?}");
    assert_quiet(&mut c, Duration::from_millis(300)).await;
    assert_eq!(run.bus.depth("q").await.unwrap(), QueueDepth::default());
    run.finish().await;
}

/// The process holding a delivery dies (here: its bus is dropped, the
/// delivery neither settled nor dropped): the message comes back to another
/// process once the ack wait has passed, and counts that delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_consumers_deliveries_come_back() {
    let Some(mut run) = Run::<Nats>::start().await else {
        return;
    };
    run.bus.declare(&QueueSpec::work("jobs")).await.unwrap();
    run.bus.publish("jobs", Message::new("work")).await.unwrap();
    let mut jobs = run
        .bus
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    let held = run.next(&mut jobs).await;
    let died = Instant::now();
    run.bus = run.other().await;
    // The consumer of a closed bus ends.
    let ended = tokio::time::timeout(Duration::from_secs(2), jobs.next()).await;
    assert!(matches!(ended, Ok(None)), "{ended:?}");

    let mut jobs = run
        .bus
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    let again = next_within(&mut jobs, ACK_WAIT + Duration::from_secs(3)).await;
    eprintln!("redelivered after {:?}", died.elapsed());
    assert_eq!((&again.bytes()[..], again.attempt), (&b"work"[..], 2));
    // Settling on a closed bus is an error, not a panic.
    assert!(matches!(held.ack().await, Err(Error::Closed)));
    again.ack().await.unwrap();
    assert_quiet(&mut jobs, Duration::from_millis(300)).await;
    run.finish().await;
}

/// As above with a delivery limit of 1: the redelivery is past the limit,
/// so the other process dead-letters it instead of handing it out. That
/// process never declared the queue: it reads the limit from the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_consumers_die_is_dead_lettered_after_max_deliveries() {
    let Some(mut run) = Run::<Nats>::start().await else {
        return;
    };
    run.bus.declare(&QueueSpec::work("dead")).await.unwrap();
    run.bus
        .declare(&QueueSpec::work("jobs").dead_letter_after(1, "dead"))
        .await
        .unwrap();
    run.bus
        .publish("jobs", Message::new("crash"))
        .await
        .unwrap();
    let mut jobs = run
        .bus
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    let held = run.next(&mut jobs).await;
    assert_eq!(held.attempt, 1);
    run.bus = run.other().await;
    std::mem::forget(held);

    let mut jobs = run
        .bus
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    let mut dead = run
        .bus
        .consume("dead", ConsumeOptions::default())
        .await
        .unwrap();
    let d = next_within(&mut dead, ACK_WAIT + Duration::from_secs(3)).await;
    assert_eq!((&d.bytes()[..], d.attempt), (&b"crash"[..], 1));
    d.ack().await.unwrap();
    assert_quiet(&mut jobs, Duration::from_millis(300)).await;
    assert_eq!(run.bus.depth("jobs").await.unwrap(), QueueDepth::default());
    run.finish().await;
}

/// A call longer than the ack wait: the bus keeps the delivery alive, and
/// nobody gets it twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_held_delivery_is_not_delivered_again_while_held() {
    let Some(run) = Run::<Nats>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("jobs")).await.unwrap();
    bus.publish("jobs", Message::new("slow")).await.unwrap();
    let mut mine = bus
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    let held = run.next(&mut mine).await;
    let other = run.other().await;
    let mut theirs = other
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    // The test is about time: held past two ack waits.
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
    run.finish().await;
}
