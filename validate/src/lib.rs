//! Checking a request against its operation before the function sees it.
//!
//! A [`Validator`] is built once per operation (its schemas compiled
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

use std::collections::BTreeMap;

use funcmesh_core::ResponseEnvelope;
use funcmesh_core::bundle::{Operation, ParamLocation, Parameter, RequestBody};
use funcmesh_core::envelope::Body;
use serde::Serialize;

use schema::Schema;

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

/// The checks of one operation, compiled.
#[derive(Debug)]
pub struct Validator {
    parameters: Vec<(Parameter, Schema)>,
    body: Option<(RequestBody, body::Schemas)>,
}

impl Validator {
    /// Compiles the checks of `op`.
    pub fn new(op: &Operation) -> Validator {
        Validator {
            parameters: op
                .parameters
                .iter()
                .map(|p| (p.clone(), Schema::compile(&p.schema)))
                .collect(),
            body: op
                .body
                .as_ref()
                .map(|b| (b.clone(), body::Schemas::compile(b))),
        }
    }

    /// Checks a request; `Ok` means the function may see it.
    pub fn check(&self, req: &RequestParts<'_>) -> Result<(), Rejection> {
        let mut problems = Vec::new();
        for (param, schema) in &self.parameters {
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
            check_param(param, schema, &raw, &mut problems);
        }
        if let Some((decl, schemas)) = &self.body {
            let content_type = http::header(req.headers, "content-type");
            body::check(decl, schemas, content_type, req.body, &mut problems)?;
        }
        problems.truncate(MAX_PROBLEMS);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Rejection::Invalid(problems))
        }
    }
}

fn check_param(param: &Parameter, schema: &Schema, raw: &[&str], problems: &mut Vec<Problem>) {
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
    problems.extend(
        schema
            .problems(&value)
            .into_iter()
            .map(|(path, p)| problem((!path.is_empty()).then_some(path), p)),
    );
}

#[cfg(test)]
mod tests;
