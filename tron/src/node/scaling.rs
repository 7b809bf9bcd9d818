//! The tron's second job: scaling the runner pools, while it holds the
//! scaler's lease.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use funcmesh_bus::now_ms;
use funcmesh_core::control::RUNNER_EXPIRY;
use serde::Serialize;

use super::TronNode;
use crate::scale::scaler::{PoolInput, PoolStatus, Scaler};
use crate::scale::{Lease, Orchestrator, Pools, rule::RuleConfig};

/// How a tron scales: through which orchestrator, with which limits.
#[derive(Clone)]
pub struct Scaling {
    /// The orchestrator that runs the pools' runners.
    pub orchestrator: Arc<dyn Orchestrator>,
    /// Each pool's limits.
    pub pools: Pools,
    /// The rule's settings, its tick included.
    pub rule: RuleConfig,
}

/// The scaler's part of `GET /status`.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct ScalingStatus {
    orchestrator: String,
    pub(super) holds_lease: bool,
    pub(super) pools: BTreeMap<String, PoolStatus>,
}

/// The scaler running in a tron node.
pub(super) struct Running {
    lease: Lease,
    orchestrator: Arc<dyn Orchestrator>,
    status: parking_lot::Mutex<ScalingStatus>,
}

impl Running {
    pub(super) fn status(&self) -> ScalingStatus {
        let mut status = self.status.lock().clone();
        status.holds_lease = self.lease.held();
        status
    }

    pub(super) async fn shutdown(&self) {
        self.orchestrator.shutdown().await;
    }
}

/// Starts claiming the lease and, while it is held, scaling every tick.
pub(super) async fn start(node: &Arc<TronNode>, scaling: Scaling) -> anyhow::Result<Arc<Running>> {
    let lease = Lease::start(Arc::clone(&node.bus), &node.id, node.shutdown.clone()).await?;
    let running = Arc::new(Running {
        lease: lease.clone(),
        orchestrator: Arc::clone(&scaling.orchestrator),
        status: parking_lot::Mutex::new(ScalingStatus {
            orchestrator: scaling.orchestrator.name().to_owned(),
            ..ScalingStatus::default()
        }),
    });
    scaling.rule.validate()?;
    let tick_ms = scaling.rule.tick_ms;
    let mut scaler = Scaler::new(scaling.orchestrator, scaling.pools, scaling.rule);
    let weak = Arc::downgrade(node);
    let shown = Arc::clone(&running);
    let stop = node.shutdown.wait();
    node.spawn(async move {
        let work = async move {
            let mut tick = tokio::time::interval(Duration::from_millis(tick_ms));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if !lease.held() {
                    continue;
                }
                let Some(node) = weak.upgrade() else { return };
                scale_once(&node, &mut scaler).await;
                shown.status.lock().pools = scaler.status();
            }
        };
        tokio::select! { () = stop => {}, () = work => {} }
    });
    Ok(running)
}

/// One look at every pool in use.
async fn scale_once(node: &TronNode, scaler: &mut Scaler) {
    let table = node.registry.table();
    let mut pools: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for route in &table.routes {
        pools
            .entry(route.pool.clone())
            .or_default()
            .push(route.queue.clone());
    }
    let standing: BTreeSet<String> = scaler.standing_pools().map(str::to_owned).collect();
    for pool in standing {
        pools.entry(pool).or_default();
    }
    let now = now_ms();
    let fresh = RUNNER_EXPIRY.as_millis() as u64;
    let runners = node.runners();
    for (pool, queues) in pools {
        let mut depth = 0;
        let mut known = true;
        for queue in &queues {
            match node.bus.depth(queue).await {
                Ok(found) => {
                    node.sampled(queue, found.ready);
                    depth += found.ready;
                }
                Err(error) => {
                    tracing::debug!(pool, queue, %error, "queue depth unknown; pool skipped this tick");
                    known = false;
                }
            }
        }
        if !known {
            continue;
        }
        let beats: Vec<_> = runners
            .iter()
            .filter(|beat| beat.pool.as_deref() == Some(pool.as_str()))
            .filter(|beat| now.saturating_sub(beat.at_ms) < fresh)
            .collect();
        if node.bus.depth_counts_held() {
            // Kafka's lag counts what the runners hold too: what waits is
            // the rest. What they hold is what they received behind their
            // committed positions, where they report it; their calls in
            // flight where they do not (a runner from before that field).
            let held: u64 = beats
                .iter()
                .map(|beat| beat.stats.queue_held.max(beat.stats.in_flight))
                .sum();
            depth = depth.saturating_sub(held);
        }
        let input = PoolInput { depth, beats };
        scaler.tick(&pool, now, input).await;
    }
}
