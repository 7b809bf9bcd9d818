//! Reply queues on core NATS: a request to the gateway's queue group,
//! confirmed by the gateway, so a reply queue exists exactly while its
//! consumers do.

use std::collections::BTreeSet;
use std::time::Duration;

use funcmesh_bus::{ConsumeOptions, Error, Message, QueueSpec};

use crate::Nats;
use crate::common::assert_quiet;
use crate::contract::Run;

#[tokio::test]
async fn a_reply_queue_takes_messages_only_while_its_consumers_live() {
    let Some(run) = Run::<Nats>::start().await else {
        return;
    };
    let gateway = &run.bus;
    let runner = run.other().await;
    gateway
        .declare(&QueueSpec::reply("reply.gw-1"))
        .await
        .unwrap();
    // Declared, not consumed: nobody would take the message.
    let err = runner
        .publish("reply.gw-1", Message::new("early"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnknownQueue(_)), "{err}");

    let options = ConsumeOptions::default();
    let replies = gateway.consume("reply.gw-1", options).await.unwrap();
    let second = gateway.consume("reply.gw-1", options).await.unwrap();
    runner
        .publish("reply.gw-1", Message::new("taken"))
        .await
        .unwrap();
    // Its consumers gone, the reply queue is gone.
    drop((replies, second));
    funcmesh_testkit::eventually(Duration::from_secs(2), "the reply queue goes", || async {
        match runner.publish("reply.gw-1", Message::new("x")).await {
            Err(Error::UnknownQueue(q)) => {
                assert_eq!(q, "reply.gw-1");
                true
            }
            Ok(()) => false,
            Err(other) => panic!("unexpected {other}"),
        }
    })
    .await;
    run.finish().await;
}

/// Many sends in flight at once from two processes: the gateway confirms
/// what arrives together in batches, one per sender, and every send learns
/// that its message was taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_replies_are_all_confirmed() {
    let Some(run) = Run::<Nats>::start().await else {
        return;
    };
    let gateway = &run.bus;
    let runners = [run.other().await, run.other().await];
    gateway
        .declare(&QueueSpec::reply("reply.gw-batch"))
        .await
        .unwrap();
    let mut replies = gateway
        .consume("reply.gw-batch", ConsumeOptions::default())
        .await
        .unwrap();
    let sends = runners.iter().enumerate().flat_map(|(r, runner)| {
        (0..300).map(move |i| async move {
            runner
                .publish("reply.gw-batch", Message::new(format!("{r}-{i}")))
                .await
        })
    });
    let results = futures::future::join_all(sends).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let mut seen = BTreeSet::new();
    while seen.len() < 600 {
        let d = run.next(&mut replies).await;
        assert!(seen.insert(d.bytes().clone()), "delivered twice: {d:?}");
    }
    assert_quiet(&mut replies, Duration::from_millis(200)).await;
    run.finish().await;
}
