//! One captured answer against its replayed answer: status, the headers
//! that matter, and the body by its kind (JSON as values, text as lines,
//! anything else as bytes).

use funcmesh_core::{Body, ResponseEnvelope};
use serde::Serialize;

use super::diff::{self, BinaryDiff, TextDiff};
use super::headers::{self, HeaderChange, IgnoredHeaders};
use super::json::{self, JsonChange};
use super::jsonpath::JsonPath;

/// What the comparison leaves out.
#[derive(Debug, Clone, Default)]
pub struct CompareRules {
    /// Response headers not compared.
    pub ignored_headers: IgnoredHeaders,
    /// Places in JSON bodies not compared; `$` leaves out any body.
    pub ignored_paths: Vec<JsonPath>,
}

/// How a replayed answer differs from the captured one; empty when it does not.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Difference {
    /// The statuses, when they differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusChange>,
    /// The headers that differ.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderChange>,
    /// How the bodies differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<BodyDiff>,
}

/// Two statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StatusChange {
    /// The captured status.
    pub captured: u16,
    /// The replayed status.
    pub replayed: u16,
}

/// How two bodies differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BodyDiff {
    /// Both JSON: the places that differ.
    Json {
        /// The changes, in document order.
        changes: Vec<JsonChange>,
    },
    /// Text (or JSON against text): a line diff.
    Text(TextDiff),
    /// Bytes.
    Binary(BinaryDiff),
}

impl Difference {
    /// Whether the answers are the same.
    pub fn is_empty(&self) -> bool {
        self.status.is_none() && self.headers.is_empty() && self.body.is_none()
    }
}

/// Compares `replayed` with `captured`.
pub fn compare(
    captured: &ResponseEnvelope,
    replayed: &ResponseEnvelope,
    rules: &CompareRules,
) -> Difference {
    let status = (captured.status != replayed.status).then_some(StatusChange {
        captured: captured.status,
        replayed: replayed.status,
    });
    let headers = headers::diff(&captured.headers, &replayed.headers, &rules.ignored_headers);
    let body = match rules.ignored_paths.iter().any(JsonPath::is_root) {
        true => None,
        false => body(&captured.body, &replayed.body, &rules.ignored_paths),
    };
    Difference {
        status,
        headers,
        body,
    }
}

fn body(captured: &Body, replayed: &Body, ignored: &[JsonPath]) -> Option<BodyDiff> {
    match (captured, replayed) {
        (Body::Json(old), Body::Json(new)) => {
            match (
                serde_json::from_str(old.get()),
                serde_json::from_str(new.get()),
            ) {
                (Ok(old), Ok(new)) => {
                    let changes = json::diff(&old, &new, ignored);
                    (!changes.is_empty()).then_some(BodyDiff::Json { changes })
                }
                // Raw JSON is validated when read: this is bytes that could not be.
                _ => diff::binary(captured.as_bytes(), replayed.as_bytes()).map(BodyDiff::Binary),
            }
        }
        (Body::Binary(_), _) | (_, Body::Binary(_)) => {
            diff::binary(captured.as_bytes(), replayed.as_bytes()).map(BodyDiff::Binary)
        }
        _ => {
            // Both text, JSON or empty: valid UTF-8 each.
            let old = String::from_utf8_lossy(captured.as_bytes());
            let new = String::from_utf8_lossy(replayed.as_bytes());
            diff::text(&old, &new).map(BodyDiff::Text)
        }
    }
}

#[cfg(test)]
mod tests;
