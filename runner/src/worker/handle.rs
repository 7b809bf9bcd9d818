//! One request, from envelope to response envelope: find the bundle, match
//! the operation, validate, run, and turn every failure into an answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use func_sdk::abi::RequestMeta;
use funcmesh_bus::now_ms;
use funcmesh_core::envelope::{Body, Describe, Timings};
use funcmesh_core::{RequestEnvelope, ResponseEnvelope};
use tracing::{Instrument as _, Span, field};

use super::Inner;
use super::api::Api;
use super::stats::Failure;
use crate::http;
use crate::matcher::Match;
use crate::validate::{Rejection, RequestParts};
use crate::wasm::CallError;

impl Inner {
    /// Answers `envelope`, picked up at `picked_up_ms`: in the span
    /// `runner.execute`, which names the Func from the start, so that a
    /// per-Func log level covers its every line.
    pub(super) async fn handle(
        &self,
        envelope: &RequestEnvelope,
        picked_up_ms: u64,
    ) -> ResponseEnvelope {
        let queued = queued_us(&envelope.id, picked_up_ms);
        let timings = Timings {
            queued_us: queued.unwrap_or(0),
            run_us: 0,
        };
        let found = match (self.find_api(envelope), &envelope.bundle) {
            (None, Some(hash)) => self.install_missing(hash).await,
            (found, _) => found,
        };
        let Some(api) = found else {
            let hash = envelope.bundle.as_deref().unwrap_or("(none)");
            tracing::warn!(bundle = %hash, "bundle not available on this runner");
            self.stats.failed(None, Failure::Unavailable, 0);
            let resp = ResponseEnvelope::error(
                &envelope.id,
                503,
                format!("bundle {hash} not available on this runner"),
            );
            return ResponseEnvelope { timings, ..resp };
        };
        let span = tracing::info_span!(
            "runner.execute",
            request_id = %envelope.id,
            bundle = api.bundle.short_hash(),
            func = %api.bundle.name,
            operation = field::Empty,
        );
        if let Some(queued) = queued {
            api.metrics.queued(queued);
        }
        let in_flight = api.metrics.entered();
        let mut resp = self.answer(&api, envelope).instrument(span).await;
        drop(in_flight);
        resp.bundle = Some(api.bundle.hash.clone());
        resp.timings = Timings {
            run_us: resp.timings.run_us,
            ..timings
        };
        resp
    }

    /// The bundle the tron chose; without one (a direct publish in
    /// development), the installed bundle with the longest base path that
    /// serves the path.
    fn find_api(&self, envelope: &RequestEnvelope) -> Option<Arc<Api>> {
        if let Some(hash) = &envelope.bundle {
            return self.api(hash);
        }
        let bundles = self.executor.bundles();
        let best = bundles
            .iter()
            .filter_map(|b| self.api(&b.hash))
            .filter(|api| api.serves(&envelope.path))
            .max_by_key(|api| api.bundle.base_path.len())?;
        Some(best)
    }

    async fn answer(&self, api: &Api, envelope: &RequestEnvelope) -> ResponseEnvelope {
        let id = envelope.id.as_str();
        if let Some(Describe::OpenApi) = envelope.describe {
            return describe_openapi(api, envelope).await;
        }
        let (index, path_params) = match api.router.find(&envelope.method, &envelope.path) {
            Match::Found { index, params } => (index, params),
            Match::NoPath => {
                tracing::debug!(method = %envelope.method, path = %envelope.path, "no operation matches");
                self.stats.failed(Some(&api.metrics), Failure::NotFound, 0);
                let message = format!("no operation matches {} {}", envelope.method, envelope.path);
                return ResponseEnvelope::error(id, 404, message);
            }
            Match::WrongMethod { allow } => {
                tracing::debug!(method = %envelope.method, path = %envelope.path, "method not allowed");
                self.stats
                    .failed(Some(&api.metrics), Failure::MethodNotAllowed, 0);
                let message = format!(
                    "method {} not allowed for {}",
                    envelope.method, envelope.path
                );
                let mut resp = ResponseEnvelope::error(id, 405, message);
                resp.headers.push(("allow".into(), allow.join(", ")));
                return resp;
            }
        };
        let Some((op, validator)) = api.operation(index) else {
            self.stats.failed(Some(&api.metrics), Failure::Internal, 0);
            return ResponseEnvelope::error(id, 500, "internal error");
        };
        Span::current().record("operation", op.id.as_str());
        let query = http::parse_query(&envelope.query);
        let body = envelope.body.as_bytes();
        let parts = RequestParts {
            path_params: &path_params,
            query: &query,
            headers: &envelope.headers,
            body,
        };
        if let Err(rejection) = validator.check(&parts) {
            tracing::debug!(?rejection, "request rejected");
            let failure = match rejection {
                Rejection::Invalid(_) => Failure::Invalid,
                Rejection::UnsupportedMediaType { .. } => Failure::UnsupportedMediaType,
            };
            self.stats.failed(Some(&api.metrics), failure, 0);
            return rejection.to_response(id);
        }
        let meta = RequestMeta {
            request_id: envelope.id.clone(),
            operation_id: op.id.clone(),
            method: envelope.method.clone(),
            path: envelope.path.clone(),
            base_path: api.bundle.base_path.clone(),
            path_params,
            query,
            headers: envelope.headers.clone(),
        };
        let started = Instant::now();
        let result = self
            .executor
            .call(
                &api.bundle.hash,
                &op.id,
                &meta,
                body,
                deadline(envelope.deadline_ms),
            )
            .await;
        let run_us = started.elapsed().as_micros() as u64;
        let mut resp = match result {
            Ok(guest) => {
                self.stats.answered(&api.metrics, run_us);
                let content_type = http::header(&guest.headers, "content-type");
                let body = Body::from_bytes(guest.body, content_type);
                ResponseEnvelope {
                    status: guest.status,
                    headers: guest.headers,
                    body,
                    ..ResponseEnvelope::new(id, 0)
                }
            }
            Err(error) => {
                tracing::warn!(%error, kind = error.kind(), "call failed");
                self.stats
                    .failed(Some(&api.metrics), failure_of(&error), run_us);
                ResponseEnvelope::error(
                    id,
                    error.status(),
                    error.client_message(self.config.dev_mode),
                )
            }
        };
        resp.timings.run_us = run_us;
        resp
    }
}

fn failure_of(error: &CallError) -> Failure {
    match error {
        CallError::UnknownBundle(_) => Failure::Unavailable,
        CallError::Timeout { .. } | CallError::NoSlot { .. } => Failure::Timeout,
        CallError::MemoryLimit { .. } => Failure::MemoryLimit,
        CallError::Trap { .. } => Failure::Trap,
        CallError::Exit(_) => Failure::Exit,
        CallError::Exception { .. } => Failure::Exception,
        CallError::Malformed(_) => Failure::MalformedOutput,
        CallError::Overloaded(_) => Failure::Overloaded,
        CallError::UnknownOperation(_) | CallError::Internal(_) => Failure::Internal,
    }
}

/// The envelope's wall-clock deadline on the monotonic clock.
fn deadline(deadline_ms: u64) -> Instant {
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms()));
    let now = Instant::now();
    now.checked_add(left).unwrap_or(now)
}

/// How long the request waited, from the timestamp in its UUIDv7 id (the
/// gateway makes one as the request arrives), to the millisecond (a wait
/// within the same millisecond is 0); `None` for other ids (a client's
/// own), whose wait is unknown. Clocks of different hosts may differ, as
/// `Timings` says.
fn queued_us(id: &str, picked_up_ms: u64) -> Option<u64> {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || hex.as_bytes()[12] != b'7' {
        return None;
    }
    let created_ms = u64::from_str_radix(&hex[..12], 16).ok()?;
    Some(picked_up_ms.saturating_sub(created_ms).saturating_mul(1000))
}

/// The bundle's API description as served (`GET /__openapi/NAME` at a
/// gateway), read from the bundle this runner has installed: the version
/// that answers the Func's calls.
async fn describe_openapi(api: &Api, envelope: &RequestEnvelope) -> ResponseEnvelope {
    let bundle = Arc::clone(&api.bundle);
    let scheme = envelope.scheme.clone();
    let read = tokio::task::spawn_blocking(move || {
        funcmesh_core::bundle::served_document(&bundle, &scheme)
    })
    .await;
    match read {
        Ok(Ok(document)) => {
            let mut resp = ResponseEnvelope::new(&envelope.id, 200);
            resp.headers
                .push(("content-type".into(), "application/json".into()));
            resp.body = Body::json_value(&document);
            resp
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "the bundle's API description could not be read");
            ResponseEnvelope::error(
                &envelope.id,
                500,
                "the bundle's API description could not be read",
            )
        }
        Err(error) => {
            tracing::warn!(%error, "reading the bundle's API description failed");
            ResponseEnvelope::error(&envelope.id, 500, "internal error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::queued_us;

    #[test]
    fn queued_time_from_a_uuid_v7() {
        // 0x0190_0000_0000 ms = 1_717_986_918_400.
        assert_eq!(
            queued_us("01900000-0000-7000-8000-000000000000", 1_717_986_918_405),
            Some(5_000)
        );
        assert_eq!(
            queued_us("01900000-0000-4000-8000-000000000000", 1_717_986_918_405),
            None
        );
        assert_eq!(queued_us("req-1", 1), None);
        // Within the same millisecond, or a clock behind: no wait, still a
        // wait that counts.
        assert_eq!(
            queued_us("01900000-0000-7000-8000-000000000000", 1_717_986_918_400),
            Some(0)
        );
        assert_eq!(
            queued_us("01900000-0000-7000-8000-000000000000", 0),
            Some(0)
        );
    }
}
