//! Checking a request against its operation before the function sees it.
//!
//! A [`Validator`] is built once per operation (its `pattern`s compiled
//! then). [`Validator::check`] coerces each declared parameter from its
//! string form to the type its schema names and checks it, checks the body's
//! media type (415 when it is not one the operation accepts), parses a JSON
//! body (400 naming the line and column) or decodes a form body (400 when
//! it is malformed) and checks it against the schema. All problems are
//! reported together, each with where it was found.

mod body;
mod coerce;
mod form;
pub mod http;
mod schema;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::collections::{BTreeMap, HashMap};

use funcmesh_core::ResponseEnvelope;
use funcmesh_core::bundle::{Operation, ParamLocation, Parameter, RequestBody};
use funcmesh_core::envelope::Body;
use regex_lite::Regex;
use serde::Serialize;
use serde_json::Value;

use schema::Checker;

pub use schema::MAX_PROBLEMS;

/// One thing wrong with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Where: `path`, `query`, `header`, `cookie` or `body`.
    #[serde(rename = "in")]
    pub location: &'static str,
    /// The parameter's name (not for the body).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A JSON pointer into the value (`/items/0/name`); empty is the whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What is wrong, e.g. `must be <= 100`.
    pub problem: String,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// 400: the problems found.
    Invalid(Vec<Problem>),
    /// 415: the body's media type is not one the operation accepts.
    UnsupportedMediaType {
        /// The request's `content-type`, if it had one.
        found: Option<String>,
        /// What the operation accepts.
        expected: Vec<String>,
    },
}

impl Rejection {
    /// The answer to the client.
    pub fn to_response(&self, request_id: &str) -> ResponseEnvelope {
        match self {
            Rejection::Invalid(details) => {
                let body = serde_json::json!({
                    "error": "invalid request",
                    "request_id": request_id,
                    "details": details,
                });
                let mut resp = ResponseEnvelope::new(request_id, 400);
                resp.headers
                    .push(("content-type".into(), "application/json".into()));
                resp.body = Body::json_value(&body);
                resp
            }
            Rejection::UnsupportedMediaType { found, expected } => {
                let found = found.as_deref().map_or_else(
                    || "no content-type".to_owned(),
                    |f| format!("content-type {f}"),
                );
                let message = format!(
                    "{found} is not accepted; expected one of: {}",
                    expected.join(", ")
                );
                ResponseEnvelope::error(request_id, 415, message)
            }
        }
    }
}

/// What a request offers for checking.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// Path parameters from the matcher.
    pub path_params: &'a BTreeMap<String, String>,
    /// Decoded query pairs.
    pub query: &'a [(String, String)],
    /// Header pairs, names in any case.
    pub headers: &'a [(String, String)],
    /// The raw body.
    pub body: &'a [u8],
}

/// Compiled `pattern` keywords; `None` for one that does not compile (it
/// accepts anything, and the install log said so).
#[derive(Debug, Default)]
pub struct Patterns(HashMap<String, Option<Regex>>);

impl Patterns {
    fn collect(&mut self, schema: &Value) {
        match schema {
            Value::Object(map) => {
                if let Some(Value::String(p)) = map.get("pattern")
                    && !self.0.contains_key(p)
                {
                    let compiled = Regex::new(p)
                        .inspect_err(
                            |error| tracing::warn!(pattern = %p, %error, "schema pattern ignored"),
                        )
                        .ok();
                    self.0.insert(p.clone(), compiled);
                }
                map.values().for_each(|v| self.collect(v));
            }
            Value::Array(items) => items.iter().for_each(|v| self.collect(v)),
            _ => {}
        }
    }

    fn get(&self, pattern: &str) -> Option<&Regex> {
        self.0.get(pattern).and_then(Option::as_ref)
    }
}

/// The checks of one operation.
#[derive(Debug)]
pub struct Validator {
    parameters: Vec<Parameter>,
    body: Option<RequestBody>,
    patterns: Patterns,
}

impl Validator {
    /// Compiles the checks of `op`.
    pub fn new(op: &Operation) -> Validator {
        let mut patterns = Patterns::default();
        op.parameters
            .iter()
            .for_each(|p| patterns.collect(&p.schema));
        op.body
            .iter()
            .flat_map(|b| b.schemas())
            .for_each(|s| patterns.collect(s));
        Validator {
            parameters: op.parameters.clone(),
            body: op.body.clone(),
            patterns,
        }
    }

    /// Checks a request; `Ok` means the function may see it.
    pub fn check(&self, req: &RequestParts<'_>) -> Result<(), Rejection> {
        let mut problems = Vec::new();
        for param in &self.parameters {
            let raw: Vec<&str> = match param.location {
                ParamLocation::Path => req
                    .path_params
                    .get(&param.name)
                    .map(String::as_str)
                    .into_iter()
                    .collect(),
                ParamLocation::Query => req
                    .query
                    .iter()
                    .filter(|(k, _)| *k == param.name)
                    .map(|(_, v)| v.as_str())
                    .collect(),
                ParamLocation::Header => req
                    .headers
                    .iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case(&param.name))
                    .map(|(_, v)| v.as_str())
                    .collect(),
                ParamLocation::Cookie => http::cookies(req.headers)
                    .into_iter()
                    .filter(|(k, _)| *k == param.name)
                    .map(|(_, v)| v)
                    .collect(),
            };
            self.check_param(param, &raw, &mut problems);
        }
        if let Some(decl) = &self.body {
            let content_type = http::header(req.headers, "content-type");
            body::check(decl, content_type, req.body, &self.patterns, &mut problems)?;
        }
        problems.truncate(MAX_PROBLEMS);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Rejection::Invalid(problems))
        }
    }

    fn check_param(&self, param: &Parameter, raw: &[&str], problems: &mut Vec<Problem>) {
        let location = param.location.as_str();
        let problem = |path: Option<String>, problem: String| Problem {
            location,
            name: Some(param.name.clone()),
            path,
            problem,
        };
        if raw.is_empty() {
            if param.required {
                problems.push(problem(None, "is required".into()));
            }
            return;
        }
        let value = match coerce::coerce(raw, &param.schema) {
            Ok(value) => value,
            Err(p) => return problems.push(problem(None, p)),
        };
        let mut checker = Checker::new(&self.patterns);
        checker.check(&param.schema, &value, &mut String::new());
        problems.extend(
            checker
                .problems
                .into_iter()
                .map(|(path, p)| problem((!path.is_empty()).then_some(path), p)),
        );
    }
}

#[cfg(test)]
mod tests;
