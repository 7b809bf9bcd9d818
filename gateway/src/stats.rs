//! Counters of what the gateway has done, cheap enough for every request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use funcmesh_core::metrics::{self, FuncLabels, FuncName, LatencyFamily};
use http::StatusCode;
use parking_lot::RwLock;
use serde::Serialize;

/// Live counters, shared by every request of one gateway.
#[derive(Debug, Default)]
pub struct GatewayStats {
    /// Each Func's latency by status class (its count is the requests).
    latency: Latency,
    /// The Func names of the bundle hashes seen in answers.
    names: RwLock<HashMap<String, FuncName>>,
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

/// The latency histograms, by Func and status class.
#[derive(Debug)]
struct Latency(LatencyFamily<FuncLabels>);

impl Default for Latency {
    fn default() -> Self {
        Self(metrics::latency_family())
    }
}

/// The most Func names kept for labels; past it the table starts again.
const MAX_NAMES: usize = 1024;

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

    /// Records one answer of `func` with `status` after `elapsed`.
    pub(crate) fn answered(&self, func: &FuncName, status: StatusCode, elapsed: Duration) {
        let labels = FuncLabels::new(func, "code", metrics::status_class(status.as_u16()));
        self.latency
            .0
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// The Func name of bundle `hash` (a short hash, as answers carry it):
    /// from the table of names, or `lookup` when it is not there yet.
    pub(crate) fn func_name(
        &self,
        hash: &str,
        lookup: impl FnOnce() -> Option<String>,
    ) -> FuncName {
        if let Some(name) = self.names.read().get(hash) {
            return FuncName::clone(name);
        }
        // A version no longer in the table (replaced, draining) is still a
        // Func, but its name is gone: it is labelled by its short hash.
        let name: FuncName = lookup().unwrap_or_else(|| hash.to_owned()).into();
        let mut names = self.names.write();
        if names.len() >= MAX_NAMES {
            names.clear();
        }
        names.insert(hash.to_owned(), FuncName::clone(&name));
        name
    }

    /// Registers the histograms and, read at each scrape, the counters.
    pub fn register(self: &std::sync::Arc<Self>, registry: &mut metrics::Registry) {
        registry.register(
            "funcmesh_gateway_request_duration_seconds",
            "Time from a request's arrival to its answer, by Func and status class.",
            self.latency.0.clone(),
        );
        let stats = std::sync::Arc::clone(self);
        registry.register_collector(Box::new(metrics::CollectWith(
            move |e: &mut metrics::DescriptorEncoder| {
                let s = stats.snapshot();
                metrics::counter(
                    e,
                    "funcmesh_gateway_requests",
                    "Requests received, reserved endpoints included.",
                    s.requests,
                )?;
                metrics::counter_family(
                    e,
                    "funcmesh_gateway_responses",
                    "Answers by status class.",
                    [
                        (vec![("code", "2xx")], s.responses_2xx),
                        (vec![("code", "4xx")], s.responses_4xx),
                        (vec![("code", "5xx")], s.responses_5xx),
                        (vec![("code", "other")], s.responses_other),
                    ],
                )?;
                metrics::counter(
                    e,
                    "funcmesh_gateway_timeouts",
                    "504 answers: the deadline passed.",
                    s.timeouts,
                )?;
                metrics::counter(
                    e,
                    "funcmesh_gateway_overloaded",
                    "503 answers: too many requests in flight.",
                    s.overloaded,
                )?;
                metrics::counter(
                    e,
                    "funcmesh_gateway_late_replies",
                    "Replies that came after their client stopped waiting.",
                    s.late_replies,
                )?;
                metrics::gauge(
                    e,
                    "funcmesh_gateway_in_flight",
                    "Requests being handled now.",
                    s.in_flight as i64,
                )
            },
        )));
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
