//! Fair shares of a runner's slots: a bundle whose calls never return
//! cannot take the slots of another bundle on the same runner.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::call_at;
use funcmesh::dev::DevOptions;
use funcmesh_testkit::eventually;

/// The runner's slots: the reserve is one, so the spinning bundle may run
/// one loop and `hello` keeps the other slot. (More slots would let more
/// loops spin at once: with every worker thread of a two-core machine
/// running one, everything else in the process slows down, slots or not.)
const SLOTS: usize = 2;

/// Spinning calls kept in flight, four times the runner's slots.
const SPINNERS: usize = 8;

#[test]
fn a_spinning_bundle_does_not_starve_another() {
    common::block_on(async {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn")
            .with_test_writer()
            .try_init();
        let empty = tempfile::tempdir().unwrap();
        let mut options = DevOptions::new(empty.path());
        options.concurrency = SLOTS;
        let mesh = common::start(options).await;
        for bundle in ["tests/fixtures/faults", "swagger-examples/hello"] {
            mesh.load(&common::root().join(bundle))
                .await
                .unwrap_or_else(|e| panic!("loading {bundle}: {e:#}"));
        }
        let addr = mesh.local_addr();
        let greet = call_at(addr, "GET", "/hello/greet?name=Ada").send().await;
        assert_eq!(greet.status, 200, "{:?}", greet.body);

        let stop = Arc::new(AtomicBool::new(false));
        let spinners: Vec<_> = (0..SPINNERS)
            .map(|_| {
                let stop = Arc::clone(&stop);
                tokio::spawn(async move {
                    let mut statuses = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        statuses.push(call_at(addr, "GET", "/faults/spin").send().await.status);
                    }
                    statuses
                })
            })
            .collect();
        eventually(
            Duration::from_secs(10),
            "the spinning calls fill the runner",
            || async { mesh.runner_stats().in_flight >= SLOTS as u64 },
        )
        .await;

        // Three rounds of the loops' 500 ms timeout. Were the loops to take
        // both slots, each greeting would wait for one to end: a few would
        // be answered, each after up to 500 ms. With its floor, `hello`
        // answers at once, over and over.
        let started = Instant::now();
        let mut took = Vec::new();
        let mut greetings = 0;
        while started.elapsed() < Duration::from_millis(1_500) {
            let sent = Instant::now();
            let resp = call_at(addr, "GET", &format!("/hello/greet?name=n{greetings}"))
                .send()
                .await;
            took.push(sent.elapsed());
            assert_eq!(resp.status, 200, "greeting {greetings}: {:?}", resp.body);
            greetings += 1;
        }
        let busy = mesh.runner_stats().in_flight;
        stop.store(true, Ordering::Relaxed);
        let mut spun = Vec::new();
        for spinner in spinners {
            spun.extend(spinner.await.unwrap());
        }
        let slowest = took.iter().max().copied().unwrap_or_default();
        assert!(
            greetings >= 15 && slowest < Duration::from_millis(400),
            "{greetings} greetings answered in 1.5 s, the slowest in {slowest:?}: {took:?}"
        );
        assert!(
            busy >= SLOTS as u64,
            "the loops stopped spinning early: {busy} in flight"
        );
        assert!(spun.len() >= SPINNERS, "{spun:?}");
        assert!(spun.iter().all(|s| *s == 504), "{spun:?}");
        mesh.shutdown().await.unwrap();
    });
}
