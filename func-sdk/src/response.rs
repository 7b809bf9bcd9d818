//! The response a handler returns, and what may stand in for one.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::abi::ResponseMeta;
use crate::{Error, Result};

const CONTENT_TYPE: &str = "content-type";

/// An HTTP response, built with chained calls:
/// `Response::new(201).header("location", "/pets/7").body("made")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub(crate) meta: ResponseMeta,
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// An empty response with this status. The host answers 502 for a
    /// status outside 100..=599.
    pub fn new(status: u16) -> Self {
        Self {
            meta: ResponseMeta {
                status,
                headers: Vec::new(),
            },
            body: Vec::new(),
        }
    }

    /// An empty 200.
    pub fn ok() -> Self {
        Self::new(200)
    }

    /// An empty 204.
    pub fn no_content() -> Self {
        Self::new(204)
    }

    /// A 200 with `value` as JSON. A value that cannot be serialized (a map
    /// with non-string keys) gives a 500 error response instead.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Self::ok()
                .header(CONTENT_TYPE, "application/json")
                .body(body),
            Err(e) => Error::internal(format!("response is not serializable: {e}")).into_response(),
        }
    }

    /// A 200 with `text` as `text/plain`.
    pub fn text(text: impl Into<String>) -> Self {
        Self::ok()
            .header(CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(text.into())
    }

    /// Changes the status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.meta.status = status;
        self
    }

    /// Adds a header; an earlier one of the same name is kept.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.meta.headers.push((name.into(), value.into()));
        self
    }

    /// Sets a header, replacing any of the same name.
    pub fn set_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.meta
            .headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
        self.header(name, value)
    }

    /// Replaces the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.meta.status
    }

    /// The first value of a header, the name compared case-insensitively.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        crate::abi::first_header(&self.meta.headers, name)
    }

    /// All headers in order.
    pub fn headers(&self) -> &[(String, String)] {
        &self.meta.headers
    }

    /// The body bytes.
    pub fn body_bytes(&self) -> &[u8] {
        &self.body
    }

    /// The body as UTF-8, for tests.
    pub fn body_text(&self) -> Result<&str> {
        Ok(std::str::from_utf8(&self.body)?)
    }

    /// The body parsed as JSON, for tests.
    pub fn body_json<T: DeserializeOwned>(&self) -> Result<T> {
        Ok(serde_json::from_slice(&self.body)?)
    }
}

/// Anything a handler may return.
pub trait IntoResponse {
    /// Turns the value into the response sent to the client.
    fn into_response(self) -> Response;
}

impl IntoResponse for Response {
    fn into_response(self) -> Response {
        self
    }
}

/// `text/plain`, 200.
impl IntoResponse for String {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

/// `text/plain`, 200.
impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        Response::text(self)
    }
}

/// `application/json`, 200.
impl IntoResponse for serde_json::Value {
    fn into_response(self) -> Response {
        Response::json(&self)
    }
}

/// `application/octet-stream`, 200.
impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        Response::ok()
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(self)
    }
}

/// `{"error": message}` with the error's status.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        Response::json(&serde_json::json!({ "error": self.message() })).with_status(self.status())
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(ok) => ok.into_response(),
            Err(err) => err.into_response(),
        }
    }
}
