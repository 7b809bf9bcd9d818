//! The fault suite on NATS with JetStream: processes of a mesh killed, the
//! server stopped and started again (its JetStream data kept on disk).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

const BROKER: Broker = Broker {
    url: common::cluster::NATS,
    stop: stop_nats,
    start: start_nats,
};

const NATS_SERVER: &str = "/usr/sbin/nats-server";

/// Stops the machine's nats-server and waits until it has exited.
fn stop_nats() {
    let status = Command::new("start-stop-daemon")
        .args(["--stop", "--retry", "10", "--exec", NATS_SERVER])
        .status()
        .expect("running start-stop-daemon");
    assert!(status.success(), "nats-server did not stop");
}

/// Starts nats-server as `scripts/setup.sh` does and waits until it answers.
fn start_nats() {
    let status = Command::new("start-stop-daemon")
        .args([
            "--start",
            "--oknodo",
            "--background",
            "--exec",
            NATS_SERVER,
            "--",
        ])
        .args([
            "-a",
            "127.0.0.1",
            "-p",
            "4222",
            "-js",
            "-sd",
            "/var/lib/nats-server",
        ])
        .args(["-l", "/var/log/nats-server.log"])
        .status()
        .expect("running start-stop-daemon");
    assert!(status.success(), "nats-server did not start");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect("127.0.0.1:4222").is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nats-server did not answer on 127.0.0.1:4222"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

include!("suite/faults.rs");
include!("suite/scale.rs");
