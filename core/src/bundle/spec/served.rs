//! A bundle's API description as the gateway serves it
//! (`GET /__openapi/NAME`): the author's document, with where it is served
//! written in (the route the bundle was given, `${VAR}`s filled in), so that
//! Swagger UI or a client generator pointed at it calls this mesh.

use std::path::Path;

use serde_json::{Value, json};

use super::syntax;
use crate::bundle::{Bundle, BundleError, Result};

/// The document of `bundle`, read from its spec file, as served to a client
/// that asked over `scheme` (`http` or `https`): OpenAPI 3's `servers` (or
/// Swagger 2.0's `host`, `basePath` and `schemes`) name the bundle's route,
/// and `x-funcmesh-bundle` its content hash. Blocking (it reads the file).
pub fn served_document(bundle: &Bundle, scheme: &str) -> Result<Value> {
    let path: &Path = &bundle.spec_file;
    let text = std::fs::read_to_string(path).map_err(|source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut doc = syntax::parse_document(path, &text)?;
    let Some(object) = doc.as_object_mut() else {
        return Err(BundleError::Invalid {
            path: path.to_path_buf(),
            message: "the document is not an object".into(),
        });
    };
    // A host the route names exactly is where a client must go; a wildcard
    // or none means any host this gateway answers, so the URL stays
    // relative to wherever the document was fetched from.
    let exact_host = bundle
        .host
        .as_deref()
        .filter(|host| !host.starts_with("*."));
    let base = match bundle.base_path.as_str() {
        "" => "/",
        base => base,
    };
    if object.contains_key("swagger") {
        match exact_host {
            Some(host) => object.insert("host".into(), json!(host)),
            None => object.remove("host"),
        };
        object.insert("basePath".into(), json!(base));
        object.insert("schemes".into(), json!([scheme]));
    } else {
        let url = match exact_host {
            Some(host) => format!("{scheme}://{host}{}", bundle.base_path),
            None => base.to_owned(),
        };
        object.insert("servers".into(), json!([{ "url": url }]));
    }
    object.insert("x-funcmesh-bundle".into(), json!(bundle.hash));
    Ok(doc)
}
