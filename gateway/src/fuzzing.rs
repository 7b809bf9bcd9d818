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
    let head = inbound::head(parts, Duration::from_secs(30), funcmesh_bus::now_ms())?;
    Ok(inbound::envelope(
        parts,
        Received {
            id,
            host: head.host,
            body,
            deadline_ms: head.deadline_ms,
            remote: None,
        },
    ))
}
