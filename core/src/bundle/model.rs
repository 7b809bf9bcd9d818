use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::Manifest;

/// A loaded, validated Func bundle. Immutable: a changed bundle is a new
/// `Bundle` with a new hash.
#[derive(Debug, Clone, Serialize)]
pub struct Bundle {
    /// Hex SHA-256 over the bundle's files in a stable order: its identity.
    pub hash: String,
    /// A human name (the directory's name).
    pub name: String,
    /// Where it was loaded from.
    pub dir: PathBuf,
    /// The API description file.
    pub spec_file: PathBuf,
    /// The host it serves: exact (`api.example.com`), a wildcard
    /// (`*.example.com`), or `None` for any host.
    pub host: Option<String>,
    /// The path prefix it serves: `""` or `/seg/seg`, no trailing slash.
    pub base_path: String,
    /// Its operations.
    pub operations: Vec<Operation>,
    /// Limits and environment.
    pub manifest: Manifest,
    /// The code that implements the operations.
    #[serde(skip)]
    pub code: Code,
}

impl Bundle {
    /// The first 12 hex digits of the hash, for logs.
    pub fn short_hash(&self) -> &str {
        short_hash(&self.hash)
    }
}

/// The first 12 characters of a bundle hash, as headers, logs and metrics
/// name a version.
pub fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// The code of a bundle.
#[derive(Debug, Clone)]
pub enum Code {
    /// A WebAssembly module (wasm32-wasip1, funcmesh guest ABI v1).
    Wasm {
        /// The file it came from.
        path: PathBuf,
        /// Its bytes.
        bytes: Arc<[u8]>,
    },
    /// Python sources in the bundle directory, dependencies in its `lib/`.
    Python {
        /// The modules the operations name, to import when the bundle is
        /// installed.
        modules: Vec<String>,
    },
}

/// One operation of the API description.
#[derive(Debug, Clone, Serialize)]
pub struct Operation {
    /// The `operationId`: the handler's name.
    pub id: String,
    /// The HTTP method, upper case.
    pub method: String,
    /// The path template below the base path, e.g. `/pets/{petId}`.
    pub path: String,
    /// Declared parameters (path-level ones merged in, operation-level win).
    pub parameters: Vec<Parameter>,
    /// The declared request body, if any.
    pub body: Option<RequestBody>,
}

/// Where a parameter comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamLocation {
    /// A `{name}` segment of the path template.
    Path,
    /// The query string.
    Query,
    /// A request header.
    Header,
    /// A cookie.
    Cookie,
}

impl ParamLocation {
    /// The name of the location as the API description writes it (`in:`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ParamLocation::Path => "path",
            ParamLocation::Query => "query",
            ParamLocation::Header => "header",
            ParamLocation::Cookie => "cookie",
        }
    }
}

/// A declared parameter.
#[derive(Debug, Clone, Serialize)]
pub struct Parameter {
    /// Its name.
    pub name: String,
    /// Where it is read from.
    #[serde(rename = "in")]
    pub location: ParamLocation,
    /// Whether a request without it is rejected.
    pub required: bool,
    /// Its JSON Schema, `$ref`s resolved (Swagger 2.0's inline `type`,
    /// `enum`, `minimum`... are gathered into one).
    pub schema: serde_json::Value,
}

/// A declared request body.
#[derive(Debug, Clone, Serialize)]
pub struct RequestBody {
    /// Whether a request without a body is rejected.
    pub required: bool,
    /// Accepted media types (e.g. `application/json`); empty means any.
    pub content_types: Vec<String>,
    /// The JSON Schema of a JSON body, `$ref`s resolved.
    pub schema: Option<serde_json::Value>,
    /// The schema of an `application/x-www-form-urlencoded` body: an object
    /// whose properties are the form's fields (Swagger 2.0's `in: formData`
    /// parameters, or OpenAPI 3's schema for that media type).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urlencoded_schema: Option<serde_json::Value>,
    /// The same for a `multipart/form-data` body; a file field is a string
    /// of format `binary`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multipart_schema: Option<serde_json::Value>,
}

impl RequestBody {
    /// Every schema of the body, whatever its media type.
    pub fn schemas(&self) -> impl Iterator<Item = &serde_json::Value> {
        [
            &self.schema,
            &self.urlencoded_schema,
            &self.multipart_schema,
        ]
        .into_iter()
        .flatten()
    }
}
