//! The mesh as separate processes on a broker: `funcmesh tron`,
//! `funcmesh gateway` and `funcmesh runner`, any number of each.
//!
//! - `control`: what the processes tell each other on the bus's control
//!   topics: the trons' routing tables (which also assign the routes to the
//!   runners), the hello that asks for one now, and runner heartbeats.
//! - `policy`: the queues the mesh declares and their limits.
//! - `tron`: [`TronNode`] owns the bundle directory and the bundle store,
//!   declares the Func queues, announces the routes, dispatches the
//!   firehose and answers dead letters.
//! - `gateway`: [`GatewayNode`] serves HTTP, following the announced routes.
//! - `runner`: [`RunnerNode`] fetches the announced bundles by hash from a
//!   tron, verifies and caches them, consumes their Func queues and reports
//!   its statistics.
//! - `upload`: [`upload`], `funcmesh push`'s client of a tron's store.

pub mod control;
mod follow;
mod gateway;
mod policy;
mod runner;
mod tron;
mod upload;

pub use gateway::{GatewayNode, GatewayOptions};
pub use policy::QueuePolicy;
pub use runner::{RunnerNode, RunnerOptions};
pub use tron::{TronNode, TronOptions};
pub use upload::upload;

use std::sync::Arc;

use anyhow::Context as _;
use funcmesh_bus::Bus;

/// Opens the bus at `url`. A broker that is down is not an error: the
/// backends connect in the background and the processes wait for it.
pub async fn connect(url: &str) -> anyhow::Result<Arc<dyn Bus>> {
    let bus = funcmesh_bus::connect(url)
        .await
        .with_context(|| format!("opening the bus at {}", redact(url)))?;
    tracing::info!(bus = %redact(url), messaging.system = bus.system(), "bus opened");
    Ok(bus)
}

/// `url` with its password masked, for logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(
            super::redact("amqp://guest:secret@h:5672/%2f"),
            "amqp://guest:***@h:5672/%2f"
        );
        assert_eq!(super::redact("inproc://x"), "inproc://x");
        assert_eq!(super::redact("amqp://h/v"), "amqp://h/v");
    }
}
