//! What the cluster commands share: opening the bus, and `funcmesh push`'s
//! client of a tron's store. The nodes themselves live in their crates
//! ([`funcmesh_tron::TronNode`], [`funcmesh_gateway::GatewayNode`],
//! [`funcmesh_runner::RunnerNode`]); the command line composes them.

mod upload;

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
