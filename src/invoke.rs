//! `funcmesh invoke`: one request to a running gateway, or to a bundle
//! directory served in this process for the request, and its answer
//! printed as `curl -i` prints it.

use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::replay::Target;
use crate::replay::target::Live;

/// One request to send.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// `GET`, `POST`, ...
    pub method: http::Method,
    /// The path and query (`/orders/hello?name=Ada`).
    pub path: String,
    /// Headers, in order; a `content-type` given here wins over the one
    /// guessed for the body.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Bytes>,
    /// How long the answer may take.
    pub timeout: Duration,
}

/// The answer as it came.
#[derive(Debug)]
pub struct Answer {
    /// Its status.
    pub status: http::StatusCode,
    /// Its HTTP version.
    pub version: http::Version,
    /// Its headers, in the order received.
    pub headers: http::HeaderMap,
    /// Its body.
    pub body: Bytes,
}

impl Answer {
    /// The answer as `curl -i` prints it: the status line, the headers, a
    /// blank line and the body (with a newline after it when it has none).
    pub fn render(&self) -> Vec<u8> {
        let mut out = format!("{:?} {}\n", self.version, self.status).into_bytes();
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
        out.extend_from_slice(&self.body);
        if !self.body.is_empty() && !self.body.ends_with(b"\n") {
            out.push(b'\n');
        }
        out
    }

    /// The request id the mesh gave the request (`x-request-id`).
    pub fn request_id(&self) -> Option<&str> {
        self.headers.get("x-request-id")?.to_str().ok()
    }
}

/// Splits a gateway URL with a path (`http://host:port/a/b?q=1`) into the
/// target and the path and query.
pub fn split_url(url: &str) -> anyhow::Result<(Target, String)> {
    let uri: http::Uri = url.parse().with_context(|| format!("{url} is not a URL"))?;
    if uri.scheme_str() != Some("http") {
        bail!("{url}: only plain http:// gateways can be invoked (or a bundle directory)");
    }
    let Some(authority) = uri.authority() else {
        bail!("{url}: no host:port");
    };
    let path = uri
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| !p.is_empty())
        .unwrap_or("/")
        .to_owned();
    Ok((Target::Url(format!("http://{authority}")), path))
}

/// Sends `invocation` to `target`, starting a mesh in this process for a
/// bundle directory (its bundles must all load), and returns the answer.
pub async fn invoke(
    target: &Target,
    invocation: &Invocation,
    python: &funcmesh_runner::PythonConfig,
) -> anyhow::Result<Answer> {
    let live = Live::start(target, invocation.timeout, python)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let answer = send(&live.base, invocation).await;
    live.stop().await;
    answer
}

async fn send(base: &str, invocation: &Invocation) -> anyhow::Result<Answer> {
    let url = format!("{base}{}", invocation.path);
    let mut request = http::Request::builder()
        .method(invocation.method.clone())
        .uri(&url);
    let mut typed = false;
    for (name, value) in &invocation.headers {
        let name = HeaderName::try_from(name.as_str())
            .with_context(|| format!("{name:?} is not a header name"))?;
        let value = HeaderValue::try_from(value.as_str())
            .with_context(|| format!("the value of {name} is not a header value"))?;
        typed |= name == CONTENT_TYPE;
        request = request.header(name, value);
    }
    let body = invocation.body.clone().unwrap_or_default();
    if !typed && !body.is_empty() {
        request = request.header(CONTENT_TYPE, guess_content_type(&body));
    }
    let request = request
        .body(Full::new(body))
        .with_context(|| format!("building the request to {url}"))?;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let exchange = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| anyhow::anyhow!("{url}: {}", funcmesh_core::errors::chain(&e)))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .with_context(|| format!("reading the answer of {url}"))?
            .to_bytes();
        anyhow::Ok(Answer {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body,
        })
    };
    tokio::time::timeout(invocation.timeout, exchange)
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "{url}: no answer within {} ms (--timeout-ms sets the wait)",
                invocation.timeout.as_millis()
            )
        })?
}

/// `application/json` for a body that is JSON, else
/// `text/plain; charset=utf-8` for UTF-8 text, else
/// `application/octet-stream`.
pub fn guess_content_type(body: &[u8]) -> &'static str {
    if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
        "application/json"
    } else if std::str::from_utf8(body).is_ok() {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_split_into_the_gateway_and_the_path() {
        let (target, path) = split_url("http://127.0.0.1:8080/hello/greet?name=Ada").unwrap();
        assert_eq!(target, Target::Url("http://127.0.0.1:8080".into()));
        assert_eq!(path, "/hello/greet?name=Ada");
        let (_, path) = split_url("http://gw:8080").unwrap();
        assert_eq!(path, "/");
        assert!(split_url("https://gw/x").is_err());
        assert!(split_url("not a url").is_err());
    }

    #[test]
    fn bodies_get_the_content_type_they_look_like() {
        assert_eq!(guess_content_type(br#"{"a":1}"#), "application/json");
        assert_eq!(guess_content_type(b"hello"), "text/plain; charset=utf-8");
        assert_eq!(
            guess_content_type(&[0xff, 0xfe]),
            "application/octet-stream"
        );
    }

    #[test]
    fn answers_print_as_curl_prints_them() {
        let mut headers = http::HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.insert("x-request-id", HeaderValue::from_static("r-1"));
        let answer = Answer {
            status: http::StatusCode::CREATED,
            version: http::Version::HTTP_11,
            headers,
            body: Bytes::from_static(br#"{"id":1}"#),
        };
        assert_eq!(
            String::from_utf8(answer.render()).unwrap(),
            "HTTP/1.1 201 Created\ncontent-type: application/json\nx-request-id: r-1\n\n{\"id\":1}\n"
        );
        assert_eq!(answer.request_id(), Some("r-1"));
    }
}
