//! Retry backoff, the same for every broker and for the processes on them:
//! 100 ms doubling to 5 s, with full jitter, so that many processes
//! reconnecting or retrying after one outage do not arrive together.

use std::time::Duration;

use rand::Rng as _;

/// Exponential backoff with full jitter.
pub struct Backoff {
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
        self.ceiling = (ceiling * 2).min(self.max);
        jitter(ceiling)
    }

    /// Back to the first ceiling, after a success.
    pub fn reset(&mut self) {
        self.ceiling = Self::FIRST;
    }
}

impl Backoff {
    /// A backoff whose ceiling stops growing at `max` rather than [`MAX`](Self::MAX).
    pub fn up_to(max: Duration) -> Self {
        Self {
            ceiling: Self::FIRST,
            max,
        }
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::up_to(Self::MAX)
    }
}

/// A uniformly random delay from 0 to `ceiling`.
pub(crate) fn jitter(ceiling: Duration) -> Duration {
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
    fn backoff_jitter_spreads_out() {
        let delays: std::collections::BTreeSet<Duration> =
            (0..20).map(|_| Backoff::default().next_delay()).collect();
        assert!(delays.len() > 1, "full jitter gives different delays");
    }
}
