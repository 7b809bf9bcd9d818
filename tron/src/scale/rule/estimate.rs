//! Arrival rate and service time from a pool's cumulative counters.
//!
//! Requests arrive at the rate they complete plus the rate the queue
//! grows: over the last tick, that is the arrival rate exactly, and a rise
//! is taken at once. The completions come from the runners' heartbeats,
//! though, which reach the tron out of step with its ticks: a tick may see
//! no heartbeat of a runner, the next one two. So a fall counts only as it
//! persists: the completions are also taken over the last
//! [`COMPLETIONS_WINDOW_MS`], and the estimate is the larger of the two.
//! One late heartbeat then does not read as a drop; its double count at
//! the next tick does pass, worth one runner's calls at most, and the
//! rule's scale-down window is what keeps noise from shrinking the pool.
//!
//! The mean service time is busy time over completions in the last
//! [`SERVICE_WINDOW_MS`]; when nothing completed there, the last one known
//! is kept, so that a pool woken from zero is sized by what its calls took
//! before.

use std::collections::VecDeque;

/// The span over which completions are counted into the arrival rate.
pub const COMPLETIONS_WINDOW_MS: u64 = 3_000;
/// The span over which the mean service time is taken.
pub const SERVICE_WINDOW_MS: u64 = 10_000;

/// What an [`Estimator`] makes of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Rates {
    /// Requests arriving per second.
    pub arrival_rate: f64,
    /// Mean seconds per call; `None` until a call has completed.
    pub service_time: Option<f64>,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at_ms: u64,
    completed: u64,
    busy_us: u64,
    depth: u64,
}

/// Turns one pool's successive counters into [`Rates`].
#[derive(Debug, Default)]
pub struct Estimator {
    /// Oldest first, spanning at least [`SERVICE_WINDOW_MS`] once there
    /// are enough.
    samples: VecDeque<Sample>,
    last: Rates,
}

impl Estimator {
    /// An estimator that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the counters at `at_ms`: calls `completed` and the time they
    /// held a runner's slot, `busy_us` (microseconds), both since any fixed start and never
    /// decreasing, and the queue `depth` now. The first call only sets the
    /// baseline (arrival rate 0). Counters that go back are taken as a
    /// restart of the counting: the history is dropped, the service time
    /// known is kept. A time not after the last one changes nothing.
    pub fn update(&mut self, at_ms: u64, completed: u64, busy_us: u64, depth: u64) -> Rates {
        let now = Sample {
            at_ms,
            completed,
            busy_us,
            depth,
        };
        if let Some(last) = self.samples.back() {
            if at_ms <= last.at_ms {
                return self.last;
            }
            if completed < last.completed || busy_us < last.busy_us {
                self.samples.clear();
            }
        }
        self.samples.push_back(now);
        // Keep one sample at or before the window's start as its base.
        while self.samples.len() > 2 && self.samples[1].at_ms + SERVICE_WINDOW_MS <= at_ms {
            self.samples.pop_front();
        }
        self.last = Rates {
            arrival_rate: self.arrival_rate(&now),
            service_time: self.service_time(&now).or(self.last.service_time),
        };
        self.last
    }

    /// The newest sample at or before `at_ms`, else the oldest one.
    fn base(&self, at_ms: u64) -> Sample {
        let mut base = self.samples[0];
        for sample in &self.samples {
            if sample.at_ms > at_ms {
                break;
            }
            base = *sample;
        }
        base
    }

    fn arrival_rate(&self, now: &Sample) -> f64 {
        let len = self.samples.len();
        if len < 2 {
            return 0.0;
        }
        let previous = self.samples[len - 2];
        let tick_s = seconds(now.at_ms - previous.at_ms);
        let growth = (now.depth as f64 - previous.depth as f64) / tick_s;
        let last_tick = (now.completed - previous.completed) as f64 / tick_s;
        let base = self.base(now.at_ms.saturating_sub(COMPLETIONS_WINDOW_MS));
        let window = (now.completed - base.completed) as f64 / seconds(now.at_ms - base.at_ms);
        (last_tick.max(window) + growth).max(0.0)
    }

    fn service_time(&self, now: &Sample) -> Option<f64> {
        let base = self.base(now.at_ms.saturating_sub(SERVICE_WINDOW_MS));
        let done = now.completed - base.completed;
        (done > 0).then(|| (now.busy_us - base.busy_us) as f64 / done as f64 / 1e6)
    }
}

/// Milliseconds as seconds, never zero (callers divide by it).
fn seconds(ms: u64) -> f64 {
    ms.max(1) as f64 / 1_000.0
}

#[cfg(test)]
mod tests;
