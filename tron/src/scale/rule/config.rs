//! The rule's settings (one set for every pool) and each pool's limits.

use serde::{Deserialize, Serialize};

/// Why limits or settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// `min` above `max`: no runner count satisfies both.
    #[error("min = {min} is above max = {max}")]
    MinAboveMax {
        /// The pool's `min`.
        min: u32,
        /// The pool's `max`.
        max: u32,
    },
    /// `max` of 0: the pool could never run a call.
    #[error("max must be at least 1: a pool of at most 0 runners never runs a call")]
    ZeroMax,
    /// `target` of 0: a runner would count as full before it takes a call.
    #[error("target must be at least 1 call in flight per runner")]
    ZeroTarget,
    /// A setting of the rule out of its range.
    #[error("{name} = {value}: {why}")]
    Setting {
        /// The setting's name, as the config file spells it.
        name: &'static str,
        /// The value given.
        value: u64,
        /// What it must be.
        why: &'static str,
    },
}

/// The rule's result type.
pub type Result<T, E = RuleError> = std::result::Result<T, E>;

/// A pool's limits as the rule applies them: only [`PoolLimits::new`]
/// makes one, so they never contradict each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PoolLimits {
    min: u32,
    max: u32,
    target: u32,
}

impl PoolLimits {
    /// `min` runners kept even when idle (0: the pool scales to zero),
    /// `max` runners at most, `target` calls in flight per runner at which
    /// a runner counts as full. Refuses `min > max`, `max == 0` and
    /// `target == 0`.
    pub fn new(min: u32, max: u32, target: u32) -> Result<Self> {
        if max == 0 {
            return Err(RuleError::ZeroMax);
        }
        if min > max {
            return Err(RuleError::MinAboveMax { min, max });
        }
        if target == 0 {
            return Err(RuleError::ZeroTarget);
        }
        Ok(Self { min, max, target })
    }

    /// Runners kept even when idle.
    pub fn min(&self) -> u32 {
        self.min
    }

    /// Runners at most.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Calls in flight per runner at which a runner counts as full.
    pub fn target(&self) -> u32 {
        self.target
    }
}

/// How the rule decides, the same for every pool. Every field has a
/// default, so `{}` is a valid config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// How often the scaler observes each pool and decides, in
    /// milliseconds (default 1,000). The rule takes time as an input; this
    /// is the scaler's cadence, and the unit of the step limit.
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u64,
    /// Scale-down stabilisation window, in milliseconds (default 30,000):
    /// a pool shrinks only to the highest count recommended within it
    /// (unless the drop is clear, see `tolerance_pct`), so steady or noisy
    /// load never flaps.
    #[serde(default = "default_down_window_ms")]
    pub down_window_ms: u64,
    /// The noise band, in percent of the load (default 15): a drop to a
    /// count that would still serve the load with this much more is a
    /// clear drop, and waits only `clear_drop_window_ms`; a smaller drop is
    /// noise until `down_window_ms` says otherwise.
    #[serde(default = "default_tolerance_pct")]
    pub tolerance_pct: u32,
    /// How long a clear drop must hold before the pool shrinks, in
    /// milliseconds (default 1,000; at `down_window_ms` or more, every
    /// drop waits the whole window).
    #[serde(default = "default_clear_drop_window_ms")]
    pub clear_drop_window_ms: u64,
    /// Backlog drain time, in milliseconds (default 5,000): on top of the
    /// runners the arrival rate needs, the rule asks for enough to empty
    /// the queued messages within this time.
    #[serde(default = "default_drain_ms")]
    pub drain_ms: u64,
    /// How long a pool whose `min` is 0 must have had nothing queued,
    /// nothing in flight and nothing arriving before it goes to zero, in
    /// milliseconds (default 60,000).
    #[serde(default = "default_idle_ms")]
    pub idle_ms: u64,
    /// A step up is at most to `max(current x step_factor, current +
    /// step_add)` runners per tick (default 2), unless the arrival rate
    /// alone proves more are needed.
    #[serde(default = "default_step_factor")]
    pub step_factor: u32,
    /// The least a step up may add, whatever the pool's size (default 4;
    /// see `step_factor`).
    #[serde(default = "default_step_add")]
    pub step_add: u32,
}

const fn default_tick_ms() -> u64 {
    1_000
}

const fn default_down_window_ms() -> u64 {
    30_000
}

const fn default_tolerance_pct() -> u32 {
    15
}

const fn default_clear_drop_window_ms() -> u64 {
    1_000
}

const fn default_drain_ms() -> u64 {
    5_000
}

const fn default_idle_ms() -> u64 {
    60_000
}

const fn default_step_factor() -> u32 {
    2
}

const fn default_step_add() -> u32 {
    4
}

impl Default for RuleConfig {
    fn default() -> Self {
        Self {
            tick_ms: default_tick_ms(),
            down_window_ms: default_down_window_ms(),
            tolerance_pct: default_tolerance_pct(),
            clear_drop_window_ms: default_clear_drop_window_ms(),
            drain_ms: default_drain_ms(),
            idle_ms: default_idle_ms(),
            step_factor: default_step_factor(),
            step_add: default_step_add(),
        }
    }
}

impl RuleConfig {
    /// Refuses settings the rule cannot work with.
    pub fn validate(&self) -> Result<()> {
        let at_least_one = |name, value: u64| match value {
            0 => Err(RuleError::Setting {
                name,
                value,
                why: "must be at least 1",
            }),
            _ => Ok(()),
        };
        at_least_one("tick_ms", self.tick_ms)?;
        at_least_one("drain_ms", self.drain_ms)?;
        at_least_one("clear_drop_window_ms", self.clear_drop_window_ms)?;
        at_least_one("step_factor", self.step_factor.into())?;
        at_least_one("step_add", self.step_add.into())?;
        if self.idle_ms < self.tick_ms {
            return Err(RuleError::Setting {
                name: "idle_ms",
                value: self.idle_ms,
                why: "must be at least tick_ms: one tick cannot show a pool idle",
            });
        }
        Ok(())
    }
}
