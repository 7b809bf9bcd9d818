//! The fault suite on RabbitMQ: processes of a mesh killed, the broker
//! stopped with `rabbitmqctl stop_app` and started again.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

const BROKER: Broker = Broker {
    url: common::cluster::RABBITMQ,
    stop: || rabbitmqctl("stop_app"),
    start: || rabbitmqctl("start_app"),
};

fn rabbitmqctl(verb: &str) {
    let status = Command::new("rabbitmqctl")
        .arg("-q")
        .arg(verb)
        .status()
        .expect("running rabbitmqctl");
    assert!(status.success(), "rabbitmqctl {verb} failed");
}

include!("suite/faults.rs");
include!("suite/scale.rs");
