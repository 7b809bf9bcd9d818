//! YAML and JSON into one `serde_json::Value`, with the line and column of
//! a syntax error.

use std::path::Path;

use serde_json::Value;

use crate::bundle::{BundleError, Result};

/// Parses `text` as JSON when `path` ends in `.json`, as YAML otherwise.
///
/// YAML goes through `serde_yaml_ng::Value` first so that merge keys
/// (`<<: *anchor`) are applied and duplicate keys are rejected rather than
/// silently overwritten, as a direct `serde_json::Value` target would do.
pub(crate) fn parse_document(path: &Path, text: &str) -> Result<Value> {
    let syntax = |message: String| BundleError::Syntax {
        path: path.to_path_buf(),
        message,
    };
    if path.extension().is_some_and(|ext| ext == "json") {
        return serde_json::from_str(text).map_err(|e| syntax(json_message(&e)));
    }
    let mut yaml: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(text).map_err(|e| syntax(yaml_message(&e)))?;
    yaml.apply_merge().map_err(|e| syntax(yaml_message(&e)))?;
    serde_json::to_value(yaml).map_err(|e| syntax(format!("not representable as JSON: {e}")))
}

/// `line L column C: problem`, the location moved to the front.
fn yaml_message(error: &serde_yaml_ng::Error) -> String {
    let text = error.to_string();
    match error.location() {
        Some(at) => located(&text, at.line(), at.column()),
        None => text,
    }
}

fn json_message(error: &serde_json::Error) -> String {
    located(&error.to_string(), error.line(), error.column())
}

fn located(text: &str, line: usize, column: usize) -> String {
    let suffix = format!(" at line {line} column {column}");
    let problem = text.replacen(&suffix, "", 1);
    format!("line {line} column {column}: {problem}")
}

/// The 1-based line and column of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}
