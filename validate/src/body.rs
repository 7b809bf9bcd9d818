//! The request body: presence, media type, JSON syntax or form encoding,
//! schema.

use funcmesh_core::bundle::RequestBody;
use serde_json::Value;

use super::schema::Schema;
use super::{Problem, Rejection, form};
use crate::http;

/// A body's schemas, compiled: for JSON, and for each form encoding.
#[derive(Debug)]
pub struct Schemas {
    pub json: Option<Schema>,
    pub urlencoded: Option<Schema>,
    pub multipart: Option<Schema>,
}

impl Schemas {
    pub fn compile(decl: &RequestBody) -> Schemas {
        Schemas {
            json: decl.schema.as_ref().map(Schema::compile),
            urlencoded: decl.urlencoded_schema.as_ref().map(Schema::compile),
            multipart: decl.multipart_schema.as_ref().map(Schema::compile),
        }
    }
}

/// Checks the body against its declaration. A wrong media type ends the
/// check with a 415; everything else adds to `problems`.
pub fn check(
    decl: &RequestBody,
    schemas: &Schemas,
    content_type: Option<&str>,
    body: &[u8],
    problems: &mut Vec<Problem>,
) -> Result<(), Rejection> {
    let problem = |path: &str, problem: String| Problem {
        location: "body",
        name: None,
        path: Some(path.to_owned()),
        problem,
    };
    if body.is_empty() {
        if decl.required {
            problems.push(problem("", "is required".into()));
        }
        return Ok(());
    }
    let essence = content_type.map(http::mime_essence);
    if !decl.content_types.is_empty() {
        let accepted = essence
            .as_deref()
            .is_some_and(|e| decl.content_types.iter().any(|r| http::mime_matches(r, e)));
        if !accepted {
            return Err(Rejection::UnsupportedMediaType {
                found: content_type.map(str::to_owned),
                expected: decl.content_types.clone(),
            });
        }
    }
    // A JSON or form body can be checked against a schema; others pass as bytes.
    if !essence.as_deref().is_some_and(http::is_json) {
        if let (Some(essence), Some(content_type)) = (essence.as_deref(), content_type) {
            let found = form::check(decl, schemas, essence, content_type, body);
            problems.extend(found.into_iter().map(|(path, p)| problem(&path, p)));
        }
        return Ok(());
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(error) => {
            problems.push(problem("", format!("is not valid JSON: {error}")));
            return Ok(());
        }
    };
    if let Some(schema) = &schemas.json {
        let found = schema.problems(&value);
        problems.extend(found.into_iter().map(|(path, p)| problem(&path, p)));
    }
    Ok(())
}
