//! Envelope v1: how a request and its response travel on the bus.
//!
//! Both are JSON objects with a `"version": "MAJOR.MINOR"` field. A reader
//! accepts any minor version of its major (fields it does not know are
//! ignored), and rejects another major with [`EnvelopeError::UnsupportedVersion`].
//! Bodies state their encoding: `{"json": ...}` inline JSON, `{"text": "..."}`
//! UTF-8 text, `{"base64": "..."}` anything else; no `body` field is empty.

mod body;

pub use body::Body;

use std::sync::Arc;

use bytes::Bytes;
use funcmesh_bus::{Local, Payload};
use serde::{Deserialize, Serialize};

/// The envelope version this build writes.
pub const VERSION: &str = "1.0";
/// The major version this build reads.
pub const MAJOR: u32 = 1;
/// The longest any request may wait for its answer. A gateway's timeout
/// cannot be set above it, and every component that reads a request clamps
/// its deadline to it: an envelope published by hand with a deadline in
/// the far future (which brokers refuse as a message expiry) holds nothing
/// longer than this.
pub const MAX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Why an envelope could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The envelope is from a major version this build does not understand.
    #[error("unsupported envelope version {found:?} (this build reads {MAJOR}.x)")]
    UnsupportedVersion {
        /// The version the envelope carries.
        found: String,
    },
    /// The bytes are not an envelope.
    #[error("malformed envelope: {0}")]
    Malformed(#[from] serde_json::Error),
}

/// W3C trace context carried from the client through every hop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceContext {
    /// The `traceparent` header.
    pub traceparent: String,
    /// The `tracestate` header, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
    /// When the component that names itself the parent sent the envelope,
    /// in microseconds since the Unix epoch: the start of the queue-wait
    /// span its receiver records. Set only while traces are exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_us: Option<u64>,
}

/// An HTTP request on its way to a Func.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestEnvelope {
    /// `MAJOR.MINOR`.
    pub version: String,
    /// The request id, echoed to the client as `X-Request-Id`.
    pub id: String,
    /// The HTTP method, upper case.
    pub method: String,
    /// `http` or `https`, as the client used.
    pub scheme: String,
    /// The `Host` the client asked for, without the port.
    pub host: String,
    /// The path, percent-encoded as received.
    pub path: String,
    /// The raw query string, without `?`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
    /// Header name (lower case) and value pairs; repeated headers repeat.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The request body.
    #[serde(default, skip_serializing_if = "Body::is_empty")]
    pub body: Body,
    /// Where the response goes; none means fire-and-forget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// Absolute deadline in milliseconds since the Unix epoch.
    pub deadline_ms: u64,
    /// Trace context, if the client sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceContext>,
    /// The bundle version (content hash) chosen when the request was routed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// The client's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_addr: Option<String>,
    /// Set when the request asks the runner about its Func instead of
    /// calling it; only a gateway sets it, for its own endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub describe: Option<Describe>,
}

/// What a request asks the runner about its Func instead of calling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Describe {
    /// The bundle's API description as served (`GET /__openapi/NAME`).
    OpenApi,
}

/// Where the time went, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// From the gateway's publish to the runner's pick-up (wall clocks may differ between hosts).
    #[serde(default)]
    pub queued_us: u64,
    /// Running the function, instantiation included.
    #[serde(default)]
    pub run_us: u64,
}

/// A Func's answer, or a component's answer on its behalf.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseEnvelope {
    /// `MAJOR.MINOR`.
    pub version: String,
    /// The id of the request this answers.
    pub id: String,
    /// The HTTP status.
    pub status: u16,
    /// Header pairs; repeats repeat.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The response body.
    #[serde(default, skip_serializing_if = "Body::is_empty")]
    pub body: Body,
    /// The content hash of the bundle that answered, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// Timings; left out when there are none (an answer of the gateway's own).
    #[serde(default, skip_serializing_if = "Timings::is_zero")]
    pub timings: Timings,
}

impl Timings {
    /// Whether nothing was timed.
    pub fn is_zero(&self) -> bool {
        *self == Timings::default()
    }
}

impl RequestEnvelope {
    /// Reads an envelope, checking its major version.
    pub fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        decode(bytes)
    }

    /// Writes the envelope as JSON.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Whether the client has stopped waiting by `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.deadline_ms <= now_ms
    }

    /// Reads an envelope received at `now_ms`, its deadline clamped to
    /// [`MAX_TIMEOUT`] from then (see there).
    pub fn decode_at(bytes: &[u8], now_ms: u64) -> Result<Self, EnvelopeError> {
        let mut envelope = Self::decode(bytes)?;
        envelope.clamp_deadline(now_ms);
        Ok(envelope)
    }

    /// The envelope a message carries, received at `now_ms`: the value
    /// itself when it came through the in-process bus (nothing decoded),
    /// its bytes decoded otherwise; either way with its deadline clamped
    /// as [`decode_at`](Self::decode_at) clamps it.
    pub fn from_payload(payload: Payload, now_ms: u64) -> Result<Arc<Self>, EnvelopeError> {
        match payload.into_local::<Self>() {
            Ok(envelope) if envelope.deadline_ms <= latest_deadline(now_ms) => Ok(envelope),
            Ok(envelope) => {
                let mut envelope = Arc::unwrap_or_clone(envelope);
                envelope.clamp_deadline(now_ms);
                Ok(Arc::new(envelope))
            }
            Err(bytes) => Self::decode_at(&bytes.to_bytes(), now_ms).map(Arc::new),
        }
    }

    fn clamp_deadline(&mut self, now_ms: u64) {
        self.deadline_ms = self.deadline_ms.min(latest_deadline(now_ms));
    }

    /// The first value of a header (names are stored lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl ResponseEnvelope {
    /// A response with a status and no body.
    pub fn new(id: impl Into<String>, status: u16) -> Self {
        Self {
            version: VERSION.to_owned(),
            id: id.into(),
            status,
            headers: Vec::new(),
            body: Body::Empty,
            bundle: None,
            timings: Timings::default(),
        }
    }

    /// An error answer: `{"error": message, "request_id": id}` with `status`.
    pub fn error(id: impl Into<String>, status: u16, message: impl std::fmt::Display) -> Self {
        let id = id.into();
        let body = serde_json::json!({ "error": message.to_string(), "request_id": id });
        let mut resp = Self::new(id, status);
        resp.headers
            .push(("content-type".into(), "application/json".into()));
        resp.body = Body::json_value(&body);
        resp
    }

    /// Reads an envelope, checking its major version.
    pub fn decode(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        decode(bytes)
    }

    /// Writes the envelope as JSON.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// The envelope a message carries: the value itself when it came
    /// through the in-process bus (taken without a copy when nothing else
    /// holds it), its bytes decoded otherwise.
    pub fn from_payload(payload: Payload) -> Result<Self, EnvelopeError> {
        match payload.into_local::<Self>() {
            Ok(envelope) => Ok(Arc::unwrap_or_clone(envelope)),
            Err(bytes) => Self::decode(&bytes.to_bytes()),
        }
    }

    /// At least the length of [`encode`](Self::encode)'s output, without
    /// encoding: every string may at worst be escaped six times over
    /// (`\u00XX`), plus room for the field names and numbers.
    pub fn encoded_len_bound(&self) -> usize {
        let strings = self.id.len()
            + self.bundle.as_ref().map_or(0, String::len)
            + self
                .headers
                .iter()
                .map(|(name, value)| name.len() + value.len() + 8)
                .sum::<usize>();
        let body = match &self.body {
            // Kept as the client sent it: written out as it is.
            Body::Json(raw) => raw.get().len(),
            Body::Binary(bytes) => bytes.len().div_ceil(3) * 4,
            other => 6 * other.as_bytes().len(),
        };
        6 * strings + body + 256
    }
}

impl Local for RequestEnvelope {
    fn encode(&self) -> Bytes {
        Bytes::from(encode(self))
    }
}

impl Local for ResponseEnvelope {
    fn encode(&self) -> Bytes {
        Bytes::from(encode(self))
    }
}

/// The latest deadline an envelope received at `now_ms` may keep.
fn latest_deadline(now_ms: u64) -> u64 {
    now_ms.saturating_add(MAX_TIMEOUT.as_millis() as u64)
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Envelopes hold only strings, numbers and validated raw JSON: serializing cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

trait Versioned {
    fn version(&self) -> &str;
}

impl Versioned for RequestEnvelope {
    fn version(&self) -> &str {
        &self.version
    }
}

impl Versioned for ResponseEnvelope {
    fn version(&self) -> &str {
        &self.version
    }
}

fn decode<T: for<'de> Deserialize<'de> + Versioned>(bytes: &[u8]) -> Result<T, EnvelopeError> {
    #[derive(Deserialize)]
    struct VersionOnly {
        version: String,
    }
    match serde_json::from_slice::<T>(bytes) {
        Ok(value) if major_of(value.version()) == Some(MAJOR) => Ok(value),
        Ok(value) => Err(EnvelopeError::UnsupportedVersion {
            found: value.version().to_owned(),
        }),
        // A future major may change the shape: name the version rather than the field.
        Err(error) => match serde_json::from_slice::<VersionOnly>(bytes) {
            Ok(v) if major_of(&v.version) != Some(MAJOR) => {
                Err(EnvelopeError::UnsupportedVersion { found: v.version })
            }
            _ => Err(error.into()),
        },
    }
}

fn major_of(version: &str) -> Option<u32> {
    version.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests;
