//! What the cluster commands share: opening the bus, `funcmesh push`'s
//! client of a tron's store, and changes made through the trons
//! ([`through_trons`]). The nodes themselves live in their crates
//! ([`funcmesh_tron::TronNode`], [`funcmesh_gateway::GatewayNode`],
//! [`funcmesh_runner::RunnerNode`]); the command line composes them.

pub mod through_trons;
mod upload;

pub use upload::{Answer, upload};

use std::sync::Arc;

use anyhow::Context as _;
use funcmesh_bus::Bus;
use funcmesh_core::auth::MeshToken;
use funcmesh_core::control::signed::SignedBus;

/// Opens the bus at `url`, its control messages signed and checked under
/// `token` when one is given. A broker that is down is not an error: the
/// backends connect in the background and the processes wait for it.
pub async fn connect(url: &str, token: Option<&MeshToken>) -> anyhow::Result<Arc<dyn Bus>> {
    let bus = funcmesh_bus::connect(url)
        .await
        .with_context(|| format!("opening the bus at {}", redact(url)))?;
    tracing::info!(bus = %redact(url), messaging.system = bus.system(), signed = token.is_some(), "bus opened");
    Ok(match token {
        Some(token) => SignedBus::wrap(bus, token.clone()),
        None => bus,
    })
}

/// `url` with its credentials masked, for logs.
pub use funcmesh_bus::redact;

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_and_tokens_never_reach_the_log() {
        for url in ["amqp://guest:secret@h:5672/%2f", "nats://secret@h:4222"] {
            let shown = super::redact(url);
            assert!(!shown.contains("secret"), "{shown}");
        }
        assert_eq!(super::redact("inproc://x"), "inproc://x");
    }
}
