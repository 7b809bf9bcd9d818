//! Turning replies and the gateway's own answers into HTTP responses.

use bytes::Bytes;
use funcmesh_core::{Body, ResponseEnvelope};
use http::header::{self, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

use crate::ResponseBody;
use crate::error::Error;
use crate::inbound::is_hop_by_hop;

/// The request id, on every answer.
pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The first 12 hex digits of the bundle that answered.
pub(crate) const X_FUNCMESH_BUNDLE: HeaderName = HeaderName::from_static("x-funcmesh-bundle");

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// The HTTP answer for a reply envelope: its status, headers and body, plus
/// `x-request-id` and `x-funcmesh-bundle`.
pub(crate) fn from_envelope(
    reply: ResponseEnvelope,
    request_id: &str,
) -> Result<Response<ResponseBody>, Error> {
    // An interim (1xx) status cannot end an exchange: it is no answer.
    let status = StatusCode::from_u16(reply.status)
        .ok()
        .filter(|status| !status.is_informational())
        .ok_or_else(|| {
            Error::BadReply(format!(
                "status {} is not a final HTTP status (200 to 599)",
                reply.status
            ))
        })?;
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.reserve(reply.headers.len() + 2);
    for (name, value) in &reply.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) else {
            tracing::debug!(request_id, header = %name, "reply header not valid in HTTP; dropped");
            continue;
        };
        // hyper frames the body itself; the Func's framing does not apply
        // here. `x-funcmesh-bundle` is the mesh's to say, never a Func's.
        if name != header::CONTENT_LENGTH
            && name != X_FUNCMESH_BUNDLE
            && !is_hop_by_hop(name.as_str())
        {
            headers.append(name, value);
        }
    }
    // The envelope says the body is JSON even when the Func did not.
    if matches!(reply.body, Body::Json(_)) && !headers.contains_key(header::CONTENT_TYPE) {
        headers.insert(header::CONTENT_TYPE, APPLICATION_JSON);
    }
    set_request_id(headers, request_id);
    if let Some(value) = reply
        .bundle
        .as_deref()
        .and_then(|hash| HeaderValue::from_str(short_hash(hash)).ok())
    {
        headers.insert(X_FUNCMESH_BUNDLE, value);
    }
    *response.body_mut() = Full::new(into_bytes(reply.body));
    Ok(response)
}

pub(crate) use funcmesh_core::bundle::short_hash;

/// The body's bytes without copying them.
fn into_bytes(body: Body) -> Bytes {
    match body {
        Body::Empty => Bytes::new(),
        Body::Json(raw) => Bytes::from(Box::<str>::from(raw).into_boxed_bytes()),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => bytes,
    }
}

/// A JSON answer of the gateway's own.
pub(crate) fn json(
    status: StatusCode,
    value: &impl Serialize,
    request_id: Option<&str>,
) -> Response<ResponseBody> {
    // Serializing plain structs and route tables into memory cannot fail.
    let body = serde_json::to_vec(value).unwrap_or_default();
    json_bytes(status, Bytes::from(body), request_id)
}

/// An answer with a body that is JSON already.
pub(crate) fn json_bytes(
    status: StatusCode,
    body: Bytes,
    request_id: Option<&str>,
) -> Response<ResponseBody> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, APPLICATION_JSON);
    if let Some(id) = request_id {
        set_request_id(response.headers_mut(), id);
    }
    response
}

/// `{"error": message, "request_id": id}`.
pub(crate) fn json_error(
    status: StatusCode,
    message: &str,
    request_id: &str,
) -> Response<ResponseBody> {
    #[derive(Serialize)]
    struct ErrorBody<'a> {
        error: &'a str,
        request_id: &'a str,
    }
    json(
        status,
        &ErrorBody {
            error: message,
            request_id,
        },
        Some(request_id),
    )
}

/// 202 for a fire-and-forget request: `{"request_id": id}`.
pub(crate) fn accepted(request_id: &str) -> Response<ResponseBody> {
    #[derive(Serialize)]
    struct Accepted<'a> {
        request_id: &'a str,
    }
    let mut response = json(
        StatusCode::ACCEPTED,
        &Accepted { request_id },
        Some(request_id),
    );
    response.headers_mut().insert(
        "preference-applied",
        HeaderValue::from_static("respond-async"),
    );
    response
}

fn set_request_id(headers: &mut http::HeaderMap, request_id: &str) {
    // Ids are visible ASCII by construction, so this never skips in practice.
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert(X_REQUEST_ID, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_headers_pass_except_framing_and_hop_by_hop() {
        let mut reply = ResponseEnvelope::new("r1", 201);
        reply.headers = vec![
            ("Set-Cookie".into(), "a=1".into()),
            ("set-cookie".into(), "b=2".into()),
            ("content-length".into(), "999".into()),
            ("connection".into(), "close".into()),
            ("bad name".into(), "x".into()),
        ];
        reply.body = Body::Text("hello".into());
        reply.bundle = Some("0123456789abcdef0123".into());
        let response = from_envelope(reply, "r1").unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert!(response.headers().get("content-length").is_none());
        assert!(response.headers().get("connection").is_none());
        assert_eq!(response.headers()["x-request-id"], "r1");
        assert_eq!(response.headers()["x-funcmesh-bundle"], "0123456789ab");
    }

    #[test]
    fn a_func_never_names_the_answering_bundle_itself() {
        let mut reply = ResponseEnvelope::new("r1", 200);
        reply.headers = vec![("X-Funcmesh-Bundle".into(), "forged".into())];
        let response = from_envelope(reply.clone(), "r1").unwrap();
        assert!(response.headers().get("x-funcmesh-bundle").is_none());
        reply.bundle = Some("0123456789abcdef0123".into());
        let response = from_envelope(reply, "r1").unwrap();
        let named: Vec<_> = response
            .headers()
            .get_all("x-funcmesh-bundle")
            .iter()
            .collect();
        assert_eq!(named, ["0123456789ab"]);
    }

    #[test]
    fn an_invalid_or_interim_status_is_a_bad_reply() {
        for status in [1000, 100, 101, 103, 99] {
            let reply = ResponseEnvelope::new("r1", status);
            assert!(
                matches!(from_envelope(reply, "r1"), Err(Error::BadReply(_))),
                "{status}"
            );
        }
    }

    #[test]
    fn json_bodies_get_a_content_type_when_the_func_gave_none() {
        let mut reply = ResponseEnvelope::new("r1", 200);
        reply.body = Body::json_value(&serde_json::json!({"a": 1}));
        let response = from_envelope(reply, "r1").unwrap();
        assert_eq!(response.headers()["content-type"], "application/json");
    }
}
