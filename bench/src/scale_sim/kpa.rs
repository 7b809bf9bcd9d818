//! Knative's pod autoscaler (KPA) with its default `config-autoscaler`.
//!
//! - Concurrency is sampled every second and averaged over the stable
//!   window (60 s) and the panic window (10% of it: 6 s).
//! - Every tick (2 s): `dspc = ceil(stable / per_pod)`, `dppc =
//!   ceil(panic / per_pod)`, each kept within `[floor(ready / 2), ceil(1000
//!   x ready)]` (max scale-down rate 2, max scale-up rate 1,000; `ready`
//!   counts as 1 at zero). Panic begins when `dppc / ready >= 2` (200%),
//!   and ends 60 s after it was last over; in panic the count is the
//!   larger of the two, and never goes down.
//! - `per_pod` is the container concurrency (each runner serves `target`
//!   calls at once: `containerConcurrency = target`) x the 70% target
//!   utilisation.
//! - To zero: once the count is 0 (no concurrency over the whole stable
//!   window), the last replica stays for the 30 s grace period.
//!
//! Simplified: the concurrency counted is the calls in flight plus the
//! messages waiting, which is what Knative counts when requests wait in
//! the queue-proxies and the activator instead of a broker. Samples are
//! the value at each second rather than its average over the second. The
//! activator's stat wakes a revision at zero at the next second instead of
//! the next tick. Averages over a window not yet full use the samples
//! there are.

use std::collections::VecDeque;

use crate::pool::{Policy, View};

const STABLE_MS: u64 = 60_000;
const PANIC_MS: u64 = 6_000;
const TICK_MS: u64 = 2_000;
const TARGET_UTILISATION: f64 = 0.7;
const PANIC_THRESHOLD: f64 = 2.0;
const MAX_SCALE_UP_RATE: f64 = 1_000.0;
const MAX_SCALE_DOWN_RATE: f64 = 2.0;
const ZERO_GRACE_MS: u64 = 30_000;

pub struct Kpa {
    per_pod: f64,
    desired: u32,
    samples: VecDeque<(u64, f64)>,
    panic_since: Option<u64>,
    max_panic_pods: u32,
    zero_since: Option<u64>,
}

impl Kpa {
    pub fn new(target: u32) -> Self {
        Self {
            per_pod: f64::from(target) * TARGET_UTILISATION,
            desired: 0,
            samples: VecDeque::new(),
            panic_since: None,
            max_panic_pods: 0,
            zero_since: None,
        }
    }

    fn average(&self, at_ms: u64, window_ms: u64) -> f64 {
        let within: Vec<f64> = self
            .samples
            .iter()
            .filter(|(at, _)| at + window_ms > at_ms)
            .map(|(_, c)| *c)
            .collect();
        within.iter().sum::<f64>() / within.len().max(1) as f64
    }

    fn scale(&mut self, at_ms: u64, ready: u32) -> u32 {
        let ready = f64::from(ready.max(1));
        let max_up = (MAX_SCALE_UP_RATE * ready).ceil();
        let max_down = (ready / MAX_SCALE_DOWN_RATE).floor();
        let dspc = (self.average(at_ms, STABLE_MS) / self.per_pod).ceil();
        let dppc = (self.average(at_ms, PANIC_MS) / self.per_pod).ceil();
        let stable = dspc.max(max_down).min(max_up) as u32;
        let panic = dppc.max(max_down).min(max_up) as u32;
        let over = dppc / ready >= PANIC_THRESHOLD;
        if over {
            self.panic_since = Some(at_ms);
        } else if self
            .panic_since
            .is_some_and(|since| since + STABLE_MS < at_ms)
        {
            self.panic_since = None;
            self.max_panic_pods = 0;
        }
        let mut desired = stable;
        if self.panic_since.is_some() {
            desired = desired.max(panic).max(self.max_panic_pods);
            self.max_panic_pods = desired;
        }
        desired
    }
}

impl Policy for Kpa {
    fn tick(&mut self, view: &View) -> u32 {
        let concurrency = (view.depth + view.in_flight) as f64;
        self.samples.push_back((view.at_ms, concurrency));
        while self
            .samples
            .front()
            .is_some_and(|(at, _)| at + STABLE_MS <= view.at_ms)
        {
            self.samples.pop_front();
        }
        let waking = view.current == 0 && concurrency > 0.0;
        if !view.at_ms.is_multiple_of(TICK_MS) && !waking {
            return self.desired;
        }
        let wanted = self.scale(view.at_ms, view.ready);
        self.desired = match wanted {
            0 if view.current > 0 => {
                let since = *self.zero_since.get_or_insert(view.at_ms);
                match view.at_ms - since >= ZERO_GRACE_MS {
                    true => 0,
                    false => 1,
                }
            }
            _ => {
                self.zero_since = None;
                wanted
            }
        };
        self.desired
    }
}
