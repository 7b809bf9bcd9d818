//! The outcomes of a replay summed up into its [`Report`].

use std::sync::Arc;
use std::time::Duration;

use super::engine::{Outcome, Verdict};
use super::files::Located;
use super::report::{DifferentAnswer, Failure, Latencies, Percentiles, Report, Summary};

/// The report of a replay of `records` against `target` that took
/// `elapsed`; `errors` are the files and lines that could not be read.
pub(super) fn report(
    target: String,
    records: &[Arc<Located>],
    outcomes: &[Outcome],
    mut errors: Vec<Failure>,
    elapsed: Duration,
) -> Report {
    let read_failures = errors.len();
    let mut summary = Summary {
        total: records.len() + read_failures,
        errors: read_failures,
        elapsed_ms: elapsed.as_millis() as u64,
        ..Summary::default()
    };
    let mut differences = Vec::new();
    let mut replay_failures = Vec::new();
    for (located, outcome) in records.iter().zip(outcomes) {
        match &outcome.verdict {
            Verdict::Same => summary.same += 1,
            Verdict::Unverified => summary.unverified += 1,
            Verdict::Different(difference) => differences.push(DifferentAnswer {
                origin: located.origin(),
                difference: difference.clone(),
            }),
            Verdict::Failed(message) => replay_failures.push(Failure {
                origin: located.origin(),
                message: message.clone(),
            }),
        }
    }
    summary.different = differences.len();
    summary.errors += replay_failures.len();
    errors.extend(replay_failures);
    errors.sort_by(|a, b| (&a.origin.file, a.origin.line).cmp(&(&b.origin.file, b.origin.line)));
    let latencies: Vec<u64> = outcomes
        .iter()
        .filter_map(|o| o.latency)
        .map(|d| d.as_micros() as u64)
        .collect();
    let answered = latencies.len();
    summary.throughput_rps = answered as f64 / elapsed.as_secs_f64().max(1e-6);
    summary.latency = Latencies {
        replayed: Percentiles::of(latencies),
        captured: Percentiles::of(
            records
                .iter()
                .filter(|l| l.record.response.is_some() && l.record.timings.total_us > 0)
                .map(|l| l.record.timings.total_us)
                .collect(),
        ),
    };
    Report {
        target,
        summary,
        differences,
        errors,
    }
}
