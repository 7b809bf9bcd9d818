//! The shared nats-server (with JetStream) the tests run on: cleaning up a
//! namespace's streams, and counting them. Nothing here stops or restarts
//! the server.

use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;

use crate::common::brokers::Broker;

pub const SERVER: Broker = Broker {
    name: "nats-server",
    addr: "127.0.0.1:4222",
    start: "start one with JetStream: nats-server -a 127.0.0.1 -p 4222 -js",
};

/// The server's ack wait: how soon a dead consumer's deliveries come back.
pub const ACK_WAIT: Duration = Duration::from_secs(5);

/// Deletes the streams of namespace `ns` from the shared server, and those
/// of earlier test runs whose process is gone (a test that failed before
/// its cleanup).
pub async fn cleanup(ns: &str) {
    let client = async_nats::connect(SERVER.addr).await.unwrap();
    let js = jetstream::new(client.clone());
    let mut streams = js.streams();
    let mut doomed = Vec::new();
    while let Some(info) = streams.next().await {
        let info = info.unwrap();
        let Some(subject) = info.config.subjects.first() else {
            continue;
        };
        let Some((owner, _)) = subject.split_once(".funcmesh.") else {
            continue;
        };
        if owner == ns || stale_test_namespace(owner) {
            doomed.push(info.config.name.clone());
        }
    }
    for name in doomed {
        // Another run may be deleting the same stale stream.
        let _ = js.delete_stream(&name).await;
    }
    client.flush().await.unwrap();
}

/// Whether `ns` is a namespace of the tests (`t<pid>-<8 hex>`) whose
/// process no longer runs.
fn stale_test_namespace(ns: &str) -> bool {
    let Some((pid, suffix)) = ns.strip_prefix('t').and_then(|rest| rest.split_once('-')) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    suffix.len() == 8
        && suffix.chars().all(|c| c.is_ascii_hexdigit())
        && pid != std::process::id()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// How many streams namespace `ns` has on the server.
pub async fn streams_of(ns: &str) -> usize {
    let client = async_nats::connect(SERVER.addr).await.unwrap();
    let js = jetstream::new(client);
    let mut streams = js.streams();
    let mut count = 0;
    while let Some(info) = streams.next().await {
        let info = info.unwrap();
        if info
            .config
            .subjects
            .iter()
            .any(|s| s.starts_with(&format!("{ns}.funcmesh.")))
        {
            count += 1;
        }
    }
    count
}
