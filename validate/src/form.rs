//! Form bodies, `application/x-www-form-urlencoded` and
//! `multipart/form-data`, checked as JSON bodies are: the form is decoded
//! into an object of its fields, each field's text coerced to the type its
//! property names (as a query parameter's is), and the object checked
//! against the schema. Only deciding: the function still gets the body as
//! it came.

mod multipart;
mod params;
mod urlencoded;

use std::borrow::Cow;
use std::collections::BTreeMap;

use funcmesh_core::bundle::RequestBody;
use serde_json::{Map, Value};

use super::body::Schemas;
use super::coerce;
use super::schema::{Schema, child};

/// A form's fields as name/value pairs, in order, repeats kept.
type Fields<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

const URLENCODED: &str = "application/x-www-form-urlencoded";
const MULTIPART: &str = "multipart/form-data";

/// The problems of a body of media type `essence` (`content_type` in
/// full), as `(pointer, problem)` pairs; none when the operation gives
/// that media type no form schema.
pub fn check(
    decl: &RequestBody,
    schemas: &Schemas,
    essence: &str,
    content_type: &str,
    body: &[u8],
) -> Vec<(String, String)> {
    let (schema, compiled, fields) =
        match (essence, &decl.urlencoded_schema, &decl.multipart_schema) {
            (URLENCODED, Some(schema), _) => (
                schema,
                &schemas.urlencoded,
                urlencoded::decode(body)
                    .map_err(|e| format!("is not a valid urlencoded form: {e}")),
            ),
            (MULTIPART, _, Some(schema)) => (
                schema,
                &schemas.multipart,
                multipart::decode(content_type, body)
                    .map_err(|e| format!("is not a valid multipart form: {e}")),
            ),
            _ => return Vec::new(),
        };
    let Some(compiled) = compiled else {
        return Vec::new();
    };
    match fields {
        Ok(fields) => check_fields(schema, compiled, &fields),
        Err(problem) => vec![(String::new(), problem)],
    }
}

/// `schema` is read for each field's type, `compiled` checks the whole.
fn check_fields(schema: &Value, compiled: &Schema, fields: &Fields<'_>) -> Vec<(String, String)> {
    let mut by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, value) in fields {
        by_name
            .entry(name.as_ref())
            .or_default()
            .push(value.as_ref());
    }
    let mut problems = Vec::new();
    let mut unreadable = Vec::new();
    let mut object = Map::new();
    for (name, raw) in by_name {
        let coerced = match field_schema(schema, name) {
            Some(field_schema) => coerce::coerce(&raw, field_schema),
            // A field the schema does not describe stays text; repeated, a
            // list of texts, for `additionalProperties` to judge.
            None if raw.len() > 1 => Ok(Value::Array(
                raw.iter().map(|v| Value::String((*v).to_owned())).collect(),
            )),
            None => coerce::coerce(&raw, &Value::Null),
        };
        match coerced {
            Ok(value) => {
                object.insert(name.to_owned(), value);
            }
            Err(problem) => {
                let pointer = child("", name);
                problems.push((pointer.clone(), problem));
                unreadable.push(pointer);
            }
        }
    }
    let found = compiled.problems(&Value::Object(object));
    // A field whose text is not of its type was left out of the object; what
    // the schema then says of it (`is required`) would only repeat that.
    let about_unreadable = |path: &str| {
        unreadable.iter().any(|u| {
            path.strip_prefix(u.as_str())
                .is_some_and(|below| below.is_empty() || below.starts_with('/'))
        })
    };
    problems.extend(
        found
            .into_iter()
            .filter(|(path, _)| !about_unreadable(path)),
    );
    problems
}

/// The schema of the field `name`: its property, in the schema or in one
/// it is `allOf`, else `additionalProperties`; `None` reads it as text.
fn field_schema<'a>(schema: &'a Value, name: &str) -> Option<&'a Value> {
    if let Some(property) = schema.get("properties").and_then(|p| p.get(name)) {
        return Some(property);
    }
    if let Some(Value::Array(all)) = schema.get("allOf")
        && let Some(property) = all.iter().find_map(|sub| field_schema(sub, name))
    {
        return Some(property);
    }
    schema
        .get("additionalProperties")
        .filter(|extra| extra.is_object())
}
