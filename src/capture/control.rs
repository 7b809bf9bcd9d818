//! Capture switched on and off on a cluster, through the tron.
//!
//! `funcmesh capture on|off` broadcasts a [`CaptureChange`] on
//! [`CAPTURE_TOPIC`]. Every tron applies it to the rules it holds and
//! announces them with its routing table at once (and with every later
//! announcement), so that gateways started later capture too. The command
//! waits for an announcement that carries the change, so that it says
//! whether a tron took it.

use std::sync::Arc;
use std::time::Duration;

use funcmesh_bus::Bus;
use funcmesh_core::capture::CaptureRules;
use funcmesh_core::control;
pub use funcmesh_core::control::{CAPTURE_TOPIC, CaptureChange};

/// Broadcasts `change` and waits up to `wait` for a tron's announcement that
/// carries it; returns the rules announced.
pub async fn send(
    bus: Arc<dyn Bus>,
    change: CaptureChange,
    wait: Duration,
) -> anyhow::Result<CaptureRules> {
    if let CaptureChange::On { rule } = &change {
        rule.validate().map_err(anyhow::Error::msg)?;
    }
    let body = control::encode(&change);
    crate::cluster::through_trons::send(bus, CAPTURE_TOPIC, body, wait, |announced| {
        change
            .shows_in(&announced.capture)
            .then(|| announced.capture.clone())
    })
    .await
}
