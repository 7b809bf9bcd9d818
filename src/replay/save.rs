//! `--save`: every replayed exchange written as a new capture record, so
//! that requests captured without an answer become a baseline.

use std::sync::Arc;

use funcmesh_core::capture::redact::Redaction;
use funcmesh_core::capture::{CaptureRecord, CaptureTimings, record::RECORD_VERSION};

use super::engine::Outcome;
use super::files::Located;
use super::{send, target};

/// Each answered record as a new capture record: the captured request
/// (with its masks; `--header` values are not written; a fire-and-forget
/// one without its `respond-async`, as it was sent), the new answer.
pub(super) fn records(
    records: &[Arc<Located>],
    outcomes: &[Outcome],
    live: &target::Live,
) -> Vec<CaptureRecord> {
    let redaction = Redaction::default();
    records
        .iter()
        .zip(outcomes)
        .filter_map(|(located, outcome)| {
            let (response, at_ms) = outcome.answer.as_ref()?;
            let mut response = response.clone();
            redaction.apply(&mut response.headers);
            let short = response
                .headers
                .iter()
                .find(|(n, _)| n == "x-funcmesh-bundle")
                .map(|(_, v)| v.clone());
            let bundle = short.and_then(|s| live.bundle_hash(&s));
            response.bundle.clone_from(&bundle);
            let mut request = located.record.request.clone();
            if located.record.response.is_none() {
                // As it was sent, so that the baseline replays the same way.
                request.headers = send::for_an_answer(&request.headers);
            }
            Some(CaptureRecord {
                version: RECORD_VERSION.to_owned(),
                captured_at_ms: *at_ms,
                route: located.record.route.clone(),
                bundle,
                source: "replay".to_owned(),
                request,
                response: Some(response),
                timings: CaptureTimings {
                    total_us: outcome.latency.map_or(0, |d| d.as_micros() as u64),
                    ..CaptureTimings::default()
                },
            })
        })
        .collect()
}
