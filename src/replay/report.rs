//! What a replay found: the counts, each answer that differed, each request
//! that could not be replayed, and the replay's own speed beside the
//! captured one. Serialized as is for `--report json`.

use serde::Serialize;

use super::compare::Difference;

/// The exit status when every answer was the same.
pub const EXIT_SAME: u8 = 0;
/// The exit status when an answer differed and every request was replayed.
pub const EXIT_DIFFERENT: u8 = 1;
/// The exit status when a request could not be replayed (a refused
/// connection, a timeout, an unreadable file or line), whatever else.
pub const EXIT_FAILED: u8 = 2;

/// A whole replay's findings.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was replayed against.
    pub target: String,
    /// The counts and speeds.
    pub summary: Summary,
    /// Every answer that differed, in file order.
    pub differences: Vec<DifferentAnswer>,
    /// Every request or line that could not be replayed, in file order.
    pub errors: Vec<Failure>,
}

/// The counts: `total` = `same` + `different` + `errors` + `unverified`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// Records (and unreadable lines) seen.
    pub total: usize,
    /// Answers the same as captured.
    pub same: usize,
    /// Answers that differed.
    pub different: usize,
    /// Requests or lines that could not be replayed.
    pub errors: usize,
    /// Requests replayed with no captured answer to compare with (copied
    /// from a queue, or sent fire-and-forget).
    pub unverified: usize,
    /// The replay's wall time, in milliseconds.
    pub elapsed_ms: u64,
    /// Answers received per second of that time.
    pub throughput_rps: f64,
    /// The replay's latencies beside the captured ones.
    pub latency: Latencies,
}

/// Latency percentiles, replayed and captured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Latencies {
    /// Of the answers this replay received.
    pub replayed: Percentiles,
    /// Of the captured exchanges (`timings.total_us`).
    pub captured: Percentiles,
}

/// p50 and p99 of some durations, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    /// How many durations.
    pub count: usize,
    /// The median; none without durations.
    pub p50_us: Option<u64>,
    /// The 99th percentile.
    pub p99_us: Option<u64>,
}

impl Percentiles {
    /// Nearest-rank percentiles of `values`.
    pub fn of(mut values: Vec<u64>) -> Self {
        values.sort_unstable();
        let rank = |p: usize| {
            let at = (values.len() * p).div_ceil(100).max(1) - 1;
            values.get(at).copied()
        };
        Self {
            count: values.len(),
            p50_us: rank(50),
            p99_us: rank(99),
        }
    }
}

/// Where a request came from and what it was.
#[derive(Debug, Clone, Serialize)]
pub struct Origin {
    /// The capture file.
    pub file: String,
    /// Its line, from 1.
    pub line: usize,
    /// The captured request id (sent again as `x-request-id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The request's method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The request's path, with `?query`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// An answer that differed from the captured one.
#[derive(Debug, Clone, Serialize)]
pub struct DifferentAnswer {
    /// The request.
    #[serde(flatten)]
    pub origin: Origin,
    /// How the answer differed.
    #[serde(flatten)]
    pub difference: Difference,
}

/// A request, file or line that could not be replayed.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// The request, or the line that is not one.
    #[serde(flatten)]
    pub origin: Origin,
    /// What went wrong.
    pub message: String,
}

impl Report {
    /// The process exit status this report calls for.
    pub fn exit_code(&self) -> u8 {
        exit_code(&self.summary)
    }
}

/// [`EXIT_FAILED`] if anything could not be replayed, else
/// [`EXIT_DIFFERENT`] if any answer differed, else [`EXIT_SAME`].
/// Unverified requests count as neither.
pub fn exit_code(summary: &Summary) -> u8 {
    match (summary.errors, summary.different) {
        (0, 0) => EXIT_SAME,
        (0, _) => EXIT_DIFFERENT,
        _ => EXIT_FAILED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(different: usize, errors: usize, unverified: usize) -> Summary {
        Summary {
            total: 10,
            same: 10 - different - errors - unverified,
            different,
            errors,
            unverified,
            ..Summary::default()
        }
    }

    #[test]
    fn the_exit_code_says_same_different_or_failed() {
        assert_eq!(exit_code(&summary(0, 0, 0)), 0);
        assert_eq!(
            exit_code(&summary(0, 0, 4)),
            0,
            "unverified is not a difference"
        );
        assert_eq!(exit_code(&summary(3, 0, 0)), 1);
        assert_eq!(
            exit_code(&summary(3, 1, 0)),
            2,
            "a failure wins over differences"
        );
        assert_eq!(exit_code(&summary(0, 1, 0)), 2);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(Percentiles::of(vec![]).p50_us, None);
        let one = Percentiles::of(vec![7]);
        assert_eq!((one.p50_us, one.p99_us), (Some(7), Some(7)));
        let hundred = Percentiles::of((1..=100).rev().collect());
        assert_eq!(
            (hundred.count, hundred.p50_us, hundred.p99_us),
            (100, Some(50), Some(99))
        );
        let ten = Percentiles::of((1..=10).collect());
        assert_eq!((ten.p50_us, ten.p99_us), (Some(5), Some(10)));
    }
}
