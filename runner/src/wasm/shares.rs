//! Fair shares of the executor's slots between bundles.
//!
//! The executor runs at most `total` WebAssembly calls at once. A quarter of
//! those slots (at least one) is the reserve, split evenly among the
//! installed bundles as each one's floor: at least one slot, at most its
//! `max_concurrency`. Below its floor a bundle takes any free slot. Above
//! it, the bundle borrows: it may take a free slot only while what stays
//! free covers the unused floors of the others (up to the reserve). Idle
//! capacity is lent; the reserve of the others never is. Each bundle also
//! stays within its own `max_concurrency`.
//!
//! A call that may not take a slot waits in its bundle's queue. A freed
//! slot goes to the waiting bundle below its floor, else to the one running
//! the fewest calls, oldest waiter first on a tie: a bundle with a long
//! queue cannot crowd out one with a short one. A waiter dropped at its
//! deadline leaves its queue, and hands back a slot given to it meanwhile.
//!
//! Installing or retiring a bundle sets every floor again. A retired bundle
//! keeps no floor; its calls in flight and waiting still finish.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::oneshot;

/// Names a bundle's account in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShareId(u64);

/// The bundle's account is gone: it was retired, and nothing of it was
/// running or waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the bundle is no longer installed")]
pub struct Gone;

/// The admission ledger of one executor.
pub struct Shares {
    state: Mutex<State>,
    next_id: AtomicU64,
}

/// One running call's slot; dropping it frees the slot.
#[must_use = "the slot is freed when dropped"]
pub struct Slot<'a> {
    shares: &'a Shares,
    id: ShareId,
}

struct State {
    total: usize,
    reserve: usize,
    in_use: usize,
    /// The floors of installed bundles not in use.
    unused_floors: usize,
    waiting: usize,
    next_ticket: u64,
    accounts: HashMap<ShareId, Account>,
}

struct Account {
    /// `max_concurrency`.
    cap: usize,
    floor: usize,
    used: usize,
    retired: bool,
    queue: VecDeque<Waiter>,
}

struct Waiter {
    ticket: u64,
    grant: oneshot::Sender<()>,
}

impl Shares {
    /// A ledger of `total` slots (at least one), with no bundle yet.
    pub fn new(total: usize) -> Shares {
        let total = total.max(1);
        let state = State {
            total,
            reserve: (total / 4).clamp(1, total),
            in_use: 0,
            unused_floors: 0,
            waiting: 0,
            next_ticket: 0,
            accounts: HashMap::new(),
        };
        Shares {
            state: Mutex::new(state),
            next_id: AtomicU64::new(0),
        }
    }

    /// A new id, for an account not opened yet.
    pub fn new_id(&self) -> ShareId {
        ShareId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Opens the account of a bundle that may run `cap` calls at once, and
    /// sets every floor again.
    pub fn open(&self, id: ShareId, cap: usize) {
        let mut state = self.state.lock();
        let account = Account {
            cap: cap.max(1),
            floor: 0,
            used: 0,
            retired: false,
            queue: VecDeque::new(),
        };
        state.accounts.entry(id).or_insert(account);
        state.rebalance();
    }

    /// Retires a bundle's account: it keeps no floor, new calls get
    /// [`Gone`] once nothing of it runs or waits, and the other floors are
    /// set again.
    pub fn retire(&self, id: ShareId) {
        let mut state = self.state.lock();
        if let Some(account) = state.accounts.get_mut(&id) {
            account.retired = true;
            state.forget_if_idle(id);
            state.rebalance();
        }
    }

    /// A slot for a call of bundle `id`, as soon as its share allows.
    /// Cancel-safe: dropping the future gives back what it held.
    pub async fn acquire(&self, id: ShareId) -> Result<Slot<'_>, Gone> {
        let (ticket, granted) = {
            let mut state = self.state.lock();
            let state = &mut *state;
            let account = state.accounts.get(&id).ok_or(Gone)?;
            if account.queue.is_empty() && state.may_take(account) {
                state.take(id);
                return Ok(Slot { shares: self, id });
            }
            let ticket = state.next_ticket;
            state.next_ticket += 1;
            let (grant, granted) = oneshot::channel();
            state.waiting += 1;
            if let Some(account) = state.accounts.get_mut(&id) {
                account.queue.push_back(Waiter { ticket, grant });
            }
            (ticket, granted)
        };
        let mut queued = Queued {
            shares: self,
            id,
            ticket,
            granted,
            done: false,
        };
        let result = (&mut queued.granted).await;
        queued.done = true;
        match result {
            Ok(()) => Ok(Slot { shares: self, id }),
            Err(_dropped) => Err(Gone),
        }
    }

    /// Slots in use, over all bundles.
    #[cfg(test)]
    pub fn in_use(&self) -> usize {
        self.state.lock().in_use
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut state = self.shares.state.lock();
        state.give_back(self.id);
        state.hand_out();
    }
}

/// A call waiting in its bundle's queue; dropped before its grant was
/// taken, it leaves the queue or gives the granted slot back.
struct Queued<'a> {
    shares: &'a Shares,
    id: ShareId,
    ticket: u64,
    granted: oneshot::Receiver<()>,
    done: bool,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut state = self.shares.state.lock();
        // Grants are sent under the lock: either the waiter is still queued,
        // or its grant is in the channel.
        if state.unqueue(self.id, self.ticket) {
            state.forget_if_idle(self.id);
        } else if self.granted.try_recv().is_ok() {
            state.give_back(self.id);
            state.hand_out();
        }
    }
}

impl State {
    /// Whether `account` may take a free slot now.
    fn may_take(&self, account: &Account) -> bool {
        let free = self.total - self.in_use;
        if account.used >= account.cap || free == 0 {
            return false;
        }
        // Above its floor, its own unused floor is 0: what `unused_floors`
        // counts belongs to the others.
        account.used < account.floor || free > self.unused_floors.min(self.reserve)
    }

    fn take(&mut self, id: ShareId) {
        if let Some(account) = self.accounts.get_mut(&id) {
            account.used += 1;
            if account.used <= account.floor {
                self.unused_floors -= 1;
            }
            self.in_use += 1;
        }
    }

    fn give_back(&mut self, id: ShareId) {
        if let Some(account) = self.accounts.get_mut(&id) {
            if account.used <= account.floor {
                self.unused_floors += 1;
            }
            account.used -= 1;
            self.in_use -= 1;
            if account.retired {
                self.forget_if_idle(id);
            }
        }
    }

    /// Removes waiter `ticket` from the queue of `id`; whether it was there.
    fn unqueue(&mut self, id: ShareId, ticket: u64) -> bool {
        let Some(account) = self.accounts.get_mut(&id) else {
            return false;
        };
        let Some(at) = account.queue.iter().position(|w| w.ticket == ticket) else {
            return false;
        };
        account.queue.remove(at);
        self.waiting -= 1;
        true
    }

    /// Drops a retired account once nothing of it runs or waits.
    fn forget_if_idle(&mut self, id: ShareId) {
        if self
            .accounts
            .get(&id)
            .is_some_and(|a| a.retired && a.used == 0 && a.queue.is_empty())
        {
            self.accounts.remove(&id);
        }
    }

    /// Hands free slots to waiters, as long as one may take one.
    fn hand_out(&mut self) {
        while self.waiting > 0 && self.in_use < self.total {
            let Some(id) = self.next_in_line() else {
                return;
            };
            let Some(waiter) = self.accounts.get_mut(&id).and_then(|a| a.queue.pop_front()) else {
                return;
            };
            self.waiting -= 1;
            self.take(id);
            if waiter.grant.send(()).is_err() {
                // Not reached: a dropped waiter leaves its queue first.
                self.give_back(id);
            }
        }
    }

    /// The bundle whose oldest waiter gets the next slot: below its floor
    /// first, then the fewest calls running, then the oldest waiter.
    fn next_in_line(&self) -> Option<ShareId> {
        self.accounts
            .iter()
            .filter(|(_, a)| !a.queue.is_empty() && self.may_take(a))
            .min_by_key(|(_, a)| {
                let oldest = a.queue.front().map_or(u64::MAX, |w| w.ticket);
                (a.used >= a.floor, a.used, oldest)
            })
            .map(|(id, _)| *id)
    }

    /// Splits the reserve evenly among installed bundles (at least one
    /// slot each, at most a bundle's cap), then hands out what that frees.
    fn rebalance(&mut self) {
        let installed = self.accounts.values().filter(|a| !a.retired).count();
        let each = (self.reserve / installed.max(1)).max(1);
        let mut unused = 0;
        for account in self.accounts.values_mut() {
            account.floor = if account.retired {
                0
            } else {
                each.min(account.cap)
            };
            unused += account.floor.saturating_sub(account.used);
        }
        self.unused_floors = unused;
        self.hand_out();
    }
}

#[cfg(test)]
mod tests;
