//! The API description: Swagger 2.0 or OpenAPI 3.0/3.1, YAML or JSON, read
//! into the routing facts and the [`Operation`]s of a bundle.
//!
//! The text becomes one `serde_json::Value` first (`syntax`), so both
//! formats share one reader. OpenAPI 3.0 is read into `openapiv3`'s typed
//! model (`openapi30`); Swagger 2.0 (`swagger2`) and OpenAPI 3.1
//! (`openapi3`), which that model does not cover, are read from the JSON.
//! Each resolves local `$ref`s (`refs`) and shares helpers (`common`);
//! `strict` refuses what would switch checks off unnoticed, and `checks`
//! holds the rules that span the whole document.
//! Before that, `${VAR}` references in the routing fields are filled in
//! (`env`).

mod checks;
mod common;
mod env;
mod openapi3;
mod openapi30;
mod refs;
mod served;
mod strict;
mod swagger2;
mod syntax;

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::{BundleError, Operation, Result, Vars};
use openapi30::Failure;

pub use served::served_document;
pub(crate) use syntax::line_column;

/// What an API description says about routing and operations.
#[derive(Debug, Clone, Serialize)]
pub struct ApiSpec {
    /// The host served, port stripped, lower case; `None` for any host.
    pub host: Option<String>,
    /// `""` or `/seg/seg`: a leading slash, no trailing one.
    pub base_path: String,
    /// The operations, sorted by path, each path's in the order get, put,
    /// post, delete, options, head, patch, trace.
    pub operations: Vec<Operation>,
}

/// Reads and validates the API description at `path`.
pub fn read_spec(path: &Path) -> Result<ApiSpec> {
    let text = std::fs::read_to_string(path).map_err(|source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_spec(path, &text)
}

/// Parses and validates `text`, an API description read from `path`
/// (`.json` is read as JSON, anything else as YAML), with `${VAR}`s read
/// from the process environment. Errors name `path`.
pub fn parse_spec(path: &Path, text: &str) -> Result<ApiSpec> {
    parse_spec_with(path, text, &mut Vars::from_env())
}

/// [`parse_spec`] with `${VAR}`s in `host`, `basePath` and `servers[].url`
/// read from `vars`.
pub fn parse_spec_with(path: &Path, text: &str, vars: &mut Vars) -> Result<ApiSpec> {
    let invalid = |message| BundleError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let mut doc = syntax::parse_document(path, text)?;
    env::fill_routing(&mut doc, vars).map_err(invalid)?;
    let parsed = match dialect_parse(&doc) {
        Err(Failure::Spec(message)) => return Err(invalid(message)),
        parsed => parsed,
    };
    // Before a document the typed model does not hold is refused: the
    // strict checks name its problems better where they find them (a
    // keyword's typo, say, rather than the schema that holds it).
    if let Some(dialect) = dialect_of(&doc) {
        strict::errors(&doc, dialect, text).map_err(invalid)?;
    }
    parsed.map_err(|failure| invalid(with_line(failure.into_message(), text)))
}

/// `message` with the line of the place it starts with, when it starts
/// with a JSON pointer (`/paths/~1pets/get: ...`) that `text` shows.
fn with_line(message: String, text: &str) -> String {
    let Some((pointer, _)) = message.split_once(": ").filter(|(p, _)| p.starts_with('/')) else {
        return message;
    };
    let pointer = if pointer == "/" { "" } else { pointer };
    match strict::line_of(text, pointer) {
        Some(line) => format!("line {line}: {message}"),
        None => message,
    }
}

/// The rules a document parsed by [`dialect_parse`] follows.
fn dialect_of(doc: &Value) -> Option<strict::Dialect> {
    if doc.get("swagger").is_some() {
        return Some(strict::Dialect::Swagger2);
    }
    match openapi_minor(doc.get("openapi")?.as_str()?)? {
        0 => Some(strict::Dialect::OpenApi30),
        _ => Some(strict::Dialect::OpenApi31),
    }
}

fn dialect_parse(doc: &Value) -> Result<ApiSpec, Failure> {
    const READS: &str = "funcmesh reads Swagger 2.0 and OpenAPI 3.0.x/3.1.x";
    if !doc.is_object() {
        return Err(
            format!("not an API description: the document is not a mapping ({READS})").into(),
        );
    }
    let spec = match (doc.get("swagger"), doc.get("openapi")) {
        (Some(_), Some(_)) => {
            return Err("has both `swagger` and `openapi`; keep one"
                .to_owned()
                .into());
        }
        (Some(version), None) if version == "2.0" || version.as_f64() == Some(2.0) => {
            swagger2::parse(doc)?
        }
        (Some(version), None) => {
            return Err(format!("unsupported `swagger: {version}` ({READS})").into());
        }
        (None, Some(Value::String(version))) => match openapi_minor(version) {
            Some(0) => openapi30::parse(doc)?,
            Some(_) => openapi3::parse(doc)?,
            None => return Err(format!("unsupported `openapi: {version}` ({READS})").into()),
        },
        (None, Some(version)) => {
            return Err(format!(
                "`openapi: {version}` must be a string such as \"3.0.3\" (quote it)"
            )
            .into());
        }
        (None, None) => {
            return Err(format!("no `swagger` or `openapi` version field ({READS})").into());
        }
    };
    for op in &spec.operations {
        checks::check_path_params(op)?;
    }
    checks::check_unique(&spec.operations)?;
    Ok(spec)
}

/// 0 for `3.0.x`, 1 for `3.1.x`.
fn openapi_minor(version: &str) -> Option<u32> {
    let mut parts = version.splitn(3, '.');
    let (major, minor, patch) = (parts.next()?, parts.next()?, parts.next()?);
    let patch_ok = !patch.is_empty() && patch.bytes().all(|b| b.is_ascii_digit());
    match (major, minor) {
        ("3", "0") if patch_ok => Some(0),
        ("3", "1") if patch_ok => Some(1),
        _ => None,
    }
}
