//! One request's way through the gateway.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use funcmesh_bus::{Error as BusError, Message, now_ms};
use funcmesh_core::envelope::Describe;
use funcmesh_core::routing::Route;
use http::{Request, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Body as HttpBody;
use tokio::time::Instant;
use tracing::{Instrument, field};

use crate::capture::Slot;
use crate::error::{BoxError, Error};
use crate::gateway::Gateway;
use crate::inbound::{self, Received};
use crate::outbound::{self, short_hash};
use crate::pending::Waiter;
use crate::reserved::{Reserved, is_openapi, reserved};
use crate::stats::FuncEntry;
use crate::{ResponseBody, rescue};

impl Gateway {
    /// Answers one HTTP request. Never fails: errors become error answers.
    pub(crate) async fn handle<B>(
        &self,
        request: Request<B>,
        remote: Option<SocketAddr>,
    ) -> Response<ResponseBody>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        self.stats.request();
        let started = Instant::now();
        let id = inbound::request_id(request.headers());
        let mut slot = Slot::default();
        let endpoint = reserved(&request)
            .filter(|endpoint| *endpoint != Reserved::Routes || self.config.expose_routes);
        let response = match endpoint {
            _ if self.config.expose_openapi && is_openapi(&request) => {
                self.openapi(request, remote, id).await
            }
            Some(endpoint) => self.reserved(endpoint, request.method(), &id),
            None => {
                let response = self.proxied(request, remote, id, &mut slot, None).await;
                let short = response
                    .headers()
                    .get(outbound::X_FUNCMESH_BUNDLE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let lookup = || self.route_name(short);
                let elapsed = started.elapsed();
                self.stats
                    .answered(short, lookup, response.status(), elapsed);
                response
            }
        };
        self.stats.response(response.status());
        match slot.wanted() {
            true => self.captured(slot, response, started).await,
            false => response,
        }
    }

    /// The name of the Func the bundle with short hash `short` serves,
    /// when a route names it ("" when `short` is: no Func answered).
    fn route_name(&self, short: &str) -> Option<String> {
        if short.is_empty() {
            return Some(funcmesh_core::metrics::NO_FUNC.to_owned());
        }
        let table = self.routes.borrow();
        let route = table.routes.iter().find(|r| r.bundle.starts_with(short))?;
        Some(route.name.clone())
    }

    /// The Func of the bundle with short hash `short`.
    fn func_named(&self, short: &str) -> Arc<FuncEntry> {
        self.stats.func(short, || self.route_name(short))
    }

    /// A request for a Func: published, and answered from its reply. With
    /// `describe`, the request is for the API description of the Func
    /// of that name, answered by one of its runners.
    pub(crate) async fn proxied<B>(
        &self,
        request: Request<B>,
        remote: Option<SocketAddr>,
        id: String,
        slot: &mut Slot,
        describe: Option<&str>,
    ) -> Response<ResponseBody>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let span = tracing::info_span!(
            "gateway.request",
            request_id = %id,
            http.request.method = %request.method(),
            url.path = request.uri().path(),
            bundle = field::Empty,
            func = field::Empty,
            http.response.status_code = field::Empty,
        );
        if funcmesh_core::trace::exporting() {
            let client = inbound::trace_context(request.headers());
            funcmesh_core::trace::continue_trace(&span, client.as_ref());
        }
        self.proxy(request, remote, id, slot, describe)
            .instrument(span)
            .await
    }

    async fn proxy<B>(
        &self,
        request: Request<B>,
        remote: Option<SocketAddr>,
        mut id: String,
        slot: &mut Slot,
        describe: Option<&str>,
    ) -> Response<ResponseBody>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let response = match self.forward(request, remote, &mut id, slot, describe).await {
            Ok(response) => response,
            Err(error) => {
                let response = rescue(&error, &id);
                let error = &error as &dyn std::error::Error;
                match response.status().is_server_error() {
                    true => {
                        tracing::warn!(error, status = response.status().as_u16(), "request failed")
                    }
                    false => tracing::debug!(
                        error,
                        status = response.status().as_u16(),
                        "request refused"
                    ),
                }
                response
            }
        };
        tracing::Span::current().record("http.response.status_code", response.status().as_u16());
        response
    }

    /// Publishes the request and waits for its reply. `id` may change when
    /// the client's id is already waiting here; it holds the id in use.
    /// `slot` collects what capture needs, when the request is captured.
    /// `describe` names the Func whose API description is asked for, sent
    /// to its queue whatever the request's host and path.
    async fn forward<B>(
        &self,
        request: Request<B>,
        remote: Option<SocketAddr>,
        id: &mut String,
        slot: &mut Slot,
        describe: Option<&str>,
    ) -> Result<Response<ResponseBody>, Error>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        let limit = self.config.max_in_flight;
        let _in_flight = self.stats.enter(limit).ok_or(Error::Overloaded { limit })?;
        let (parts, body) = request.into_parts();
        let started = Instant::now();
        let inbound::Head {
            timeout,
            deadline_ms,
            host,
            fire_and_forget,
        } = inbound::head(&parts, self.config.timeout, now_ms())?;
        let expects_continue = parts
            .headers
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let read = read_body(body, self.config.body_limit, !expects_continue);
        let body = tokio::time::timeout_at(started + timeout, read)
            .await
            .map_err(|_| Error::BodyTimeout { timeout })??;

        // Clone the table's `Arc` so that the watch channel's lock is not held.
        let table = (self.config.direct_routing || describe.is_some())
            .then(|| self.routes.borrow().clone());
        let route = match describe {
            None => table
                .as_deref()
                .and_then(|t| t.lookup(&host, parts.uri.path())),
            Some(name) => table.as_deref().and_then(|t| t.named(name)),
        };
        self.sample(slot, route, &host, parts.uri.path());
        let received = Received {
            id: std::mem::take(id),
            host,
            body,
            deadline_ms,
            remote,
        };
        let mut envelope = inbound::envelope(&parts, received);
        envelope.describe = describe.map(|_| Describe::OpenApi);
        envelope.trace = funcmesh_core::trace::onward(&tracing::Span::current(), envelope.trace);
        if let Some(route) = route {
            let span = tracing::Span::current();
            span.record("bundle", short_hash(&route.bundle));
            span.record("func", tracing::field::display(&route.name));
            envelope.bundle = Some(route.bundle.clone());
        }
        let rx = match fire_and_forget {
            true => None,
            false => {
                envelope.reply_to = Some(self.reply_queue.clone());
                Some(self.register(&mut envelope.id))
            }
        };
        id.clone_from(&envelope.id);
        // Encoded only if the bus is a broker's (or capture wants it).
        let message = Message::local(Arc::new(envelope)).expires_at_ms(deadline_ms);
        slot.published(&message.payload, id);
        // From here on, leaving early (deadline, client gone) cancels the wait.
        let waiter = rx.map(|rx| Waiter::new(&self.pending, id, rx));
        self.publish(route, message).await?;
        let Some(mut waiter) = waiter else {
            return Ok(outbound::accepted(id));
        };
        let reply = tokio::time::timeout_at(started + timeout, waiter.reply()).await;
        let reply = reply
            .map_err(|_| Error::Timeout { timeout })?
            .ok_or(Error::ReplyLost)?;
        slot.replied(reply.bundle.as_ref(), reply.timings);
        let span = tracing::Span::current();
        if let Some(bundle) = reply.bundle.as_deref().filter(|_| !span.is_disabled()) {
            span.record("bundle", short_hash(bundle));
            span.record(
                "func",
                field::display(&self.func_named(short_hash(bundle)).name),
            );
        }
        outbound::from_envelope(reply, id)
    }

    /// Registers a waiter for `id`, replacing the id with a fresh one when a
    /// request with the same id waits already (so that no client can take
    /// over another's reply).
    fn register(
        &self,
        id: &mut String,
    ) -> tokio::sync::oneshot::Receiver<funcmesh_core::ResponseEnvelope> {
        loop {
            if let Some(rx) = self.pending.register(id) {
                return rx;
            }
            let fresh = inbound::new_request_id();
            tracing::debug!(request_id = %id, new_request_id = %fresh, "request id in use; replaced");
            *id = fresh;
        }
    }

    /// Straight to the route's Func queue when there is one, else to the
    /// firehose. A route whose queue is gone (a stale table) falls back to the
    /// firehose, where the tron decides.
    async fn publish(&self, route: Option<&Route>, message: Message) -> Result<(), Error> {
        if let Some(route) = route {
            match self.bus.publish(&route.queue, message.clone()).await {
                Err(BusError::UnknownQueue(_)) => {
                    tracing::debug!(queue = %route.queue, "routed queue missing; using the firehose");
                }
                result => {
                    return result.map_err(|source| Error::Publish {
                        queue: route.queue.clone(),
                        source,
                    });
                }
            }
        }
        let firehose = &self.config.firehose;
        self.bus
            .publish(firehose, message)
            .await
            .map_err(|source| Error::Publish {
                queue: firehose.clone(),
                source,
            })
    }
}

/// How much of an oversized body is read and thrown away before the 413.
const DRAIN_FACTOR: u64 = 4;

/// The whole body, refused when its declared length is over `limit`.
///
/// A client that did not ask `Expect: 100-continue` is already sending the
/// body; closing on it mid-upload makes it see a broken pipe instead of the
/// 413. So a body up to `DRAIN_FACTOR` times the limit is read and discarded
/// first (within the request's deadline, like any read); a larger one is
/// refused at once.
async fn read_body<B>(body: B, limit: usize, drain: bool) -> Result<Bytes, Error>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let declared = body.size_hint().lower();
    if declared > limit as u64 {
        if drain && declared <= (limit as u64).saturating_mul(DRAIN_FACTOR) {
            // The read's outcome does not matter: the answer is 413 either way.
            let _ = body.collect().await;
        }
        return Err(Error::BodyTooLarge { limit });
    }
    if body.is_end_stream() {
        return Ok(Bytes::new());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(Error::BodyTooLarge { limit }),
        Err(error) => Err(Error::ReadBody(error)),
    }
}
