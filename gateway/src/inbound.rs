//! Reading an HTTP request into a request envelope.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use funcmesh_core::envelope::{self, TraceContext};
use funcmesh_core::{Body, RequestEnvelope};
use http::header::{self, HeaderMap};
use http::request::Parts;

use crate::error::Error;
use crate::outbound::X_REQUEST_ID;

/// What the gateway reads from a request head before its body: every
/// check that answers 400 on the head, in the order the request path takes
/// them.
pub(crate) struct Head {
    /// How long the client may wait (`timeout`).
    pub timeout: Duration,
    /// `now_ms` plus `timeout`.
    pub deadline_ms: u64,
    /// The host the client asked for (`host`).
    pub host: String,
    /// Whether the client asked not to wait (`prefers_async`).
    pub fire_and_forget: bool,
}

/// Reads and checks a request head received at `now_ms`, with `max` the
/// gateway's timeout.
pub(crate) fn head(parts: &Parts, max: Duration, now_ms: u64) -> Result<Head, Error> {
    let timeout = timeout(&parts.headers, max)?;
    let deadline_ms = now_ms.saturating_add(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
    let host = host(parts)?;
    check_path(parts.uri.path())?;
    Ok(Head {
        timeout,
        deadline_ms,
        host,
        fire_and_forget: prefers_async(&parts.headers),
    })
}

/// The client's id when it sent a usable one (1 to 128 visible ASCII
/// characters), a new UUID v7 otherwise.
pub(crate) fn request_id(headers: &HeaderMap) -> String {
    match headers.get(X_REQUEST_ID).and_then(|v| v.to_str().ok()) {
        Some(id) if is_valid_request_id(id) => id.to_owned(),
        _ => new_request_id(),
    }
}

/// A fresh request id.
pub(crate) fn new_request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn is_valid_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// The host the client asked for, lower case, without the port. The request
/// target's authority wins over `Host` (HTTP/2's `:authority`, and RFC 9112
/// for absolute-form targets).
pub(crate) fn host(parts: &Parts) -> Result<String, Error> {
    // Two Host headers: proxies and the gateway could each pick another.
    if parts.headers.get_all(header::HOST).iter().nth(1).is_some() {
        return Err(Error::BadRequest("more than one Host header"));
    }
    let raw = match parts.uri.authority() {
        Some(authority) => authority.as_str(),
        None => parts
            .headers
            .get(header::HOST)
            .ok_or(Error::BadRequest("missing Host header"))?
            .to_str()
            .map_err(|_| Error::BadRequest("unparsable Host header"))?,
    };
    normalize_host(raw).ok_or(Error::BadRequest("unparsable Host header"))
}

/// Refuses a path with a `%` that does not start an escape (`%` and two
/// hex digits): the gateway, the tron and the runner must all read one
/// path the same way, and a broken escape reads differently in each
/// decoder.
pub(crate) fn check_path(path: &str) -> Result<(), Error> {
    let bytes = path.as_bytes();
    let broken = bytes.iter().enumerate().any(|(at, &b)| {
        b == b'%'
            && !bytes
                .get(at + 1..at + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    match broken {
        true => Err(Error::BadRequest(
            "the path has a `%` that is not followed by two hex digits",
        )),
        false => Ok(()),
    }
}

/// `Example.COM:8080` → `example.com`, `[::1]:80` → `[::1]`; `None` when
/// `raw` is not a host with an optional port.
pub(crate) fn normalize_host(raw: &str) -> Option<String> {
    let (host, rest) = match raw.strip_prefix('[') {
        Some(inner) => {
            let end = inner.find(']')?;
            let literal = &inner[..end];
            let ipv6 = literal
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
            if literal.is_empty() || !ipv6 {
                return None;
            }
            raw.split_at(end + 2)
        }
        None => raw.split_at(raw.find(':').unwrap_or(raw.len())),
    };
    let port_ok = rest.is_empty()
        || rest
            .strip_prefix(':')
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok());
    // A fully qualified name's trailing dot names the same host.
    let host = host.strip_suffix('.').unwrap_or(host);
    let reg_name = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~%!$&'()*+,;=".contains(&b));
    let valid = port_ok && !host.is_empty() && (host.starts_with('[') || reg_name);
    valid.then(|| host.to_ascii_lowercase())
}

/// How long the client may wait: the configured timeout, or less when the
/// client asks for less with `x-funcmesh-timeout-ms`.
pub(crate) fn timeout(headers: &HeaderMap, max: Duration) -> Result<Duration, Error> {
    let Some(value) = headers.get("x-funcmesh-timeout-ms") else {
        return Ok(max);
    };
    let millis = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&ms| ms > 0);
    let millis = millis.ok_or(Error::BadRequest(
        "x-funcmesh-timeout-ms must be a positive integer",
    ))?;
    Ok(Duration::from_millis(millis).min(max))
}

/// Whether the client asked not to wait (`Prefer: respond-async`, RFC 7240).
pub(crate) fn prefers_async(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|pref| {
            let token = pref.split(';').next().unwrap_or("");
            token.trim().eq_ignore_ascii_case("respond-async")
        })
}

/// Headers that belong to one connection and never travel further.
pub(crate) fn is_hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection" | "keep-alive" | "te" | "trailer" | "transfer-encoding" | "upgrade"
    ) || name.starts_with("proxy-")
}

/// Lower-case name/value pairs in order, repeats kept, hop-by-hop headers and
/// the headers `Connection` names dropped.
fn envelope_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    let listed: Vec<&str> = match headers.contains_key(header::CONNECTION) {
        true => headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect(),
        false => Vec::new(),
    };
    let mut pairs = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let name = name.as_str();
        if is_hop_by_hop(name) || listed.iter().any(|l| l.eq_ignore_ascii_case(name)) {
            continue;
        }
        pairs.push((
            name.to_owned(),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        ));
    }
    pairs
}

/// The trace context the client sent (`traceparent` and `tracestate`).
pub(crate) fn trace_context(headers: &HeaderMap) -> Option<TraceContext> {
    let traceparent = headers.get("traceparent")?.to_str().ok()?;
    let tracestate = headers
        .get("tracestate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Some(TraceContext {
        traceparent: traceparent.to_owned(),
        tracestate,
        sent_us: None,
    })
}

/// What the envelope needs besides the request itself.
pub(crate) struct Received {
    pub id: String,
    pub host: String,
    pub body: Bytes,
    pub deadline_ms: u64,
    pub remote: Option<SocketAddr>,
}

/// The envelope for a request; `reply_to` and `bundle` are the caller's to set.
pub(crate) fn envelope(parts: &Parts, received: Received) -> RequestEnvelope {
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    RequestEnvelope {
        version: envelope::VERSION.to_owned(),
        id: received.id,
        method: parts.method.as_str().to_owned(),
        scheme: "http".to_owned(),
        host: received.host,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers: envelope_headers(&parts.headers),
        body: Body::from_bytes(received.body, content_type),
        reply_to: None,
        deadline_ms: received.deadline_ms,
        trace: trace_context(&parts.headers),
        bundle: None,
        remote_addr: received.remote.map(|addr| addr.to_string()),
        describe: None,
    }
}

#[cfg(test)]
mod tests;
