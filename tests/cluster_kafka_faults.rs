//! The fault suite on a Kafka-compatible broker: processes of a mesh
//! killed, the broker (tansu, in memory) stopped and started again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

const BROKER: Broker = Broker {
    url: common::cluster::KAFKA,
    stop: || kafka_broker("stop"),
    start: || kafka_broker("start"),
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
include!("suite/scale.rs");
