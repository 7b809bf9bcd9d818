//! What a test does when its broker is missing: on a developer's machine
//! it says so and skips; in CI (`FUNCMESH_REQUIRE_BROKERS=1`) it fails,
//! so that a broker that did not start never passes for a green run.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The variable that makes a missing broker a failure.
pub const REQUIRE: &str = "FUNCMESH_REQUIRE_BROKERS";

/// A broker a test needs.
#[derive(Debug, Clone, Copy)]
pub struct Broker {
    /// What it is, as a person would say it ("RabbitMQ").
    pub name: &'static str,
    /// Where it answers (`host:port`).
    pub addr: &'static str,
    /// How to start one.
    pub start: &'static str,
}

/// Whether a missing broker fails the test: `FUNCMESH_REQUIRE_BROKERS` is
/// set to anything but empty or `0`.
pub fn required() -> bool {
    std::env::var(REQUIRE).is_ok_and(|value| !value.is_empty() && value != "0")
}

/// Whether `broker` answers. When it does not, prints why the test is
/// skipped and returns `false`, or fails the test when brokers are
/// [`required`].
pub fn available(broker: &Broker) -> bool {
    if answers(broker.addr) {
        return true;
    }
    let Broker { name, addr, start } = broker;
    assert!(
        !required(),
        "no {name} answers on {addr} and {REQUIRE} is set ({start})"
    );
    eprintln!("SKIPPED: no {name} answers on {addr} ({start})");
    false
}

/// Whether something accepts a TCP connection at `addr` within a second.
fn answers(addr: &str) -> bool {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map(Iterator::collect)
        .unwrap_or_default();
    addrs
        .iter()
        .any(|addr| TcpStream::connect_timeout(addr, Duration::from_secs(1)).is_ok())
}
