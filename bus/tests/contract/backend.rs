//! What the suite knows of a backend: how to reach it, how it differs
//! where the trait leaves room, and the tests it is known to fail.

use std::time::Duration;

use funcmesh_bus::QueueDepth;

use super::Run;
use crate::common::brokers::Broker;
use crate::common::proxy::Proxy;

/// One backend as the suite runs it.
pub trait Backend: 'static {
    /// What [`Bus::system`] answers.
    const SYSTEM: &'static str;
    /// The broker the bus talks to; `None` for the in-process bus.
    const BROKER: Option<Broker>;
    /// How the backend differs where the contract leaves room.
    const SHAPE: Shape;
    /// The contract's tests this backend is known to fail.
    const GAPS: &'static [Gap] = &[];

    /// The URL of a bus in namespace `ns` whose broker is at `addr`.
    fn url(addr: &str, ns: &str) -> String;

    /// Deletes what namespace `ns` left on the broker.
    fn cleanup(ns: &str) -> impl Future<Output = ()>;

    /// Loses the connections of the bus in namespace `ns`, which talks to
    /// the broker through `proxy`; returns how many there were.
    fn cut(_ns: &str, proxy: &Proxy) -> usize {
        proxy.cut()
    }
}

/// A contract test a backend is known to fail, and why: it must keep
/// failing there (see [`check`]), so that a fix takes it off the list.
#[derive(Debug, Clone, Copy)]
pub struct Gap {
    /// The test's name.
    pub test: &'static str,
    /// What goes wrong.
    pub why: &'static str,
}

/// Runs the contract test `name` on `B`; a known [`Gap`] of `B` passes
/// when the test fails, and fails when it passes.
pub async fn check<B: Backend>(name: &str, test: impl Future<Output = ()> + Send + 'static) {
    let Some(gap) = B::GAPS.iter().find(|gap| gap.test == name) else {
        return test.await;
    };
    if !Run::<B>::available() {
        return;
    }
    match tokio::spawn(test).await {
        Err(failed) if failed.is_panic() => {
            eprintln!("KNOWN GAP: {name} fails on {}: {}", B::SYSTEM, gap.why);
        }
        Err(other) => panic!("{name}: {other}"),
        Ok(()) => panic!(
            "{name} passes on {}: take it off the known gaps ({})",
            B::SYSTEM,
            gap.why
        ),
    }
}

/// How a backend keeps the contract where the trait leaves it room.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// How long a delivery may take to arrive (a Kafka consumer waits for
    /// its partitions and its first fetch).
    pub wait: Duration,
    /// Whether one consumer gets a queue's messages in the order they were
    /// published (a Kafka queue's partitions are read side by side).
    pub ordered: bool,
    /// How [`Bus::depth`] counts a message out for processing.
    pub held: Held,
    /// Whether a consumer fetches messages up to its prefetch before they
    /// are asked for (the in-process one takes them one by one).
    pub fetches_ahead: bool,
    /// How long a consumer that is dropped takes to give back what it
    /// fetched and never handed out (NATS waits for its ack wait).
    pub given_back_within: Duration,
    /// The attempt numbers such a given-back message may arrive with: a
    /// NATS or RabbitMQ consumer fetched it (a delivery that counts),
    /// the in-process one never took it.
    pub given_back_attempts: (u32, u32),
    /// What declaring a queue again with other limits does.
    pub redeclared: Redeclared,
    /// How a process that did not declare a queue meets its length limit.
    pub limit_elsewhere: LimitElsewhere,
    /// Whether a dropped consumer keeps what it fetched until its work in
    /// hand is settled (a Kafka consumer keeps the partitions it holds
    /// work of) rather than give it back at once.
    pub drains_before_giving_back: bool,
}

/// What declaring a queue again with other limits does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redeclared {
    /// Logged; the queue keeps its limits (in-process, NATS).
    Kept,
    /// Refused with an error; the queue keeps its limits (RabbitMQ).
    Refused,
    /// The new limits replace the old (Kafka's registry keeps the last).
    Replaced,
}

/// How a process that did not declare a queue meets its length limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitElsewhere {
    /// Refused at once, naming the limit (in-process, NATS).
    Named,
    /// Refused at once; the refusal does not say the limit (RabbitMQ).
    Unnamed,
    /// Refused once it has sampled the queue's depth (every 250 ms on
    /// Kafka): what it publishes before may overshoot the limit.
    Sampled,
}

/// How [`Bus::depth`] counts a message that is out for processing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// As `unacked` (in-process, NATS).
    Unacked,
    /// Not at all: `ready` counts what waits, `unacked` stays 0 (RabbitMQ).
    Hidden,
    /// As `ready`, until it is settled (Kafka: the group's lag).
    Ready,
}

impl Held {
    /// The depth of a queue with `ready` messages waiting and `held` out.
    pub fn depth(self, ready: u64, held: u64) -> QueueDepth {
        match self {
            Self::Unacked => QueueDepth {
                ready,
                unacked: held,
            },
            Self::Hidden => QueueDepth { ready, unacked: 0 },
            Self::Ready => QueueDepth {
                ready: ready + held,
                unacked: 0,
            },
        }
    }
}
