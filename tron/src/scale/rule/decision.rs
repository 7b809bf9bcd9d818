//! What the rule is told at each tick, and what it answers.

use std::fmt;

use serde::Serialize;

/// One pool at one tick.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Observation {
    /// When, in milliseconds since any fixed start (the rule only compares).
    pub at_ms: u64,
    /// Messages waiting, summed over the pool's Func queues.
    pub depth: u64,
    /// Calls running on the pool's runners.
    pub in_flight: u64,
    /// Requests arriving per second (see [`super::Estimator`]).
    pub arrival_rate: f64,
    /// Mean seconds per call; `None` when nothing has completed yet.
    pub service_time: Option<f64>,
    /// Runners the orchestrator has been asked for.
    pub current: u32,
    /// Runners that run and can take work.
    pub ready: u32,
}

/// Which term drove a [`Decision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Arrival rate x service time at the target concurrency (Little's
    /// law), or the calls in flight when they are more.
    Load,
    /// The load plus the runners that drain the queue within the drain
    /// time.
    Backlog,
    /// Raised to the pool's `min`.
    Min,
    /// Capped at the pool's `max`.
    Max,
    /// Capped by the step allowed per tick.
    Step,
    /// Held at the highest count recommended within the scale-down window.
    Window,
    /// Held above a count the pool grew from with its runners full, which
    /// the load would not fit with the noise band to spare.
    Outgrown,
    /// Held while the runners of the last growth have not been ready for
    /// long enough to measure the load on them.
    Growth,
    /// Work arrived for a pool at zero, or is still there: one runner at
    /// least.
    Wake,
    /// Kept at one runner: the pool has not been idle for the idle period.
    Warm,
    /// Idle for the idle period: to zero.
    Idle,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Load => "load",
            Reason::Backlog => "backlog",
            Reason::Min => "pool min",
            Reason::Max => "pool max",
            Reason::Step => "step limit",
            Reason::Window => "scale-down window",
            Reason::Outgrown => "outgrown before at this load",
            Reason::Growth => "new runners not measured yet",
            Reason::Wake => "work waiting",
            Reason::Warm => "not idle long enough",
            Reason::Idle => "idle",
        })
    }
}

/// The rule's answer for one pool at one tick.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Decision {
    /// Runners the pool should have.
    pub desired: u32,
    /// Runners it was asked for before (the observation's `current`).
    pub previous: u32,
    /// Which term drove `desired`.
    pub reason: Reason,
    /// What the rule was told.
    pub observed: Observation,
}

impl Decision {
    /// Whether the pool should change.
    pub fn changed(&self) -> bool {
        self.desired != self.previous
    }
}

/// One log line: `2 -> 5 (backlog): depth 812, 3,400 req/s, service 4.1
/// ms, in flight 128, ready 2`. The caller names the pool in front.
impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seen = &self.observed;
        write!(
            f,
            "{} -> {} ({}): depth {}, {} req/s, service {}, in flight {}, ready {}",
            self.previous,
            self.desired,
            self.reason,
            grouped(seen.depth),
            rate(seen.arrival_rate),
            service(seen.service_time),
            grouped(seen.in_flight),
            seen.ready,
        )
    }
}

/// `3400` as `3,400`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn rate(per_s: f64) -> String {
    match per_s {
        r if r >= 100.0 || r == 0.0 => grouped(r.round() as u64),
        r => format!("{r:.1}"),
    }
}

fn service(seconds: Option<f64>) -> String {
    match seconds {
        None => "unknown".into(),
        Some(s) if s < 0.001 => format!("{:.0} µs", s * 1e6),
        Some(s) if s < 1.0 => format!("{:.1} ms", s * 1e3),
        Some(s) => format!("{s:.2} s"),
    }
}
