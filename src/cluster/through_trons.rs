//! A change made through the trons: broadcast on its control topic until a
//! tron announces it with the routes (so the command can say a tron took
//! it), as `funcmesh capture on|off` and `funcmesh log-level` do.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use funcmesh_bus::Bus;
use funcmesh_core::control::{self, ROUTES_TOPIC, RoutesAnnouncement};

/// Broadcasts `body` on `topic` every second and waits up to `wait` for a
/// tron's announcement that `shows` accepts; returns what it returned.
pub async fn send<T>(
    bus: Arc<dyn Bus>,
    topic: &str,
    body: Bytes,
    wait: Duration,
    shows: impl Fn(&RoutesAnnouncement) -> Option<T>,
) -> anyhow::Result<T> {
    let mut announcements = bus
        .listen(ROUTES_TOPIC)
        .await
        .context("listening for the trons' announcements")?;
    let answered = tokio::time::timeout(wait, async {
        // Sent again every second: a broker that was still connecting may
        // have dropped the first one.
        let mut again = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = again.tick() => {
                    if let Err(error) = bus.broadcast(topic, body.clone()).await {
                        tracing::debug!(%error, topic, "change not sent yet");
                    }
                }
                next = announcements.next() => match next {
                    Some(Ok(delivery)) => {
                        let announced = control::decode::<RoutesAnnouncement>(ROUTES_TOPIC, &delivery.bytes());
                        if let Some(shown) = announced.as_ref().and_then(&shows) {
                            return Ok(shown);
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
