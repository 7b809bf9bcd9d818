//! OpenAPI 3.1.x, read from the document's JSON: `servers[0].url`, `paths`,
//! parameters with a `schema`, `requestBody` with `content`; schemas are
//! JSON Schema 2020-12, keywords beside a `$ref` applying too. The server
//! URL and the request body are read the same way for OpenAPI 3.0
//! (`openapi30`, through the typed model).

use serde_json::Value;

use super::ApiSpec;
use super::common::{self, RawOperation, bool_field, str_field};
use super::refs::Refs;
use crate::bundle::{Operation, ParamLocation, Parameter, RequestBody};

pub(super) const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];
pub(super) const OTHER_KEYS: &[&str] = &["parameters", "$ref", "summary", "description", "servers"];

pub(super) fn parse(doc: &Value) -> Result<ApiSpec, String> {
    let refs = Refs::new(doc, true);
    let (host, base_path) = server(doc)?;
    let operations = common::operations(doc, &refs, METHODS, OTHER_KEYS)?
        .iter()
        .map(|raw| operation(raw, &refs))
        .collect::<Result<_, _>>()?;
    Ok(ApiSpec {
        host,
        base_path,
        operations,
    })
}

/// Host and base path from `servers[0].url`, variables at their defaults.
fn server(doc: &Value) -> Result<(Option<String>, String), String> {
    let Some(first) = doc
        .get("servers")
        .and_then(|s| s.as_array())
        .and_then(|s| s.first())
    else {
        return Ok((None, String::new()));
    };
    let template = str_field(first, "url", "servers[0]")?.ok_or("servers[0] has no `url`")?;
    let variables = first.get("variables");
    route(template, |name| {
        variables?.get(name)?.get("default")?.as_str()
    })
}

/// Host and base path from a server URL template whose variables take
/// the values `default_of` gives.
pub(super) fn route<'v>(
    template: &str,
    default_of: impl Fn(&str) -> Option<&'v str>,
) -> Result<(Option<String>, String), String> {
    let context = "servers[0]";
    let url = substitute(template, default_of)?;
    let (authority, path) = match url.split_once("://") {
        Some((_, rest)) => split_authority(rest),
        None => match url.strip_prefix("//") {
            Some(rest) => split_authority(rest),
            None => ("", url.as_str()),
        },
    };
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = common::normalize_host(host).map_err(|e| format!("{context}: {e}"))?;
    let base_path = common::normalize_base_path(path).map_err(|e| format!("{context}: {e}"))?;
    Ok((host, base_path))
}

fn split_authority(rest: &str) -> (&str, &str) {
    rest.find('/')
        .map_or((rest, ""), |slash| rest.split_at(slash))
}

/// `{name}` replaced by `variables.name.default`.
fn substitute<'v>(
    template: &str,
    default_of: impl Fn(&str) -> Option<&'v str>,
) -> Result<String, String> {
    let mut url = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("servers[0].url `{template}` has an unclosed `{{`"))?;
        let name = &rest[open + 1..open + close];
        let value = default_of(name).ok_or_else(|| {
            format!("servers[0].url `{template}`: variable `{name}` has no string `default`")
        })?;
        url.push_str(&rest[..open]);
        url.push_str(value);
        rest = &rest[open + close + 1..];
    }
    url.push_str(rest);
    Ok(url)
}

fn operation(raw: &RawOperation<'_>, refs: &Refs<'_>) -> Result<Operation, String> {
    let label = raw.label();
    let id = raw.id()?;
    let shared = params(raw.shared_params, refs, &label)?;
    let own = match raw.op.get("parameters") {
        None => Vec::new(),
        Some(Value::Array(list)) => params(list, refs, &label)?,
        Some(_) => return Err(format!("{label}: `parameters` must be a list")),
    };
    let parameters = common::merge(shared, own, |p| (p.name.clone(), p.location));
    let body = match raw.op.get("requestBody") {
        Some(body) => Some(request_body(
            refs.follow(body).map_err(|e| format!("{label}: {e}"))?,
            refs,
            &label,
        )?),
        None => None,
    };
    Ok(Operation {
        id,
        method: raw.method.clone(),
        path: raw.path.to_owned(),
        parameters,
        body,
    })
}

fn params(list: &[Value], refs: &Refs<'_>, label: &str) -> Result<Vec<Parameter>, String> {
    let mut out: Vec<Parameter> = Vec::with_capacity(list.len());
    for value in list {
        let param = param(
            refs.follow(value).map_err(|e| format!("{label}: {e}"))?,
            refs,
            label,
        )?;
        common::push_unique(&mut out, param, label)?;
    }
    Ok(out)
}

fn param(value: &Value, refs: &Refs<'_>, label: &str) -> Result<Parameter, String> {
    let name = str_field(value, "name", label)?
        .ok_or_else(|| format!("{label}: a parameter has no `name`"))?;
    let context = format!("{label}: parameter `{name}`");
    let location = match str_field(value, "in", &context)? {
        Some("path") => ParamLocation::Path,
        Some("query") => ParamLocation::Query,
        Some("header") => ParamLocation::Header,
        Some("cookie") => ParamLocation::Cookie,
        Some(other) => {
            return Err(format!(
                "{context}: unsupported `in: {other}` (path, query, header, cookie)"
            ));
        }
        None => return Err(format!("{context}: no `in`")),
    };
    // A parameter has a `schema`, or a `content` map with one media type.
    let schema = value.get("schema").or_else(|| {
        value
            .get("content")?
            .as_object()?
            .values()
            .next()?
            .get("schema")
    });
    let schema = match schema {
        Some(schema) => refs.schema(schema).map_err(|e| format!("{context}: {e}"))?,
        None => Value::Object(Default::default()),
    };
    let required = bool_field(value, "required", &context)?;
    Ok(Parameter {
        name: name.to_owned(),
        location,
        required,
        schema,
    })
}

fn request_body(body: &Value, refs: &Refs<'_>, label: &str) -> Result<RequestBody, String> {
    let context = format!("{label}: requestBody");
    let required = bool_field(body, "required", &context)?;
    let content = match body.get("content") {
        None => return body_of(required, Vec::new(), refs, &context),
        Some(Value::Object(content)) => content,
        Some(_) => {
            return Err(format!(
                "{context}: `content` must be a mapping of media types"
            ));
        }
    };
    let media = content
        .iter()
        .map(|(media, value)| (media.clone(), value.get("schema").cloned()))
        .collect();
    body_of(required, media, refs, &context)
}

/// A request body from its media types, each with its schema if it has one
/// (references still in it), in the document's order.
pub(super) fn body_of(
    required: bool,
    content: Vec<(String, Option<Value>)>,
    refs: &Refs<'_>,
    context: &str,
) -> Result<RequestBody, String> {
    let json = content
        .iter()
        .find(|(media, _)| essence(media) == "application/json")
        .or_else(|| {
            content
                .iter()
                .find(|(media, _)| essence(media).ends_with("+json"))
        });
    let schema = match json.and_then(|(_, schema)| schema.as_ref()) {
        Some(schema) => Some(refs.schema(schema).map_err(|e| format!("{context}: {e}"))?),
        None => None,
    };
    let form = |media_type: &str| -> Result<Option<Value>, String> {
        let schema = content
            .iter()
            .find(|(media, _)| essence(media) == media_type)
            .and_then(|(_, schema)| schema.as_ref());
        let Some(schema) = schema else {
            return Ok(None);
        };
        let schema = refs.schema(schema).map_err(|e| format!("{context}: {e}"))?;
        Ok(describes_fields(&schema).then_some(schema))
    };
    Ok(RequestBody {
        required,
        content_types: content.iter().map(|(media, _)| media.clone()).collect(),
        schema,
        urlencoded_schema: form("application/x-www-form-urlencoded")?,
        multipart_schema: form("multipart/form-data")?,
    })
}

/// Whether a form's schema is an object's (or names no type): a form is a
/// set of named fields, so no other schema can describe one.
fn describes_fields(schema: &Value) -> bool {
    match schema.get("type") {
        None => true,
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
        Some(_) => false,
    }
}

/// `application/json` of `Application/JSON; charset=utf-8`.
fn essence(media: &str) -> String {
    media
        .split(';')
        .next()
        .unwrap_or(media)
        .trim()
        .to_ascii_lowercase()
}
