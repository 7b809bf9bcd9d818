#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// 20 ms per call, in microseconds.
const CALL_US: u64 = 20_000;

/// Feeds one counter snapshot per second: `done[i]` calls completed in
/// second `i`, `depth[i]` waiting at its end.
fn feed(done: &[u64], depth: &[u64]) -> Vec<Rates> {
    let mut estimator = Estimator::new();
    let (mut completed, mut run_us) = (0, 0);
    let mut rates = vec![estimator.update(0, 0, 0, depth[0])];
    for (i, (&d, &q)) in done.iter().zip(depth).enumerate().skip(1) {
        completed += d;
        run_us += d * CALL_US;
        rates.push(estimator.update(i as u64 * 1_000, completed, run_us, q));
    }
    rates
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

#[test]
fn the_first_update_only_sets_the_baseline() {
    let mut estimator = Estimator::new();
    let first = estimator.update(5_000, 100, 2_000_000, 40);
    assert_eq!(first, Rates::default());
    // The same time again changes nothing.
    assert_eq!(estimator.update(5_000, 900, 9_000_000, 4_000), first);
}

#[test]
fn steady_counters_give_the_rate_and_the_mean_service_time() {
    let rates = feed(&[400; 8], &[0; 8]);
    let last = rates.last().unwrap();
    assert!(close(last.arrival_rate, 400.0), "{last:?}");
    assert!(close(last.service_time.unwrap(), 0.020), "{last:?}");
}

#[test]
fn a_growing_queue_counts_as_arrivals_at_once() {
    // One runner serves 400/s; from second 5 on, 5,000/s arrive.
    let done = [400; 8];
    let depth = [0, 0, 0, 0, 0, 4_600, 9_200, 13_800];
    let rates = feed(&done, &depth);
    for rate in &rates[5..] {
        assert!(close(rate.arrival_rate, 5_000.0), "{rates:?}");
    }
}

#[test]
fn a_draining_queue_is_not_taken_for_arrivals() {
    // 5,000/s arrive; the runners serve 5,200/s and the queue shrinks by 200/s.
    let done = [5_200; 8];
    let depth = [2_000, 1_800, 1_600, 1_400, 1_200, 1_000, 800, 600];
    let rates = feed(&done, &depth);
    assert!(close(rates[7].arrival_rate, 5_000.0), "{rates:?}");
}

#[test]
fn a_late_heartbeat_is_not_taken_for_a_drop() {
    // Four runners, 100 calls/s each; now and then one's heartbeat reaches
    // the tron a tick late: that tick sees 300 calls, the next one 500.
    let done = [
        400, 400, 400, 400, 300, 500, 400, 400, 300, 500, 400, 400, 400,
    ];
    let rates = feed(&done, &[0; 13]);
    for rate in &rates[3..] {
        assert!(rate.arrival_rate >= 0.9 * 400.0, "{rates:?}");
        // The double count passes: one runner's calls at most.
        assert!(rate.arrival_rate <= 400.0 + 100.0 + 1e-9, "{rates:?}");
    }
    assert!(close(rates[12].arrival_rate, 400.0), "{rates:?}");
}

#[test]
fn a_fall_counts_as_it_persists() {
    let mut done = vec![5_000; 6];
    done.extend([500; 6]);
    let rates = feed(&done, &[0; 12]);
    assert!(close(rates[6].arrival_rate, 3_500.0), "{rates:?}");
    assert!(close(rates[9].arrival_rate, 500.0), "{rates:?}");
}

#[test]
fn the_service_time_is_kept_while_nothing_completes() {
    let mut done = vec![400; 5];
    done.extend([0; 30]);
    let rates = feed(&done, &[0; 35]);
    let last = rates.last().unwrap();
    assert_eq!(last.arrival_rate, 0.0, "nothing arrives any more");
    assert!(close(last.service_time.unwrap(), 0.020), "{last:?}");
}

#[test]
fn counters_that_go_back_restart_the_counting() {
    let mut estimator = Estimator::new();
    for i in 0..5 {
        estimator.update(i * 1_000, i * 400, i * 400 * CALL_US, 0);
    }
    // The pool's counters start again from a lower value.
    let after = estimator.update(5_000, 10, 10 * CALL_US, 0);
    assert_eq!(after.arrival_rate, 0.0, "{after:?}");
    assert!(close(after.service_time.unwrap(), 0.020), "{after:?}");
    let next = estimator.update(6_000, 410, 410 * CALL_US, 0);
    assert!(close(next.arrival_rate, 400.0), "{next:?}");
}
