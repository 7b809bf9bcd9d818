//! Counters of what the gateway has done, cheap enough for every request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use funcmesh_core::metrics::{self, FuncLabels, FuncName, Latency, LatencyFamily};
use http::StatusCode;
use parking_lot::RwLock;
use serde::Serialize;

/// Live counters, shared by every request of one gateway.
#[derive(Debug, Default)]
pub struct GatewayStats {
    /// Each Func's latency by status class (its count is the requests).
    latency: LatencyFamily<FuncLabels>,
    /// The Funcs of the bundle hashes seen in answers, with their
    /// histograms, so that an answer costs one map lookup and atomics.
    funcs: RwLock<HashMap<String, Arc<FuncEntry>>>,
    /// The Func of answers from versions no route names.
    retired: OnceLock<Arc<FuncEntry>>,
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

/// One Func's name and its latency histogram per status class.
#[derive(Debug)]
pub(crate) struct FuncEntry {
    /// The Func's name.
    pub(crate) name: FuncName,
    by_class: [Latency; CLASSES.len()],
}

/// The status classes, in the order of [`FuncEntry::by_class`].
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The `func` label of an answer from a bundle version no route names.
pub const RETIRED: &str = "(retired)";

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

    /// Records one answer with `status` after `elapsed`, from the bundle
    /// with short hash `hash` ("" for none; `lookup` names its Func when
    /// it is new here).
    pub(crate) fn answered(
        &self,
        hash: &str,
        lookup: impl FnOnce() -> Option<String>,
        status: StatusCode,
        elapsed: Duration,
    ) {
        let name = metrics::status_class(status.as_u16());
        let class = CLASSES.iter().position(|c| *c == name).unwrap_or(4);
        // The common case holds the read lock for two atomic additions,
        // and touches no reference count.
        if let Some(entry) = self.funcs.read().get(hash) {
            return entry.by_class[class].observe(elapsed);
        }
        self.func(hash, lookup).by_class[class].observe(elapsed);
    }

    /// The Func of bundle `hash` (a short hash, as answers carry it; ""
    /// for none): from the table of Funcs, or `lookup` (its name) when it
    /// is not there yet.
    pub(crate) fn func(
        &self,
        hash: &str,
        lookup: impl FnOnce() -> Option<String>,
    ) -> Arc<FuncEntry> {
        if let Some(entry) = self.funcs.read().get(hash) {
            return Arc::clone(entry);
        }
        // A version not in the table (replaced and draining, or not
        // announced here yet) has no name here; one label stands for every
        // such version, so that no reply (a forged one included) can add
        // labels without bound. It is not remembered: the table may name
        // it a moment later.
        let Some(found) = lookup() else {
            let retired = self.retired.get_or_init(|| self.entry(RETIRED.into()));
            return Arc::clone(retired);
        };
        let entry = self.entry(found.into());
        let mut funcs = self.funcs.write();
        if funcs.len() >= MAX_NAMES {
            funcs.clear();
        }
        funcs.insert(hash.to_owned(), Arc::clone(&entry));
        entry
    }

    fn entry(&self, name: FuncName) -> Arc<FuncEntry> {
        let by_class = CLASSES.map(|class| {
            let labels = FuncLabels::new(&name, "code", class);
            self.latency.get_or_create(&labels).clone()
        });
        Arc::new(FuncEntry { name, by_class })
    }

    /// Registers the histograms and, read at each scrape, the counters.
    pub fn register(self: &Arc<Self>, registry: &mut metrics::Registry) {
        registry.register(
            "funcmesh_gateway_request_duration_seconds",
            "Time from a request's arrival to its answer, by Func and status class.",
            self.latency.clone(),
        );
        let stats = Arc::clone(self);
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
    fn versions_no_route_names_share_one_label() {
        let stats = GatewayStats::default();
        let hello = stats.func("0123456789ab", || Some("hello".into()));
        assert_eq!(&*hello.name, "hello");
        assert_eq!(&*stats.func("0123456789ab", || None).name, "hello");
        for forged in ["aaaaaaaaaaaa", "bbbbbbbbbbbb"] {
            assert_eq!(&*stats.func(forged, || None).name, RETIRED);
        }
        // Not remembered: once the table names it, so does the label.
        let later = stats.func("aaaaaaaaaaaa", || Some("words".into()));
        assert_eq!(&*later.name, "words");
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
