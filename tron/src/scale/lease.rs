//! One scaler at a time: the scaler's lease, claimed on the bus.
//!
//! Every tron that can scale broadcasts a [`ScalerClaim`] on
//! [`SCALER_TOPIC`] every [`CLAIM_EVERY`] and listens to everyone's. Of the
//! claims heard within [`CLAIM_EXPIRY`], the one that has been claiming the
//! longest (earliest `since`, then lowest id) holds the lease, and every
//! tron that hears the same claims agrees on it. A tron acts on the lease
//! only once it has heard its own claims come back for a whole expiry
//! window without a gap: by then it has heard every other live claim too,
//! so a tron that starts, or whose broker connection comes back, never
//! scales beside the holder. When the holder stops (or loses the broker),
//! its claim expires and the next oldest takes over within
//! [`TAKEOVER_BOUND`].
//!
//! It is built on the bus's fan-out, so it works on every backend alike;
//! it assumes that trons hear each other's broadcasts within the expiry,
//! which a broker that delivers to all listeners (or to none) gives.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use funcmesh_bus::{Bus, now_ms};
use funcmesh_core::control::{self, CLAIM_EVERY, CLAIM_EXPIRY, SCALER_TOPIC, ScalerClaim};
use funcmesh_core::shutdown::Shutdown;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long after the holder stops another tron holds the lease, at most:
/// its last claim expires, and the next tick sees it gone.
pub const TAKEOVER_BOUND: Duration =
    Duration::from_millis(CLAIM_EXPIRY.as_millis() as u64 + 2 * CLAIM_EVERY.as_millis() as u64);

/// Whether this tron holds the scaler's lease, kept current by a task.
#[derive(Debug, Clone)]
pub struct Lease {
    held: watch::Receiver<bool>,
}

impl Lease {
    /// Starts claiming the lease for tron `id`, until `stop`.
    pub async fn start(bus: Arc<dyn Bus>, id: &str, stop: Shutdown) -> funcmesh_bus::Result<Self> {
        let mut claims = bus.listen(SCALER_TOPIC).await?;
        let (tx, held) = watch::channel(false);
        let mut state = Claims::new(id, now_ms());
        let claim = control::encode(&state.own());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(CLAIM_EVERY);
            let stopped = stop.wait();
            tokio::pin!(stopped);
            loop {
                tokio::select! {
                    () = &mut stopped => break,
                    _ = tick.tick() => {
                        if let Err(error) = bus.broadcast(SCALER_TOPIC, claim.clone()).await {
                            tracing::debug!(%error, "scaler claim not sent");
                        }
                    }
                    next = claims.next() => match next {
                        Some(Ok(delivery)) => {
                            if let Some(heard) = control::decode::<ScalerClaim>(SCALER_TOPIC, &delivery.bytes()) {
                                state.heard(heard, Instant::now());
                            }
                        }
                        Some(Err(error)) => tracing::debug!(%error, "receiving scaler claims failed"),
                        None => break,
                    },
                }
                let holds = state.holds(Instant::now());
                tx.send_if_modified(|held| {
                    if *held == holds {
                        return false;
                    }
                    match holds {
                        true => tracing::info!(holder = %state.id, "this tron holds the scaler's lease"),
                        false => tracing::info!(holder = ?state.holder(), "this tron no longer holds the scaler's lease"),
                    }
                    *held = holds;
                    true
                });
            }
            tx.send_replace(false);
        });
        Ok(Self { held })
    }

    /// Whether this tron holds the lease now.
    pub fn held(&self) -> bool {
        *self.held.borrow()
    }

    /// The lease as it changes.
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.held.clone()
    }
}

/// The claims heard, and who holds the lease by them.
#[derive(Debug)]
struct Claims {
    id: String,
    since_ms: u64,
    /// Per tron: its `since`, and when its last claim was heard.
    heard: HashMap<String, (u64, Instant)>,
    /// Since when this tron's own claims have come back without a gap.
    own_streak: Option<Instant>,
}

impl Claims {
    fn new(id: &str, since_ms: u64) -> Self {
        Self {
            id: id.to_owned(),
            since_ms,
            heard: HashMap::new(),
            own_streak: None,
        }
    }

    fn own(&self) -> ScalerClaim {
        ScalerClaim {
            tron: self.id.clone(),
            since_ms: self.since_ms,
        }
    }

    fn heard(&mut self, claim: ScalerClaim, now: Instant) {
        self.expire(now);
        if claim.tron == self.id && !self.heard.contains_key(&self.id) {
            self.own_streak = Some(now);
        }
        self.heard.insert(claim.tron, (claim.since_ms, now));
    }

    fn expire(&mut self, now: Instant) {
        self.heard
            .retain(|_, (_, at)| now.saturating_duration_since(*at) < CLAIM_EXPIRY);
        if !self.heard.contains_key(&self.id) {
            self.own_streak = None;
        }
    }

    /// The tron that holds the lease by the live claims.
    fn holder(&self) -> Option<&str> {
        self.heard
            .iter()
            .min_by(|a, b| (a.1.0, a.0).cmp(&(b.1.0, b.0)))
            .map(|(id, _)| id.as_str())
    }

    fn holds(&mut self, now: Instant) -> bool {
        self.expire(now);
        let settled = self
            .own_streak
            .is_some_and(|since| now.saturating_duration_since(since) >= CLAIM_EXPIRY);
        settled && self.holder() == Some(self.id.as_str())
    }
}

#[cfg(test)]
mod tests;
