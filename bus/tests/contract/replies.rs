//! Reply queues: a gateway owns one, runners answer on it.

use std::collections::BTreeSet;
use std::time::Duration;

use funcmesh_bus::{ConsumeOptions, Message, QueueDepth, QueueSpec, now_ms};

use super::{Backend, Run};
use crate::common::{assert_quiet, publish_numbered, text};

pub async fn a_reply_queue_carries_replies_until_they_expire<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let gateway = &run.bus;
    let runner = run.other().await;
    gateway
        .declare(&QueueSpec::reply("reply.gw-1"))
        .await
        .unwrap();
    let mut replies = gateway
        .consume("reply.gw-1", ConsumeOptions::default())
        .await
        .unwrap();
    let until = now_ms() + 60_000;
    runner
        .publish("reply.gw-1", Message::new("answer").expires_at_ms(until))
        .await
        .unwrap();
    let d = run.next(&mut replies).await;
    assert_eq!((&d.bytes()[..], d.attempt), (&b"answer"[..], 1));
    assert_eq!(d.expires_at_ms, Some(until));
    d.ack().await.unwrap();
    // An expired reply is not handed out.
    runner
        .publish(
            "reply.gw-1",
            Message::new("late").expires_at_ms(now_ms() - 1),
        )
        .await
        .unwrap();
    assert_quiet(&mut replies, Duration::from_millis(300)).await;
    run.finish().await;
}

/// Once its replies are taken (or skipped, expired), a reply queue is empty.
pub async fn a_reply_queue_is_empty_once_its_replies_are_taken<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let runner = run.other().await;
    run.bus
        .declare(&QueueSpec::reply("reply.gw-3"))
        .await
        .unwrap();
    let mut replies = run
        .bus
        .consume("reply.gw-3", ConsumeOptions::default())
        .await
        .unwrap();
    runner
        .publish("reply.gw-3", Message::new("answer"))
        .await
        .unwrap();
    runner
        .publish(
            "reply.gw-3",
            Message::new("late").expires_at_ms(now_ms() - 1),
        )
        .await
        .unwrap();
    run.next(&mut replies).await.ack().await.unwrap();
    assert_quiet(&mut replies, Duration::from_millis(300)).await;
    run.depth_becomes("reply.gw-3", QueueDepth::default()).await;
    run.finish().await;
}

/// Two consumers of one reply queue (a gateway's tasks) compete: each
/// reply reaches one of them.
pub async fn consumers_of_a_reply_queue_compete<B: Backend>() {
    let Some(run) = Run::<B>::start().await else {
        return;
    };
    let gateway = &run.bus;
    let runner = run.other().await;
    gateway
        .declare(&QueueSpec::reply("reply.gw-2"))
        .await
        .unwrap();
    let options = ConsumeOptions::default();
    let mut first = gateway.consume("reply.gw-2", options).await.unwrap();
    let mut second = gateway.consume("reply.gw-2", options).await.unwrap();
    publish_numbered(&*runner, "reply.gw-2", "r", 20).await;
    let mut seen = BTreeSet::new();
    while seen.len() < 20 {
        let d = tokio::select! {
            d = run.next(&mut first) => d,
            d = run.next(&mut second) => d,
        };
        assert!(seen.insert(text(&d)), "delivered twice: {d:?}");
        d.ack().await.unwrap();
    }
    assert_quiet(&mut first, Duration::from_millis(200)).await;
    assert_quiet(&mut second, Duration::from_millis(200)).await;
    run.finish().await;
}
