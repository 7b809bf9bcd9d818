//! Swagger 2.0: `host`, `basePath`, `paths`, parameters `in: body` and
//! `in: formData` turned into a request body.

use serde_json::{Map, Value, json};

use super::ApiSpec;
use super::common::{self, RawOperation, bool_field, str_field, string_list};
use super::refs::Refs;
use crate::bundle::{Operation, ParamLocation, Parameter, RequestBody};

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];
const OTHER_KEYS: &[&str] = &["parameters", "$ref"];
/// The fields of a non-body parameter (and of its `items`) that are JSON
/// Schema: keywords of a Schema Object too.
pub(super) const SCHEMA_FIELDS: &[&str] = &[
    "type",
    "format",
    "items",
    "default",
    "enum",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
];
const FORM: &str = "application/x-www-form-urlencoded";
const MULTIPART: &str = "multipart/form-data";

/// A parameter as Swagger 2.0 declares it.
enum Param {
    Plain(Parameter),
    Body {
        name: String,
        required: bool,
        schema: Value,
    },
    Form {
        name: String,
        required: bool,
        schema: Value,
    },
}

impl Param {
    fn key(&self) -> (&str, &'static str) {
        match self {
            Param::Plain(p) => (&p.name, p.location.as_str()),
            Param::Body { name, .. } => (name, "body"),
            Param::Form { name, .. } => (name, "formData"),
        }
    }
}

pub(super) fn parse(doc: &Value) -> Result<ApiSpec, String> {
    let refs = Refs::new(doc, false);
    let host = match str_field(doc, "host", "swagger")? {
        Some(host) => common::normalize_host(host)?,
        None => None,
    };
    let base_path =
        common::normalize_base_path(str_field(doc, "basePath", "swagger")?.unwrap_or(""))?;
    let consumes = string_list(doc, "consumes", "swagger")?.unwrap_or_default();
    let operations = common::operations(doc, &refs, METHODS, OTHER_KEYS)?
        .iter()
        .map(|raw| operation(raw, &refs, &consumes))
        .collect::<Result<_, _>>()?;
    Ok(ApiSpec {
        host,
        base_path,
        operations,
    })
}

fn operation(
    raw: &RawOperation<'_>,
    refs: &Refs<'_>,
    consumes: &[String],
) -> Result<Operation, String> {
    let label = raw.label();
    let id = raw.id()?;
    let shared = params(raw.shared_params, refs, &label)?;
    let own = match raw.op.get("parameters") {
        None => Vec::new(),
        Some(Value::Array(list)) => params(list, refs, &label)?,
        Some(_) => return Err(format!("{label}: `parameters` must be a list")),
    };
    let consumes = string_list(raw.op, "consumes", &label)?.unwrap_or_else(|| consumes.to_vec());
    let mut parameters = Vec::new();
    let mut body = None;
    let mut form = Vec::new();
    for param in common::merge(shared, own, |p| (p.key().0.to_owned(), p.key().1)) {
        match param {
            Param::Plain(p) => parameters.push(p),
            Param::Body {
                name,
                required,
                schema,
            } => {
                if body.is_some() {
                    return Err(format!("{label}: more than one body parameter (`{name}`)"));
                }
                body = Some(RequestBody {
                    required,
                    content_types: consumes.clone(),
                    schema: Some(schema),
                    urlencoded_schema: None,
                    multipart_schema: None,
                });
            }
            Param::Form {
                name,
                required,
                schema,
            } => form.push((name, required, schema)),
        }
    }
    if !form.is_empty() {
        if body.is_some() {
            return Err(format!(
                "{label}: `in: body` and `in: formData` parameters exclude each other"
            ));
        }
        body = Some(form_body(form, &consumes));
    }
    Ok(Operation {
        id,
        method: raw.method.clone(),
        path: raw.path.to_owned(),
        parameters,
        body,
    })
}

fn params(list: &[Value], refs: &Refs<'_>, label: &str) -> Result<Vec<Param>, String> {
    let mut out: Vec<Param> = Vec::with_capacity(list.len());
    for value in list {
        let param = param(
            refs.follow(value).map_err(|e| format!("{label}: {e}"))?,
            refs,
            label,
        )?;
        if out.iter().any(|p| p.key() == param.key()) {
            let (name, location) = param.key();
            return Err(format!(
                "{label}: parameter `{name}` (in: {location}) is declared twice"
            ));
        }
        out.push(param);
    }
    Ok(out)
}

fn param(value: &Value, refs: &Refs<'_>, label: &str) -> Result<Param, String> {
    let name = str_field(value, "name", label)?
        .ok_or_else(|| format!("{label}: a parameter has no `name`"))?;
    let context = format!("{label}: parameter `{name}`");
    let required = bool_field(value, "required", &context)?;
    let name = name.to_owned();
    let location = match str_field(value, "in", &context)? {
        Some("path") => ParamLocation::Path,
        Some("query") => ParamLocation::Query,
        Some("header") => ParamLocation::Header,
        Some("body") => {
            let schema = value
                .get("schema")
                .ok_or_else(|| format!("{context}: `in: body` needs a `schema`"))?;
            let schema = refs.schema(schema).map_err(|e| format!("{context}: {e}"))?;
            return Ok(Param::Body {
                name,
                required,
                schema,
            });
        }
        Some("formData") => {
            return Ok(Param::Form {
                name,
                required,
                schema: gather(value),
            });
        }
        Some(other) => {
            return Err(format!(
                "{context}: unsupported `in: {other}` (path, query, header, body, formData)"
            ));
        }
        None => return Err(format!("{context}: no `in`")),
    };
    Ok(Param::Plain(Parameter {
        name,
        location,
        required,
        schema: gather(value),
    }))
}

/// The JSON Schema spread over a non-body parameter's own fields.
fn gather(value: &Value) -> Value {
    let mut schema = Map::new();
    for field in SCHEMA_FIELDS {
        if let Some(v) = value.get(*field) {
            let v = if *field == "items" {
                gather(v)
            } else {
                v.clone()
            };
            schema.insert((*field).to_owned(), v);
        }
    }
    if schema.get("type").and_then(Value::as_str) == Some("file") {
        schema.insert("type".to_owned(), json!("string"));
        schema.insert("format".to_owned(), json!("binary"));
    }
    Value::Object(schema)
}

/// `formData` parameters as one object-shaped form body.
fn form_body(fields: Vec<(String, bool, Value)>, consumes: &[String]) -> RequestBody {
    let has_file = fields
        .iter()
        .any(|(_, _, s)| s.get("format") == Some(&json!("binary")));
    let mut content_types: Vec<String> = consumes
        .iter()
        .filter(|c| c.starts_with(FORM) || c.starts_with(MULTIPART))
        .cloned()
        .collect();
    if content_types.is_empty() {
        content_types.push(if has_file { MULTIPART } else { FORM }.to_owned());
    }
    let required_names: Vec<&str> = fields
        .iter()
        .filter(|f| f.1)
        .map(|f| f.0.as_str())
        .collect();
    let mut schema = json!({ "type": "object", "properties": {} });
    if !required_names.is_empty() {
        schema["required"] = json!(required_names);
    }
    let required = !required_names.is_empty();
    for (name, _, field) in fields {
        schema["properties"][name] = field;
    }
    // `consumes` decides which of the two form encodings a client may use;
    // the fields are the same in both.
    RequestBody {
        required,
        content_types,
        schema: None,
        urlencoded_schema: Some(schema.clone()),
        multipart_schema: Some(schema),
    }
}
