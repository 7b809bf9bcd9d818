//! What a runner has done, counted with atomics so that every request task
//! updates them without a lock; the tron reads [`StatsSnapshot`]s.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

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
    requests: AtomicU64,
    answered: AtomicU64,
    in_flight: AtomicU64,
    run_us_total: AtomicU64,
    expired: AtomicU64,
    malformed_envelopes: AtomicU64,
    publish_failures: AtomicU64,
    failures: [AtomicU64; Failure::ALL.len()],
}

/// A point-in-time copy of [`RunnerStats`], as heartbeats carry it.
pub use funcmesh_core::control::StatsSnapshot;

impl RunnerStats {
    pub(crate) fn started(&self) -> InFlight<'_> {
        self.requests.fetch_add(1, Relaxed);
        self.in_flight.fetch_add(1, Relaxed);
        InFlight(self)
    }

    pub(crate) fn answered(&self, run_us: u64) {
        self.answered.fetch_add(1, Relaxed);
        self.run_us_total.fetch_add(run_us, Relaxed);
    }

    pub(crate) fn failed(&self, failure: Failure, run_us: u64) {
        let index = Failure::ALL.iter().position(|f| *f == failure).unwrap_or(0);
        self.failures[index].fetch_add(1, Relaxed);
        self.run_us_total.fetch_add(run_us, Relaxed);
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
            expired: self.expired.load(Relaxed),
            malformed_envelopes: self.malformed_envelopes.load(Relaxed),
            publish_failures: self.publish_failures.load(Relaxed),
            failures,
        }
    }
}

/// Counts a request as in flight until dropped.
pub(crate) struct InFlight<'a>(&'a RunnerStats);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}
