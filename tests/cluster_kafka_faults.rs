//! The fault suite on a Kafka-compatible broker: processes of a mesh
//! killed, the broker (tansu, in memory) stopped and started again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

const BROKER: Broker = Broker {
    url: common::cluster::KAFKA,
    stop: || kafka_broker("stop"),
    start: || kafka_broker("start"),
    reassigns_dead_consumers: false,
};

/// Runs `scripts/kafka-broker VERB`, which `scripts/test` uses too.
fn kafka_broker(verb: &str) {
    let status = Command::new(common::root().join("scripts/kafka-broker"))
        .arg(verb)
        .status()
        .expect("running scripts/kafka-broker");
    assert!(status.success(), "scripts/kafka-broker {verb} failed");
}

include!("suite/faults.rs");

/// A known gap: on tansu 0.6, the partitions of a runner killed with
/// SIGKILL were not given to the other runner (90 of 200 requests answered
/// 504, and their messages still untaken 30 s later), although a consumer
/// that leaves or joins does make the group rebalance (see the bus tests).
/// The group coordinator not expiring the dead member's session is the
/// suspect. Run it with `--ignored`.
#[test]
#[ignore = "on tansu 0.6 a killed consumer's partitions are not reassigned"]
fn a_killed_runners_partitions_go_to_the_other_runner() {
    kill_a_runner_under_load();
}
