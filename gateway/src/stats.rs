//! Counters of what the gateway has done, cheap enough for every request.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use http::StatusCode;
use serde::Serialize;

/// Live counters, shared by every request of one gateway.
#[derive(Debug, Default)]
pub struct GatewayStats {
    requests: AtomicU64,
    responses_1xx_3xx: AtomicU64,
    responses_2xx: AtomicU64,
    responses_4xx: AtomicU64,
    responses_5xx: AtomicU64,
    timeouts: AtomicU64,
    overloaded: AtomicU64,
    late_replies: AtomicU64,
    in_flight: AtomicUsize,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// Requests received (reserved endpoints included).
    pub requests: u64,
    /// Answers with a 2xx status.
    pub responses_2xx: u64,
    /// Answers with a 1xx or 3xx status.
    pub responses_other: u64,
    /// Answers with a 4xx status.
    pub responses_4xx: u64,
    /// Answers with a 5xx status.
    pub responses_5xx: u64,
    /// 504 answers.
    pub timeouts: u64,
    /// 503 answers.
    pub overloaded: u64,
    /// Replies that arrived when nobody waited for them any more.
    pub late_replies: u64,
    /// Requests being handled now.
    pub in_flight: usize,
}

impl GatewayStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            requests: self.requests.load(Relaxed),
            responses_2xx: self.responses_2xx.load(Relaxed),
            responses_other: self.responses_1xx_3xx.load(Relaxed),
            responses_4xx: self.responses_4xx.load(Relaxed),
            responses_5xx: self.responses_5xx.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            overloaded: self.overloaded.load(Relaxed),
            late_replies: self.late_replies.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
        }
    }

    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Relaxed);
    }

    pub(crate) fn late_reply(&self) {
        self.late_replies.fetch_add(1, Relaxed);
    }

    pub(crate) fn response(&self, status: StatusCode) {
        let class = match status.as_u16() {
            200..=299 => &self.responses_2xx,
            400..=499 => &self.responses_4xx,
            500..=599 => &self.responses_5xx,
            _ => &self.responses_1xx_3xx,
        };
        class.fetch_add(1, Relaxed);
        match status {
            StatusCode::GATEWAY_TIMEOUT => self.timeouts.fetch_add(1, Relaxed),
            StatusCode::SERVICE_UNAVAILABLE => self.overloaded.fetch_add(1, Relaxed),
            _ => 0,
        };
    }

    /// Admits one more request unless `limit` are in flight already.
    pub(crate) fn enter(&self, limit: usize) -> Option<InFlight<'_>> {
        let before = self.in_flight.fetch_add(1, Relaxed);
        let guard = InFlight(&self.in_flight);
        (before < limit).then_some(guard)
    }
}

/// One admitted request; leaving (answered, failed or dropped) frees its slot.
pub(crate) struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_stops_at_the_limit_and_frees_on_drop() {
        let stats = GatewayStats::default();
        let a = stats.enter(2).unwrap();
        let _b = stats.enter(2).unwrap();
        assert!(stats.enter(2).is_none());
        assert_eq!(stats.snapshot().in_flight, 2);
        drop(a);
        assert!(stats.enter(2).is_some());
    }

    #[test]
    fn responses_are_counted_by_class() {
        let stats = GatewayStats::default();
        for status in [200, 202, 404, 503, 504, 302] {
            stats.response(StatusCode::from_u16(status).unwrap());
        }
        let s = stats.snapshot();
        assert_eq!(
            (
                s.responses_2xx,
                s.responses_4xx,
                s.responses_5xx,
                s.responses_other
            ),
            (2, 1, 2, 1)
        );
        assert_eq!((s.timeouts, s.overloaded), (1, 1));
    }
}
