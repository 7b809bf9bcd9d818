//! The simulated pool: runners that each serve `target` calls at once for
//! `service` seconds, a queue in front of them, replicas that take
//! `startup` to become ready, and a policy asked once a second how many
//! replicas there should be.
//!
//! The model is fluid: in each 10 ms step, the step's arrivals join the
//! queue and the ready runners take from it up to their capacity (`ready x
//! target / service` calls per second); a call's completion is counted
//! when it is taken (20 ms early: nothing here depends on it). Runners
//! removed stop at once (a real one drains what it holds, a service time
//! at most). The counters a policy reads are exact at the tick; in a mesh
//! they come from heartbeats up to a second old.

use std::collections::VecDeque;

use crate::traces::Trace;

/// The pool's service-time model and limits.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Seconds per call.
    pub service: f64,
    /// Calls a runner serves at once.
    pub target: u32,
    /// Seconds from a replica asked for to a replica ready.
    pub startup: f64,
    /// The pool's limits.
    pub min: u32,
    /// The pool's limits.
    pub max: u32,
}

/// What a policy sees at a tick.
#[derive(Debug, Clone, Copy)]
pub struct View {
    pub at_ms: u64,
    /// Messages waiting.
    pub depth: u64,
    /// Calls running.
    pub in_flight: u64,
    /// Calls completed since the start.
    pub completed: u64,
    /// Their run time, in microseconds.
    pub run_us: u64,
    /// Replicas asked for.
    pub current: u32,
    /// Replicas ready.
    pub ready: u32,
}

/// A scaling policy: asked once a second, answers the replicas wanted.
pub trait Policy {
    fn tick(&mut self, view: &View) -> u32;
}

/// What one run of a trace through a policy showed.
#[derive(Debug, Clone)]
pub struct Figures {
    /// Per rising edge of the trace: seconds from the edge until the ready
    /// capacity first covered the arrival rate (`None`: never).
    pub reach: Vec<Option<f64>>,
    /// Per rising edge: whether no call had completed before it (a cold
    /// pool: the rule does not know the service time yet).
    pub cold: Vec<bool>,
    /// Runner-seconds beyond the runners needed (arrival rate x service
    /// time / target, rounded up), as a share of those needed.
    pub over: f64,
    /// Seconds with the ready capacity below the arrival rate.
    pub under: f64,
    /// The longest a call waited in the queue, in seconds.
    pub max_wait: f64,
    /// Times the desired count changed.
    pub changes: u32,
    /// Changes in the other direction than the change before.
    pub reversals: u32,
    /// When the desired count changed, in seconds.
    pub changed_at: Vec<f64>,
    /// When the pool last went to zero runners, in seconds.
    pub to_zero_at: Option<f64>,
}

const STEP_MS: u64 = 10;
const STEP_S: f64 = STEP_MS as f64 / 1_000.0;

/// Replays `trace` through `policy` on a pool of `params`, starting at
/// `params.min` ready replicas.
/// With `timeline`, prints one line a second: time, arrival rate, depth,
/// calls in flight, replicas asked for and ready.
pub fn simulate(trace: &Trace, params: Params, policy: &mut dyn Policy, timeline: bool) -> Figures {
    let steps = (trace.seconds * 1_000.0) as u64 / STEP_MS;
    let capacity_per_runner = f64::from(params.target) / params.service;
    let mut ready = params.min;
    let mut starting: VecDeque<u64> = VecDeque::new();
    let (mut queue, mut completed, mut in_flight) = (0.0_f64, 0.0_f64, 0.0_f64);
    let (mut arrived_total, mut arrived, mut served) = (0.0, Vec::new(), Vec::new());
    let (mut over, mut needed_total, mut under) = (0.0, 0.0, 0.0);
    let (mut changes, mut reversals, mut last_up) = (0, 0, None);
    let mut changed_at = Vec::new();
    let mut to_zero_at = None;
    let mut reach: Vec<Option<f64>> = vec![None; trace.edges.len()];
    let mut cold = vec![false; trace.edges.len()];
    for step in 0..steps {
        let at_ms = step * STEP_MS;
        while starting.front().is_some_and(|at| *at <= at_ms) {
            starting.pop_front();
            ready += 1;
        }
        if at_ms.is_multiple_of(1_000) {
            let current = ready + starting.len() as u32;
            let view = View {
                at_ms,
                depth: queue.round() as u64,
                in_flight: in_flight.round() as u64,
                completed: completed as u64,
                run_us: (completed * params.service * 1e6) as u64,
                current,
                ready,
            };
            let desired = policy.tick(&view).clamp(params.min, params.max);
            if timeline {
                println!(
                    "t={:>5.1} rate={:>6.0} depth={:>6} in_flight={:>4} current={:>2} ready={:>2} -> {desired}",
                    at_ms as f64 / 1e3,
                    trace.rate(at_ms as f64 / 1e3),
                    view.depth,
                    view.in_flight,
                    current,
                    ready,
                );
            }
            if desired != current {
                changes += 1;
                changed_at.push(at_ms as f64 / 1e3);
                if desired == 0 {
                    to_zero_at = Some(at_ms as f64 / 1e3);
                }
                let up = desired > current;
                reversals += u32::from(last_up.is_some_and(|was| was != up));
                last_up = Some(up);
            }
            let ready_at = at_ms + (params.startup * 1_000.0) as u64;
            for _ in current..desired {
                starting.push_back(ready_at);
            }
            for _ in desired..current {
                match starting.pop_back() {
                    Some(_) => {}
                    None => ready -= 1,
                }
            }
        }
        let t = at_ms as f64 / 1_000.0;
        let rate = trace.rate(t);
        let capacity = f64::from(ready) * capacity_per_runner;
        let taken = (queue + rate * STEP_S).min(capacity * STEP_S);
        queue += rate * STEP_S - taken;
        completed += taken;
        in_flight = taken / STEP_S * params.service;
        arrived_total += rate * STEP_S;
        arrived.push(arrived_total);
        served.push(completed);

        let needed = (rate * params.service / f64::from(params.target) - 1e-9).ceil();
        let running = f64::from(ready) + starting.len() as f64;
        over += (running - needed).max(0.0) * STEP_S;
        needed_total += needed * STEP_S;
        let short = capacity < rate - 1e-9;
        if short {
            under += STEP_S;
        }
        for (i, edge) in trace.edges.iter().enumerate() {
            if at_ms == (edge * 1_000.0) as u64 {
                cold[i] = completed == 0.0;
            }
            if reach[i].is_none() && t >= *edge && !short {
                reach[i] = Some(t - edge);
            }
        }
    }
    Figures {
        reach,
        cold,
        over: over / needed_total.max(f64::MIN_POSITIVE),
        under,
        max_wait: max_wait(&arrived, &served),
        changes,
        reversals,
        changed_at,
        to_zero_at,
    }
}

/// The longest wait in a FIFO queue, from cumulative arrivals and services
/// per step: the call that arrived at step `k` left at the first step
/// whose cumulative service covers it.
fn max_wait(arrived: &[f64], served: &[f64]) -> f64 {
    let mut longest = 0_usize;
    let mut left = 0;
    for (k, a) in arrived.iter().enumerate() {
        while left < served.len() && served[left] < a - 1e-6 {
            left += 1;
        }
        longest = longest.max(left.max(k) - k);
    }
    longest as f64 * STEP_S
}
