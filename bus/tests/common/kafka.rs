//! Helpers for the tests against a real Kafka-compatible broker on
//! 127.0.0.1:9092 (`scripts/kafka-broker start` starts tansu there). The
//! broker is shared: nothing here stops or restarts it.

#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is a failed test

#[path = "deliveries.rs"]
mod deliveries;
#[path = "taps.rs"]
mod taps;

use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

pub use deliveries::*;
use funcmesh_bus::{Bus, Consumer, Delivery};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
pub use taps::*;

pub const BROKER: &str = "127.0.0.1:9092";

/// Group rebalances and the first fetch take a few seconds on Kafka.
pub const WAIT: Duration = Duration::from_secs(20);

/// Whether a broker answers; prints why the test is skipped when not.
pub fn broker_up() -> bool {
    let addr: SocketAddr = BROKER.parse().unwrap();
    let up = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok();
    if !up {
        eprintln!("SKIPPED: no Kafka broker answers on {BROKER} (scripts/kafka-broker start)");
    }
    up
}

pub fn url(ns: &str) -> String {
    format!("kafka://{BROKER}?namespace={ns}&partitions=4")
}

/// A connected bus in a namespace of its own, or `None` (and a message)
/// when no broker answers.
pub async fn setup() -> Option<(String, Arc<dyn Bus>)> {
    if !broker_up() {
        return None;
    }
    let ns = namespace();
    let bus = connected(&url(&ns)).await;
    Some((ns, bus))
}

/// The next delivery, failing the test after [`WAIT`].
pub async fn next(consumer: &mut Consumer) -> Delivery {
    next_within(consumer, WAIT).await
}

/// Deletes the topics of namespace `ns`.
pub async fn cleanup(ns: &str) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", BROKER)
        .create()
        .unwrap();
    let prefix = format!("{ns}.");
    let metadata = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(5))
        .unwrap();
    let doomed: Vec<String> = metadata
        .topics()
        .iter()
        .map(|topic| topic.name().to_owned())
        .filter(|name| name.starts_with(&prefix))
        .collect();
    if doomed.is_empty() {
        return;
    }
    let names: Vec<&str> = doomed.iter().map(String::as_str).collect();
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(5)));
    let deleting = admin.delete_topics(&names, &options);
    if tokio::time::timeout(Duration::from_secs(10), deleting)
        .await
        .is_err()
    {
        eprintln!("the broker did not delete the topics of {ns} within 10 s");
    }
}
