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

use anyhow::Context as _;
use funcmesh_bus::Bus;
use funcmesh_core::capture::CaptureRules;
use funcmesh_core::control::{self, ROUTES_TOPIC, RoutesAnnouncement};
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
    let mut announcements = bus
        .listen(ROUTES_TOPIC)
        .await
        .context("listening for the trons' announcements")?;
    let body = control::encode(&change);
    let answered = tokio::time::timeout(wait, async {
        // Sent again every second: a broker that was still connecting may
        // have dropped the first one.
        let mut again = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = again.tick() => {
                    if let Err(error) = bus.broadcast(CAPTURE_TOPIC, body.clone()).await {
                        tracing::debug!(%error, "capture change not sent yet");
                    }
                }
                next = announcements.next() => match next {
                    Some(Ok(delivery)) => {
                        let announced = control::decode::<RoutesAnnouncement>(ROUTES_TOPIC, &delivery.body);
                        if let Some(announced) = announced && change.shows_in(&announced.capture) {
                            return Ok(announced.capture);
                        }
                    }
                    Some(Err(error)) => tracing::debug!(%error, "receiving announcements failed"),
                    None => anyhow::bail!("the bus closed"),
                },
            }
        }
    })
    .await;
    answered.unwrap_or_else(|_| {
        anyhow::bail!(
            "no tron announced the change within {} s: is a tron running on this bus (and namespace)?",
            wait.as_secs()
        )
    })
}
