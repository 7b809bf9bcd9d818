//! The bus contract on Kafka, and what belongs to Kafka alone, against a
//! real Kafka-compatible broker on 127.0.0.1:9092 (`scripts/kafka-broker
//! start` starts tansu there).
//!
//! Each test works in its own random namespace and deletes its topics at
//! the end. The broker is never stopped here; the cluster fault suite
//! restarts it. Without a broker the tests say so and pass, unless
//! `FUNCMESH_REQUIRE_BROKERS` is set.
#![cfg(feature = "kafka")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[macro_use]
mod contract;
#[path = "kafka/broker.rs"]
mod broker;
#[path = "kafka/consumers.rs"]
mod consumers;
#[path = "kafka/tls.rs"]
mod tls;

use std::time::Duration;

use common::brokers::Broker;
use contract::{Backend, Gap, Held, LimitElsewhere, Redeclared, Shape};

/// Kafka: queues as topics of four partitions, shared by their consumers.
pub struct Kafka;

impl Backend for Kafka {
    const SYSTEM: &'static str = "kafka";
    const BROKER: Option<Broker> = Some(broker::BROKER);
    const SHAPE: Shape = Shape {
        // Partitions are shared out and fetched within seconds.
        wait: Duration::from_secs(20),
        ordered: false,
        held: Held::Ready,
        fetches_ahead: true,
        given_back_within: Duration::from_secs(20),
        given_back_attempts: (1, 2),
        drains_before_giving_back: true,
        redeclared: Redeclared::Replaced,
        limit_elsewhere: LimitElsewhere::Sampled,
    };

    const GAPS: &'static [Gap] = &[
        Gap {
            test: "a_reply_queue_is_empty_once_its_replies_are_taken",
            why: "a reply queue's consumer commits nothing, so its depth counts every \
                  reply ever sent",
        },
        Gap {
            test: "a_dead_letter_never_expires_and_counts_afresh",
            why: "a dead letter keeps the attempt header of its last delivery",
        },
    ];

    fn url(addr: &str, ns: &str) -> String {
        format!("kafka://{addr}?namespace={ns}&partitions=4")
    }

    async fn cleanup(ns: &str) {
        broker::cleanup(ns).await;
    }
}

contract_suite!(Kafka);
contract_suite!(Kafka, connection);
contract_suite!(Kafka, stopping, 3);
