//! Helpers for the tests against a real RabbitMQ on 127.0.0.1:5672.

#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure is a failed test

#[path = "deliveries.rs"]
mod deliveries;
#[path = "taps.rs"]
mod taps;

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use funcmesh_bus::{Bus, Consumer, Delivery};
use lapin::options::QueueDeleteOptions;
use lapin::{Connection, ConnectionProperties};

pub use deliveries::*;
pub use taps::*;

pub const BROKER: &str = "127.0.0.1:5672";

/// Whether a broker answers; prints why the test is skipped when not.
pub fn broker_up() -> bool {
    let addr: SocketAddr = BROKER.parse().unwrap();
    let up = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok();
    if !up {
        eprintln!(
            "SKIPPED: no RabbitMQ answers on {BROKER} (scripts/setup.sh ensure_rabbitmq starts one)"
        );
    }
    up
}

pub fn url(ns: &str) -> String {
    format!("amqp://guest:guest@{BROKER}/%2f?namespace={ns}")
}

/// A connected bus in a namespace of its own, or `None` (and a message)
/// when no broker answers.
pub async fn setup() -> Option<(String, Arc<dyn Bus>)> {
    if !broker_up() {
        return None;
    }
    let ns = namespace();
    let bus = bus(&ns).await;
    Some((ns, bus))
}

/// A connected bus in namespace `ns`.
pub async fn bus(ns: &str) -> Arc<dyn Bus> {
    connected(&url(ns)).await
}

/// The next delivery, failing the test after 5 s.
pub async fn next(consumer: &mut Consumer) -> Delivery {
    next_within(consumer, Duration::from_secs(5)).await
}

/// Deletes this namespace's queues and exchange from the shared broker.
pub async fn cleanup(ns: &str, queues: &[&str]) {
    let url = format!("amqp://guest:guest@{BROKER}/%2f");
    let conn = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    // One channel each: a refusal (an exclusive queue still held by the bus's
    // connection, which deletes it anyway) closes its channel.
    for queue in queues {
        let channel = conn.create_channel().await.unwrap();
        let _ = channel
            .queue_delete(
                format!("{ns}.{queue}").into(),
                QueueDeleteOptions::default(),
            )
            .await;
    }
    let channel = conn.create_channel().await.unwrap();
    channel
        .exchange_delete(format!("{ns}.funcmesh.control").into(), Default::default())
        .await
        .unwrap();
    let channel = conn.create_channel().await.unwrap();
    let _ = channel
        .exchange_delete(format!("{ns}.funcmesh.work").into(), Default::default())
        .await;
    let _ = conn.close(200, "done".into()).await;
}

/// Runs `rabbitmqctl` with `args` and returns its output.
pub fn rabbitmqctl(args: &[&str]) -> String {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("running rabbitmqctl");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Closes the broker connections of the bus in namespace `ns`; returns how many.
pub fn close_connections(ns: &str) -> usize {
    let name = format!("funcmesh {ns} {}", std::process::id());
    let listing = rabbitmqctl(&[
        "list_connections",
        "--no-table-headers",
        "-q",
        "pid",
        "client_properties",
    ]);
    let pids: Vec<&str> = listing
        .lines()
        .filter(|line| line.contains(&name))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    for pid in &pids {
        rabbitmqctl(&["close_connection", pid, "funcmesh reconnect test"]);
    }
    pids.len()
}

/// Records the level and message of every event from funcmesh_bus.
#[derive(Clone, Default)]
pub struct LogCapture(Arc<std::sync::Mutex<Vec<(tracing::Level, String)>>>);

impl LogCapture {
    /// The messages logged at `level` so far.
    pub fn at(&self, level: tracing::Level) -> Vec<String> {
        let events = self.0.lock().unwrap();
        events
            .iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, m)| m.clone())
            .collect()
    }
}

impl tracing::Subscriber for LogCapture {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target().starts_with("funcmesh_bus")
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let level = *event.metadata().level();
        self.0.lock().unwrap().push((level, message.0));
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
