//! RabbitMQ's own ways with connections: what a lost connection takes with
//! it, and the URLs it refuses.

use funcmesh_bus::{ConsumeOptions, Error, Message, QueueSpec};

use crate::RabbitMq;
use crate::broker::close_connections;
use crate::contract::Run;

/// Unlike JetStream, which keeps a delivery pending across a short loss,
/// the broker takes back what a lost connection held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_held_across_a_reconnect_is_redelivered() {
    let Some(run) = Run::<RabbitMq>::start().await else {
        return;
    };
    let bus = &run.bus;
    bus.declare(&QueueSpec::work("jobs")).await.unwrap();
    bus.publish("jobs", Message::new("work")).await.unwrap();
    let mut jobs = bus
        .consume("jobs", ConsumeOptions::default())
        .await
        .unwrap();
    let held = run.next(&mut jobs).await;
    assert_eq!(close_connections(&run.ns), 1);
    // Acking now is an error, not a panic, and the message comes round again.
    let again = run.next(&mut jobs).await;
    assert_eq!((&again.bytes()[..], again.attempt), (&b"work"[..], 2));
    assert!(matches!(held.ack().await, Err(Error::Unavailable(_))));
    again.ack().await.unwrap();
    run.finish().await;
}
