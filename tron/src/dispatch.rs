//! The firehose consumer.
//!
//! Each request envelope is matched against the routing table, stamped with
//! the bundle version that serves its route, and forwarded to the route's
//! Func queue; a request no route serves is answered 404 on its reply queue.
//! The delivery is acknowledged only once the forward (or the answer) is
//! published, so a dispatcher that dies mid-way loses nothing.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use funcmesh_bus::{Bus, Delivery, Error as BusError, Message};
use funcmesh_core::envelope::{RequestEnvelope, ResponseEnvelope};
use funcmesh_core::routing::RouteTable;
use funcmesh_core::trace;
use serde::Serialize;
use tokio::sync::watch;
use tracing::Instrument;

/// Counters of one dispatcher.
#[derive(Debug, Default)]
pub struct DispatchStats {
    forwarded: AtomicU64,
    no_route: AtomicU64,
    rejected: AtomicU64,
    expired: AtomicU64,
}

/// A point-in-time copy of [`DispatchStats`].
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct DispatchSnapshot {
    /// Requests forwarded to a Func queue.
    pub forwarded: u64,
    /// Requests answered 404.
    pub no_route: u64,
    /// Requests answered 503 because their Func queue was full.
    pub rejected: u64,
    /// Requests dropped because their client had stopped waiting.
    pub expired: u64,
}

impl DispatchStats {
    /// The counters now.
    pub fn snapshot(&self) -> DispatchSnapshot {
        DispatchSnapshot {
            forwarded: self.forwarded.load(Ordering::Relaxed),
            no_route: self.no_route.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            expired: self.expired.load(Ordering::Relaxed),
        }
    }
}

/// Forwards requests from the firehose to Func queues.
pub struct Dispatcher {
    bus: Arc<dyn Bus>,
    routes: watch::Receiver<Arc<RouteTable>>,
    stats: Arc<DispatchStats>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("bus", &self.bus.system())
            .finish()
    }
}

impl Dispatcher {
    /// A dispatcher that follows `routes`.
    pub fn new(bus: Arc<dyn Bus>, routes: watch::Receiver<Arc<RouteTable>>) -> Self {
        Self::with_stats(bus, routes, Arc::default())
    }

    /// A dispatcher that follows `routes` and counts in `stats`.
    pub fn with_stats(
        bus: Arc<dyn Bus>,
        routes: watch::Receiver<Arc<RouteTable>>,
        stats: Arc<DispatchStats>,
    ) -> Self {
        Self { bus, routes, stats }
    }

    /// Its counters.
    pub fn stats(&self) -> Arc<DispatchStats> {
        Arc::clone(&self.stats)
    }

    /// Consumes `firehose` until `shutdown` resolves or the bus closes.
    pub async fn serve(
        &self,
        firehose: &str,
        shutdown: impl Future<Output = ()>,
    ) -> funcmesh_bus::Result<()> {
        crate::consume::each_delivery(&*self.bus, firehose, 256, "firehose", shutdown, |d| {
            self.dispatch(d)
        })
        .await
    }

    async fn dispatch(&self, delivery: Delivery) {
        let now = funcmesh_bus::now_ms();
        let mut envelope = match RequestEnvelope::from_payload(delivery.payload().clone(), now) {
            // Forwarded with its route: the delivery keeps its own copy
            // until it is settled.
            Ok(envelope) => Arc::unwrap_or_clone(envelope),
            Err(error) => {
                tracing::warn!(%error, "undecodable envelope on the firehose; dead-lettering it");
                settle(delivery.nack(false).await);
                return;
            }
        };
        let span = tracing::debug_span!(
            "tron.dispatch",
            request_id = %envelope.id,
            bundle = tracing::field::Empty,
            func = tracing::field::Empty,
            messaging.system = self.bus.system()
        );
        trace::continue_after_queue(&span, trace::FIREHOSE_WAIT, envelope.trace.as_ref());
        async {
            if envelope.is_expired(funcmesh_bus::now_ms()) {
                self.stats.expired.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("client stopped waiting; request dropped");
                settle(delivery.ack().await);
                return;
            }
            if envelope.describe.is_some() {
                // A gateway sends these to the named Func's queue; one here
                // found that queue gone, and routing it by its path could
                // reach another bundle that would describe itself instead.
                let gone = ResponseEnvelope::error(&envelope.id, 503, "the Func's queue is gone; try again");
                self.answer(delivery, &envelope, gone).await;
                return;
            }
            let route = self.routes.borrow().lookup(&envelope.host, &envelope.path).cloned();
            let Some(route) = route else {
                self.stats.no_route.fetch_add(1, Ordering::Relaxed);
                let message = format!("no Func serves {}{}", envelope.host, envelope.path);
                tracing::debug!(host = %envelope.host, path = %envelope.path, "no route");
                self.answer(delivery, &envelope, ResponseEnvelope::error(&envelope.id, 404, message)).await;
                return;
            };
            let span = tracing::Span::current();
            span.record("bundle", funcmesh_core::bundle::short_hash(&route.bundle));
            span.record("func", tracing::field::display(&route.name));
            envelope.bundle = Some(route.bundle);
            envelope.trace = trace::onward(&span, envelope.trace.take());
            let envelope = Arc::new(envelope);
            let message = Message::local(Arc::clone(&envelope) as _).expires_at_ms(envelope.deadline_ms);
            match self.bus.publish(&route.queue, message).await {
                Ok(()) => {
                    self.stats.forwarded.fetch_add(1, Ordering::Relaxed);
                    settle(delivery.ack().await);
                }
                Err(BusError::QueueFull { queue, limit }) => {
                    self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%queue, limit, "Func queue full; answering 503");
                    let busy = ResponseEnvelope::error(&envelope.id, 503, format!("{} is overloaded; retry later", route.name));
                    self.answer(delivery, &envelope, busy).await;
                }
                Err(error @ BusError::Refused(_)) => {
                    tracing::warn!(%error, queue = %route.queue, "the broker refused the request; answering 502");
                    let refused = ResponseEnvelope::error(&envelope.id, 502, error.to_string());
                    self.answer(delivery, &envelope, refused).await;
                }
                Err(error) => {
                    tracing::warn!(%error, queue = %route.queue, "forward failed; the request goes back on the firehose");
                    settle(delivery.nack(true).await);
                }
            }
        }
        .instrument(span)
        .await;
    }

    /// Answers the client directly, then settles the delivery.
    async fn answer(
        &self,
        delivery: Delivery,
        request: &RequestEnvelope,
        response: ResponseEnvelope,
    ) {
        let Some(reply_to) = &request.reply_to else {
            settle(delivery.ack().await);
            return;
        };
        let message = Message::local(Arc::new(response)).expires_at_ms(request.deadline_ms);
        match self.bus.publish(reply_to, message).await {
            Ok(()) => settle(delivery.ack().await),
            Err(BusError::UnknownQueue(_)) => {
                tracing::debug!(%reply_to, "reply queue gone; nobody to answer");
                settle(delivery.ack().await);
            }
            Err(error @ BusError::Refused(_)) => {
                tracing::warn!(%error, %reply_to, "the broker refused the answer; dropped");
                settle(delivery.ack().await);
            }
            Err(error) => {
                tracing::warn!(%error, %reply_to, "could not answer; retrying the request");
                settle(delivery.nack(true).await);
            }
        }
    }
}

fn settle(result: funcmesh_bus::Result<()>) {
    if let Err(error) = result {
        tracing::warn!(%error, "could not settle a firehose delivery");
    }
}

#[cfg(test)]
mod tests;
