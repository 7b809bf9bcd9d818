//! Acknowledgements and what comes back without one: redelivery,
//! prefetch, competing consumers, the delivery limit and dead letters.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use funcmesh_bus::{ConsumeOptions, Message, QueueDepth, QueueSpec, now_ms};

use super::{Backend, Run};
use crate::common::{assert_quiet, next_within, publish_numbered, text};

pub async fn a_dropped_delivery_comes_back_as_attempt_two<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    run.bus.declare(&QueueSpec::work("q")).await.unwrap();
    run.bus
        .publish("q", Message::new("once more"))
        .await
        .unwrap();
    let mut c = run
        .bus
        .consume("q", ConsumeOptions::default())
        .await
        .unwrap();
    let first = run.next(&mut c).await;
    assert_eq!(first.attempt, 1);
    drop(first);
    // Given back at once, not left to a server's ack wait.
    let again = next_within(&mut c, Duration::from_secs(2)).await;
    assert_eq!((&again.bytes()[..], again.attempt), (&b"once more"[..], 2));
    again.ack().await.unwrap();
    assert_quiet(&mut c, Duration::from_millis(300)).await;
    run.finish().await;
}

/// A consumer dies with a delivery in hand (the consumer goes, then the
/// delivery, unsettled): another consumer gets it.
pub async fn a_delivery_dropped_with_its_consumer_goes_to_another<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    bus.publish("q", Message::new("work")).await.unwrap();
    let mut first = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let d = run.next(&mut first).await;
    assert_eq!(d.attempt, 1);
    run.depth_becomes("q", B::SHAPE.held.depth(0, 1)).await;
    drop(first);
    drop(d);
    let mut second = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let again = next_within(&mut second, B::SHAPE.given_back_within).await;
    assert_eq!(again.bytes(), "work");
    // Where a consumer fetches ahead, the broker may hand the given-back
    // message to the dying consumer once more before it is gone (see
    // `given_back_attempts`): that return counts too.
    let (_, high) = B::SHAPE.given_back_attempts;
    assert!((2..=1 + high).contains(&again.attempt), "{again:?}");
    again.ack().await.unwrap();
    assert_quiet(&mut second, Duration::from_millis(300)).await;
    run.depth_becomes("q", QueueDepth::default()).await;
    run.finish().await;
}

pub async fn prefetch_bounds_unacknowledged_deliveries<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    publish_numbered(&**bus, "q", "", 5).await;
    let mut c = bus
        .consume("q", ConsumeOptions { prefetch: 2 })
        .await
        .unwrap();
    let first = run.next(&mut c).await;
    let second = run.next(&mut c).await;
    assert_quiet(&mut c, Duration::from_millis(500)).await;
    run.depth_becomes("q", B::SHAPE.held.depth(3, 2)).await;
    // What the depth counts of the two out, the bus says it holds: a
    // runner reports it, and the tron takes it off the depth.
    let counted = B::SHAPE.held.depth(0, 2).ready;
    assert_eq!(bus.held(), counted, "held, as the depth counts them");
    let held = [text(&first), text(&second)];
    first.ack().await.unwrap();
    let third = run.next(&mut c).await;
    if B::SHAPE.ordered {
        assert_eq!(held, ["0", "1"]);
        assert_eq!(third.bytes(), "2");
    } else {
        assert!(!held.contains(&text(&third)), "{third:?} again");
    }
    assert_quiet(&mut c, Duration::from_millis(300)).await;
    second.ack().await.unwrap();
    third.ack().await.unwrap();
    // The last two taken, what was settled before them is no longer held
    // once its position is committed.
    let last = [run.next(&mut c).await, run.next(&mut c).await];
    run.depth_becomes("q", B::SHAPE.held.depth(0, 2)).await;
    let settled = funcmesh_testkit::try_eventually(Duration::from_secs(5), || async {
        bus.held() == counted
    })
    .await;
    assert!(settled, "{} held, not {counted}", bus.held());
    for delivery in last {
        delivery.ack().await.unwrap();
    }
    run.finish().await;
}

/// Two consumers share a queue's work, each message going to one of them.
/// Work keeps coming until both have had some: a consumer that joins late
/// (a Kafka consumer waits for its partitions) gets its share then.
pub async fn competing_consumers_share_the_work<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    let options = ConsumeOptions { prefetch: 1 };
    let mut a = bus.consume("q", options).await.unwrap();
    let mut b = bus.consume("q", options).await.unwrap();
    share_until_both_have_some(&run, [&mut a, &mut b], &mut BTreeSet::new()).await;
    run.finish().await;
}

/// A consumer that joins a queue while another holds deliveries is never
/// handed those (a Kafka partition given to it changes hands only once
/// what was delivered from there is settled), and then the two share the
/// work, each message delivered once.
pub async fn a_consumer_that_joins_gets_nothing_another_holds<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    let options = ConsumeOptions { prefetch: 8 };
    let mut a = bus.consume("q", options).await.unwrap();
    publish_numbered(&**bus, "q", "held", 8).await;
    let mut seen = BTreeSet::new();
    let mut held = Vec::new();
    for _ in 0..8 {
        let d = run.next(&mut a).await;
        assert!(seen.insert(text(&d)), "delivered twice: {d:?}");
        held.push(d);
    }
    let mut b = bus.consume("q", options).await.unwrap();
    // Long enough for a Kafka consumer to hear the others and for the
    // partitions to be shared out again; shorter than the 5 s a partition
    // given away waits for what was delivered from it.
    assert_quiet(&mut b, Duration::from_secs(4)).await;
    for d in held {
        d.ack().await.unwrap();
    }
    share_until_both_have_some(&run, [&mut a, &mut b], &mut seen).await;
    run.finish().await;
}

/// Publishes work 20 messages at a time until each consumer has had some,
/// acknowledging every delivery and failing on one seen before (`seen`
/// holds what came earlier); then neither gets anything more.
async fn share_until_both_have_some<B: Backend>(
    run: &Run<B>,
    [a, b]: [&mut funcmesh_bus::Consumer; 2],
    seen: &mut BTreeSet<String>,
) {
    let (mut from_a, mut from_b, mut published) = (0, 0, 0);
    let before = seen.len();
    let start = Instant::now();
    while from_a == 0 || from_b == 0 {
        assert!(
            start.elapsed() < B::SHAPE.wait * 2,
            "a got {from_a}, b got {from_b} of {published}"
        );
        for i in published..published + 20 {
            run.bus
                .publish("q", Message::new(i.to_string()))
                .await
                .unwrap();
        }
        published += 20;
        while seen.len() < before + published {
            let d = tokio::select! {
                d = run.next(a) => { from_a += 1; d }
                d = run.next(b) => { from_b += 1; d }
            };
            assert!(seen.insert(text(&d)), "delivered twice: {d:?}");
            d.ack().await.unwrap();
        }
    }
    assert_quiet(a, Duration::from_millis(300)).await;
    assert_quiet(b, Duration::from_millis(300)).await;
}

/// A consumer that goes away gives back what it fetched and never handed
/// out, and the delivery in hand can still be settled after it went
/// (draining), without being delivered again.
pub async fn a_dropped_consumer_gives_back_its_prefetch_and_lets_work_in_hand_finish<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("q")).await.unwrap();
    publish_numbered(&**bus, "q", "", 5).await;
    let mut a = bus
        .consume("q", ConsumeOptions { prefetch: 10 })
        .await
        .unwrap();
    let in_hand = run.next(&mut a).await;
    let in_hand_body = text(&in_hand);
    if B::SHAPE.ordered {
        assert_eq!(in_hand_body, "0");
    }
    // What the consumer fetched ahead is what it must give back.
    let fetched = if B::SHAPE.fetches_ahead { 5 } else { 1 };
    run.depth_becomes("q", B::SHAPE.held.depth(5 - fetched, fetched))
        .await;
    drop(a);
    let dropped = Instant::now();
    let mut in_hand = Some(in_hand);
    if B::SHAPE.drains_before_giving_back {
        in_hand.take().unwrap().ack().await.unwrap();
    }
    let mut b = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let (low, high) = B::SHAPE.given_back_attempts;
    let mut rest = Vec::new();
    for _ in 0..4 {
        let d = next_within(&mut b, B::SHAPE.given_back_within).await;
        assert!((low..=high).contains(&d.attempt), "{d:?}");
        rest.push(text(&d));
        d.ack().await.unwrap();
    }
    eprintln!("given back after {:?}", dropped.elapsed());
    if !B::SHAPE.ordered {
        rest.sort();
    }
    let others: Vec<String> = (0..5)
        .map(|i| i.to_string())
        .filter(|body| *body != in_hand_body)
        .collect();
    assert_eq!(rest, others);
    // Draining: the work in hand is acknowledged after its consumer went.
    if let Some(in_hand) = in_hand {
        in_hand.ack().await.unwrap();
    }
    assert_quiet(&mut b, Duration::from_millis(300)).await;
    run.depth_becomes("q", QueueDepth::default()).await;
    run.finish().await;
}

pub async fn delivery_limit_dead_letters_after_max_deliveries<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("dead")).await.unwrap();
    let options = ConsumeOptions::default();
    for (queue, max) in [("jobs", 3), ("once", 1)] {
        let spec = QueueSpec::work(queue).dead_letter_after(max, "dead");
        bus.declare(&spec).await.unwrap();
        bus.publish(queue, Message::new(queue).expires_at_ms(now_ms() + 60_000))
            .await
            .unwrap();
        let mut c = bus.consume(queue, options).await.unwrap();
        for attempt in 1..=max {
            let d = run.next(&mut c).await;
            assert_eq!((&d.bytes()[..], d.attempt), (queue.as_bytes(), attempt));
            // Dropped or given back, both count.
            if attempt == 2 {
                drop(d);
            } else {
                d.nack(true).await.unwrap();
            }
        }
        assert_quiet(&mut c, Duration::from_millis(500)).await;
        let mut dead = bus.consume("dead", options).await.unwrap();
        let d = run.next(&mut dead).await;
        assert_eq!(d.bytes(), queue);
        d.ack().await.unwrap();
        run.depth_becomes(queue, QueueDepth::default()).await;
    }
    // Rejected outright: dead-lettered at once.
    bus.publish("jobs", Message::new("poison")).await.unwrap();
    let mut c = bus.consume("jobs", options).await.unwrap();
    run.next(&mut c).await.nack(false).await.unwrap();
    let mut dead = bus.consume("dead", options).await.unwrap();
    assert_eq!(run.next(&mut dead).await.bytes(), "poison");
    run.finish().await;
}

/// A message dead-lettered after its last delivery arrives on the
/// dead-letter queue without its expiry, as a first delivery.
pub async fn a_dead_letter_never_expires_and_counts_afresh<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("dead")).await.unwrap();
    bus.declare(&QueueSpec::work("jobs").dead_letter_after(2, "dead"))
        .await
        .unwrap();
    bus.publish(
        "jobs",
        Message::new("poison").expires_at_ms(now_ms() + 60_000),
    )
    .await
    .unwrap();
    let mut c = bus
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    for _ in 0..2 {
        run.next(&mut c).await.nack(true).await.unwrap();
    }
    let mut dead = bus
        .consume("dead", ConsumeOptions::default())
        .await
        .unwrap();
    let d = run.next(&mut dead).await;
    assert_eq!(d.bytes(), "poison");
    assert_eq!(d.expires_at_ms, None, "a dead letter does not expire");
    assert_eq!(d.attempt, 1, "a dead letter starts counting again");
    d.ack().await.unwrap();
    run.finish().await;
}
