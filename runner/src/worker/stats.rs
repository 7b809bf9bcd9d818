//! What a runner has done, counted with atomics so that every request task
//! updates them without a lock; the tron reads [`StatsSnapshot`]s.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use funcmesh_core::metrics::{
    self, Counter, Family, FuncLabels, FuncName, Gauge, Latency, LatencyFamily,
};

/// Why a request did not get the function's own answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 404: no operation for the path.
    NotFound,
    /// 405: the path exists, the method does not.
    MethodNotAllowed,
    /// 400: parameters or body failed validation.
    Invalid,
    /// 415: the body's media type is not accepted.
    UnsupportedMediaType,
    /// 503: the bundle is not installed here.
    Unavailable,
    /// 504: the deadline passed.
    Timeout,
    /// 502: the memory limit was hit.
    MemoryLimit,
    /// 502: the function trapped.
    Trap,
    /// 502: the function exited.
    Exit,
    /// 502: a Python function raised.
    Exception,
    /// 502: the function's output broke the ABI.
    MalformedOutput,
    /// 502: the function's answer was larger than may be sent back.
    ResponseTooLarge,
    /// 503: no instance slot.
    Overloaded,
    /// 500: a host-side failure.
    Internal,
}

impl Failure {
    const ALL: [Failure; 14] = [
        Failure::NotFound,
        Failure::MethodNotAllowed,
        Failure::Invalid,
        Failure::UnsupportedMediaType,
        Failure::Unavailable,
        Failure::Timeout,
        Failure::MemoryLimit,
        Failure::Trap,
        Failure::Exit,
        Failure::Exception,
        Failure::MalformedOutput,
        Failure::ResponseTooLarge,
        Failure::Overloaded,
        Failure::Internal,
    ];

    /// The label in snapshots and logs.
    pub fn label(self) -> &'static str {
        match self {
            Failure::NotFound => "not_found",
            Failure::MethodNotAllowed => "method_not_allowed",
            Failure::Invalid => "invalid",
            Failure::UnsupportedMediaType => "unsupported_media_type",
            Failure::Unavailable => "unavailable",
            Failure::Timeout => "timeout",
            Failure::MemoryLimit => "memory_limit",
            Failure::Trap => "trap",
            Failure::Exit => "exit",
            Failure::Exception => "exception",
            Failure::MalformedOutput => "malformed_output",
            Failure::ResponseTooLarge => "response_too_large",
            Failure::Overloaded => "overloaded",
            Failure::Internal => "internal",
        }
    }
}

/// Live counters of one runner.
#[derive(Debug, Default)]
pub struct RunnerStats {
    per_func: PerFunc,
    requests: AtomicU64,
    answered: AtomicU64,
    in_flight: AtomicU64,
    run_us_total: AtomicU64,
    busy_us_total: AtomicU64,
    expired: AtomicU64,
    malformed_envelopes: AtomicU64,
    publish_failures: AtomicU64,
    failures: [AtomicU64; Failure::ALL.len()],
}

/// The metrics kept per Func (bundle name; every version of a Func shares
/// them).
#[derive(Debug, Default)]
struct PerFunc {
    queue_wait: LatencyFamily<FuncLabels>,
    run: LatencyFamily<FuncLabels>,
    in_flight: Family<FuncLabels, Gauge>,
    calls: Family<FuncLabels, Counter>,
}

/// One Func's metrics, resolved once per bundle version so that a request
/// pays atomics, not lookups.
#[derive(Debug)]
pub(crate) struct FuncMetrics {
    name: FuncName,
    queue_wait: Latency,
    run: Latency,
    in_flight: Gauge,
    /// Its `outcome="ok"` counter, the common case resolved up front.
    ok: Counter,
    calls: Family<FuncLabels, Counter>,
}

impl FuncMetrics {
    /// The request waited `queued_us` from its arrival at the gateway.
    pub(crate) fn queued(&self, queued_us: u64) {
        self.queue_wait.observe_us(queued_us);
    }

    /// Counts a call of this Func as in flight until the guard is dropped.
    pub(crate) fn entered(&self) -> FuncInFlight<'_> {
        self.in_flight.inc();
        FuncInFlight(&self.in_flight)
    }

    /// One call ended with `outcome` (`ok` or a [`Failure`] label) after
    /// running `run_us` (0: it never ran).
    fn ended(&self, outcome: &'static str, run_us: u64) {
        if run_us > 0 {
            self.run.observe_us(run_us);
        }
        match outcome {
            "ok" => self.ok.inc(),
            _ => self
                .calls
                .get_or_create(&FuncLabels::new(&self.name, "outcome", outcome))
                .inc(),
        };
    }
}

/// A call of one Func in flight; dropping it ends it.
pub(crate) struct FuncInFlight<'a>(&'a Gauge);

impl Drop for FuncInFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A point-in-time copy of [`RunnerStats`], as heartbeats carry it.
pub use funcmesh_core::control::StatsSnapshot;

impl RunnerStats {
    pub(crate) fn started(&self) -> InFlight<'_> {
        self.requests.fetch_add(1, Relaxed);
        self.in_flight.fetch_add(1, Relaxed);
        InFlight(self, Instant::now())
    }

    /// The metrics of Func `name`.
    pub(crate) fn func(&self, name: &str) -> FuncMetrics {
        let name: FuncName = name.into();
        let labels = FuncLabels::func(&name);
        let f = &self.per_func;
        FuncMetrics {
            queue_wait: f.queue_wait.get_or_create(&labels).clone(),
            run: f.run.get_or_create(&labels).clone(),
            in_flight: f.in_flight.get_or_create(&labels).clone(),
            ok: f
                .calls
                .get_or_create(&FuncLabels::new(&name, "outcome", "ok"))
                .clone(),
            calls: f.calls.clone(),
            name,
        }
    }

    /// A call of `func` answered by the function after `run_us`.
    pub(crate) fn answered(&self, func: &FuncMetrics, run_us: u64) {
        self.answered.fetch_add(1, Relaxed);
        self.run_us_total.fetch_add(run_us, Relaxed);
        func.ended("ok", run_us);
    }

    /// A call of `func` (`None`: no Func was found) that ended in
    /// `failure` after running `run_us`.
    pub(crate) fn failed(&self, func: Option<&FuncMetrics>, failure: Failure, run_us: u64) {
        let index = Failure::ALL.iter().position(|f| *f == failure).unwrap_or(0);
        self.failures[index].fetch_add(1, Relaxed);
        self.run_us_total.fetch_add(run_us, Relaxed);
        if let Some(func) = func {
            func.ended(failure.label(), run_us);
        }
    }

    /// Registers the per-Func metrics and, read at each scrape, the
    /// runner's counters, in `registry`.
    pub fn register(self: &std::sync::Arc<Self>, registry: &mut metrics::Registry) {
        let f = &self.per_func;
        registry.register(
            "funcmesh_runner_queue_wait_seconds",
            "Time from a request's arrival at the gateway to its pick-up here, by Func.",
            f.queue_wait.clone(),
        );
        registry.register(
            "funcmesh_runner_run_seconds",
            "Time a Func's call ran (instantiation included), by Func.",
            f.run.clone(),
        );
        registry.register(
            "funcmesh_runner_func_in_flight",
            "Calls of a Func running now.",
            f.in_flight.clone(),
        );
        registry.register(
            "funcmesh_runner_calls",
            "Calls by Func and outcome (ok, trap, timeout, exception, memory_limit, ...); each WebAssembly call is one instantiation, each Python call one call on a worker.",
            f.calls.clone(),
        );
        let stats = std::sync::Arc::clone(self);
        registry.register_collector(Box::new(metrics::CollectWith(
            move |e: &mut metrics::DescriptorEncoder| {
                let s = stats.snapshot();
                metrics::counter(
                    e,
                    "funcmesh_runner_requests",
                    "Requests taken from the queues.",
                    s.requests,
                )?;
                metrics::gauge(
                    e,
                    "funcmesh_runner_in_flight",
                    "Requests being answered now.",
                    s.in_flight as i64,
                )?;
                metrics::counter(
                    e,
                    "funcmesh_runner_expired",
                    "Requests whose deadline passed before pick-up.",
                    s.expired,
                )?;
                metrics::counter(
                    e,
                    "funcmesh_runner_dead_lettered",
                    "Malformed envelopes sent to the dead letters.",
                    s.malformed_envelopes,
                )?;
                metrics::counter(
                    e,
                    "funcmesh_runner_reply_failures",
                    "Answers that could not be published.",
                    s.publish_failures,
                )
            },
        )));
    }

    pub(crate) fn expired(&self) {
        self.expired.fetch_add(1, Relaxed);
    }

    pub(crate) fn malformed_envelope(&self) {
        self.malformed_envelopes.fetch_add(1, Relaxed);
    }

    pub(crate) fn publish_failed(&self) {
        self.publish_failures.fetch_add(1, Relaxed);
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        let failures = Failure::ALL
            .iter()
            .zip(&self.failures)
            .map(|(f, n)| (f.label().to_owned(), n.load(Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        StatsSnapshot {
            requests: self.requests.load(Relaxed),
            answered: self.answered.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            run_us_total: self.run_us_total.load(Relaxed),
            busy_us_total: self.busy_us_total.load(Relaxed),
            expired: self.expired.load(Relaxed),
            malformed_envelopes: self.malformed_envelopes.load(Relaxed),
            publish_failures: self.publish_failures.load(Relaxed),
            // The bus knows it, not the calls: the node adds it.
            queue_held: 0,
            failures,
        }
    }
}

/// Counts a request as in flight until dropped, and the time it held its
/// slot when it is.
pub(crate) struct InFlight<'a>(&'a RunnerStats, Instant);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let busy_us = self.1.elapsed().as_micros() as u64;
        self.0.busy_us_total.fetch_add(busy_us, Relaxed);
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}
