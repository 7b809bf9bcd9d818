//! Helpers for the tests of any broker: namespaces, waiting for a
//! connection, publishing numbered messages, taking deliveries.

#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is a failed test

use std::sync::Arc;
use std::time::{Duration, Instant};

use funcmesh_bus::{Bus, Consumer, Delivery, Error, Message};
use rand::Rng;

/// A namespace that no other run uses: `t<pid>-<random>`.
pub fn namespace() -> String {
    format!(
        "t{}-{:08x}",
        std::process::id(),
        rand::rng().random::<u32>()
    )
}

/// A connected bus at `url`.
pub async fn connected(url: &str) -> Arc<dyn Bus> {
    let bus = funcmesh_bus::connect(url).await.unwrap();
    wait_connected(&bus).await;
    bus
}

/// Waits until the bus answers as a connected one does: publishing to a
/// queue that does not exist is `UnknownQueue`, not `Unavailable`.
pub async fn wait_connected(bus: &Arc<dyn Bus>) -> Duration {
    let start = Instant::now();
    loop {
        match bus.publish("no-such-queue", Message::new("probe")).await {
            Err(Error::UnknownQueue(_)) => return start.elapsed(),
            Err(Error::Unavailable(_)) => {}
            other => panic!("unexpected answer to a probe: {other:?}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "not connected after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Publishes `{prefix}0` .. `{prefix}{n-1}` to `queue`, in order.
pub async fn publish_numbered(bus: &dyn Bus, queue: &str, prefix: &str, n: usize) {
    for i in 0..n {
        bus.publish(queue, Message::new(format!("{prefix}{i}")))
            .await
            .unwrap();
    }
}

/// The next delivery, failing the test after `wait`.
pub async fn next_within(consumer: &mut Consumer, wait: Duration) -> Delivery {
    tokio::time::timeout(wait, consumer.next())
        .await
        .unwrap_or_else(|_| panic!("no delivery within {wait:?}"))
        .expect("consumer ended")
        .expect("consumer error")
}

/// Asserts that nothing arrives within `wait`.
pub async fn assert_quiet(consumer: &mut Consumer, wait: Duration) {
    if let Ok(got) = tokio::time::timeout(wait, consumer.next()).await {
        panic!("expected nothing, got {got:?}");
    }
}
