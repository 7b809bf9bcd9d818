#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// 20 ms per call.
const SERVICE: f64 = 0.020;

fn limits(min: u32, max: u32, target: u32) -> PoolLimits {
    PoolLimits::new(min, max, target).unwrap()
}

/// A pool whose orchestrator obeys every decision at once, ticked once a
/// second with the load given.
struct Pool {
    rule: Rule,
    current: u32,
    at_ms: u64,
    /// (second, previous, desired) of every change.
    changes: Vec<(u64, u32, u32)>,
}

impl Pool {
    fn new(limits: PoolLimits) -> Self {
        Self::at(limits, limits.min())
    }

    fn at(limits: PoolLimits, current: u32) -> Self {
        Self {
            rule: Rule::new(RuleConfig::default(), limits),
            current,
            at_ms: 0,
            changes: Vec::new(),
        }
    }

    /// One tick: `rate` req/s arriving, `depth` waiting, calls of
    /// `service` seconds (when known), as many in flight as the runners
    /// hold of them.
    fn tick(&mut self, rate: f64, depth: u64, service: Option<f64>) -> Decision {
        self.at_ms += 1_000;
        let capacity = f64::from(self.current * self.rule.limits().target());
        let in_flight = (rate * service.unwrap_or(0.0)).min(capacity).round() as u64;
        let decision = self.rule.decide(&Observation {
            at_ms: self.at_ms,
            depth,
            in_flight,
            arrival_rate: rate,
            service_time: service,
            current: self.current,
            ready: self.current,
        });
        if decision.changed() {
            self.changes
                .push((self.at_ms / 1_000, self.current, decision.desired));
        }
        self.current = decision.desired;
        decision
    }

    /// `ticks` ticks of steady load with nothing queued.
    fn steady(&mut self, ticks: usize, rate: f64) {
        for _ in 0..ticks {
            self.tick(rate, 0, Some(SERVICE));
        }
    }

    /// Changes that reverse the direction of the one before.
    fn reversals(&self) -> usize {
        self.changes
            .windows(2)
            .filter(|pair| (pair[0].2 > pair[0].1) != (pair[1].2 > pair[1].1))
            .count()
    }
}

/// Deterministic noise in [-1, 1].
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

#[test]
fn a_step_up_is_reached_at_the_next_tick() {
    let mut pool = Pool::new(limits(1, 50, 8));
    pool.steady(40, 100.0);
    assert_eq!(pool.current, 1);
    // 5,000 req/s from now on: 12.5 runners' worth. One second later one
    // runner has taken 400 of them and 4,600 wait.
    let decision = pool.tick(5_000.0, 4_600, Some(SERVICE));
    assert!(decision.desired >= 13, "{decision}");
    assert_eq!(
        decision.reason,
        Reason::Step,
        "the backlog's share waits a tick"
    );
    // The next tick adds the runners that drain the queue.
    let decision = pool.tick(5_000.0, 4_600 + 200, Some(SERVICE));
    assert!(decision.desired > 13, "{decision}");
    assert_eq!(decision.reason, Reason::Backlog);
}

#[test]
fn a_cold_pool_is_sized_at_the_second_tick() {
    // Nothing has ever completed: the service time is unknown.
    let mut pool = Pool::new(limits(0, 50, 8));
    let first = pool.tick(5_000.0, 5_000, None);
    assert_eq!((first.desired, first.reason), (4, Reason::Step), "{first}");
    // Four runners served 1,600 of 5,000 req/s; now the service time is known.
    let second = pool.tick(5_000.0, 8_400, Some(SERVICE));
    assert!(second.desired >= 13, "{second}");
}

#[test]
fn steady_load_changes_nothing_after_the_ramp() {
    let mut pool = Pool::new(limits(0, 50, 8));
    pool.steady(300, 2_000.0);
    // 2,000 req/s x 20 ms / 8 = 5 runners, at the first tick.
    assert_eq!(pool.changes, vec![(1, 0, 5)]);
}

#[test]
fn noisy_load_around_a_level_does_not_flap() {
    let mut pool = Pool::new(limits(0, 50, 8));
    let mut noise = Noise(7);
    for _ in 0..900 {
        // +-10% each second, and now and then a few messages wait.
        let rate = 2_000.0 * (1.0 + 0.1 * noise.next());
        let depth = match noise.next() {
            n if n > 0.8 => 30,
            _ => 0,
        };
        pool.tick(rate, depth, Some(SERVICE * (1.0 + 0.05 * noise.next())));
    }
    assert_eq!(pool.reversals(), 0, "{:?}", pool.changes);
    assert!(pool.changes.len() <= 3, "{:?}", pool.changes);
    assert!(pool.changes.iter().all(|(at, _, _)| *at <= 30));
}

#[test]
fn a_clear_drop_is_followed_after_the_clear_drop_window() {
    let mut pool = Pool::new(limits(1, 50, 8));
    pool.steady(60, 5_000.0);
    assert_eq!(pool.current, 13);
    // 1,000 req/s need 3 runners, and would with 15% more: a clear drop.
    // Until the 5,000 req/s tick (15 runners with the band) is 1 s old,
    // the pool holds.
    for second in 1..=1 {
        let decision = pool.tick(1_000.0, 0, Some(SERVICE));
        assert_eq!(
            (decision.desired, decision.reason),
            (13, Reason::Window),
            "{second} s after the drop: {decision}"
        );
    }
    let decision = pool.tick(1_000.0, 0, Some(SERVICE));
    assert_eq!(
        (decision.desired, decision.reason),
        (3, Reason::Load),
        "{decision}"
    );
}

#[test]
fn a_drop_within_the_noise_band_waits_the_window() {
    let mut pool = Pool::new(limits(1, 50, 8));
    pool.steady(60, 5_000.0);
    assert_eq!(pool.current, 13);
    // 4,400 req/s need 11 runners, but 13 with 15% more: noise, perhaps.
    for second in 1..=30 {
        let decision = pool.tick(4_400.0, 0, Some(SERVICE));
        assert_eq!(
            (decision.desired, decision.reason),
            (13, Reason::Window),
            "{second} s after the drop: {decision}"
        );
    }
    // The last recommendation of 13 is 31 s old.
    let decision = pool.tick(4_400.0, 0, Some(SERVICE));
    assert_eq!(
        (decision.desired, decision.reason),
        (11, Reason::Load),
        "{decision}"
    );
}

#[test]
fn with_the_clear_drop_window_at_the_window_every_drop_waits() {
    let config = RuleConfig {
        clear_drop_window_ms: 30_000,
        ..RuleConfig::default()
    };
    let mut pool = Pool::new(limits(1, 50, 8));
    pool.rule = Rule::new(config, limits(1, 50, 8));
    pool.steady(60, 5_000.0);
    for _ in 1..=30 {
        assert_eq!(pool.tick(1_000.0, 0, Some(SERVICE)).desired, 13);
    }
    assert_eq!(pool.tick(1_000.0, 0, Some(SERVICE)).desired, 3);
}

#[test]
fn a_rule_that_just_started_watching_waits_before_scaling_down() {
    // A tron taking over finds the pool at 20; 4,400 req/s need 11 runners,
    // or 13 with the noise band. The drop to 13 is clear, and waits the
    // clear-drop window of watching; the rest of the way waits the whole
    // window.
    let mut pool = Pool::at(limits(1, 50, 8), 20);
    assert_eq!(pool.tick(4_400.0, 0, Some(SERVICE)).desired, 20);
    for _ in 1..30 {
        assert_eq!(pool.tick(4_400.0, 0, Some(SERVICE)).desired, 13);
    }
    assert_eq!(pool.tick(4_400.0, 0, Some(SERVICE)).desired, 11);
}

#[test]
fn to_zero_only_after_the_idle_period() {
    let mut pool = Pool::new(limits(0, 50, 8));
    pool.steady(40, 2_000.0);
    // Idle from the first of these ticks on: 60 s later, at the 61st.
    for second in 1..=60 {
        let decision = pool.tick(0.0, 0, Some(SERVICE));
        assert!(decision.desired >= 1, "{second} s idle: {decision}");
    }
    assert_eq!(pool.current, 1, "the window has passed: down to one");
    let decision = pool.tick(0.0, 0, Some(SERVICE));
    assert_eq!((decision.desired, decision.reason), (0, Reason::Idle));
    // And a pool that keeps a minimum never goes to zero.
    let mut pool = Pool::new(limits(2, 50, 8));
    pool.steady(40, 2_000.0);
    pool.steady(300, 0.0);
    assert_eq!(pool.current, 2);
}

#[test]
fn from_zero_on_the_first_message() {
    let mut pool = Pool::new(limits(0, 50, 8));
    pool.steady(120, 0.0);
    assert_eq!(pool.current, 0, "a pool without work stays at zero");
    assert!(pool.changes.is_empty());
    // One message queued, nothing known about the Func yet.
    let decision = pool.tick(0.0, 1, None);
    assert_eq!(decision.desired, 1, "{decision}");
    // Work arriving (taken before the tick could see it queued) wakes it too.
    let mut pool = Pool::new(limits(0, 50, 8));
    let decision = pool.tick(0.5, 0, None);
    assert_eq!((decision.desired, decision.reason), (1, Reason::Wake));
    // Woken with the service time known from before: sized at once.
    let mut pool = Pool::new(limits(0, 50, 8));
    let decision = pool.tick(5_000.0, 5_000, Some(SERVICE));
    assert_eq!(decision.desired, 13, "{decision}");
}

#[test]
fn a_guessed_backlog_is_capped_by_the_step() {
    let mut pool = Pool::at(limits(1, 500, 8), 2);
    // A million messages queued at once (a replay), nothing arriving.
    let decision = pool.tick(0.0, 1_000_000, Some(SERVICE));
    assert_eq!((decision.desired, decision.reason), (6, Reason::Step));
    let decision = pool.tick(0.0, 1_000_000, Some(SERVICE));
    assert_eq!(decision.desired, 12, "{decision}");
}

#[test]
fn never_past_max_nor_below_min() {
    let mut noise = Noise(42);
    let mut pick = |below: f64| ((noise.next() + 1.0) / 2.0 * below) as u64;
    for (min, max, target) in [(0, 1, 1), (0, 10, 8), (3, 3, 4), (2, 40, 1), (5, 500, 64)] {
        let limits = limits(min, max, target);
        let mut rule = Rule::new(RuleConfig::default(), limits);
        for tick in 0..3_000u64 {
            let service = match pick(10.0) {
                0 => None,
                1 => Some(f64::NAN),
                n => Some(n as f64 * 0.01),
            };
            let rate = match pick(20.0) {
                0 => f64::INFINITY,
                1 => -1.0,
                n if n < 10 => 0.0,
                _ => pick(1e6) as f64,
            };
            let current = pick(f64::from(max) * 2.0 + 2.0) as u32;
            let seen = Observation {
                at_ms: tick * 1_000,
                depth: pick(1e7),
                in_flight: pick(1e5),
                arrival_rate: rate,
                service_time: service,
                current,
                ready: current,
            };
            let decision = rule.decide(&seen);
            assert!(decision.desired <= max, "{limits:?} {decision}");
            assert!(decision.desired >= min, "{limits:?} {decision}");
        }
    }
}

#[test]
fn contradictory_limits_are_refused() {
    assert_eq!(
        PoolLimits::new(5, 2, 8).unwrap_err().to_string(),
        "min = 5 is above max = 2"
    );
    assert_eq!(PoolLimits::new(0, 0, 8).unwrap_err(), RuleError::ZeroMax);
    assert_eq!(PoolLimits::new(0, 4, 0).unwrap_err(), RuleError::ZeroTarget);
    assert!(
        PoolLimits::new(0, 4, 0)
            .unwrap_err()
            .to_string()
            .contains("target must be at least 1")
    );
    let ok = PoolLimits::new(0, 1, 1).unwrap();
    assert_eq!((ok.min(), ok.max(), ok.target()), (0, 1, 1));
}

#[test]
fn settings_have_defaults_and_refuse_unknown_fields() {
    let config: RuleConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(config, RuleConfig::default());
    assert_eq!(
        (
            config.tick_ms,
            config.down_window_ms,
            config.drain_ms,
            config.idle_ms
        ),
        (1_000, 30_000, 5_000, 60_000)
    );
    assert_eq!(
        (config.tolerance_pct, config.clear_drop_window_ms),
        (15, 1_000)
    );
    assert_eq!((config.step_factor, config.step_add), (2, 4));
    config.validate().unwrap();
    let error = serde_json::from_str::<RuleConfig>(r#"{"window_ms": 10}"#).unwrap_err();
    assert!(
        error.to_string().contains("unknown field `window_ms`"),
        "{error}"
    );
    let zero: RuleConfig = serde_json::from_str(r#"{"drain_ms": 0}"#).unwrap();
    assert_eq!(
        zero.validate().unwrap_err().to_string(),
        "drain_ms = 0: must be at least 1"
    );
    let short: RuleConfig = serde_json::from_str(r#"{"idle_ms": 10}"#).unwrap();
    assert!(short.validate().is_err());
}

#[test]
fn a_decision_is_one_log_line_with_its_inputs() {
    let decision = Decision {
        desired: 5,
        previous: 2,
        reason: Reason::Backlog,
        observed: Observation {
            at_ms: 0,
            depth: 812,
            in_flight: 128,
            arrival_rate: 3_400.0,
            service_time: Some(0.0041),
            current: 2,
            ready: 2,
        },
    };
    assert_eq!(
        decision.to_string(),
        "2 -> 5 (backlog): depth 812, 3,400 req/s, service 4.1 ms, in flight 128, ready 2"
    );
    let cold = Decision {
        observed: Observation {
            depth: 1_234_567,
            arrival_rate: 0.5,
            service_time: None,
            ..decision.observed
        },
        ..decision
    };
    assert_eq!(
        cold.to_string(),
        "2 -> 5 (backlog): depth 1,234,567, 0.5 req/s, service unknown, in flight 128, ready 2"
    );
}

#[test]
fn a_standing_backlog_of_waiting_clients_is_served() {
    // 64 clients that each wait for their answer: 2 runners of 8 are full,
    // 48 calls stay queued, and the rate reads as what the 2 serve.
    let mut rule = Rule::new(RuleConfig::default(), limits(0, 10, 8));
    let seen = |at_ms, current| Observation {
        at_ms,
        depth: 48,
        in_flight: 16,
        arrival_rate: 16.0 / SERVICE,
        service_time: Some(SERVICE),
        current,
        ready: current,
    };
    // The drain term alone: 48 calls of 20 ms within 5 s is a sliver.
    let first = rule.decide(&seen(1_000, 2));
    assert_eq!(first.desired, 3, "one tick is no proof: {first}");
    assert_eq!(rule.decide(&seen(2_000, 2)).desired, 3);
    assert_eq!(rule.decide(&seen(3_000, 2)).desired, 3);
    assert_eq!(rule.decide(&seen(4_000, 2)).desired, 3);
    let decision = rule.decide(&seen(5_000, 2));
    assert_eq!(decision.desired, 6, "capped by the step: {decision}");
    assert_eq!(decision.reason, Reason::Step);
    // A queue that grows is arrivals the rate counts; one that drains
    // needs nothing more.
    let mut rule = Rule::new(RuleConfig::default(), limits(0, 10, 8));
    for (at, depth) in [(1_000, 48), (2_000, 200), (3_000, 600)] {
        let mut growing = seen(at, 2);
        growing.depth = depth;
        growing.arrival_rate = 800.0 + depth as f64;
        assert!(rule.decide(&growing).desired <= 6);
        assert!(rule.standing_backlog(&growing).is_none());
    }
}

#[test]
fn a_small_noisy_backlog_of_waiting_clients_is_served() {
    // 12 clients that each wait for their answer on 1 runner of 8: the
    // queue is empty at the odd tick and 4 deep at others, a slot is free
    // at the odd heartbeat, and the rate reads as what the runner serves.
    let mut rule = Rule::new(RuleConfig::default(), limits(0, 4, 8));
    let depths = [3, 4, 0, 2, 4, 1, 3, 2, 0];
    let in_flight = [8, 7, 8, 8, 7, 8, 8, 8, 8];
    let mut desired = Vec::new();
    for (tick, (depth, in_flight)) in (1..).zip(depths.into_iter().zip(in_flight)) {
        let decision = rule.decide(&Observation {
            // Ticks a little late, as a loaded tron's are.
            at_ms: tick * 1_007,
            depth,
            in_flight,
            arrival_rate: 7.0 / SERVICE,
            service_time: Some(SERVICE),
            current: 1,
            ready: 1,
        });
        desired.push(decision.desired);
    }
    assert_eq!(
        &desired[..4],
        &[1, 1, 1, 1],
        "four ticks first: {desired:?}"
    );
    assert!(desired[4..].iter().all(|d| *d == 2), "{desired:?}");
}

#[test]
fn a_queue_that_stands_beside_free_slots_adds_a_consumer() {
    // Kafka: one runner's fetches, not its 8 slots, hold 4 to 7 calls
    // queued; about 5 run at a time. Another consumer takes a share of the
    // partitions. A queue empty at one tick of the span is no proof.
    let mut rule = Rule::new(RuleConfig::default(), limits(0, 4, 8));
    let mut desired = Vec::new();
    for (tick, depth) in (1..).zip([5, 7, 4, 6, 5, 0, 6, 7, 5, 4, 6]) {
        let decision = rule.decide(&Observation {
            at_ms: tick * 1_000,
            depth,
            in_flight: 5,
            arrival_rate: 5.0 / SERVICE,
            service_time: Some(SERVICE),
            current: 1,
            ready: 1,
        });
        desired.push(decision.desired);
    }
    assert_eq!(desired, [1, 1, 1, 1, 2, 1, 1, 1, 1, 1, 2]);
}

#[test]
fn a_queue_held_by_rising_arrivals_is_no_standing_backlog() {
    // Open load rising 6% a second with the runners a tick behind: the
    // queue holds at 800 to 950, but the load term follows the arrivals,
    // and the queued calls are not clients waiting for a runner each.
    let mut pool = Pool::at(limits(0, 50, 8), 8);
    let rising = [
        (2_584.0, 519),
        (2_791.0, 806),
        (3_000.0, 900),
        (3_209.0, 803),
        (3_416.0, 915),
        (3_618.0, 831),
        (3_813.0, 947),
    ];
    for (rate, depth) in rising {
        let decision = pool.tick(rate, depth, Some(SERVICE));
        // Load plus backlog: at most (3,813 x 20 ms + 947 x 20 ms / 5 s) / 8.
        assert!(decision.desired <= 11, "{decision}");
    }
}

#[test]
fn runners_a_standing_backlog_asked_for_hold_for_the_window() {
    // 12 clients that wait for each answer on 1 runner of 8; with a second
    // runner their queue is gone, and the rate they send at reads as half
    // a runner's load: a clear drop, were it open load.
    let mut pool = Pool::at(limits(0, 4, 8), 1);
    pool.rule = Rule::new(RuleConfig::default(), limits(0, 4, 8));
    let rate = 7.0 / SERVICE;
    for _ in 0..40 {
        pool.tick(rate, 0, Some(SERVICE));
    }
    let mut grown = None;
    for tick in 0..8 {
        if pool.tick(rate, 4, Some(SERVICE)).desired == 2 {
            grown = Some(tick);
            break;
        }
    }
    assert!(grown.is_some(), "{:?}", pool.changes);
    for second in 1..=30 {
        let decision = pool.tick(rate * 0.6, 0, Some(SERVICE));
        assert_eq!(decision.desired, 2, "{second} s after: {decision}");
    }
    assert_eq!(pool.tick(rate * 0.6, 0, Some(SERVICE)).desired, 1);
}

#[test]
fn no_drop_is_clear_while_calls_are_queued() {
    // Just after a step the runners' heartbeats lag and the rate reads low
    // while 2,000 calls wait: the pool keeps what the window holds.
    let mut pool = Pool::at(limits(0, 8, 4), 8);
    for depth in [586, 1_134, 2_026, 1_692, 707] {
        let before = pool.current;
        let decision = pool.tick(254.0, depth, Some(SERVICE));
        assert!(decision.desired >= before, "{decision}");
    }
    // Once the queue is gone, a clear drop is followed a tick later.
    pool.tick(254.0, 0, Some(SERVICE));
    assert_eq!(pool.tick(254.0, 0, Some(SERVICE)).desired, 2);
}

#[test]
fn no_drop_until_the_new_runners_have_been_measured() {
    // 16 clients that wait for each answer, on one runner of 8: 8 queued,
    // a guessed service time, so the pool grows to 2. The second runner is
    // ready a tick later; the rate measured so far is what one runner
    // served, half a pool of two: it reads as a clear drop, which it is
    // not until the rate is measured on both.
    let mut rule = Rule::new(RuleConfig::default(), limits(0, 4, 8));
    let seen = |at_ms, current, ready, rate, in_flight| Observation {
        at_ms,
        depth: 0,
        in_flight,
        arrival_rate: rate,
        service_time: Some(SERVICE),
        current,
        ready,
    };
    let up = rule.decide(&Observation {
        depth: 8,
        service_time: None,
        ..seen(1_000, 1, 1, 0.0, 8)
    });
    assert_eq!(up.desired, 2, "{up}");
    let one_runner = 8.0 / SERVICE * 0.6;
    let mut at_ms = 2_000;
    for (current, ready) in [(2, 1), (2, 2), (2, 2), (2, 2)] {
        let decision = rule.decide(&seen(at_ms, current, ready, one_runner, 5));
        assert_eq!(
            (decision.desired, decision.reason),
            (2, Reason::Growth),
            "{at_ms} ms: {decision}"
        );
        at_ms += 1_000;
    }
    // Both runners ready for 3 s: a drop measured on them is followed.
    let decision = rule.decide(&seen(at_ms, 2, 2, one_runner, 5));
    assert_eq!((decision.desired, decision.reason), (1, Reason::Load));
}

#[test]
fn a_growth_whose_runners_never_come_up_holds_for_a_bounded_time() {
    let mut rule = Rule::new(RuleConfig::default(), limits(0, 4, 8));
    let seen = |at_ms, current, ready| Observation {
        at_ms,
        depth: 0,
        in_flight: 1,
        arrival_rate: 50.0,
        service_time: Some(SERVICE),
        current,
        ready,
    };
    rule.decide(&seen(0, 1, 1));
    let mut held = 0;
    for second in 1..=40 {
        let decision = rule.decide(&seen(second * 1_000, 3, 1));
        if decision.reason == Reason::Growth {
            held = second;
        }
    }
    // Grown at 1 s: held through 30 s, not at 31 s.
    assert_eq!(held * 1_000, GROWTH_HOLD_MAX_MS, "held until then");
}

/// A pool at `at_ms` with `(current, ready)` runners, calls of `service`
/// seconds.
fn observed(
    service: f64,
    at_ms: u64,
    (current, ready): (u32, u32),
    depth: u64,
    in_flight: u64,
    rate: f64,
) -> Observation {
    Observation {
        at_ms,
        depth,
        in_flight,
        arrival_rate: rate,
        service_time: Some(service),
        current,
        ready,
    }
}

#[test]
fn a_count_the_pool_outgrew_is_not_taken_again_at_the_same_load() {
    // Kafka, 15 clients that wait for each answer, calls of 27.8 ms in a
    // runner's slot and as long again on their way: one runner of 8 is
    // full with 7 queued, and serves 280 req/s. On two, 13 are on their
    // way (not waiting for a slot) and 5 run: 279 req/s is 7.8 calls, one
    // runner's worth at the target, which is where the clients waited.
    let mut rule = Rule::new(RuleConfig::default(), limits(0, 4, 8));
    let seen = |at_ms, current, depth, in_flight, rate| {
        observed(0.0278, at_ms, (current, current), depth, in_flight, rate)
    };
    let mut at_ms = 0;
    let mut current = 1;
    for _ in 0..6 {
        at_ms += 1_000;
        current = rule.decide(&seen(at_ms, current, 7, 8, 280.0)).desired;
    }
    assert_eq!(current, 2, "the clients waiting on one runner get a second");
    for second in 1..=90 {
        at_ms += 1_000;
        let decision = rule.decide(&seen(at_ms, 2, 13, 5, 279.0));
        assert_eq!(decision.desired, 2, "{second} s on two runners: {decision}");
        if second > 35 {
            assert_eq!(decision.reason, Reason::Outgrown, "{decision}");
        }
    }
    // The load falls for real (fewer clients): a runner is given back
    // after the window, and the count is free to be taken again.
    let mut dropped = None;
    for second in 1..=40 {
        at_ms += 1_000;
        let decision = rule.decide(&seen(at_ms, 2, 4, 3, 150.0));
        if decision.desired == 1 {
            dropped = Some(second);
            break;
        }
    }
    assert!(dropped.is_some(), "150 req/s fits one runner with room");
    assert!(rule.outgrown.is_none(), "{:?}", rule.outgrown);
}

#[test]
fn a_stall_while_consumers_change_is_no_drop() {
    // Kafka, seen under load: one runner of 8 full at 197 req/s of 41 ms
    // calls (8.1 calls) asks for a second; while the partitions are handed
    // over, the queue stalls and the two serve 67 to 75 req/s for seconds.
    // Clients that wait for their answers do not send less to more
    // runners: that is no drop, and the pool waits for the rate to come
    // back (or for the growth's bound).
    let mut rule = Rule::new(RuleConfig::default(), limits(0, 4, 8));
    let seen = |at_ms, current, ready, depth, in_flight, rate| {
        observed(0.041, at_ms, (current, ready), depth, in_flight, rate)
    };
    let mut at_ms = 0;
    for _ in 0..40 {
        at_ms += 1_000;
        assert_eq!(rule.decide(&seen(at_ms, 1, 1, 2, 6, 150.0)).desired, 1);
    }
    at_ms += 1_000;
    let up = rule.decide(&seen(at_ms, 1, 1, 5, 7, 197.0));
    assert_eq!((up.desired, up.reason), (2, Reason::Load), "{up}");
    for (second, ready, rate) in [(1, 1, 150.0), (2, 2, 75.0), (3, 2, 70.0), (4, 2, 67.0)]
        .into_iter()
        .chain((5..=12).map(|s| (s, 2, 72.0)))
    {
        at_ms += 1_000;
        let decision = rule.decide(&seen(at_ms, 2, ready, 10, 5, rate));
        assert_eq!(decision.desired, 2, "{second} s into the stall: {decision}");
        if second > 4 {
            assert_eq!(decision.reason, Reason::Growth, "{decision}");
        }
    }
    // The rate is back: two runners serve what one could not, and the
    // load, a runner's worth at the edge, does not take the pool back to
    // the count it outgrew.
    for second in 1..=60 {
        at_ms += 1_000;
        let decision = rule.decide(&seen(at_ms, 2, 2, 3, 6, 196.0));
        assert_eq!(
            decision.desired, 2,
            "{second} s after the stall: {decision}"
        );
    }
    // Until the load falls for real.
    let mut dropped = false;
    for _ in 0..40 {
        at_ms += 1_000;
        dropped |= rule.decide(&seen(at_ms, 2, 2, 1, 3, 120.0)).desired == 1;
    }
    assert!(dropped, "120 req/s of 41 ms is 4.9 calls: one runner");
}
