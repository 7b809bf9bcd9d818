//! Responses of the admin listener: JSON, errors as `{"error": ...}`.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

use super::Reply;

/// The header naming a pack's hash, on downloads and uploads.
pub(super) const BUNDLE_HASH: HeaderName = HeaderName::from_static("x-bundle-hash");
/// The content type of a pack.
pub(super) const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");
/// The `WWW-Authenticate` challenge of a 401.
pub(super) const BEARER_CHALLENGE: HeaderValue =
    HeaderValue::from_static("Bearer realm=\"funcmesh admin\"");
const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// `value` as JSON with `status`.
pub(super) fn json(status: StatusCode, value: &impl Serialize) -> Reply {
    match serde_json::to_vec(value) {
        Ok(body) => with_type(status, Bytes::from(body)),
        Err(error) => {
            tracing::warn!(%error, "encoding an admin response failed");
            with_type(
                StatusCode::INTERNAL_SERVER_ERROR,
                Bytes::from_static(b"{\"error\":\"encoding failed\"}"),
            )
        }
    }
}

/// `{"error": message}` with `status`.
pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Reply {
    json(status, &serde_json::json!({ "error": message.into() }))
}

fn with_type(status: StatusCode, body: Bytes) -> Reply {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, JSON);
    response
}

/// An error answer, rendered by [`Refusal::reply`].
pub(super) struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    pub(super) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// The same refusal with its message passed through `edit`.
    pub(super) fn edit(self, edit: impl FnOnce(&str) -> String) -> Self {
        Self {
            message: edit(&self.message),
            ..self
        }
    }

    pub(super) fn reply(self) -> Reply {
        error(self.status, self.message)
    }
}
