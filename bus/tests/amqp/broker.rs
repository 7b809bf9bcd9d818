//! The shared RabbitMQ the tests run on: cleaning up a namespace, and
//! closing a bus's connections from the broker's side (`rabbitmqctl`).
//! Nothing here stops or restarts the broker.

use std::process::Command;

use lapin::options::QueueDeleteOptions;
use lapin::{Connection, ConnectionProperties};

use crate::common::brokers::Broker;

pub const BROKER: Broker = Broker {
    name: "RabbitMQ",
    addr: "127.0.0.1:5672",
    start: "scripts/setup.sh ensure_rabbitmq starts one",
};

/// Deletes namespace `ns`'s queues and exchanges from the shared broker.
pub async fn cleanup(ns: &str) {
    let prefix = format!("{ns}.");
    let listing = rabbitmqctl(&["-q", "list_queues", "--no-table-headers", "name"]);
    let queues: Vec<&str> = listing
        .lines()
        .map(str::trim)
        .filter(|name| name.starts_with(&prefix))
        .collect();
    let url = format!("amqp://guest:guest@{}/%2f", BROKER.addr);
    let conn = Connection::connect(&url, ConnectionProperties::default())
        .await
        .unwrap();
    // One channel each: a refusal (an exclusive queue still held by the
    // bus's connection, which deletes it anyway) closes its channel.
    for queue in queues {
        let channel = conn.create_channel().await.unwrap();
        let _ = channel
            .queue_delete(queue.into(), QueueDeleteOptions::default())
            .await;
    }
    for exchange in ["funcmesh.control", "funcmesh.work"] {
        let channel = conn.create_channel().await.unwrap();
        let _ = channel
            .exchange_delete(format!("{prefix}{exchange}").into(), Default::default())
            .await;
    }
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
