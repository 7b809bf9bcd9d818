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

#[tokio::test]
async fn publish_then_consume_in_order() {
    let bus = bus_with(QueueSpec::work("q")).await;
    for i in 0..3 {
        bus.publish("q", Message::new(format!("m{i}")))
            .await
            .unwrap();
    }
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    for i in 0..3 {
        let d = next(&mut c).await;
        assert_eq!(d.body, format!("m{i}"));
        assert_eq!(d.attempt, 1);
        d.ack().await.unwrap();
    }
    assert_eq!(bus.depth("q").await.unwrap(), QueueDepth::default());
}

#[tokio::test]
async fn unknown_queue_is_an_error_not_a_loss() {
    let bus = InProcBus::new();
    let err = bus.publish("nope", Message::new("x")).await.unwrap_err();
    assert!(matches!(err, Error::UnknownQueue(q) if q == "nope"));
}

#[tokio::test]
async fn full_queue_pushes_back() {
    let bus = bus_with(QueueSpec::work("q").max_len(2)).await;
    bus.publish("q", Message::new("1")).await.unwrap();
    bus.publish("q", Message::new("2")).await.unwrap();
    let err = bus.publish("q", Message::new("3")).await.unwrap_err();
    assert!(matches!(err, Error::QueueFull { limit: 2, .. }), "{err}");
    assert_eq!(bus.depth("q").await.unwrap().ready, 2);
}

#[tokio::test]
async fn dropped_delivery_is_redelivered_to_another_consumer() {
    let bus = bus_with(QueueSpec::work("q")).await;
    bus.publish("q", Message::new("work")).await.unwrap();
    let mut first = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let d = next(&mut first).await;
    assert_eq!(
        bus.depth("q").await.unwrap(),
        QueueDepth {
            ready: 0,
            unacked: 1
        }
    );
    drop(d);
    drop(first);
    let mut second = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let again = next(&mut second).await;
    assert_eq!(again.body, "work");
    assert_eq!(again.attempt, 2);
}

#[tokio::test]
async fn competing_consumers_share_the_work() {
    let bus = bus_with(QueueSpec::work("q")).await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let mut c = bus
            .consume("q", ConsumeOptions { prefetch: 1 })
            .await
            .unwrap();
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            while let Ok(Some(Ok(d))) =
                tokio::time::timeout(Duration::from_millis(200), c.next()).await
            {
                seen.push(d.body.clone());
                d.ack().await.unwrap();
                tokio::task::yield_now().await;
            }
            seen
        }));
    }
    for i in 0..400 {
        bus.publish("q", Message::new(i.to_string())).await.unwrap();
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 400, "every message delivered exactly once");
}

#[tokio::test]
async fn prefetch_limits_unacked_deliveries() {
    let bus = bus_with(QueueSpec::work("q")).await;
    for i in 0..3 {
        bus.publish("q", Message::new(i.to_string())).await.unwrap();
    }
    let mut c = bus
        .consume("q", ConsumeOptions { prefetch: 2 })
        .await
        .unwrap();
    let a = next(&mut c).await;
    let _b = next(&mut c).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(50), c.next())
            .await
            .is_err()
    );
    a.ack().await.unwrap();
    assert_eq!(next(&mut c).await.body, "2");
}

#[tokio::test]
async fn poison_message_goes_to_the_dead_letter_queue() {
    let bus = bus_with(QueueSpec::work("q").dead_letter_after(3, "q.dead")).await;
    bus.declare(&QueueSpec::work("q.dead")).await.unwrap();
    bus.publish("q", Message::new("poison")).await.unwrap();
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    for attempt in 1..=3 {
        let d = next(&mut c).await;
        assert_eq!(d.attempt, attempt);
        d.nack(true).await.unwrap();
    }
    assert_eq!(bus.depth("q").await.unwrap(), QueueDepth::default());
    let mut dead = bus
        .consume("q.dead", ConsumeOptions::default())
        .await
        .unwrap();
    assert_eq!(next(&mut dead).await.body, "poison");
}

#[tokio::test]
async fn expired_messages_are_not_delivered() {
    let bus = bus_with(QueueSpec::work("q")).await;
    bus.publish("q", Message::new("late").expires_at_ms(now_ms() - 1))
        .await
        .unwrap();
    bus.publish("q", Message::new("fresh").expires_at_ms(now_ms() + 60_000))
        .await
        .unwrap();
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    assert_eq!(next(&mut c).await.body, "fresh");
}

#[tokio::test]
async fn a_waiting_consumer_wakes_on_publish() {
    let bus = bus_with(QueueSpec::work("q")).await;
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    let waiter = tokio::spawn(async move { next(&mut c).await.body });
    tokio::task::yield_now().await;
    bus.publish("q", Message::new("hi")).await.unwrap();
    assert_eq!(waiter.await.unwrap(), "hi");
}

#[tokio::test]
async fn shared_url_names_one_bus() {
    let a = InProcBus::shared("inproc://t-shared");
    let b = InProcBus::shared("inproc://t-shared");
    a.declare(&QueueSpec::work("x")).await.unwrap();
    b.publish("x", Message::new("1")).await.unwrap();
    assert_eq!(a.depth("x").await.unwrap().ready, 1);
}

#[tokio::test]
async fn every_listener_gets_every_broadcast_after_it_started() {
    let bus = InProcBus::new();
    bus.broadcast("t", Bytes::from_static(b"before"))
        .await
        .unwrap();
    let mut a = bus.listen("t").await.unwrap();
    let mut b = bus.listen("t").await.unwrap();
    bus.broadcast("t", Bytes::from_static(b"one"))
        .await
        .unwrap();
    bus.broadcast("other", Bytes::from_static(b"x"))
        .await
        .unwrap();
    for listener in [&mut a, &mut b] {
        let delivery = listener.next().await.unwrap().unwrap();
        assert_eq!(&delivery.body[..], b"one");
        delivery.ack().await.unwrap();
    }
}

#[tokio::test]
async fn a_tap_copies_what_is_published_and_takes_nothing() {
    let bus = bus_with(QueueSpec::work("q")).await;
    bus.publish("q", Message::new("before")).await.unwrap();
    let mut tap = bus.tap("q").await.unwrap();
    for i in 0..3 {
        bus.publish("q", Message::new(format!("m{i}")))
            .await
            .unwrap();
    }
    for i in 0..3 {
        let copy = next(&mut tap).await;
        assert_eq!(copy.body, format!("m{i}"));
        copy.ack().await.unwrap();
    }
    assert_eq!(bus.depth("q").await.unwrap().ready, 4, "nothing taken");
    let mut c = bus.consume("q", ConsumeOptions::default()).await.unwrap();
    for expected in ["before", "m0", "m1", "m2"] {
        let d = next(&mut c).await;
        assert_eq!(d.body, expected);
        d.ack().await.unwrap();
    }
}

#[tokio::test]
async fn a_tap_on_an_undeclared_queue_is_unknown() {
    let bus = InProcBus::new();
    let err = bus.tap("nope").await.unwrap_err();
    assert!(
        matches!(&err, Error::UnknownQueue(q) if q == "nope"),
        "{err}"
    );
}

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
