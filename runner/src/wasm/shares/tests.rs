//! The ledger's rules, checked by polling its futures by hand: a test sees
//! exactly which waiter holds a slot after each step.

use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::*;

type Waiting<'a> = Pin<Box<dyn Future<Output = Result<Slot<'a>, Gone>> + 'a>>;

/// Starts an acquire: `Ok` when it got its slot at once, else the waiting
/// future.
fn start(shares: &Shares, id: ShareId) -> Result<Slot<'_>, Waiting<'_>> {
    let mut waiting: Waiting<'_> = Box::pin(shares.acquire(id));
    match poll(&mut waiting) {
        Some(slot) => Ok(slot.unwrap()),
        None => Err(waiting),
    }
}

fn poll<'a>(waiting: &mut Waiting<'a>) -> Option<Result<Slot<'a>, Gone>> {
    match waiting
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(result) => Some(result),
        Poll::Pending => None,
    }
}

/// The slot handed to a waiter, which must have one.
fn granted<'a>(waiting: &mut Waiting<'a>, what: &str) -> Slot<'a> {
    match poll(waiting) {
        Some(Ok(slot)) => slot,
        Some(Err(Gone)) => panic!("{what}: gone"),
        None => panic!("{what}: still waiting"),
    }
}

/// Takes `n` slots for `id`, each at once.
fn take(shares: &Shares, id: ShareId, n: usize) -> Vec<Slot<'_>> {
    (0..n)
        .map(|i| start(shares, id).unwrap_or_else(|_| panic!("slot {i} of {id:?} should be free")))
        .collect()
}

/// Queues `n` acquires for `id`, each of which must wait.
fn queue(shares: &Shares, id: ShareId, n: usize) -> Vec<Waiting<'_>> {
    (0..n)
        .map(|i| match start(shares, id) {
            Ok(_) => panic!("acquire {i} of {id:?} should wait"),
            Err(waiting) => waiting,
        })
        .collect()
}

fn bundle(shares: &Shares, cap: usize) -> ShareId {
    let id = shares.new_id();
    shares.open(id, cap);
    id
}

fn floor(shares: &Shares, id: ShareId) -> usize {
    shares.state.lock().accounts[&id].floor
}

fn used(shares: &Shares, id: ShareId) -> usize {
    shares.state.lock().accounts.get(&id).map_or(0, |a| a.used)
}

#[test]
fn a_lone_bundle_uses_every_slot() {
    let shares = Shares::new(8);
    let a = bundle(&shares, 64);
    assert_eq!(floor(&shares, a), 2);
    let _held = take(&shares, a, 8);
    let _waiting = queue(&shares, a, 1);
    assert_eq!(shares.in_use(), 8);
}

#[test]
fn floors_split_a_quarter_of_the_slots_evenly() {
    let shares = Shares::new(32);
    let a = bundle(&shares, 64);
    let b = bundle(&shares, 64);
    let c = bundle(&shares, 3);
    // 8 reserved, 2 each for three bundles.
    assert_eq!(
        [floor(&shares, a), floor(&shares, b), floor(&shares, c)],
        [2; 3]
    );
    let d = bundle(&shares, 1);
    assert_eq!(
        [floor(&shares, a), floor(&shares, d)],
        [2, 1],
        "the cap bounds the floor"
    );
    let many: Vec<ShareId> = (0..20).map(|_| bundle(&shares, 64)).collect();
    assert!(
        many.iter().all(|id| floor(&shares, *id) == 1),
        "at least one slot each"
    );
}

#[test]
fn a_busy_bundle_borrows_idle_slots_but_not_the_floors_of_others() {
    let shares = Shares::new(16);
    let a = bundle(&shares, 64);
    let b = bundle(&shares, 64);
    // Reserve 4: 2 each. A may borrow everything but B's 2.
    let _a = take(&shares, a, 14);
    let mut a_waits = queue(&shares, a, 3);
    let _b = take(&shares, b, 2);
    assert_eq!(shares.in_use(), 16);
    // B above its floor borrows like anyone: nothing is free.
    let _b_waits = queue(&shares, b, 1);
    assert!(a_waits.iter_mut().all(|w| poll(w).is_none()));
}

#[test]
fn with_more_bundles_than_reserved_slots_each_still_gets_one() {
    let shares = Shares::new(4);
    let ids: Vec<ShareId> = (0..10).map(|_| bundle(&shares, 64)).collect();
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    // The reserve is one slot: A may take three.
    let mut a_slots = take(&shares, a, 3);
    let mut a_waits = queue(&shares, a, 2);
    let _b = take(&shares, b, 1);
    let mut c_waits = queue(&shares, c, 1);
    // A slot of A's frees: C, below its floor, goes before A's older waiters.
    drop(a_slots.pop());
    let _c = granted(&mut c_waits[0], "C below its floor");
    assert!(poll(&mut a_waits[0]).is_none());
    assert_eq!(used(&shares, a), 2);
}

#[test]
fn the_cap_holds_even_with_free_slots() {
    let shares = Shares::new(8);
    let a = bundle(&shares, 2);
    let mut held = take(&shares, a, 2);
    let mut waiting = queue(&shares, a, 1);
    assert_eq!(shares.in_use(), 2);
    drop(held.pop());
    let _next = granted(&mut waiting[0], "within the cap again");
    assert_eq!(used(&shares, a), 2);
}

#[test]
fn borrowed_slots_go_to_the_bundle_running_fewest() {
    let shares = Shares::new(8);
    let a = bundle(&shares, 64);
    let b = bundle(&shares, 64);
    // Reserve 2, 1 each: A takes 7, B its 1.
    let mut a_slots = take(&shares, a, 7);
    let mut a_waits = queue(&shares, a, 4);
    let _b = take(&shares, b, 1);
    let mut b_waits = queue(&shares, b, 3);
    // A's waiters are older, but B runs fewer: B gets the freed slots until
    // the two run as many.
    let mut b_slots = Vec::new();
    for (i, b_wait) in b_waits.iter_mut().enumerate() {
        drop(a_slots.pop());
        b_slots.push(granted(b_wait, &format!("B's waiter {i}")));
    }
    assert_eq!((used(&shares, a), used(&shares, b)), (4, 4));
    drop(a_slots.pop());
    let _a = granted(&mut a_waits[0], "a tie: the oldest waiter");
    assert_eq!((used(&shares, a), used(&shares, b)), (4, 4));
}

#[test]
fn waiters_of_one_bundle_are_served_oldest_first() {
    let shares = Shares::new(2);
    let a = bundle(&shares, 64);
    let mut held = take(&shares, a, 2);
    let mut waits = queue(&shares, a, 3);
    drop(held.pop());
    assert!(poll(&mut waits[2]).is_none());
    assert!(poll(&mut waits[1]).is_none());
    let _first = granted(&mut waits[0], "the oldest");
    drop(held.pop());
    assert!(poll(&mut waits[2]).is_none());
    let _second = granted(&mut waits[1], "the next oldest");
}

#[test]
fn a_dropped_waiter_leaves_its_queue() {
    let shares = Shares::new(1);
    let a = bundle(&shares, 64);
    let held = take(&shares, a, 1);
    let waits = queue(&shares, a, 2);
    assert_eq!(shares.state.lock().waiting, 2);
    drop(waits);
    assert_eq!(shares.state.lock().waiting, 0);
    drop(held);
    assert_eq!(shares.in_use(), 0);
    let _again = take(&shares, a, 1);
}

#[test]
fn a_waiter_dropped_after_its_grant_gives_the_slot_back() {
    let shares = Shares::new(1);
    let a = bundle(&shares, 64);
    let mut held = take(&shares, a, 1);
    let mut waits = queue(&shares, a, 2);
    // The slot is handed to the first waiter, which is dropped before it
    // looks: the slot goes on to the next one.
    drop(held.pop());
    drop(waits.remove(0));
    assert_eq!(shares.in_use(), 1);
    let next = granted(&mut waits[0], "the next waiter");
    drop((next, waits));
    assert_eq!(shares.in_use(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_waiter_that_times_out_holds_nothing() {
    let shares = Shares::new(2);
    let a = bundle(&shares, 64);
    let held = take(&shares, a, 2);
    let waited = tokio::time::timeout(Duration::from_millis(50), shares.acquire(a)).await;
    assert!(waited.is_err());
    assert_eq!((shares.in_use(), shares.state.lock().waiting), (2, 0));
    drop(held);
    assert_eq!(shares.in_use(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_waiter_is_woken_when_a_slot_frees() {
    let shares = std::sync::Arc::new(Shares::new(1));
    let a = bundle(&shares, 64);
    let held = shares.acquire(a).await.unwrap();
    let waiter = {
        let shares = std::sync::Arc::clone(&shares);
        tokio::spawn(async move { shares.acquire(a).await.map(drop) })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(!waiter.is_finished());
    drop(held);
    let woken = tokio::time::timeout(Duration::from_secs(1), waiter).await;
    assert!(matches!(woken, Ok(Ok(Ok(())))), "{woken:?}");
}

#[test]
fn installing_a_bundle_reserves_its_floor_from_the_next_free_slots() {
    let shares = Shares::new(16);
    let a = bundle(&shares, 64);
    let mut a_slots = take(&shares, a, 16);
    let mut a_waits = queue(&shares, a, 2);
    let b = bundle(&shares, 64);
    assert_eq!((floor(&shares, a), floor(&shares, b)), (2, 2));
    let mut b_waits = queue(&shares, b, 1);
    drop(a_slots.pop());
    let b_slot = granted(&mut b_waits[0], "B below its floor");
    // The next freed slot stays free for B's other unused floor slot.
    drop(a_slots.pop());
    assert!(poll(&mut a_waits[0]).is_none());
    assert_eq!(shares.in_use(), 15);
    // B retired: its floor is gone, and A's waiter takes the slot.
    shares.retire(b);
    assert_eq!(floor(&shares, a), 4);
    let _a = granted(&mut a_waits[0], "A once B is retired");
    assert_eq!(shares.in_use(), 16);
    drop(b_slot);
    assert_eq!(shares.in_use(), 16, "A's other waiter takes B's last slot");
}

#[test]
fn a_retired_bundle_finishes_what_it_holds_then_is_gone() {
    let shares = Shares::new(1);
    let a = bundle(&shares, 64);
    let mut held = take(&shares, a, 1);
    let mut waits = queue(&shares, a, 1);
    shares.retire(a);
    drop(held.pop());
    let last = granted(&mut waits[0], "a waiter of a retired bundle");
    drop((last, waits));
    assert!(shares.state.lock().accounts.is_empty());
    let mut after: Waiting<'_> = Box::pin(shares.acquire(a));
    assert!(matches!(poll(&mut after), Some(Err(Gone))));
}

/// Random acquires, drops and installs; after every step: the bound, the
/// caps, the floors kept, and no waiter left that could run.
#[test]
fn random_traffic_keeps_every_rule() {
    let shares = Shares::new(6);
    let mut ids: Vec<ShareId> = (0..3).map(|i| bundle(&shares, 2 + i * 3)).collect();
    let mut held: Vec<Slot<'_>> = Vec::new();
    let mut waits: Vec<Waiting<'_>> = Vec::new();
    let mut handed = 0;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (seed >> 33) as usize % n
    };
    for _ in 0..5_000 {
        match next(10) {
            0..=3 => match start(&shares, ids[next(ids.len())]) {
                Ok(slot) => held.push(slot),
                Err(waiting) => waits.push(waiting),
            },
            4..=6 if !held.is_empty() => drop(held.swap_remove(next(held.len()))),
            7 if !waits.is_empty() => drop(waits.swap_remove(next(waits.len()))),
            8 if ids.len() < 6 => ids.push(bundle(&shares, 1 + next(8))),
            9 if ids.len() > 1 => shares.retire(ids.swap_remove(next(ids.len()))),
            _ => {}
        }
        let mut i = 0;
        while i < waits.len() {
            match poll(&mut waits[i]) {
                Some(result) => {
                    drop(waits.swap_remove(i));
                    held.push(result.unwrap());
                    handed += 1;
                }
                None => i += 1,
            }
        }
        check(&shares, held.len(), waits.len());
    }
    assert!(handed > 100, "only {handed} slots were handed to waiters");
}

fn check(shares: &Shares, held: usize, waiting: usize) {
    let state = shares.state.lock();
    assert_eq!(state.in_use, held);
    assert_eq!(state.waiting, waiting);
    assert!(state.in_use <= state.total);
    let mut unused = 0;
    for account in state.accounts.values() {
        assert!(account.used <= account.cap);
        unused += account.floor.saturating_sub(account.used);
        if !account.queue.is_empty() {
            assert!(!state.may_take(account), "a waiter could run but waits");
        }
    }
    assert_eq!(state.unused_floors, unused);
}
