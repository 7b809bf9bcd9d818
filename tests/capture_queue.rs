//! `funcmesh capture --from-queue` against a cluster of separate `funcmesh`
//! processes on a real broker: the capture copies every request that flows
//! through the Func's queue into its file, and the runners still answer
//! every one of them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::cluster::{Cluster, KAFKA, NATS, RABBITMQ};
use funcmesh_core::capture::read_records;
use funcmesh_core::capture::redact::MASK;
use funcmesh_testkit::try_eventually;

/// Requests sent while the capture runs.
const REQUESTS: usize = 12;

/// Waits until `done` holds, failing with the cluster's logs after `within`.
async fn wait_until(cluster: &Cluster, what: &str, within: Duration, done: impl Fn() -> bool) {
    let held = try_eventually(within, || async { done() }).await;
    assert!(held, "{what} within {within:?}\n{}", cluster.logs());
}

async fn captures_every_request_and_takes_none(base: &str) {
    let cluster = Cluster::new(base);
    cluster.start_all(1).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hello.jsonl");
    let count = REQUESTS.to_string();
    let out_arg = out.display().to_string();
    cluster.spawn(
        "capture",
        &[
            "capture",
            "--from-queue",
            "hello",
            "--count",
            &count,
            "--out",
            &out_arg,
            "--redact",
            "x-api-key",
        ],
    );
    wait_until(
        &cluster,
        "the capture did not start",
        Duration::from_secs(30),
        || cluster.logged("capturing the requests of Func hello"),
    )
    .await;

    let mut ids = BTreeSet::new();
    for i in 0..REQUESTS {
        let resp = common::call_at(cluster.gateway, "GET", &format!("/hello/greet?name=n{i}"))
            .header("authorization", "Bearer s3cret")
            .header("x-api-key", "s3cret")
            .send()
            .await;
        assert_eq!(resp.status, 200, "request {i} was not answered by a runner");
        assert_eq!(resp.json()["greeting"], format!("Hello, n{i}!"));
        ids.insert(resp.header("x-request-id").unwrap().to_owned());
    }

    wait_until(
        &cluster,
        "the capture did not stop after --count",
        Duration::from_secs(30),
        || !cluster.running("capture"),
    )
    .await;
    assert!(
        cluster.logged(&format!("captured {REQUESTS} request(s) of Func hello")),
        "{}",
        cluster.logs()
    );
    let records: Vec<_> = read_records(&out).unwrap().map(Result::unwrap).collect();
    assert_eq!(records.len(), REQUESTS);
    let captured: BTreeSet<String> = records.iter().map(|r| r.request.id.clone()).collect();
    assert_eq!(captured, ids, "the file holds exactly the requests sent");
    let status = cluster.status().await;
    let routes = status["routes"].as_array().unwrap();
    let hello = routes.iter().find(|r| r["name"] == "hello").unwrap();
    for record in &records {
        assert_eq!(
            (record.route.as_str(), record.source.as_str()),
            ("hello", "queue")
        );
        assert_eq!(record.bundle.as_deref(), hello["bundle"].as_str());
        assert!(record.response.is_none());
        assert_eq!(record.request.path, "/hello/greet");
        for name in ["authorization", "x-api-key"] {
            let value = record.request.headers.iter().find(|(n, _)| n == name);
            assert_eq!(
                value.map(|(_, v)| v.as_str()),
                Some(MASK),
                "{name} is masked"
            );
        }
    }
}

#[test]
fn queue_capture_on_rabbitmq() {
    common::block_on(captures_every_request_and_takes_none(RABBITMQ));
}

#[test]
fn queue_capture_on_nats() {
    common::block_on(captures_every_request_and_takes_none(NATS));
}

#[test]
fn queue_capture_on_kafka() {
    common::block_on(captures_every_request_and_takes_none(KAFKA));
}
