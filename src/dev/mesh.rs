use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use funcmesh_bus::Bus;
use funcmesh_bus::inproc::InProcBus;
use funcmesh_core::bundle::Bundle;
use funcmesh_core::control::RoutesAnnouncement;
use funcmesh_core::shutdown::Shutdown;
use funcmesh_gateway::{Gateway, GatewayNode, GatewayOptions};
use funcmesh_runner::{RunnerNode, RunnerOptions};
use funcmesh_tron::watch::{self, Target, WatchOptions};
use funcmesh_tron::{Registry, TronNode, TronOptions};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::{DevOptions, LoadOutcome, WatchHandle};
use crate::compose::{InstallInRunner, TronInProcess};

/// How long a change may take to reach the gateway and the runner over the
/// in-process bus before `load` returns anyway (it takes microseconds).
const SETTLE: Duration = Duration::from_secs(5);

/// A whole mesh in one process: the cluster's nodes on the in-process bus.
pub struct DevMesh {
    bus: Arc<dyn Bus>,
    tron: Arc<TronNode>,
    runner: Arc<RunnerNode>,
    gateway: GatewayNode,
    options: DevOptions,
    /// Stops the gateway: no new requests, those in flight are answered.
    drain: Shutdown,
    addr: SocketAddr,
    server: Mutex<Option<JoinHandle<anyhow::Result<()>>>>,
}

impl std::fmt::Debug for DevMesh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevMesh")
            .field("addr", &self.addr)
            .field("dir", &self.options.dir)
            .finish()
    }
}

impl DevMesh {
    /// Starts the mesh on `listener` and loads every bundle under the
    /// directory. A bundle that fails to load is logged and left out; the
    /// others serve.
    pub async fn start(options: DevOptions, listener: TcpListener) -> anyhow::Result<Arc<Self>> {
        anyhow::ensure!(
            options.dir.is_dir(),
            "{} is not a directory",
            options.dir.display()
        );
        if options.capture.is_none() && options.capture_rules.is_active() {
            anyhow::bail!(
                "--capture: capture rules need a directory to write to (give --capture-dir)"
            );
        }
        options
            .capture_rules
            .validate()
            .map_err(|error| anyhow::anyhow!("--capture: {error}"))?;
        let addr = listener
            .local_addr()
            .context("reading the listener's address")?;
        let bus: Arc<dyn Bus> = Arc::new(InProcBus::new());
        // A replaced version stays installed until every request routed to
        // it has had its deadline.
        let grace = options.gateway.timeout + Duration::from_secs(1);

        let source = Arc::new(TronInProcess::default());
        let mut runner_options = RunnerOptions::new(std::env::temp_dir());
        runner_options.source = Some(Arc::clone(&source) as _);
        runner_options.pool = None;
        runner_options.concurrency = options.concurrency;
        runner_options.dev_mode = options.dev_mode;
        runner_options.grace = grace;
        runner_options.python = options.python.clone();
        let runner = RunnerNode::start(Arc::clone(&bus), runner_options).await?;

        let gateway = GatewayNode::start(
            Arc::clone(&bus),
            GatewayOptions {
                config: options.gateway.clone(),
                capture: options.capture.clone(),
            },
        )
        .await?;

        let mut tron_options = TronOptions::new(&options.dir);
        tron_options.policy = options.policy;
        tron_options.firehose = options.gateway.firehose.clone();
        tron_options.grace = grace;
        tron_options.watch = false;
        tron_options.debounce = options.debounce;
        tron_options.prepare = Some(Arc::new(InstallInRunner(runner.runner().clone())));
        tron_options.capture = options.capture_rules.clone();
        let tron = TronNode::start(Arc::clone(&bus), tron_options, None).await?;
        source.set(&tron);

        let drain = Shutdown::new();
        let server = {
            let gateway = Arc::clone(gateway.gateway());
            tokio::spawn(funcmesh_gateway::serve(listener, gateway, drain.wait()))
        };
        let mesh = Arc::new(Self {
            bus,
            tron,
            runner,
            gateway,
            options,
            drain,
            addr,
            server: Mutex::new(Some(server)),
        });
        mesh.settle().await;
        Ok(mesh)
    }

    /// Registers the metrics of the gateway, the runner and the tron in
    /// `registry`.
    pub fn register_metrics(&self, registry: &mut funcmesh_core::metrics::Registry) {
        self.gateway.gateway().register_metrics(registry);
        self.runner.runner().stats_handle().register(registry);
        self.tron.register_metrics(registry);
    }

    /// Loads (or reloads) the bundle in `dir` and makes it live: when this
    /// returns, the gateway routes to it. On error the version already
    /// live, if any, keeps serving.
    pub async fn load(&self, dir: &Path) -> anyhow::Result<LoadOutcome> {
        let outcome = self.tron.load(dir).await?;
        self.settle().await;
        Ok(outcome)
    }

    /// Takes the bundle from `dir` out of service: when this returns, its
    /// routes answer 404.
    pub async fn unload(&self, dir: &Path) -> Option<Arc<Bundle>> {
        let removed = self.tron.unload(dir)?;
        self.settle().await;
        Some(removed)
    }

    /// Watches the bundle directory: a saved change reloads its bundle, a
    /// new bundle directory goes live, a removed one stops routing. Keep
    /// the handle; dropping it stops the watching. Its
    /// [`WatchHandle::subscribe`] tells each reload's result.
    pub fn watch(self: &Arc<Self>) -> anyhow::Result<WatchHandle> {
        let options = WatchOptions {
            debounce: self.options.debounce,
        };
        watch::watch(&self.options.dir, Arc::clone(self), options)
    }

    /// How the mesh was started.
    pub fn options(&self) -> &DevOptions {
        &self.options
    }

    /// Where the gateway listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The live bundles and routes.
    pub fn registry(&self) -> &Arc<Registry> {
        self.tron.registry()
    }

    /// The tron node.
    pub fn tron(&self) -> &Arc<TronNode> {
        &self.tron
    }

    /// The bus the mesh runs on.
    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.bus
    }

    /// What the runner has done so far.
    pub fn runner_stats(&self) -> funcmesh_runner::StatsSnapshot {
        self.runner.stats()
    }

    /// The gateway (for its statistics).
    pub fn gateway(&self) -> &Arc<Gateway> {
        self.gateway.gateway()
    }

    /// Stops accepting, answers what is in flight, then stops every node.
    /// The tron and the runner keep working until the gateway has drained,
    /// so that requests already queued are answered, not timed out.
    pub async fn shutdown(&self) -> anyhow::Result<()> {
        self.drain.trigger();
        let server = self.server.lock().take();
        let drained = match server {
            Some(server) => server
                .await
                .context("the gateway task panicked")
                .and_then(|r| r),
            None => Ok(()),
        };
        funcmesh_gateway::node::log_capture_stats(self.gateway().capture());
        self.tron.shutdown().await;
        self.runner.shutdown().await;
        drained
    }

    /// Waits until the gateway and the runner follow what the tron
    /// announces now.
    async fn settle(&self) {
        let want = self.tron.announcement();
        let current = |applied: &Option<Arc<RoutesAnnouncement>>| {
            applied.as_ref().is_some_and(|a| {
                a.tron == want.tron
                    && a.table.routes == want.table.routes
                    && a.capture == want.capture
            })
        };
        let (mut gateway, mut runner) = (self.gateway.applied(), self.runner.applied());
        let both = async {
            let _ = gateway.wait_for(current).await;
            let _ = runner.wait_for(current).await;
        };
        if tokio::time::timeout(SETTLE, both).await.is_err() {
            tracing::warn!(
                "the gateway or the runner has not taken the routes within {SETTLE:?}; serving anyway"
            );
        }
    }
}

impl Target for DevMesh {
    fn load(&self, dir: &Path) -> impl Future<Output = anyhow::Result<LoadOutcome>> + Send {
        DevMesh::load(self, dir)
    }

    async fn unload(&self, dir: &Path) -> Option<String> {
        DevMesh::unload(self, dir)
            .await
            .map(|removed| removed.hash.clone())
    }

    fn live(&self, dir: &Path) -> Option<String> {
        self.registry().get(dir).map(|bundle| bundle.hash.clone())
    }

    fn served(&self) -> Vec<PathBuf> {
        self.registry()
            .bundles()
            .iter()
            .map(|bundle| bundle.dir.clone())
            .collect()
    }
}
