//! Capture on the request path: the decision per request, and the hand-over
//! of the finished exchange to the capture writer.
//!
//! Everything costly (decoding the published envelope, re-encoding the
//! answer's body, redaction, the write) happens on the writer's thread;
//! here a captured request costs a few reference-count bumps and copies of
//! the answer's headers.

use bytes::Bytes;
use funcmesh_bus::{Payload, now_ms};
use funcmesh_core::capture::{CaptureTimings, Exchange, ExchangeRequest};
use funcmesh_core::envelope::Timings;
use funcmesh_core::routing::Route;
use funcmesh_core::{Body, ResponseEnvelope};
use http::Response;
use http_body_util::{BodyExt, Full};
use tokio::time::Instant;

use crate::ResponseBody;
use crate::gateway::Gateway;

/// What capture needs of one request, filled in as the request goes.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    /// The Func's name, when this request is captured.
    route: Option<String>,
    id: String,
    request: Option<Bytes>,
    bundle: Option<String>,
    timings: Timings,
}

impl Slot {
    /// Whether the request is to be captured.
    pub(crate) fn wanted(&self) -> bool {
        self.route.is_some()
    }

    /// The encoded envelope as it is published, and its request id.
    pub(crate) fn published(&mut self, body: &Payload, id: &str) {
        if self.wanted() {
            self.request = Some(body.to_bytes());
            id.clone_into(&mut self.id);
        }
    }

    /// The reply's bundle and timings.
    pub(crate) fn replied(&mut self, bundle: Option<&String>, timings: Timings) {
        if self.wanted() {
            self.bundle = bundle.cloned();
            self.timings = timings;
        }
    }
}

impl Gateway {
    /// Decides whether the request for `host` and `path` is captured. The
    /// Func is the routed one, or (routing through the firehose) the one the
    /// pushed table names.
    pub(crate) fn sample(&self, slot: &mut Slot, route: Option<&Route>, host: &str, path: &str) {
        if !self.capture.is_active() {
            return;
        }
        let name = match route {
            Some(route) => Some(route.name.clone()),
            None => self
                .routes
                .borrow()
                .lookup(host, path)
                .map(|r| r.name.clone()),
        };
        if let Some(name) = name
            && self.capture.sample(&name)
        {
            slot.route = Some(name);
        }
    }

    /// Hands the exchange to the writer and gives the answer back intact.
    pub(crate) async fn captured(
        &self,
        slot: Slot,
        response: Response<ResponseBody>,
        started: Instant,
    ) -> Response<ResponseBody> {
        let (Some(route), Some(request)) = (slot.route, slot.request) else {
            return response;
        };
        let total_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let (parts, body) = response.into_parts();
        // A `Full` body is one ready frame: collecting it never waits.
        let bytes = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(never) => match never {},
        };
        let mut answer = ResponseEnvelope::new(slot.id, parts.status.as_u16());
        answer.headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        answer.body = match bytes.is_empty() {
            true => Body::Empty,
            false => Body::Binary(bytes.clone()),
        };
        // The bundle and the timings are the record's own fields.
        self.capture.offer(Exchange {
            route,
            bundle: slot.bundle,
            source: "gateway",
            request: ExchangeRequest::Encoded(request),
            response: Some(answer),
            timings: CaptureTimings {
                total_us,
                queued_us: slot.timings.queued_us,
                run_us: slot.timings.run_us,
            },
            at_ms: now_ms(),
        });
        Response::from_parts(parts, Full::new(bytes))
    }
}
