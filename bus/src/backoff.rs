//! Retry backoff, the same for every broker and for the processes on them:
//! 100 ms doubling to 5 s, with full jitter, so that many processes
//! reconnecting or retrying after one outage do not arrive together.

use std::time::Duration;

use rand::Rng as _;

/// Exponential backoff with full jitter.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    ceiling: Duration,
    max: Duration,
}

impl Backoff {
    /// The first ceiling.
    pub const FIRST: Duration = Duration::from_millis(100);
    /// The largest ceiling.
    pub const MAX: Duration = Duration::from_secs(5);

    /// A delay up to the current ceiling, which then doubles.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self.ceiling;
        self.ceiling = ceiling.saturating_mul(2).min(self.max);
        jitter(ceiling)
    }

    /// Back to the first ceiling, after a success.
    pub fn reset(&mut self) {
        self.ceiling = self.first;
    }

    /// A backoff whose ceiling stops growing at `max` rather than [`MAX`](Self::MAX).
    pub fn up_to(max: Duration) -> Self {
        Self::between(Self::FIRST, max)
    }

    /// A backoff whose ceiling starts at `first` rather than
    /// [`FIRST`](Self::FIRST) and stops growing at `max`.
    pub fn between(first: Duration, max: Duration) -> Self {
        Self {
            first,
            ceiling: first,
            max,
        }
    }

    /// The delay that the call of [`next_delay`](Self::next_delay) numbered
    /// `n` (from 0) gives on a default backoff, for a caller that is told
    /// only how many attempts failed, such as a client's reconnect callback.
    pub fn nth_delay(n: usize) -> Duration {
        // Past 2^6 × 100 ms the ceiling is MAX anyway.
        let doublings = u32::try_from(n).unwrap_or(u32::MAX).min(16);
        jitter(Self::FIRST.saturating_mul(1 << doublings).min(Self::MAX))
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::up_to(Self::MAX)
    }
}

/// A uniformly random delay from 0 to `ceiling`.
fn jitter(ceiling: Duration) -> Duration {
    Duration::from_millis(rand::rng().random_range(0..=ceiling.as_millis() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap_with_jitter_below_it() {
        let mut backoff = Backoff::default();
        let ceilings: Vec<u64> = (0..9)
            .map(|_| {
                let ceiling = backoff.ceiling;
                assert!(backoff.next_delay() <= ceiling);
                ceiling.as_millis() as u64
            })
            .collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        backoff.reset();
        assert_eq!(backoff.ceiling, Backoff::FIRST);
    }

    #[test]
    fn a_backoff_can_start_elsewhere_and_resets_there() {
        let mut backoff = Backoff::between(Duration::from_millis(10), Duration::from_millis(30));
        let ceilings: Vec<u64> = (0..4)
            .map(|_| {
                let ceiling = backoff.ceiling;
                assert!(backoff.next_delay() <= ceiling);
                ceiling.as_millis() as u64
            })
            .collect();
        assert_eq!(ceilings, [10, 20, 30, 30]);
        backoff.reset();
        assert_eq!(backoff.ceiling, Duration::from_millis(10));
    }

    #[test]
    fn the_nth_delay_stays_under_the_nth_ceiling() {
        let mut ceilings = Backoff::default();
        for n in 0..12 {
            let ceiling = ceilings.ceiling;
            ceilings.next_delay();
            for _ in 0..20 {
                assert!(Backoff::nth_delay(n) <= ceiling, "{n}");
            }
        }
        assert!(Backoff::nth_delay(usize::MAX) <= Backoff::MAX);
    }

    #[test]
    fn backoff_jitter_spreads_out() {
        let delays: std::collections::BTreeSet<Duration> =
            (0..20).map(|_| Backoff::default().next_delay()).collect();
        assert!(delays.len() > 1, "full jitter gives different delays");
    }
}
