//! What a pool's runners did since the last tick, from their heartbeats.
//!
//! Heartbeats carry counters since each runner started; a runner that
//! dies takes its counters with it, and one that starts brings its own.
//! So the pool's totals are kept here, from each runner's own increase
//! since it was last heard: they never go back, and a runner first heard
//! adds nothing until its next heartbeat.

use std::collections::HashMap;

use funcmesh_core::control::{RunnerHeartbeat, StatsSnapshot};

/// A pool's counters, summed over its runners, never decreasing.
#[derive(Debug, Default)]
pub struct PoolCounters {
    /// Per runner id: its completed calls and busy time when last heard.
    last: HashMap<String, (u64, u64)>,
    /// Calls completed by the pool's runners since the tron started counting.
    pub completed: u64,
    /// The time they held a runner's slot, in microseconds (see [`busy_us`]).
    pub busy_us: u64,
}

/// Calls a runner finished: answered by the function, or by the runner
/// instead (a fault, a timeout, a bad request).
fn completed(stats: &StatsSnapshot) -> u64 {
    stats.answered + stats.failures.values().sum::<u64>()
}

/// The time a runner's calls held its slots: the call, its answer's
/// publication and the settlement, since `in_flight` counts those and the
/// rule's load (rate x service time) must count the same. A runner that
/// does not report it gives its run time, the nearest it has.
fn busy_us(stats: &StatsSnapshot) -> u64 {
    stats.busy_us_total.max(stats.run_us_total)
}

impl PoolCounters {
    /// Takes the pool's current heartbeats (one per live runner) into the
    /// totals; returns the calls in flight on them now.
    pub fn update<'a>(&mut self, beats: impl IntoIterator<Item = &'a RunnerHeartbeat>) -> u64 {
        let mut in_flight = 0;
        let mut seen = HashMap::new();
        for beat in beats {
            let now = (completed(&beat.stats), busy_us(&beat.stats));
            if let Some((done, busy_us)) = self.last.get(&beat.runner) {
                self.completed += now.0.saturating_sub(*done);
                self.busy_us += now.1.saturating_sub(*busy_us);
            }
            in_flight += beat.stats.in_flight;
            seen.insert(beat.runner.clone(), now);
        }
        self.last = seen;
        in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(runner: &str, answered: u64, run_us: u64, in_flight: u64) -> RunnerHeartbeat {
        RunnerHeartbeat {
            runner: runner.into(),
            host: "h".into(),
            pid: 1,
            pool: Some("default".into()),
            concurrency: 4,
            queues: vec![],
            bundles: vec![],
            stats: StatsSnapshot {
                answered,
                run_us_total: run_us,
                in_flight,
                ..StatsSnapshot::default()
            },
            at_ms: 0,
        }
    }

    #[test]
    fn totals_grow_by_each_runners_increase_and_never_go_back() {
        let mut counters = PoolCounters::default();
        assert_eq!(counters.update(&[beat("a", 100, 1_000, 2)]), 2);
        assert_eq!(counters.completed, 0, "a runner first heard adds nothing");
        counters.update(&[beat("a", 150, 1_500, 1), beat("b", 40, 400, 3)]);
        assert_eq!((counters.completed, counters.busy_us), (50, 500));
        // a died; b goes on; c is new.
        let in_flight = counters.update(&[beat("b", 60, 600, 0), beat("c", 5, 50, 4)]);
        assert_eq!((counters.completed, counters.busy_us), (70, 700));
        assert_eq!(in_flight, 4);
        // b restarted with the same id (its counters start again).
        counters.update(&[beat("b", 3, 30, 0)]);
        assert_eq!(counters.completed, 70);
    }

    #[test]
    fn the_time_calls_held_a_slot_counts_where_a_runner_reports_it() {
        let mut counters = PoolCounters::default();
        let busy = |runner: &str, answered, run_us, busy_us| {
            let mut beat = beat(runner, answered, run_us, 0);
            beat.stats.busy_us_total = busy_us;
            beat
        };
        // a reports the time its slots were held; b, an older runner, not.
        counters.update(&[busy("a", 10, 100, 150), busy("b", 10, 100, 0)]);
        counters.update(&[busy("a", 20, 200, 300), busy("b", 20, 200, 0)]);
        assert_eq!((counters.completed, counters.busy_us), (20, 150 + 100));
    }
}
