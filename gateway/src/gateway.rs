//! The gateway's shared state, its reply queue, and the tasks consuming it.

use std::sync::Arc;
use std::time::Duration;

use funcmesh_bus::{
    Bus, ConsumeOptions, Consumer, Delivery, Error as BusError, Payload, QueueSpec,
};
use funcmesh_core::capture::Capture;
use funcmesh_core::routing::RouteTable;
use funcmesh_core::{ResponseEnvelope, queues};
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::config::GatewayConfig;
use crate::error::{Error, Result};
use crate::pending::PendingReplies;
use crate::stats::{GatewayStats, StatsSnapshot};

/// Replies each consumer may hold unacknowledged.
const REPLY_PREFETCH: u16 = 512;

/// One gateway: the config, the bus, the routing table pushed by the tron,
/// and the clients waiting for replies. Requests reach it through [`serve`](crate::serve).
pub struct Gateway {
    pub(crate) config: GatewayConfig,
    pub(crate) bus: Arc<dyn Bus>,
    pub(crate) reply_queue: String,
    pub(crate) routes: watch::Receiver<Arc<RouteTable>>,
    pub(crate) pending: Arc<PendingReplies>,
    pub(crate) stats: Arc<GatewayStats>,
    pub(crate) capture: Arc<Capture>,
    consumers: Vec<AbortHandle>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("id", &self.config.id)
            .field("reply_queue", &self.reply_queue)
            .finish()
    }
}

impl Gateway {
    /// Declares the gateway's reply queue and starts consuming it. Must run
    /// inside a tokio runtime; the consumers stop when the gateway is dropped.
    /// This gateway never captures; see [`start_capturing`](Self::start_capturing).
    pub async fn start(
        bus: Arc<dyn Bus>,
        config: GatewayConfig,
        routes: watch::Receiver<Arc<RouteTable>>,
    ) -> Result<Arc<Gateway>> {
        Self::start_capturing(bus, config, routes, Arc::new(Capture::off())).await
    }

    /// [`start`](Self::start), with exchanges captured as `capture`'s rules
    /// say (rules that may change while the gateway serves).
    pub async fn start_capturing(
        bus: Arc<dyn Bus>,
        config: GatewayConfig,
        routes: watch::Receiver<Arc<RouteTable>>,
        capture: Arc<Capture>,
    ) -> Result<Arc<Gateway>> {
        config.validate().map_err(Error::Config)?;
        let reply_queue = queues::reply_queue(&config.id);
        let setup = |source| Error::Setup {
            queue: reply_queue.clone(),
            source,
        };
        bus.declare(&QueueSpec::reply(&reply_queue))
            .await
            .map_err(setup)?;
        let pending = Arc::new(PendingReplies::new());
        let stats = Arc::new(GatewayStats::default());
        // Decoding replies is the gateway's one serial step: a few competing
        // consumers keep it off the critical path on a busy machine.
        let count = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4);
        let mut consumers = Vec::with_capacity(count);
        for _ in 0..count {
            let consumer = bus
                .consume(
                    &reply_queue,
                    ConsumeOptions {
                        prefetch: REPLY_PREFETCH,
                    },
                )
                .await
                .map_err(setup)?;
            let task = consume_replies(
                consumer,
                Arc::clone(&pending),
                Arc::clone(&stats),
                reply_queue.clone(),
            );
            consumers.push(tokio::spawn(task).abort_handle());
        }
        tracing::info!(gateway.id = %config.id, reply_queue = %reply_queue, messaging.system = bus.system(), "gateway started");
        Ok(Arc::new(Gateway {
            config,
            bus,
            reply_queue,
            routes,
            pending,
            stats,
            capture,
            consumers,
        }))
    }

    /// The gateway's configuration.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// The queue this gateway's replies arrive on.
    pub fn reply_queue(&self) -> &str {
        &self.reply_queue
    }

    /// The counters as they are now.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Registers this gateway's metrics (`funcmesh_gateway_*` and
    /// `funcmesh_capture_*`) in `registry`.
    pub fn register_metrics(&self, registry: &mut funcmesh_core::metrics::Registry) {
        use funcmesh_core::metrics::{self, DescriptorEncoder};
        self.stats.register(registry);
        let capture = Arc::clone(&self.capture);
        registry.register_collector(Box::new(metrics::CollectWith(
            move |e: &mut DescriptorEncoder| {
                let s = capture.stats();
                metrics::counter(
                    e,
                    "funcmesh_capture_written",
                    "Exchanges written to the capture file.",
                    s.written,
                )?;
                metrics::counter(
                    e,
                    "funcmesh_capture_dropped",
                    "Exchanges not captured because the writer was behind.",
                    s.dropped,
                )?;
                metrics::counter(
                    e,
                    "funcmesh_capture_failed",
                    "Exchanges lost to an error while capturing.",
                    s.failed,
                )
            },
        )));
    }

    /// The capture: its rules can be changed while the gateway serves.
    pub fn capture(&self) -> &Arc<Capture> {
        &self.capture
    }

    /// How many clients wait for a reply right now.
    pub fn waiting(&self) -> usize {
        self.pending.len()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        for consumer in &self.consumers {
            consumer.abort();
        }
    }
}

/// Completes waiting clients from the reply queue until the bus closes.
async fn consume_replies(
    mut consumer: Consumer,
    pending: Arc<PendingReplies>,
    stats: Arc<GatewayStats>,
    queue: String,
) {
    while let Some(next) = consumer.next().await {
        let delivery = match next {
            Ok(delivery) => delivery,
            Err(BusError::Closed) => break,
            Err(error) => {
                tracing::warn!(%error, reply_queue = %queue, "receiving replies failed; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // A reply is acknowledged whatever became of it: redelivering it
        // cannot help. One carried as itself (the in-process bus) is
        // acknowledged first, which lets go of its only other holder, so
        // that it is handed over without a copy.
        let payload = delivery.payload().clone();
        let delivery = match payload {
            Payload::Local(_) => {
                acknowledge(delivery, &queue).await;
                None
            }
            Payload::Bytes(_) => Some(delivery),
        };
        match ResponseEnvelope::from_payload(payload) {
            Ok(reply) => {
                if let Err(late) = pending.complete(reply) {
                    stats.late_reply();
                    tracing::debug!(request_id = %late.id, status = late.status, "reply for a request nobody waits for; dropped");
                }
            }
            Err(error) => tracing::warn!(%error, reply_queue = %queue, "malformed reply dropped"),
        }
        if let Some(delivery) = delivery {
            acknowledge(delivery, &queue).await;
        }
    }
    tracing::info!(reply_queue = %queue, "reply consumer stopped: the bus closed");
}

async fn acknowledge(delivery: Delivery, queue: &str) {
    if let Err(error) = delivery.ack().await {
        tracing::warn!(%error, reply_queue = %queue, "acknowledging a reply failed");
    }
}
