//! The gateway's reading of one request, for the fuzz targets (`fuzz/`):
//! the checks that answer 400 and the envelope they lead to, in the order
//! the request path (`request`) takes them, without a bus or a listener.

use std::time::Duration;

use bytes::Bytes;
use funcmesh_core::RequestEnvelope;
use http::request::Parts;

use crate::Result;
use crate::inbound::{self, Received};

/// What the gateway makes of a request head and body: the envelope it
/// would publish, or the error it would answer.
pub fn read_request(parts: &Parts, body: Bytes) -> Result<RequestEnvelope> {
    let id = inbound::request_id(&parts.headers);
    let timeout = inbound::timeout(&parts.headers, Duration::from_secs(30))?;
    let host = inbound::host(parts)?;
    inbound::check_path(parts.uri.path())?;
    let _ = inbound::prefers_async(&parts.headers);
    let deadline_ms = funcmesh_bus::now_ms().saturating_add(timeout.as_millis() as u64);
    Ok(inbound::envelope(
        parts,
        Received {
            id,
            host,
            body,
            deadline_ms,
            remote: None,
        },
    ))
}
