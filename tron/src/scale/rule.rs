//! The scaling rule: how many runners a pool should have, decided once per
//! tick from what the bus and the runners report. No I/O, no clock: time
//! is the observation's `at_ms`, so the same inputs give the same answers.
//!
//! At each tick the caller turns the pool's cumulative counters into rates
//! with an [`Estimator`] and hands the rule an [`Observation`]. The rule
//! recommends
//!
//! ```text
//! load    = arrival_rate x service_time                      calls at once
//! backlog = depth x service_time / drain time                calls at once
//! recommendation = clamp(ceil((load + backlog) / target), min, max)
//! ```
//!
//! The load is Little's law: the calls in flight at the pool's arrival
//! rate. When nothing is queued, the calls in flight as the runners report
//! them count instead when they are more (a rate is an average over the
//! last tick, the count is now); with a queue they do not, since the
//! runners are then full with the backlog as well. The backlog is what it
//! takes, on top, to empty the queue within the drain time. The sum is
//! rounded up to runners once: rounding each term up on its own would add
//! a runner for every handful of queued messages, which the spare room of
//! the rounded-up load drains anyway, and a pool under noisy load would
//! step between two counts. Before any call has completed the service time
//! is unknown, and the recommendation falls back to `ceil((in_flight +
//! depth) / target)`.
//!
//! A queue that stands is the exception: when, over the last four ticks,
//! the runners have been full, calls have been queued and the queue has
//! neither drained nor grown, while the arrivals have not risen past the
//! noise band, the clients are waiting on their answers before they send
//! again, the arrival rate reads as what the pool serves, and the calls
//! queued and in flight (their mean over those ticks) are what the load
//! needs (`Rule::standing_backlog`).
//!
//! What the pool gets ([`Decision`]):
//! - **up at once**: a recommendation above `current` is the answer at
//!   this tick, capped at `max(current x step_factor, current +
//!   step_add)`, except that what the load alone needs is never capped (a
//!   measured arrival rate is evidence enough; the cap guards against the
//!   guesses: a burst of queued messages, an unknown service time), so the
//!   backlog's share may wait a tick;
//! - **down after the window, or a tick later when the drop is clear**: below
//!   `current`, the pool shrinks to the highest recommendation of the last
//!   `down_window_ms`, or, when lower, to the highest of the last
//!   `clear_drop_window_ms` with the noise band (`tolerance_pct`) on top:
//!   a drop to a count that would still serve the load with 15% more is
//!   clear, and waits a tick; a smaller one may be noise, and waits the
//!   whole window. Noise within the band never moves the pool; a load that
//!   falls for real (the far side of a wave, the end of a burst) is
//!   followed a tick behind. No drop is clear while more than a runner's
//!   worth of calls is queued, and what a standing backlog asked for
//!   holds for the whole window (clients that wait for each answer send
//!   less as soon as their queue has gone, which would read as a clear
//!   drop).
//!   Neither happens until the rule has watched the pool for that window
//!   (a tron that just took over does not know what came before), nor
//!   before the runners of the pool's last growth have been ready for
//!   [`COMPLETIONS_WINDOW_MS`] (the window its arrival rate is taken
//!   over): until then the rate was measured, at least in part, on fewer
//!   runners, and clients that wait for their answers send at the rate
//!   those served, which reads as a drop the moment the new runners take
//!   the queue (up to [`GROWTH_HOLD_MAX_MS`] when they never all come
//!   up), nor while the arrival rate reads lower than before the growth
//!   by more than the noise band (up to the same bound): clients that wait
//!   for their answers do not send less to more runners, so a queue that
//!   stalls while its consumers change (Kafka hands partitions over) reads
//!   as a drop that is not there. And the pool goes back to a count it
//!   grew from while that count's runners were full only when the load
//!   fits it with the noise band to spare, each runner taken to carry what
//!   they carried then (`Outgrown`), whatever the windows say: a load at
//!   the edge of a count reads as a runner's worth too many on the smaller
//!   count and a runner's worth too few on the larger, and the pool would
//!   go back and forth once per window;
//! - **to zero after idle**: with `min = 0`, a pool that has work, or had
//!   some within `idle_ms`, keeps one runner; after `idle_ms` with nothing
//!   queued, in flight or arriving, it goes to zero;
//! - **from zero on the first message**: a queued message or an arrival
//!   raises a pool at zero to one runner at least, at once;
//! - never below `min` nor above `max` ([`PoolLimits`] refuses limits that
//!   contradict each other).
//!
//! The defaults ([`RuleConfig`]): tick 1 s, scale-down window 30 s, noise
//! band 15%, clear-drop window 1 s, drain time 5 s, idle period 60 s, step
//! `max(2 x current, current + 4)`. `bench/scale.sh` shows what each
//! scale-down setting costs on its traces.

mod config;
mod decision;
mod estimate;

use std::collections::VecDeque;

pub use config::{PoolLimits, Result, RuleConfig, RuleError};
pub use decision::{Decision, Observation, Reason};
pub use estimate::{COMPLETIONS_WINDOW_MS, Estimator, Rates, SERVICE_WINDOW_MS};

/// One pool's rule, with the little history it keeps: recent
/// recommendations and since when the pool has been idle.
#[derive(Debug, Clone)]
pub struct Rule {
    config: RuleConfig,
    limits: PoolLimits,
    /// Recommendations within the scale-down windows, oldest first.
    recent: VecDeque<Recommended>,
    /// The first observation's time.
    watching_since: Option<u64>,
    /// Since when nothing has been queued, in flight or arriving.
    idle_since: Option<u64>,
    /// The ticks of the last [`STANDING_TICKS`] (and the one before) in
    /// which the pool had ready runners, to tell a standing backlog.
    busy: VecDeque<Busy>,
    /// The runners asked for at the last tick.
    last_current: Option<u32>,
    /// The last growth, while it holds the pool from shrinking.
    growth: Option<Growth>,
    /// The arrival rate at the last tick.
    last_rate: f64,
    /// The last count the pool grew from with its runners full, until a
    /// drop to it is taken.
    outgrown: Option<Outgrown>,
}

/// A count of runners the pool grew from while they were full (or a
/// backlog stood at it): what they carried then is what that many carry.
#[derive(Debug, Clone, Copy)]
struct Outgrown {
    /// The ready runners then.
    runners: u32,
    /// The load they carried, in calls at once: arrival rate x service
    /// time. Not the calls in flight: where a runner's fetches hold the
    /// queue back (Kafka), runners carry less than their slots.
    load: f64,
}

/// Ticks over which a backlog must stand before the calls queued count as
/// calls that want a runner.
const STANDING_TICKS: u64 = 4;

/// The longest a growth whose runners do not all come up holds the pool
/// from shrinking.
pub const GROWTH_HOLD_MAX_MS: u64 = 30_000;

/// The pool's last growth, until its runners have been ready long enough
/// for the arrival rate to be measured on them alone.
#[derive(Debug, Clone, Copy)]
struct Growth {
    /// When the rule saw the pool grown.
    at_ms: u64,
    /// Since when every runner asked for has been ready.
    ready_since: Option<u64>,
    /// The arrival rate at the tick that asked for the growth.
    rate_before: f64,
}

/// One tick's recommendation, kept for the scale-down windows.
#[derive(Debug, Clone, Copy)]
struct Recommended {
    at_ms: u64,
    /// What the pool needs.
    runners: u32,
    /// What it needs with the noise band on top.
    banded: u32,
    /// Whether a standing backlog asked for it.
    standing: bool,
}

/// What one tick saw of a pool's work, for [`Rule::standing_backlog`].
#[derive(Debug, Clone, Copy)]
struct Busy {
    at_ms: u64,
    arrival_rate: f64,
    depth: u64,
    in_flight: u64,
    capacity: u64,
}

impl Rule {
    /// A rule for a pool with `limits`, deciding by `config` (see
    /// [`RuleConfig::validate`]; the rule never panics on any config).
    pub fn new(config: RuleConfig, limits: PoolLimits) -> Self {
        Self {
            config,
            limits,
            recent: VecDeque::new(),
            watching_since: None,
            idle_since: None,
            busy: VecDeque::new(),
            last_current: None,
            growth: None,
            last_rate: 0.0,
            outgrown: None,
        }
    }

    /// The pool's limits.
    pub fn limits(&self) -> PoolLimits {
        self.limits
    }

    /// The rule's settings.
    pub fn config(&self) -> &RuleConfig {
        &self.config
    }

    /// How many runners the pool should have now. Observations are
    /// expected in time order, one per tick; `seen.current` is what the
    /// orchestrator was last asked for.
    pub fn decide(&mut self, seen: &Observation) -> Decision {
        let now = seen.at_ms;
        let watching_since = *self.watching_since.get_or_insert(now);
        let growing = self.follow_growth(seen);
        let Some(Recommendation {
            runners: recommended,
            reason,
            load,
            calls,
            banded,
            standing,
        }) = self.recommend(seen)
        else {
            // Idle long enough (or at zero already): no window holds it.
            self.recent.clear();
            self.outgrown = None;
            return decision(seen, 0, Reason::Idle);
        };
        self.recent.push_back(Recommended {
            at_ms: now,
            runners: recommended,
            banded,
            standing,
        });
        let kept = (self.config.down_window_ms).max(self.config.clear_drop_window_ms);
        let window_start = now.saturating_sub(kept);
        while self.recent.front().is_some_and(|r| r.at_ms < window_start) {
            self.recent.pop_front();
        }
        let current = seen.current;
        if recommended > current {
            let step = current
                .saturating_mul(self.config.step_factor)
                .max(current.saturating_add(self.config.step_add))
                .max(load.min(self.limits.max()))
                .max(self.limits.min());
            let capacity = u64::from(seen.ready) * u64::from(self.limits.target());
            let full = standing || seen.in_flight * 8 >= capacity * 7;
            if seen.ready > 0 && full && calls > 0.0 {
                self.outgrown = Some(Outgrown {
                    runners: seen.ready,
                    load: calls,
                });
            }
            return match recommended > step {
                true => decision(seen, step, Reason::Step),
                false => decision(seen, recommended, reason),
            };
        }
        if recommended == current {
            return decision(seen, current, reason);
        }
        // Down: to the highest recommendation within the window, or, when
        // lower, to the highest within the clear-drop window with the noise
        // band on top; each once the rule has watched the pool for that
        // long. At once to `max` when the pool is above it.
        let watched = now.saturating_sub(watching_since);
        let highest = |window_ms: u64, of: fn(&Recommended) -> u32| -> u32 {
            let start = now.saturating_sub(window_ms);
            let within = self.recent.iter().filter(|r| r.at_ms >= start);
            within.map(of).max().unwrap_or(0)
        };
        let mut floor = current;
        if growing {
            // Measured on fewer runners than the pool has now: see
            // `follow_growth`. Above `max`, though, down at once.
            return match current > self.limits.max() {
                true => decision(seen, self.limits.max(), Reason::Max),
                false => decision(seen, current, Reason::Growth),
            };
        }
        // A queue of more than a runner's worth is work the pool has not
        // caught up with, whatever the rate reads (just after a step the
        // runners' heartbeats lag, and the rate reads low): no drop is
        // clear then.
        let queued = seen.depth > u64::from(self.limits.target());
        if watched >= self.config.clear_drop_window_ms && !queued {
            // What a standing backlog asked for holds for the whole
            // window: those runners serve clients that wait for each
            // answer, whose rate drops as soon as the queue has gone.
            let clear = highest(self.config.clear_drop_window_ms, |r| r.banded);
            let standing = highest(self.config.down_window_ms, |r| match r.standing {
                true => r.runners,
                false => 0,
            });
            floor = floor.min(clear.max(standing));
        }
        if watched >= self.config.down_window_ms {
            floor = floor.min(highest(self.config.down_window_ms, |r| r.runners));
        }
        let (mut desired, mut why) = match floor > recommended {
            true => (floor, Reason::Window),
            false => (recommended, reason),
        };
        if let Some(outgrown) = self.outgrown.filter(|o| desired <= o.runners) {
            // A count the pool outgrew, or fewer: taken when the load fits
            // it with the band to spare, each runner carrying what the
            // runners carried when they were outgrown.
            let per_runner = outgrown.load / f64::from(outgrown.runners.max(1));
            let needed = runners(calls * self.band() / per_runner).min(current);
            match needed > desired {
                true => (desired, why) = (needed, Reason::Outgrown),
                false => self.outgrown = None,
            }
        }
        if desired > self.limits.max() {
            (desired, why) = (self.limits.max(), Reason::Max);
        }
        decision(seen, desired, why)
    }

    /// Follows the pool's last growth; whether it still holds the pool
    /// from shrinking: until every runner asked for has been ready for
    /// [`COMPLETIONS_WINDOW_MS`] and the arrival rate reads, with the noise
    /// band on top, at least what it was before the growth; or for
    /// [`GROWTH_HOLD_MAX_MS`] after the growth when that never comes.
    fn follow_growth(&mut self, seen: &Observation) -> bool {
        let now = seen.at_ms;
        let band = self.band();
        if self.last_current.is_some_and(|last| seen.current > last) {
            self.growth = Some(Growth {
                at_ms: now,
                ready_since: None,
                rate_before: self.last_rate,
            });
        }
        self.last_current = Some(seen.current);
        self.last_rate = seen.arrival_rate;
        let Some(growth) = self.growth.as_mut() else {
            return false;
        };
        if seen.ready < seen.current {
            growth.ready_since = None;
        } else if growth.ready_since.is_none() {
            growth.ready_since = Some(now);
        }
        // Measured on the new runners alone, and not less than before the
        // growth by more than the noise band.
        let settled = growth
            .ready_since
            .is_some_and(|since| now.saturating_sub(since) >= COMPLETIONS_WINDOW_MS)
            && seen.arrival_rate * band >= growth.rate_before;
        if settled || now.saturating_sub(growth.at_ms) >= GROWTH_HOLD_MAX_MS {
            self.growth = None;
            return false;
        }
        true
    }

    /// What the pool needs now, within its limits; `None` when it may go
    /// to zero.
    fn recommend(&mut self, seen: &Observation) -> Option<Recommendation> {
        let now = seen.at_ms;
        let busy = seen.depth > 0 || seen.in_flight > 0 || seen.arrival_rate > 0.0;
        self.idle_since = match busy {
            true => None,
            false => Some(self.idle_since.unwrap_or(now)),
        };
        let idle_for = self.idle_since.map_or(0, |since| now.saturating_sub(since));

        let Terms {
            calls,
            load,
            mut with_backlog,
            mut banded,
        } = self.terms(seen);
        let standing = self.standing_backlog(seen);
        if let Some(queued) = standing {
            // Clients that wait for their answer before they send again
            // keep the queue at about the same depth, and the arrival rate
            // then reads as what the pool serves: every call queued is a
            // call that wants a runner now.
            let target = f64::from(self.limits.target());
            with_backlog = with_backlog.max(runners(queued / target));
            banded = banded.max(runners(queued * self.band() / target));
        }
        let (mut recommended, mut reason) = match with_backlog > load {
            false => (load, Reason::Load),
            true => (with_backlog, Reason::Backlog),
        };
        if recommended > self.limits.max() {
            (recommended, reason) = (self.limits.max(), Reason::Max);
        }
        if recommended < self.limits.min() {
            (recommended, reason) = (self.limits.min(), Reason::Min);
        }
        if recommended == 0 {
            if busy {
                (recommended, reason) = (1, Reason::Wake);
            } else if seen.current > 0 && idle_for < self.config.idle_ms {
                (recommended, reason) = (1, Reason::Warm);
            } else {
                return None;
            }
        }
        Some(Recommendation {
            runners: recommended,
            reason,
            load,
            calls,
            banded: banded.min(self.limits.max()).max(recommended),
            standing: standing.is_some(),
        })
    }

    /// The load with the noise band on top, as a factor.
    fn band(&self) -> f64 {
        1.0 + f64::from(self.config.tolerance_pct) / 100.0
    }

    /// The calls queued and in flight, on average over the last
    /// [`STANDING_TICKS`] ticks, when the backlog stands there with as
    /// many runners ready at every tick as now: calls queued at every tick of the span but one with the ready runners full
    /// (in flight at seven eighths of their target or more, on average), or
    /// at every tick with the runners at least half busy; and the queue's
    /// depth at every tick within a fifth of the first tick's, plus one
    /// runner's target; and the arrival rate not risen past the noise band
    /// since the first tick. A queue that grows is arrivals the rate
    /// counts; one that drains needs no more runners; one that holds while
    /// the arrivals rise is open load a tick ahead of the runners; one that
    /// holds otherwise is clients waiting on their answers before they send
    /// again.
    ///
    /// Means and a tick's grace, not each tick's figures: a runner's slot
    /// is free for a moment between one call and the next, a small queue
    /// is empty for a moment now and then, and heartbeats catch any of
    /// those moments.
    fn standing_backlog(&mut self, seen: &Observation) -> Option<f64> {
        if seen.ready == 0 {
            self.busy.clear();
            return None;
        }
        let now = seen.at_ms;
        let capacity = u64::from(seen.ready) * u64::from(self.limits.target());
        if self.busy.back().is_some_and(|b| b.capacity != capacity) {
            // A queue stands, or not, at a count of runners: the ticks of
            // another count say nothing of this one.
            self.busy.clear();
        }
        self.busy.push_back(Busy {
            at_ms: now,
            arrival_rate: seen.arrival_rate,
            depth: seen.depth,
            in_flight: seen.in_flight,
            capacity,
        });
        // Keep one tick at or before the span's start as its first.
        let start = now.saturating_sub(STANDING_TICKS * self.config.tick_ms);
        while self.busy.len() > 2 && self.busy[1].at_ms <= start {
            self.busy.pop_front();
        }
        let first = *self.busy.front()?;
        if first.at_ms > start {
            return None;
        }
        let empty = self.busy.iter().filter(|b| b.depth == 0).count();
        let n = self.busy.len() as f64;
        let mean = |f: fn(&Busy) -> u64| self.busy.iter().map(|b| f(b) as f64).sum::<f64>() / n;
        let (depth, in_flight, capacity) = (
            mean(|b| b.depth),
            mean(|b| b.in_flight),
            mean(|b| b.capacity),
        );
        let target = f64::from(self.limits.target());
        // Every tick's depth near the first one's: a queue that rose and
        // fell again within the span (a wave of load) does not stand.
        let near = |b: &Busy| b.depth.abs_diff(first.depth) * 5 <= first.depth + 5 * target as u64;
        let held = self.busy.iter().all(near);
        // Arrivals that rise past the noise band over the span are open
        // load outgrowing the runners (the load term follows it), not
        // clients waiting on their answers.
        let rising = seen.arrival_rate > first.arrival_rate * self.band();
        // Full runners with the odd empty tick; or runners half busy with
        // calls queued at every tick: a consumer's fetches, not its slots,
        // hold the queue back (Kafka's partitions), and another consumer
        // takes a share of them.
        let full = in_flight * 8.0 >= capacity * 7.0;
        let busy = in_flight * 2.0 >= capacity;
        let stands = ((empty <= 1 && full) || (empty == 0 && busy)) && held && !rising;
        stands.then_some(depth + in_flight)
    }

    /// The runners the load needs, those it needs with the backlog, and
    /// those with the noise band on top.
    fn terms(&self, seen: &Observation) -> Terms {
        let target = f64::from(self.limits.target());
        let band = self.band();
        let in_flight = seen.in_flight as f64;
        let depth = seen.depth as f64;
        match seen.service_time.filter(|s| s.is_finite() && *s > 0.0) {
            Some(service) => {
                let rate = match seen.arrival_rate {
                    r if r.is_finite() && r > 0.0 => r,
                    _ => 0.0,
                };
                let drain_s = self.config.drain_ms.max(1) as f64 / 1_000.0;
                // With nothing queued, the calls in flight are the load as
                // it is now (the rate is an average over the last tick);
                // with a queue, the runners are full with the backlog too.
                let load = match seen.depth {
                    0 => (rate * service).max(in_flight),
                    _ => rate * service,
                };
                let backlog = depth * service / drain_s;
                Terms {
                    calls: load,
                    load: runners(load / target),
                    with_backlog: runners((load + backlog) / target),
                    banded: runners((load + backlog) * band / target),
                }
            }
            None => Terms {
                calls: 0.0,
                load: runners(in_flight / target),
                with_backlog: runners((in_flight + depth) / target),
                banded: runners((in_flight + depth) * band / target),
            },
        }
    }
}

/// What [`Rule::recommend`] finds.
struct Recommendation {
    /// What the pool needs now, within its limits.
    runners: u32,
    /// The term that drove it.
    reason: Reason,
    /// What the load alone needs.
    load: u32,
    /// The load in calls at once (0 while the service time is unknown).
    calls: f64,
    /// What it needs with the noise band on top.
    banded: u32,
    /// Whether a standing backlog was seen.
    standing: bool,
}

/// The rule's terms, in runners.
struct Terms {
    /// The load in calls at once (0 while the service time is unknown).
    calls: f64,
    load: u32,
    with_backlog: u32,
    banded: u32,
}

fn decision(seen: &Observation, desired: u32, reason: Reason) -> Decision {
    Decision {
        desired,
        previous: seen.current,
        reason,
        observed: *seen,
    }
}

/// Whole runners for `x` runners' worth of work: rounded up, but not for
/// the last bits of a floating-point product (4,000 req/s x 20 ms / 8 is
/// 10 runners, not 11).
fn runners(x: f64) -> u32 {
    // `as` saturates: NaN and negatives give 0, huge values u32::MAX.
    (x - 1e-9).ceil() as u32
}

#[cfg(test)]
mod tests;
