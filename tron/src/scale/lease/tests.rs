#![allow(clippy::unwrap_used)]

use funcmesh_bus::inproc::InProcBus;
use funcmesh_testkit::eventually;

use super::*;

fn claim(tron: &str, since_ms: u64) -> ScalerClaim {
    ScalerClaim {
        tron: tron.into(),
        since_ms,
    }
}

#[tokio::test(start_paused = true)]
async fn the_oldest_live_claim_holds_once_settled() {
    let mut a = Claims::new("a", 100);
    let t0 = Instant::now();
    a.heard(claim("a", 100), t0);
    assert!(
        !a.holds(t0),
        "not before its own claims came back for a whole window"
    );
    let later = t0 + CLAIM_EXPIRY;
    a.heard(claim("a", 100), later - CLAIM_EVERY);
    a.heard(claim("b", 50), later - CLAIM_EVERY);
    assert!(!a.holds(later), "b has claimed longer");
    assert_eq!(a.holder(), Some("b"));
    // b stops claiming: its claim expires, a takes over.
    let after = later - CLAIM_EVERY + CLAIM_EXPIRY;
    a.heard(claim("a", 100), after - CLAIM_EVERY);
    assert!(a.holds(after));
}

#[tokio::test(start_paused = true)]
async fn a_gap_in_its_own_claims_restarts_the_settling() {
    let mut a = Claims::new("a", 100);
    let t0 = Instant::now();
    a.heard(claim("a", 100), t0);
    a.heard(claim("a", 100), t0 + CLAIM_EXPIRY - CLAIM_EVERY);
    assert!(a.holds(t0 + CLAIM_EXPIRY));
    // The broker went away for longer than the expiry.
    let back = t0 + CLAIM_EXPIRY * 3;
    a.heard(claim("a", 100), back);
    assert!(!a.holds(back), "settles again before acting");
    a.heard(claim("a", 100), back + CLAIM_EXPIRY - CLAIM_EVERY);
    assert!(a.holds(back + CLAIM_EXPIRY));
}

#[tokio::test(start_paused = true)]
async fn equal_since_is_broken_by_the_id() {
    let mut b = Claims::new("b", 100);
    let t0 = Instant::now();
    b.heard(claim("b", 100), t0);
    b.heard(claim("a", 100), t0);
    assert_eq!(b.holder(), Some("a"));
}

#[tokio::test]
async fn one_of_two_trons_holds_and_the_other_takes_over_when_it_stops() {
    let bus: Arc<dyn Bus> = Arc::new(InProcBus::new());
    let (stop_a, stop_b) = (Shutdown::new(), Shutdown::new());
    let a = Lease::start(Arc::clone(&bus), "a", stop_a.clone())
        .await
        .unwrap();
    // b claims later than a: its `since` is a later millisecond.
    let a_since = now_ms();
    let later = || async { now_ms() > a_since };
    eventually(Duration::from_secs(1), "the clock passes a's claim", later).await;
    let b = Lease::start(Arc::clone(&bus), "b", stop_b.clone())
        .await
        .unwrap();
    eventually(TAKEOVER_BOUND * 2, "a holds the lease", || async {
        a.held()
    })
    .await;
    assert!(!b.held(), "only one holds it");
    // Over a few claim periods, never both.
    for _ in 0..6 {
        tokio::time::sleep(CLAIM_EVERY / 2).await; // sampling over time
        assert!(!(a.held() && b.held()), "two holders");
    }
    stop_a.trigger();
    let stopped = Instant::now();
    eventually(TAKEOVER_BOUND + CLAIM_EVERY, "b takes over", || async {
        b.held()
    })
    .await;
    assert!(!a.held());
    let took = stopped.elapsed();
    assert!(took <= TAKEOVER_BOUND + CLAIM_EVERY, "took {took:?}");
    stop_b.trigger();
}
