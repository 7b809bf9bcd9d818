//! The request a handler receives.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::str::FromStr;

use serde::de::DeserializeOwned;

use crate::abi::RequestMeta;
use crate::{Error, Result};

/// One HTTP request, as matched to an operation by the runner.
#[derive(Debug, Clone)]
pub struct Request {
    meta: RequestMeta,
    // Borrowed on wasm32, where the input buffer is never freed, so that the
    // body is not copied; owned when built natively.
    body: Cow<'static, [u8]>,
}

impl Request {
    pub(crate) fn from_parts(meta: RequestMeta, body: Cow<'static, [u8]>) -> Self {
        Self { meta, body }
    }

    /// The request id; put it in log lines about this request.
    pub fn request_id(&self) -> &str {
        &self.meta.request_id
    }

    /// The `operationId` the runner matched.
    pub fn operation_id(&self) -> &str {
        &self.meta.operation_id
    }

    /// The HTTP method, upper case.
    pub fn method(&self) -> &str {
        &self.meta.method
    }

    /// The full path the client sent, basePath included, without the query.
    pub fn path(&self) -> &str {
        &self.meta.path
    }

    /// The bundle's basePath.
    pub fn base_path(&self) -> &str {
        &self.meta.base_path
    }

    /// A path template parameter (`/pets/{petId}` → `param("petId")`).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.meta.path_params.get(name).map(String::as_str)
    }

    /// A path parameter parsed as `T`; missing or unparsable is a 400.
    pub fn param_as<T: FromStr>(&self, name: &str) -> Result<T> {
        let raw = self
            .param(name)
            .ok_or_else(|| Error::bad_request(format!("missing path parameter `{name}`")))?;
        parse_param("path parameter", name, raw)
    }

    /// All path parameters.
    pub fn params(&self) -> &BTreeMap<String, String> {
        &self.meta.path_params
    }

    /// The first value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query_all(name).next()
    }

    /// The first value of a query parameter parsed as `T`, if present; an
    /// unparsable value is a 400.
    pub fn query_as<T: FromStr>(&self, name: &str) -> Result<Option<T>> {
        self.query(name)
            .map(|raw| parse_param("query parameter", name, raw))
            .transpose()
    }

    /// Every value of a repeated query parameter, in order.
    pub fn query_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> {
        self.meta
            .query
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a header, the name compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::abi::first_header(&self.meta.headers, name)
    }

    /// All headers in order, names lower case, repeats kept.
    pub fn headers(&self) -> &[(String, String)] {
        &self.meta.headers
    }

    /// The raw body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as UTF-8; anything else is a 400.
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.body)
            .map_err(|e| Error::bad_request(format!("request body is not UTF-8: {e}")))
    }

    /// The body parsed as JSON; invalid JSON or the wrong shape is a 400.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::bad_request(format!("invalid JSON body: {e}")))
    }

    /// Everything the host sent besides the body.
    pub fn meta(&self) -> &RequestMeta {
        &self.meta
    }
}

fn parse_param<T: FromStr>(kind: &str, name: &str, raw: &str) -> Result<T> {
    raw.parse()
        .map_err(|_| Error::bad_request(format!("{kind} `{name}` has an invalid value `{raw}`")))
}
