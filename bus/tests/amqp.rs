//! The bus contract on RabbitMQ, and what belongs to RabbitMQ alone, against
//! a real broker on 127.0.0.1:5672.
//!
//! Each test works in its own random namespace and deletes its queues at
//! the end, so runs never see each other's queues. Without a broker the
//! tests say so and pass, unless `FUNCMESH_REQUIRE_BROKERS` is set.
#![cfg(feature = "amqp")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[macro_use]
mod contract;
#[path = "amqp/broker.rs"]
mod broker;
#[path = "amqp/connection.rs"]
mod connection;
#[path = "amqp/refused.rs"]
mod refused;
#[path = "amqp/tap.rs"]
mod tap;
#[path = "amqp/tls.rs"]
mod tls;

use std::time::Duration;

use common::brokers::Broker;
use common::proxy::Proxy;
use contract::{Backend, Gap, Held, LimitElsewhere, Redeclared, Shape};

/// RabbitMQ; every namespace a prefix of its queue and exchange names.
pub struct RabbitMq;

impl Backend for RabbitMq {
    const SYSTEM: &'static str = "rabbitmq";
    const BROKER: Option<Broker> = Some(broker::BROKER);
    const SHAPE: Shape = Shape {
        wait: Duration::from_secs(5),
        ordered: true,
        held: Held::Hidden,
        fetches_ahead: true,
        given_back_within: Duration::from_secs(5),
        // Given back once, after the consumer was cancelled: a quorum
        // queue counts that return, but nothing bounces back and forth.
        given_back_attempts: (1, 2),
        drains_before_giving_back: false,
        redeclared: Redeclared::Refused,
        limit_elsewhere: LimitElsewhere::Unnamed,
    };

    const GAPS: &'static [Gap] = &[Gap {
        test: "a_queue_of_length_zero_takes_nothing",
        why: "a quorum queue refuses only once it holds more than x-max-length, and \
              the limit one less than max_len cannot go below 0: a queue of length 0 \
              takes one message",
    }];

    fn url(addr: &str, ns: &str) -> String {
        format!("amqp://guest:guest@{addr}/%2f?namespace={ns}")
    }

    async fn cleanup(ns: &str) {
        broker::cleanup(ns).await;
    }

    /// The broker closes them, as an operator or a failover would.
    fn cut(ns: &str, _proxy: &Proxy) -> usize {
        broker::close_connections(ns)
    }
}

contract_suite!(RabbitMq);
contract_suite!(RabbitMq, connection);
contract_suite!(RabbitMq, reconnect);
contract_suite!(RabbitMq, stopping, 20);
