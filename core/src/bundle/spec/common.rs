//! What Swagger 2.0 and OpenAPI 3.x share: walking `paths`, reading
//! fields, host and basePath normalization.

use serde_json::Value;

use super::refs::Refs;
use crate::bundle::Parameter;

/// One operation of `paths`, before its dialect reads it.
pub(super) struct RawOperation<'a> {
    /// Upper case.
    pub method: String,
    pub path: &'a str,
    pub op: &'a Value,
    /// The path item's `parameters`.
    pub shared_params: &'a [Value],
}

impl RawOperation<'_> {
    /// `GET /pets`, for messages.
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The `operationId`, required.
    pub fn id(&self) -> Result<String, String> {
        let label = self.label();
        operation_id(str_field(self.op, "operationId", &label)?, &label)
    }
}

/// An operation's `operationId`, which it must have: it names the function.
pub(super) fn operation_id(id: Option<&str>, label: &str) -> Result<String, String> {
    match id {
        Some(id) if !id.trim().is_empty() => Ok(id.to_owned()),
        _ => Err(format!(
            "{label} has no operationId (it names the function that handles it)"
        )),
    }
}

/// The operations of `doc.paths`, path items' `$ref`s followed. `methods`
/// are the lower-case keys the dialect allows; `others` its other keys.
pub(super) fn operations<'a>(
    doc: &'a Value,
    refs: &Refs<'a>,
    methods: &[&str],
    others: &[&str],
) -> Result<Vec<RawOperation<'a>>, String> {
    let Some(paths) = doc.get("paths") else {
        return Ok(Vec::new());
    };
    let paths = paths.as_object().ok_or("`paths` must be a mapping")?;
    let mut out = Vec::new();
    for (path, item) in paths.iter().filter(|(p, _)| !p.starts_with("x-")) {
        check_path(path)?;
        let item = refs
            .follow(item)
            .map_err(|e| format!("path `{path}`: {e}"))?;
        let item = item
            .as_object()
            .ok_or_else(|| format!("path `{path}` must be a mapping"))?;
        check_path_item_keys(path, item, methods, others)?;
        let shared_params = match item.get("parameters") {
            None => &[][..],
            Some(Value::Array(list)) => list.as_slice(),
            Some(_) => return Err(format!("path `{path}`: `parameters` must be a list")),
        };
        for method in methods {
            if let Some(op) = item.get(*method) {
                out.push(RawOperation {
                    method: method.to_uppercase(),
                    path,
                    op,
                    shared_params,
                });
            }
        }
    }
    Ok(out)
}

/// A key of `paths` is a path: it starts with `/` and holds no query or
/// fragment.
pub(super) fn check_path(path: &str) -> Result<(), String> {
    match path.starts_with('/') && !path.contains(['?', '#']) {
        true => Ok(()),
        false => Err(format!(
            "path `{path}` must start with `/` and hold no `?` or `#`"
        )),
    }
}

/// A path item's keys are its dialect's (`methods` and `others`) or
/// vendor extensions: `GET` for `get` is an error, not an operation
/// quietly left out.
pub(super) fn check_path_item_keys(
    path: &str,
    item: &serde_json::Map<String, Value>,
    methods: &[&str],
    others: &[&str],
) -> Result<(), String> {
    match item.keys().find(|k| {
        !k.starts_with("x-") && !methods.contains(&k.as_str()) && !others.contains(&k.as_str())
    }) {
        Some(key) => Err(format!(
            "path `{path}`: unknown key `{key}` (methods are lower case: {})",
            methods.join(", ")
        )),
        None => Ok(()),
    }
}

/// Adds `param` to an operation's (or a path's) parameters, which may
/// declare one name in one place only once.
pub(super) fn push_unique(
    out: &mut Vec<Parameter>,
    param: Parameter,
    label: &str,
) -> Result<(), String> {
    if out
        .iter()
        .any(|p| p.name == param.name && p.location == param.location)
    {
        return Err(format!(
            "{label}: parameter `{}` is declared twice",
            param.name
        ));
    }
    out.push(param);
    Ok(())
}

/// Path-level parameters with the operation's own merged in: an
/// operation-level one replaces a path-level one of the same `key`.
pub(super) fn merge<T, K: PartialEq>(shared: Vec<T>, own: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut merged = shared;
    for param in own {
        match merged.iter().position(|p| key(p) == key(&param)) {
            Some(i) => merged[i] = param,
            None => merged.push(param),
        }
    }
    merged
}

/// The string at `key`, if any; another type is an error naming `context`.
pub(super) fn str_field<'a>(
    obj: &'a Value,
    key: &str,
    context: &str,
) -> Result<Option<&'a str>, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{context}: `{key}` must be a string")),
    }
}

/// The boolean at `key`, `false` when absent.
pub(super) fn bool_field(obj: &Value, key: &str, context: &str) -> Result<bool, String> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(format!("{context}: `{key}` must be true or false")),
    }
}

/// A list of strings (`consumes`), `None` when absent.
pub(super) fn string_list(
    obj: &Value,
    key: &str,
    context: &str,
) -> Result<Option<Vec<String>>, String> {
    let Some(value) = obj.get(key) else {
        return Ok(None);
    };
    let strings = value.as_array().and_then(|list| {
        list.iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
    });
    strings
        .map(Some)
        .ok_or_else(|| format!("{context}: `{key}` must be a list of strings"))
}

/// `""` or `/seg/seg`: a leading slash, no trailing one.
pub(super) fn normalize_base_path(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    if trimmed.contains(['?', '#', '{', '}']) || trimmed.chars().any(char::is_whitespace) {
        return Err(format!(
            "basePath `{raw}` must be a plain path (no `?`, `#`, `{{}}` or spaces)"
        ));
    }
    let path = if trimmed.starts_with('/') {
        trimmed.to_owned()
    } else {
        format!("/{trimmed}")
    };
    if path.contains("//") {
        return Err(format!("basePath `{raw}` has an empty segment"));
    }
    Ok(path)
}

/// A host without its port, lower case; `None` for any host.
pub(super) fn normalize_host(raw: &str) -> Result<Option<String>, String> {
    let host = raw.trim();
    if host.contains(['/', '?', '#', '@']) || host.chars().any(char::is_whitespace) {
        return Err(format!(
            "host `{raw}` must be a host name, without scheme or path"
        ));
    }
    // `[::1]:8080` keeps its brackets; `example.com:8080` loses its port.
    let without_port = match host.rfind(':') {
        Some(colon) if !host[colon..].contains(']') => &host[..colon],
        _ => host,
    };
    Ok((!without_port.is_empty()).then(|| without_port.to_ascii_lowercase()))
}
