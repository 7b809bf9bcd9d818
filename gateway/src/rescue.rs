//! The one place where a gateway error becomes an HTTP answer.
//!
//! Answers from the tron or a runner (404 for an unknown route, a Func's own
//! 500, ...) arrive as complete response envelopes and never come here.

use std::borrow::Cow;
use std::error::Error as StdError;

use funcmesh_bus::Error as BusError;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::LengthLimitError;

use crate::ResponseBody;
use crate::error::Error;
use crate::outbound;

/// What the client is told.
struct Rescued {
    status: StatusCode,
    message: Cow<'static, str>,
    retry_after: bool,
}

impl Rescued {
    fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: false,
        }
    }

    fn retry_later(mut self) -> Self {
        self.retry_after = true;
        self
    }
}

/// Maps any error of the request path to a status and a JSON body
/// `{"error": "...", "request_id": "..."}`, walking the error's `source`
/// chain for the first cause it knows (an `anyhow::Error` passes itself with
/// `error.as_ref()`):
///
/// | cause | status |
/// | --- | --- |
/// | body over the limit | 413 |
/// | body not sent in time | 408 |
/// | malformed request | 400 |
/// | bus queue full, too many in flight | 503 with `Retry-After: 1` |
/// | bus unavailable, closed, queue missing | 503 |
/// | deadline passed | 504 |
/// | anything else | 502 |
pub fn rescue(error: &(dyn StdError + 'static), request_id: &str) -> Response<ResponseBody> {
    let rescued = classify(error);
    let mut response = outbound::json_error(rescued.status, &rescued.message, request_id);
    if rescued.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

fn classify(error: &(dyn StdError + 'static)) -> Rescued {
    for cause in chain(error) {
        if let Some(known) = cause.downcast_ref::<Error>().and_then(from_gateway) {
            return known;
        }
        if let Some(bus) = cause.downcast_ref::<BusError>() {
            return from_bus(bus);
        }
        if cause.is::<LengthLimitError>() {
            return Rescued::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
        }
    }
    Rescued::new(StatusCode::BAD_GATEWAY, format!("bad gateway: {error}"))
}

fn chain<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| e.source())
}

/// `None`: a wrapper whose source says more.
fn from_gateway(error: &Error) -> Option<Rescued> {
    let rescued = match error {
        Error::BodyTooLarge { .. } => {
            Rescued::new(StatusCode::PAYLOAD_TOO_LARGE, error.to_string())
        }
        Error::BodyTimeout { .. } => Rescued::new(StatusCode::REQUEST_TIMEOUT, error.to_string()),
        Error::ReadBody(source) => match chain(source.as_ref()).any(|e| e.is::<LengthLimitError>())
        {
            true => Rescued::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large"),
            false => Rescued::new(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            ),
        },
        Error::BadRequest(_) => Rescued::new(StatusCode::BAD_REQUEST, error.to_string()),
        Error::Timeout { .. } => Rescued::new(StatusCode::GATEWAY_TIMEOUT, error.to_string()),
        Error::Overloaded { .. } => Rescued::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("overloaded: {error}"),
        )
        .retry_later(),
        Error::ReplyLost | Error::BadReply(_) => {
            Rescued::new(StatusCode::BAD_GATEWAY, error.to_string())
        }
        Error::Publish { .. } | Error::Setup { .. } | Error::Config(_) => return None,
    };
    Some(rescued)
}

fn from_bus(error: &BusError) -> Rescued {
    match error {
        BusError::QueueFull { .. } => Rescued::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded: the request queue is full",
        )
        .retry_later(),
        BusError::Unavailable(_) | BusError::Closed => Rescued::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the message bus is unavailable",
        ),
        // The queue appears when its consumer starts: a mesh still coming up.
        BusError::UnknownQueue(_) => Rescued::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no service behind this route yet",
        ),
        // Sending it again would be refused again: the client hears at once.
        BusError::Refused(_) => {
            Rescued::new(StatusCode::BAD_GATEWAY, format!("bad gateway: {error}"))
        }
        BusError::UnsupportedScheme(_) | BusError::InvalidUrl(_) => {
            Rescued::new(StatusCode::BAD_GATEWAY, format!("bad gateway: {error}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full, Limited};

    use super::*;

    async fn answer(
        error: &(dyn StdError + 'static),
    ) -> (StatusCode, http::HeaderMap, serde_json::Value) {
        let response = rescue(error, "req-1");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (
            parts.status,
            parts.headers,
            serde_json::from_slice(&body).unwrap(),
        )
    }

    #[tokio::test]
    async fn queue_full_deep_in_an_anyhow_chain_is_503_with_retry_after() {
        let error = anyhow::Error::new(Error::Publish {
            queue: "funcmesh.firehose".into(),
            source: BusError::QueueFull {
                queue: "funcmesh.firehose".into(),
                limit: 1,
            },
        })
        .context("forwarding");
        let (status, headers, body) = answer(error.as_ref()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers[header::RETRY_AFTER], "1");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(body["request_id"], "req-1");
        assert!(body["error"].as_str().unwrap().contains("full"));
    }

    #[tokio::test]
    async fn each_cause_has_its_status() {
        let limited = Limited::new(Full::new(Bytes::from_static(b"12")), 1)
            .collect()
            .await
            .unwrap_err();
        let cases: Vec<(Box<dyn StdError + Send + Sync>, StatusCode)> = vec![
            (
                Box::new(Error::BodyTooLarge { limit: 10 }),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                Box::new(Error::ReadBody(limited)),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                Box::new(Error::BadRequest("unparsable Host header")),
                StatusCode::BAD_REQUEST,
            ),
            (
                Box::new(Error::Timeout {
                    timeout: Duration::from_secs(2),
                }),
                StatusCode::GATEWAY_TIMEOUT,
            ),
            (
                Box::new(BusError::Unavailable("down".into())),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (Box::new(BusError::Closed), StatusCode::SERVICE_UNAVAILABLE),
            (Box::new(Error::ReplyLost), StatusCode::BAD_GATEWAY),
            (
                Box::new(std::io::Error::other("boom")),
                StatusCode::BAD_GATEWAY,
            ),
        ];
        for (error, status) in cases {
            assert_eq!(answer(error.as_ref()).await.0, status, "{error}");
        }
    }

    #[tokio::test]
    async fn messages_name_the_limit_and_the_timeout() {
        let (_, _, body) = answer(&Error::BodyTooLarge { limit: 1024 }).await;
        assert!(
            body["error"].as_str().unwrap().contains("1024 bytes"),
            "{body}"
        );
        let (_, headers, body) = answer(&Error::Timeout {
            timeout: Duration::from_millis(1500),
        })
        .await;
        assert!(
            body["error"].as_str().unwrap().contains("1500 ms"),
            "{body}"
        );
        assert!(headers.get(header::RETRY_AFTER).is_none());
    }
}
