//! `funcmesh gateway`: HTTP in, envelopes onto the bus, replies back out.

use std::sync::Arc;

use funcmesh_bus::Bus;
use funcmesh_core::capture::{Capture, CaptureRules, WriterConfig};
use funcmesh_core::routing::RouteTable;
use funcmesh_gateway::{Gateway, GatewayConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::follow;

/// How `funcmesh gateway` runs.
#[derive(Debug, Clone, Default)]
pub struct GatewayOptions {
    /// Limits, timeout and routing.
    pub config: GatewayConfig,
    /// Where captured exchanges are written; without it, capture rules
    /// announced by the trons are ignored (with a warning).
    pub capture: Option<WriterConfig>,
}

/// A gateway following the trons' routing tables.
#[derive(Debug)]
pub struct GatewayNode {
    gateway: Arc<Gateway>,
}

impl GatewayNode {
    /// Declares the reply queue and starts following the routes. With the
    /// broker down the gateway still starts: it answers 503 until the bus
    /// connects.
    pub async fn start(bus: Arc<dyn Bus>, options: GatewayOptions) -> anyhow::Result<Self> {
        let id = options.config.id.clone();
        let capture = Arc::new(crate::capture::open(options.capture)?);
        let mut announced = follow::follow(Arc::clone(&bus), "gateway", &id).await?;
        let (tables, routes) = watch::channel(RouteTable::empty());
        let following = Arc::clone(&capture);
        tokio::spawn(async move {
            let mut rules = CaptureRules::default();
            while announced.changed().await.is_ok() {
                let Some(fresh) = announced.borrow_and_update().clone() else {
                    continue;
                };
                if fresh.capture != rules {
                    rules = fresh.capture.clone();
                    apply_capture(&following, &rules);
                }
                if tables.send(Arc::new(fresh.table.clone())).is_err() {
                    return;
                }
            }
        });
        let gateway = Gateway::start_capturing(bus, options.config, routes, capture).await?;
        Ok(Self { gateway })
    }

    /// The gateway (for its statistics).
    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// Serves HTTP on `listener` until `shutdown`, then answers what is in
    /// flight and returns.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let served = funcmesh_gateway::serve(listener, Arc::clone(&self.gateway), shutdown).await;
        crate::capture::log_stats(self.gateway.capture());
        served
    }
}

/// Puts newly announced capture rules in force.
fn apply_capture(capture: &Capture, announced: &CaptureRules) {
    match capture.set_rules(announced.clone()) {
        Ok(()) if !announced.is_active() => tracing::info!("capture stopped: no rule in force"),
        Ok(()) => tracing::info!(rules = ?announced.routes, "capture rules in force"),
        Err(error) => {
            tracing::warn!(%error, rules = ?announced.routes, "capture rules announced but not applied: start the gateway with --capture-dir to capture here")
        }
    }
}
