//! OpenAPI 3.0.x, read into `openapiv3`'s typed model: the document must
//! be one that model holds (`info`, and `responses` on every operation,
//! as the specification requires; every field of the type it names), and
//! a failure names the place as a JSON pointer. Routing, operations,
//! parameters and request bodies are then taken from the model; schemas
//! from the model's own writing of the document, their local references
//! resolved there, for the request validator (which reads JSON).
//!
//! `openapiv3` covers 3.0 only: Swagger 2.0 (`swagger2`) and OpenAPI 3.1
//! (`openapi3`, JSON Schema 2020-12) are read from the document's JSON.

use openapiv3::{OpenAPI, Parameter as Typed, ParameterSchemaOrContent, PathItem, ReferenceOr};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ApiSpec;
use super::common;
use super::openapi3::{METHODS, OTHER_KEYS, body_of, route};
use super::refs::Refs;
use crate::bundle::{Operation, ParamLocation, Parameter, RequestBody};

/// Why a document was not read.
pub(super) enum Failure {
    /// It is not what the model holds: where (a JSON pointer) and why.
    Model(String),
    /// It is, but not what funcmesh serves (no `operationId`, say).
    Spec(String),
}

impl Failure {
    /// What went wrong, whichever the kind.
    pub(super) fn into_message(self) -> String {
        match self {
            Self::Model(message) | Self::Spec(message) => message,
        }
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self::Spec(message)
    }
}

pub(super) fn parse(doc: &Value) -> Result<ApiSpec, Failure> {
    let api = document(doc).map_err(Failure::Model)?;
    // The model drops what it does not know beside vendor extensions: a
    // path without its `/`, or `GET` for `get`, must not vanish unnoticed.
    let raw_refs = Refs::new(doc, false);
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten();
    for (path, item) in paths.filter(|(path, _)| !path.starts_with("x-")) {
        common::check_path(path)?;
        if let Ok(Value::Object(item)) = raw_refs.follow(item) {
            common::check_path_item_keys(path, item, METHODS, OTHER_KEYS)?;
        }
    }
    read(&api).map_err(Failure::Spec)
}

/// The routes and operations of a document the model holds.
fn read(api: &OpenAPI) -> Result<ApiSpec, String> {
    // The model's writing of the document: what its references point into.
    let written = serde_json::to_value(api)
        .map_err(|error| format!("writing the OpenAPI 3.0 model back: {error}"))?;
    let refs = Refs::new(&written, false);
    let (host, base_path) = match api.servers.first() {
        None => (None, String::new()),
        Some(server) => route(&server.url, |name| {
            let variable = server.variables.as_ref()?.get(name)?;
            Some(variable.default.as_str())
        })?,
    };
    let mut paths: Vec<&String> = api.paths.paths.keys().collect();
    paths.sort();
    let mut operations = Vec::new();
    for path in paths {
        let item: PathItem = resolved(&api.paths.paths[path], &refs, &format!("path `{path}`"))?;
        let shared = params(&item.parameters, &refs, &format!("path `{path}`"))?;
        let methods = [
            ("GET", &item.get),
            ("PUT", &item.put),
            ("POST", &item.post),
            ("DELETE", &item.delete),
            ("OPTIONS", &item.options),
            ("HEAD", &item.head),
            ("PATCH", &item.patch),
            ("TRACE", &item.trace),
        ];
        for (method, op) in methods {
            let Some(op) = op else { continue };
            let label = format!("{method} {path}");
            let id = common::operation_id(op.operation_id.as_deref(), &label)?;
            let own = params(&op.parameters, &refs, &label)?;
            let parameters = common::merge(shared.clone(), own, |p| (p.name.clone(), p.location));
            let body = match &op.request_body {
                Some(body) => Some(request_body(body, &refs, &label)?),
                None => None,
            };
            operations.push(Operation {
                id,
                method: method.to_owned(),
                path: path.clone(),
                parameters,
                body,
            });
        }
    }
    Ok(ApiSpec {
        host,
        base_path,
        operations,
    })
}

/// `value` read as a `T` of the model; the error names where it failed,
/// as a JSON pointer below `at`.
fn typed<T: DeserializeOwned>(value: &Value, at: &str) -> Result<T, String> {
    read_as::<T>(value, at).map_err(|(pointer, message)| refusal(&pointer, &message))
}

/// A failure of the model, as the load error says it.
fn refusal(pointer: &str, message: &str) -> String {
    let place = if pointer.is_empty() { "/" } else { pointer };
    format!("{place}: {message} (as OpenAPI 3.0 has it)")
}

/// The document read into the model. Where it fails inside an object the
/// model reads as "a reference or an item" (a path item, a parameter, a
/// schema...), serde can only say that the object as a whole failed: the
/// object's parts are then read one by one to name the innermost place.
fn document(doc: &Value) -> Result<OpenAPI, String> {
    read_as::<OpenAPI>(doc, "").map_err(|(pointer, message)| {
        let (pointer, message) = innermost(doc, pointer, message);
        refusal(&pointer, &message)
    })
}

/// `value` read as a `T`, or where below `at` (a JSON pointer) and why not.
fn read_as<T: DeserializeOwned>(value: &Value, at: &str) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let mut pointer = at.to_owned();
        for segment in error.path().iter() {
            use serde_path_to_error::Segment;
            match segment {
                Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
                Segment::Map { key } => {
                    pointer.push('/');
                    pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                }
                Segment::Enum { .. } | Segment::Unknown => {}
            }
        }
        (pointer, error.into_inner().to_string())
    })
}

/// The innermost part of the object at `pointer` that fails as what the
/// model reads at its place, and why; the object itself when no part does.
fn innermost(doc: &Value, pointer: String, message: String) -> (String, String) {
    let mut found = (pointer, message);
    // Each step goes at least one object deeper: the document's depth
    // bounds the loop.
    while let Some(value) = doc.pointer(&found.0) {
        match failing_part(value, &found.0, CONTAINER_DEPTH) {
            Some(deeper) if deeper.0.len() > found.0.len() => found = deeper,
            _ => break,
        }
    }
    found
}

/// How many levels of plain containers (`properties`, `content`, a list
/// of parameters, ...) are looked through for a failing part.
const CONTAINER_DEPTH: usize = 2;

/// The first part of `value` (at `at`) that the model reads as an object
/// of its own and that fails, looking through up to `depth` levels of
/// containers.
fn failing_part(value: &Value, at: &str, depth: usize) -> Option<(String, String)> {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map
            .iter()
            .map(|(key, child)| (key.replace('~', "~0").replace('/', "~1"), child))
            .collect(),
        Value::Array(list) => list
            .iter()
            .enumerate()
            .map(|(i, c)| (i.to_string(), c))
            .collect(),
        _ => return None,
    };
    children.into_iter().find_map(|(key, child)| {
        let at = format!("{at}/{key}");
        fails_as_read_there(&at, child).or_else(|| {
            depth
                .checked_sub(1)
                .and_then(|depth| failing_part(child, &at, depth))
        })
    })
}

/// How `value` at `at` fails as the object the model reads at such a
/// place, if the place is one of the model's "reference or item" objects.
fn fails_as_read_there(at: &str, value: &Value) -> Option<(String, String)> {
    if value.get("$ref").is_some_and(Value::is_string) {
        return None;
    }
    let segments: Vec<&str> = at.split('/').skip(1).collect();
    let last = |n: usize| segments.len().checked_sub(n).map(|i| segments[i]);
    const SCHEMA_SLOTS: &[&str] = &["schema", "items", "not", "additionalProperties"];
    if segments.len() == 2 && segments[0] == "paths" {
        read_as::<PathItem>(value, at).err()
    } else if segments.len() == 3 && segments[0] == "paths" && METHODS.contains(&segments[2]) {
        read_as::<openapiv3::Operation>(value, at).err()
    } else if last(2) == Some("parameters")
        || segments.starts_with(&["components", "parameters"]) && segments.len() == 3
    {
        read_as::<Typed>(value, at).err()
    } else if last(1) == Some("requestBody")
        || segments.starts_with(&["components", "requestBodies"]) && segments.len() == 3
    {
        read_as::<openapiv3::RequestBody>(value, at).err()
    } else if last(2) == Some("content") {
        read_as::<openapiv3::MediaType>(value, at).err()
    } else if last(1).is_some_and(|slot| SCHEMA_SLOTS.contains(&slot))
        || matches!(last(2), Some("properties" | "allOf" | "oneOf" | "anyOf"))
        || segments.starts_with(&["components", "schemas"]) && segments.len() == 3
    {
        read_as::<openapiv3::Schema>(value, at).err()
    } else {
        None
    }
}

/// The item `reference` names, or the one given.
fn resolved<T: DeserializeOwned + Clone>(
    value: &ReferenceOr<T>,
    refs: &Refs<'_>,
    context: &str,
) -> Result<T, String> {
    match value {
        ReferenceOr::Item(item) => Ok(item.clone()),
        ReferenceOr::Reference { reference } => {
            let target = refs
                .follow_ref(reference)
                .map_err(|e| format!("{context}: {e}"))?;
            let at = reference.strip_prefix('#').unwrap_or(reference);
            typed(target, at).map_err(|e| format!("{context}: {e}"))
        }
    }
}

fn params(
    list: &[ReferenceOr<Typed>],
    refs: &Refs<'_>,
    label: &str,
) -> Result<Vec<Parameter>, String> {
    let mut out: Vec<Parameter> = Vec::with_capacity(list.len());
    for value in list {
        let param = param(resolved(value, refs, label)?, refs, label)?;
        common::push_unique(&mut out, param, label)?;
    }
    Ok(out)
}

fn param(param: Typed, refs: &Refs<'_>, label: &str) -> Result<Parameter, String> {
    let (location, data) = match param {
        Typed::Query { parameter_data, .. } => (ParamLocation::Query, parameter_data),
        Typed::Header { parameter_data, .. } => (ParamLocation::Header, parameter_data),
        Typed::Path { parameter_data, .. } => (ParamLocation::Path, parameter_data),
        Typed::Cookie { parameter_data, .. } => (ParamLocation::Cookie, parameter_data),
    };
    let context = format!("{label}: parameter `{}`", data.name);
    // A parameter has a `schema`, or a `content` map with one media type.
    let schema = match &data.format {
        ParameterSchemaOrContent::Schema(schema) => Some(written(schema, &context)?),
        ParameterSchemaOrContent::Content(content) => match content.values().next() {
            Some(media) => media
                .schema
                .as_ref()
                .map(|schema| written(schema, &context))
                .transpose()?,
            None => None,
        },
    };
    let schema = match schema {
        Some(schema) => refs
            .schema(&schema)
            .map_err(|e| format!("{context}: {e}"))?,
        None => Value::Object(Default::default()),
    };
    Ok(Parameter {
        name: data.name,
        location,
        required: data.required,
        schema,
    })
}

fn request_body(
    body: &ReferenceOr<openapiv3::RequestBody>,
    refs: &Refs<'_>,
    label: &str,
) -> Result<RequestBody, String> {
    let context = format!("{label}: requestBody");
    let body = resolved(body, refs, &context)?;
    let content = body
        .content
        .iter()
        .map(|(media, content)| {
            let schema = content
                .schema
                .as_ref()
                .map(|schema| written(schema, &context))
                .transpose()?;
            Ok((media.clone(), schema))
        })
        .collect::<Result<_, String>>()?;
    body_of(body.required, content, refs, &context)
}

/// A schema of the model as the JSON the validator reads.
fn written(schema: &ReferenceOr<openapiv3::Schema>, context: &str) -> Result<Value, String> {
    serde_json::to_value(schema).map_err(|error| format!("{context}: writing its schema: {error}"))
}
