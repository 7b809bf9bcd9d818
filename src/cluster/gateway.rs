//! `funcmesh gateway`: HTTP in, envelopes onto the bus, replies back out.

use std::sync::Arc;

use funcmesh_bus::Bus;
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
        let mut announced = follow::follow(Arc::clone(&bus), "gateway", &id).await?;
        let (tables, routes) = watch::channel(RouteTable::empty());
        tokio::spawn(async move {
            while announced.changed().await.is_ok() {
                let table = announced
                    .borrow_and_update()
                    .as_ref()
                    .map(|a| Arc::new(a.table.clone()));
                if let Some(table) = table
                    && tables.send(table).is_err()
                {
                    return;
                }
            }
        });
        let gateway = Gateway::start(bus, options.config, routes).await?;
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
        funcmesh_gateway::serve(listener, Arc::clone(&self.gateway), shutdown).await
    }
}
