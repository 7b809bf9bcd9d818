//! The scaler: every tick, for each pool, what the bus and the runners
//! report goes through the rule, and the orchestrator is asked for the
//! rule's answer when it differs from what the pool has.

use std::collections::BTreeMap;
use std::sync::Arc;

use funcmesh_core::control::RunnerHeartbeat;
use serde::Serialize;

use super::adapter::{Orchestrator, ScaleError};
use super::observe::PoolCounters;
use super::pools::Pools;
use super::rule::{Decision, Estimator, Observation, PoolLimits, Rule, RuleConfig};

/// What one pool showed at one tick.
#[derive(Debug)]
pub struct PoolInput<'a> {
    /// Messages waiting on the pool's Func queues: their depth's `ready`
    /// (on Kafka, whose lag also counts the messages runners hold, the lag
    /// less the calls in flight on the pool's runners).
    pub depth: u64,
    /// The heartbeats of the pool's live runners.
    pub beats: Vec<&'a RunnerHeartbeat>,
}

/// A pool as `GET /status` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PoolStatus {
    /// Its limits.
    pub min: u32,
    /// Its limits.
    pub max: u32,
    /// Calls in flight per runner at which it counts as full.
    pub target: u32,
    /// What the rule wants now.
    pub desired: u32,
    /// What the orchestrator was asked for.
    pub current: u32,
    /// What runs and can take work.
    pub ready: u32,
    /// The last change the scaler made, with its inputs.
    pub last_decision: Option<String>,
    /// The changes made since the tron started.
    pub decisions: u64,
    /// The last error the orchestrator answered, if it has not recovered.
    pub error: Option<String>,
}

struct PoolState {
    rule: Rule,
    estimator: Estimator,
    counters: PoolCounters,
    status: PoolStatus,
    /// The orchestrator's failures in a row for this pool.
    failures: u32,
    /// Not asked again before this time (ms), after a failure.
    retry_at_ms: u64,
}

/// The longest wait before an orchestrator that keeps failing is asked
/// again.
pub const MAX_RETRY_MS: u64 = 30_000;

/// The scaler of every pool, through one orchestrator.
pub struct Scaler {
    orchestrator: Arc<dyn Orchestrator>,
    pools: Pools,
    config: RuleConfig,
    state: BTreeMap<String, PoolState>,
}

impl std::fmt::Debug for Scaler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scaler")
            .field("orchestrator", &self.orchestrator.name())
            .field("pools", &self.pools)
            .finish_non_exhaustive()
    }
}

impl Scaler {
    /// A scaler of `pools` through `orchestrator`, deciding by `config`.
    pub fn new(orchestrator: Arc<dyn Orchestrator>, pools: Pools, config: RuleConfig) -> Self {
        Self {
            orchestrator,
            pools,
            config,
            state: BTreeMap::new(),
        }
    }

    /// The pools to look after besides those the routes name: those
    /// defined with runners to keep even when no route uses them.
    pub fn standing_pools(&self) -> impl Iterator<Item = &str> {
        self.pools
            .defined()
            .filter(|(_, settings)| settings.min > 0)
            .map(|(name, _)| name)
    }

    /// One tick for `pool` at `now_ms`: observes, decides, and asks the
    /// orchestrator for a change when the rule wants one. An orchestrator
    /// that fails is logged (once per distinct error) and asked again after
    /// a backoff: a tick, then twice as long after each failure in a row,
    /// up to [`MAX_RETRY_MS`]; the pool keeps the replicas it has meanwhile.
    pub async fn tick(&mut self, pool: &str, now_ms: u64, input: PoolInput<'_>) {
        let settings = self.pools.get(pool);
        if !self.state.contains_key(pool) {
            let limits = match PoolLimits::new(settings.min, settings.max, settings.target) {
                Ok(limits) => limits,
                Err(error) => {
                    tracing::warn!(pool, %error, "pool limits refused; the pool is not scaled");
                    return;
                }
            };
            let state = PoolState {
                rule: Rule::new(self.config.clone(), limits),
                estimator: Estimator::new(),
                counters: PoolCounters::default(),
                status: PoolStatus {
                    min: settings.min,
                    max: settings.max,
                    target: settings.target,
                    ..PoolStatus::default()
                },
                failures: 0,
                retry_at_ms: 0,
            };
            self.state.insert(pool.to_owned(), state);
        }
        let Some(state) = self.state.get_mut(pool) else {
            return;
        };
        if now_ms < state.retry_at_ms {
            return;
        }
        let tick_ms = self.config.tick_ms;
        let in_flight = state.counters.update(input.beats.iter().copied());
        let depth = input.depth;
        let replicas = match self.orchestrator.replicas(pool).await {
            Ok(replicas) => replicas,
            Err(error) => {
                state.failed(pool, &error, now_ms, tick_ms);
                return;
            }
        };
        let rates = state.estimator.update(
            now_ms,
            state.counters.completed,
            state.counters.busy_us,
            depth,
        );
        let observation = Observation {
            at_ms: now_ms,
            depth,
            in_flight,
            arrival_rate: rates.arrival_rate,
            service_time: rates.service_time,
            current: replicas.desired,
            ready: replicas.ready,
        };
        let decision: Decision = state.rule.decide(&observation);
        tracing::debug!(pool, "tick: {decision}");
        state.status.desired = decision.desired;
        state.status.current = replicas.desired;
        state.status.ready = replicas.ready;
        if decision.desired == replicas.desired {
            state.recovered(pool);
            return;
        }
        let line = format!("pool={pool} {decision}");
        tracing::info!("{line}");
        match self.orchestrator.scale(pool, decision.desired).await {
            Ok(()) => {
                state.status.current = decision.desired;
                state.status.last_decision = Some(line);
                state.status.decisions += 1;
                state.recovered(pool);
            }
            Err(error) => state.failed(pool, &error, now_ms, tick_ms),
        }
    }

    /// Every pool's state, for `GET /status`.
    pub fn status(&self) -> BTreeMap<String, PoolStatus> {
        self.state
            .iter()
            .map(|(pool, state)| (pool.clone(), state.status.clone()))
            .collect()
    }
}

impl PoolState {
    /// The orchestrator failed at `now_ms`: logged when the error differs
    /// from the last one, and the next try put off.
    fn failed(&mut self, pool: &str, error: &ScaleError, now_ms: u64, tick_ms: u64) {
        let text = error.to_string();
        let wait = tick_ms
            .saturating_mul(1 << self.failures.min(16))
            .min(MAX_RETRY_MS);
        if self.status.error.as_deref() != Some(text.as_str()) {
            tracing::warn!(
                pool,
                %error,
                retry_in_ms = wait,
                "the orchestrator failed; keeping the replicas the pool has and retrying"
            );
        }
        self.status.error = Some(text);
        self.failures = self.failures.saturating_add(1);
        self.retry_at_ms = now_ms.saturating_add(wait);
    }

    /// The orchestrator answered: the next failure starts the backoff
    /// afresh.
    fn recovered(&mut self, pool: &str) {
        if self.failures > 0 {
            tracing::info!(pool, "the orchestrator answers again");
        }
        self.status.error = None;
        self.failures = 0;
        self.retry_at_ms = 0;
    }
}

#[cfg(test)]
mod tests;
