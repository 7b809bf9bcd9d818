//! The bus contract on the in-process bus, the embedded default. Its own
//! behaviour (tap backlogs, what a refused message leaves) is tested next
//! to it, in `src/inproc/tests.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[macro_use]
mod contract;

use std::time::Duration;

use contract::{Backend, Held, LimitElsewhere, Redeclared, Shape};

/// Every namespace is a bus of its own: `inproc://NAME`.
struct InProc;

impl Backend for InProc {
    const SYSTEM: &'static str = "inproc";
    const BROKER: Option<common::brokers::Broker> = None;
    const SHAPE: Shape = Shape {
        wait: Duration::from_secs(5),
        ordered: true,
        held: Held::Unacked,
        fetches_ahead: false,
        given_back_within: Duration::from_secs(5),
        given_back_attempts: (1, 1),
        drains_before_giving_back: false,
        redeclared: Redeclared::Kept,
        limit_elsewhere: LimitElsewhere::Named,
    };

    fn url(_addr: &str, ns: &str) -> String {
        format!("inproc://{ns}")
    }

    async fn cleanup(_ns: &str) {}
}

contract_suite!(InProc);
