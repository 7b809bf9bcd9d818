//! NATS's own ways with connections: what JetStream keeps across a short
//! loss, and the URLs it refuses.

use std::time::Duration;

use funcmesh_bus::{ConsumeOptions, Error, Message, QueueDepth, QueueSpec};

use crate::Nats;
use crate::common::{assert_quiet, wait_connected};
use crate::contract::Run;
use crate::server::ACK_WAIT;

/// Unlike a broker that takes back what a lost connection held, JetStream
/// keeps a delivery pending across a short loss: it can still be
/// acknowledged, and is not delivered again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_held_across_a_short_reconnect_can_still_be_acked() {
    let Some(run) = Run::<Nats>::through_proxy().await else {
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
    assert_eq!(run.cut().await, 1);
    wait_connected(bus).await;
    // Renewed across the loss: not delivered again after the ack wait.
    assert_quiet(&mut jobs, ACK_WAIT + Duration::from_secs(1)).await;
    held.ack().await.unwrap();
    assert_eq!(bus.depth("jobs").await.unwrap(), QueueDepth::default());
    // And the consumer still pulls.
    bus.publish("jobs", Message::new("next")).await.unwrap();
    assert_eq!(run.next(&mut jobs).await.bytes(), "next");
    run.finish().await;
}

#[tokio::test]
async fn bad_urls_are_refused_with_a_reason() {
    let Err(err) = funcmesh_bus::connect("nats+tls://h:4222").await else {
        panic!("nats+tls:// accepted");
    };
    assert!(matches!(err, Error::UnsupportedScheme(_)), "{err}");
    for url in [
        "nats://h?namespace=a*",
        "nats://h?replicas=3",
        "nats://u:secret@h:port",
        "tls://u:secret@h?cacertfile=/nonexistent/ca.pem",
    ] {
        let Err(err) = funcmesh_bus::connect(url).await else {
            panic!("{url} accepted");
        };
        assert!(matches!(err, Error::InvalidUrl(_)), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
    }
}
