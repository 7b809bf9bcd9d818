//! A captured request sent again: rebuilt from its envelope, sent with
//! hyper's pooled client, its answer read within a timeout.

use std::time::{Duration, Instant};

use bytes::Bytes;
use funcmesh_core::capture::CaptureRecord;
use funcmesh_core::capture::redact::MASK;
use funcmesh_core::errors::chain;
use funcmesh_core::{Body, RequestEnvelope, ResponseEnvelope};
use http::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Why one request could not be replayed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The record does not make a valid HTTP request.
    #[error("cannot rebuild the request: {0}")]
    Build(String),
    /// The target could not be reached, or broke the exchange off.
    #[error("{}", chain(.0))]
    Request(hyper_util::client::legacy::Error),
    /// The answer's body could not be read.
    #[error("reading the answer: {}", chain(.0))]
    Body(hyper::Error),
    /// No complete answer within the timeout.
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
}

/// An answer as the replay got it.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The answer in the capture format (headers lower case, the body
    /// encoded by its content type).
    pub response: ResponseEnvelope,
    /// From sending the request to the last byte of the answer.
    pub latency: Duration,
}

/// Sends records to one target.
#[derive(Debug)]
pub struct Sender {
    client: Client<HttpConnector, Full<Bytes>>,
    /// `http://host:port` plus any path prefix, without a trailing `/`.
    base: String,
    extra: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
}

impl Sender {
    /// A sender to `base` (`http://host:port[/prefix]`) that adds `extra`
    /// headers to every request, replacing captured ones of the same name.
    pub fn new(
        base: &str,
        extra: &[(String, String)],
        timeout: Duration,
        concurrency: usize,
    ) -> Result<Self, SendError> {
        let extra = extra
            .iter()
            .map(|(name, value)| {
                let bad =
                    |e: &dyn std::fmt::Display| SendError::Build(format!("--header {name}: {e}"));
                let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|e| bad(&e))?;
                let value = HeaderValue::from_str(value.trim()).map_err(|e| bad(&e))?;
                Ok((name, value))
            })
            .collect::<Result<_, SendError>>()?;
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(concurrency.max(1))
            .build_http();
        Ok(Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            extra,
            timeout,
        })
    }

    /// Sends `record`'s request and reads the whole answer.
    pub async fn send(&self, record: &CaptureRecord) -> Result<Answer, SendError> {
        let request = self.build(&record.request, record.response.is_some())?;
        let started = Instant::now();
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(SendError::Request)?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await.map_err(SendError::Body)?.to_bytes();
            Ok::<_, SendError>((parts, body))
        };
        let (parts, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| SendError::Timeout(self.timeout))??;
        let latency = started.elapsed();
        let mut response = ResponseEnvelope::new(record.request.id.clone(), parts.status.as_u16());
        response.headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let content_type = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        response.body = Body::from_bytes(body, content_type);
        Ok(Answer { response, latency })
    }

    /// The HTTP request for `envelope`. `answered`: whether the capture
    /// holds the answer; when it does not, a `Prefer: respond-async` is
    /// left out so that the replay gets an answer to save.
    pub fn build(
        &self,
        envelope: &RequestEnvelope,
        answered: bool,
    ) -> Result<http::Request<Full<Bytes>>, SendError> {
        let bad = |e: &dyn std::fmt::Display| SendError::Build(e.to_string());
        let method = http::Method::from_bytes(envelope.method.as_bytes()).map_err(|e| bad(&e))?;
        let uri = match envelope.query.is_empty() {
            true => format!("{}{}", self.base, envelope.path),
            false => format!("{}{}?{}", self.base, envelope.path, envelope.query),
        };
        let mut builder = http::Request::builder().method(method).uri(&uri);
        let overridden = |name: &str| {
            self.extra
                .iter()
                .any(|(n, _)| n.as_str().eq_ignore_ascii_case(name))
        };
        for (name, value) in &envelope.headers {
            let name = name.to_ascii_lowercase();
            if value == MASK || is_not_resent(&name) || overridden(&name) {
                continue;
            }
            let value = match name == "prefer" && !answered {
                true => match without_respond_async(value) {
                    Some(kept) => kept,
                    None => continue,
                },
                false => value.clone(),
            };
            builder = builder.header(name.as_str(), value);
        }
        let has = |name: &str| {
            envelope
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        if let Some(trace) = envelope
            .trace
            .as_ref()
            .filter(|_| !has("traceparent") && !overridden("traceparent"))
        {
            builder = builder.header("traceparent", &trace.traceparent);
            if let Some(state) = &trace.tracestate {
                builder = builder.header("tracestate", state);
            }
        }
        if matches!(envelope.body, Body::Json(_))
            && !has("content-type")
            && !overridden("content-type")
        {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        if !envelope.host.is_empty() && !overridden("host") {
            builder = builder.header(HOST, &envelope.host);
        }
        if !overridden("x-request-id") {
            builder = builder.header("x-request-id", &envelope.id);
        }
        for (name, value) in &self.extra {
            builder = builder.header(name, value);
        }
        builder
            .body(Full::new(envelope.body.to_bytes()))
            .map_err(|e| SendError::Build(format!("{uri}: {e}")))
    }
}

/// Headers of one connection, or that the client sets itself.
fn is_not_resent(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
            | "host"
            | "x-request-id"
    ) || name.starts_with("proxy-")
}

/// `headers` as sent for a request with no captured answer: `Prefer`
/// without `respond-async`.
pub fn for_an_answer(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter_map(|(name, value)| match name.eq_ignore_ascii_case("prefer") {
            true => without_respond_async(value).map(|kept| (name.clone(), kept)),
            false => Some((name.clone(), value.clone())),
        })
        .collect()
}

/// `Prefer` without its `respond-async` preference; `None` when nothing is left.
fn without_respond_async(value: &str) -> Option<String> {
    let kept: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|pref| {
            !pref
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("respond-async")
        })
        .filter(|pref| !pref.is_empty())
        .collect();
    (!kept.is_empty()).then(|| kept.join(", "))
}

#[cfg(test)]
mod tests;
