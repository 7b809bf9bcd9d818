//! The gateway as a node of the mesh: it follows the trons' routing tables
//! and capture rules from the bus's control topics, and serves HTTP.

use std::sync::Arc;

use anyhow::Context as _;
use funcmesh_bus::Bus;
use funcmesh_core::capture::{Capture, CaptureRules, CaptureWriter, WriterConfig};
use funcmesh_core::control::{RoutesAnnouncement, follow};
use funcmesh_core::routing::RouteTable;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::{Gateway, GatewayConfig};

/// How a gateway node runs.
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
    applied: watch::Receiver<Option<Arc<RoutesAnnouncement>>>,
}

impl GatewayNode {
    /// Declares the reply queue and starts following the routes. With the
    /// broker down the gateway still starts: it answers 503 until the bus
    /// connects.
    pub async fn start(bus: Arc<dyn Bus>, options: GatewayOptions) -> anyhow::Result<Self> {
        let id = options.config.id.clone();
        let capture = Arc::new(open_capture(options.capture)?);
        let mut announced = follow::follow(Arc::clone(&bus), "gateway", &id)
            .await
            .context("listening for the routing tables")?;
        let (tables, routes) = watch::channel(RouteTable::empty());
        let (applied_tx, applied) = watch::channel(None);
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
                applied_tx.send_replace(Some(fresh));
            }
        });
        let gateway = Gateway::start_capturing(bus, options.config, routes, capture).await?;
        Ok(Self { gateway, applied })
    }

    /// The last announcement this gateway routes and captures by, as it
    /// changes: `None` until the first.
    pub fn applied(&self) -> watch::Receiver<Option<Arc<RoutesAnnouncement>>> {
        self.applied.clone()
    }

    /// The gateway (for its statistics and its capture).
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
        let served = crate::serve(listener, Arc::clone(&self.gateway), shutdown).await;
        log_capture_stats(self.gateway.capture());
        served
    }
}

/// A gateway's capture: writing to `config`'s directory, or never (`None`).
pub fn open_capture(config: Option<WriterConfig>) -> anyhow::Result<Capture> {
    let Some(config) = config else {
        return Ok(Capture::off());
    };
    let dir = config.dir.display().to_string();
    let writer = CaptureWriter::start(config)
        .with_context(|| format!("opening the capture directory {dir}"))?;
    Ok(Capture::new(writer))
}

/// Writes out what was captured and says how much, when anything could be.
pub fn log_capture_stats(capture: &Capture) {
    if !capture.can_capture() {
        return;
    }
    capture.flush();
    let stats = capture.stats();
    // A target of its own, which a log filter can let through alone
    // (`warn,funcmesh::capture=info`, as the benchmark does).
    tracing::info!(
        target: "funcmesh::capture",
        written = stats.written,
        dropped = stats.dropped,
        failed = stats.failed,
        rotations = stats.rotations,
        "capture stats"
    );
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
