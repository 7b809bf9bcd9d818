//! The bus contract on NATS with JetStream, and what belongs to NATS alone,
//! against a real nats-server on 127.0.0.1:4222.
//!
//! Each test works in its own random namespace and deletes its streams at
//! the end, so runs never see each other's queues and the shared server
//! does not fill up. The server is never stopped: connection losses go
//! through a proxy. Without a server the tests say so and pass, unless
//! `FUNCMESH_REQUIRE_BROKERS` is set.
#![cfg(feature = "nats")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[macro_use]
mod contract;
#[path = "nats/connection.rs"]
mod connection;
#[path = "nats/jetstream.rs"]
mod jetstream;
#[path = "nats/replies.rs"]
mod replies;
#[path = "nats/server.rs"]
mod server;
#[path = "nats/subjects.rs"]
mod subjects;
#[path = "nats/tls.rs"]
mod tls;

use std::time::Duration;

use common::brokers::Broker;
use contract::{Backend, Held, LimitElsewhere, Redeclared, Shape};

/// NATS: work queues on JetStream, replies and broadcasts on core NATS.
pub struct Nats;

impl Backend for Nats {
    const SYSTEM: &'static str = "nats";
    const BROKER: Option<Broker> = Some(server::SERVER);
    const SHAPE: Shape = Shape {
        wait: Duration::from_secs(5),
        ordered: true,
        held: Held::Unacked,
        fetches_ahead: true,
        // Prefetched and never seen: back once the ack wait has passed (a
        // `-NAK` without a pull request waiting is unsafe on nats-server
        // 2.9), counting that one delivery.
        given_back_within: server::ACK_WAIT.saturating_add(Duration::from_secs(2)),
        given_back_attempts: (2, 2),
        drains_before_giving_back: false,
        redeclared: Redeclared::Kept,
        limit_elsewhere: LimitElsewhere::Named,
    };

    fn url(addr: &str, ns: &str) -> String {
        format!("nats://{addr}?namespace={ns}")
    }

    async fn cleanup(ns: &str) {
        server::cleanup(ns).await;
    }
}

contract_suite!(Nats);
contract_suite!(Nats, connection);
contract_suite!(Nats, reconnect);
contract_suite!(Nats, stopping, 20);
