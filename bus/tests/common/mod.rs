//! Helpers for the tests of any backend: namespaces, waiting for a
//! connection, publishing numbered messages, taking deliveries.
//!
//! - `brokers`: whether a broker answers, and what a missing one means
//!   (a skip, or a failure under `FUNCMESH_REQUIRE_BROKERS`).
//! - `logs`: what the bus logged, for the tests about its log lines.
//! - `proxy`: a TCP proxy in front of a server, to lose connections
//!   without touching the server.
//! - `tls`: a round trip through a trusted TLS server, and no connection
//!   to an untrusted one.

#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is a failed test

pub mod brokers;
pub mod logs;
pub mod proxy;
pub mod tls;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use funcmesh_bus::{Bus, Consumer, Delivery, Error, Message};
use rand::Rng;

/// How long a bus may take to connect.
pub const CONNECT: Duration = Duration::from_secs(10);

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
pub async fn wait_connected(bus: &Arc<dyn Bus>) {
    funcmesh_testkit::eventually(CONNECT, "the bus is connected", || async {
        match bus.publish("no-such-queue", Message::new("probe")).await {
            Err(Error::UnknownQueue(_)) => true,
            Err(Error::Unavailable(_)) => false,
            other => panic!("unexpected answer to a probe: {other:?}"),
        }
    })
    .await;
}

/// Publishes `{prefix}0` .. `{prefix}{n-1}` to `queue`, in order.
pub async fn publish_numbered(bus: &dyn Bus, queue: &str, prefix: &str, n: usize) {
    for i in 0..n {
        bus.publish(queue, Message::new(format!("{prefix}{i}")))
            .await
            .unwrap();
    }
}

/// `{prefix}0` .. `{prefix}{n-1}`.
pub fn numbered(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// A delivery's body as text.
pub fn text(delivery: &Delivery) -> String {
    String::from_utf8(delivery.bytes().to_vec()).unwrap()
}

/// The next delivery, failing the test after `wait`.
pub async fn next_within(consumer: &mut Consumer, wait: Duration) -> Delivery {
    tokio::time::timeout(wait, consumer.next())
        .await
        .unwrap_or_else(|_| panic!("no delivery within {wait:?}"))
        .expect("consumer ended")
        .expect("consumer error")
}

/// The bodies of the next `n` deliveries, in the order they came, each
/// acknowledged.
pub async fn take(consumer: &mut Consumer, n: usize, wait: Duration) -> Vec<String> {
    let mut bodies = Vec::with_capacity(n);
    for _ in 0..n {
        let delivery = next_within(consumer, wait).await;
        bodies.push(text(&delivery));
        delivery.ack().await.unwrap();
    }
    bodies
}

/// The bodies of the next `n` deliveries, each acknowledged.
pub async fn take_set(consumer: &mut Consumer, n: usize, wait: Duration) -> BTreeSet<String> {
    take(consumer, n, wait).await.into_iter().collect()
}

/// Asserts that nothing arrives within `wait`.
pub async fn assert_quiet(consumer: &mut Consumer, wait: Duration) {
    if let Ok(got) = tokio::time::timeout(wait, consumer.next()).await {
        panic!("expected nothing, got {got:?}");
    }
}
