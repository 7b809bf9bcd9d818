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
use funcmesh_core::capture::{CaptureRules, RouteRule};
pub use funcmesh_core::queues::CAPTURE_TOPIC;
use serde::{Deserialize, Serialize};

use crate::cluster::control::{self, ROUTES_TOPIC, RoutesAnnouncement};

/// A change of the capture rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CaptureChange {
    /// Capture a Func (or `*`, every Func) at a rate.
    On(RouteRule),
    /// Stop capturing a Func; `None` stops every rule.
    Off(Option<String>),
}

impl CaptureChange {
    /// `rules` with the change made.
    pub fn apply(&self, rules: CaptureRules) -> CaptureRules {
        match self {
            CaptureChange::On(rule) => rules.with(rule.clone()),
            CaptureChange::Off(Some(route)) => rules.without(route),
            CaptureChange::Off(None) => CaptureRules::default(),
        }
    }

    /// Whether `rules` show the change made.
    fn shows_in(&self, rules: &CaptureRules) -> bool {
        self.apply(rules.clone()) == *rules
    }
}

/// Broadcasts `change` and waits up to `wait` for a tron's announcement that
/// carries it; returns the rules announced.
pub async fn send(
    bus: Arc<dyn Bus>,
    change: CaptureChange,
    wait: Duration,
) -> anyhow::Result<CaptureRules> {
    if let CaptureChange::On(rule) = &change {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(route: &str, rate: f64) -> RouteRule {
        RouteRule {
            route: route.into(),
            rate,
        }
    }

    #[test]
    fn changes_apply_to_the_rules() {
        let rules = CaptureChange::On(rule("a", 1.0)).apply(CaptureRules::default());
        let rules = CaptureChange::On(rule("b", 0.5)).apply(rules);
        let rules = CaptureChange::On(rule("a", 0.1)).apply(rules);
        assert_eq!(rules.routes, [rule("b", 0.5), rule("a", 0.1)]);
        assert!(CaptureChange::On(rule("a", 0.1)).shows_in(&rules));
        assert!(!CaptureChange::On(rule("a", 1.0)).shows_in(&rules));
        let rules = CaptureChange::Off(Some("b".into())).apply(rules);
        assert_eq!(rules.routes, [rule("a", 0.1)]);
        assert!(CaptureChange::Off(None).apply(rules).routes.is_empty());
    }

    #[test]
    fn the_message_is_plain_json() {
        let on = control::encode(&CaptureChange::On(rule("hello", 0.5)));
        assert_eq!(on, r#"{"on":{"route":"hello","rate":0.5}}"#);
        let off: CaptureChange = serde_json::from_str(r#"{"off":null}"#).unwrap();
        assert_eq!(off, CaptureChange::Off(None));
    }
}
