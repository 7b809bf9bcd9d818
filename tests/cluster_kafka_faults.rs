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

/// A known gap, from the broker: when the killed runner's session ends,
/// tansu 0.6 makes the group rebalance and the surviving runner, now its
/// only member and leader, assigns itself all 16 partitions, but tansu's
/// SyncGroup answer gives it back its previous 8. The killed runner's
/// partitions are then read by nobody (90 of 200 requests answered 504,
/// their messages still untaken 30 s later). Run it with `--ignored`
/// against a broker whose groups hand over partitions.
#[test]
#[ignore = "tansu 0.6's SyncGroup hands a group's new leader its previous assignment"]
fn a_killed_runners_partitions_go_to_the_other_runner() {
    kill_a_runner_under_load();
}
