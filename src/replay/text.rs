//! The report as a person reads it: one block per differing answer or
//! failed request, then the summary.

use std::fmt::Write as _;

use serde_json::Value;

use super::compare::{BodyDiff, Difference};
use super::json::ChangeKind;
use super::report::{Origin, Percentiles, Report};

/// JSON changes shown per answer; the rest is counted.
const MAX_JSON_CHANGES: usize = 30;
/// Characters of one value shown.
const MAX_VALUE: usize = 120;

/// The whole report as text, ending with a newline.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    for different in &report.differences {
        let _ = writeln!(out, "DIFFERENT {}", origin(&different.origin));
        difference(&mut out, &different.difference);
    }
    for failure in &report.errors {
        let _ = writeln!(out, "ERROR {}", origin(&failure.origin));
        let _ = writeln!(out, "  {}", failure.message);
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "replayed {} request(s) against {}: {} same, {} different, {} error(s), {} unverified",
        s.total, report.target, s.same, s.different, s.errors, s.unverified
    );
    let _ = writeln!(
        out,
        "throughput {:.1} req/s over {:.2} s; latency {} (captured {})",
        s.throughput_rps,
        s.elapsed_ms as f64 / 1000.0,
        percentiles(&s.latency.replayed),
        percentiles(&s.latency.captured)
    );
    out
}

/// `req-1 GET /words/ox (captures/words.jsonl:3)`.
fn origin(origin: &Origin) -> String {
    let mut text = String::new();
    for part in [&origin.request_id, &origin.method, &origin.path]
        .into_iter()
        .flatten()
    {
        text.push_str(part);
        text.push(' ');
    }
    format!("{text}({}:{})", origin.file, origin.line)
}

fn percentiles(p: &Percentiles) -> String {
    match (p.p50_us, p.p99_us) {
        (Some(p50), Some(p99)) => format!("p50 {} ms, p99 {} ms", ms(p50), ms(p99)),
        _ => "none".to_owned(),
    }
}

fn ms(us: u64) -> String {
    format!("{:.1}", us as f64 / 1000.0)
}

/// Appends the lines of one difference, each indented by two spaces.
pub fn difference(out: &mut String, difference: &Difference) {
    if let Some(status) = difference.status {
        let _ = writeln!(out, "  status: {} -> {}", status.captured, status.replayed);
    }
    for header in &difference.headers {
        for value in &header.captured {
            let _ = writeln!(out, "  - {}: {value}", header.name);
        }
        for value in &header.replayed {
            let _ = writeln!(out, "  + {}: {value}", header.name);
        }
    }
    match &difference.body {
        None => {}
        Some(BodyDiff::Json { changes }) => {
            for change in changes.iter().take(MAX_JSON_CHANGES) {
                let line = match &change.kind {
                    ChangeKind::Changed { captured, replayed } => {
                        format!("{} -> {}", value(captured), value(replayed))
                    }
                    ChangeKind::Missing { captured } => {
                        format!("missing (was {})", value(captured))
                    }
                    ChangeKind::Added { replayed } => format!("added ({})", value(replayed)),
                };
                let _ = writeln!(out, "  {}: {line}", change.path);
            }
            if changes.len() > MAX_JSON_CHANGES {
                let _ = writeln!(out, "  ... and {} more", changes.len() - MAX_JSON_CHANGES);
            }
        }
        Some(BodyDiff::Text(text)) => {
            let _ = writeln!(out, "  body:");
            for line in &text.lines {
                let _ = writeln!(out, "    {line}");
            }
            if text.more > 0 {
                let _ = writeln!(out, "    ... and {} more changed line(s)", text.more);
            }
        }
        Some(BodyDiff::Binary(bytes)) => {
            let _ = writeln!(
                out,
                "  body: {} bytes -> {} bytes, first difference at byte {}",
                bytes.captured_len, bytes.replayed_len, bytes.first_difference
            );
        }
    }
}

fn value(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(MAX_VALUE) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text,
    }
}

#[cfg(test)]
mod tests;
