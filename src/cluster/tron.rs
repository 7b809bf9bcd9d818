//! `funcmesh tron`: the bundle directory, the bundle store, the routes.

mod announce;
mod target;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use funcmesh_bus::Bus;
use funcmesh_core::bundle;
use funcmesh_core::capture::CaptureRules;
use funcmesh_core::queues;
use funcmesh_tron::admin::{self, AdminState};
use funcmesh_tron::store::BundleStore;
use funcmesh_tron::{DeadLetters, Dispatcher, Registry};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::control::{self, RunnerHeartbeat};
use super::{QueuePolicy, lock};
use crate::shutdown::Shutdown;
use crate::watch::{self, WatchHandle, WatchOptions};

/// How `funcmesh tron` runs.
#[derive(Debug, Clone)]
pub struct TronOptions {
    /// The watched directory of bundles.
    pub bundles: PathBuf,
    /// The URL runners use to reach the admin listener; default
    /// `http://` + its bound address.
    pub public_url: Option<String>,
    /// The shared queues' limits.
    pub policy: QueuePolicy,
    /// The queue requests arrive on.
    pub firehose: String,
    /// How long a replaced bundle version stays in the store, so that
    /// requests already routed to it can still be served.
    pub grace: Duration,
    /// The largest bundle upload accepted, in bytes.
    pub max_upload: usize,
    /// Reload on save.
    pub watch: bool,
    /// The watcher's debounce window.
    pub debounce: Duration,
    /// How Python bundles are import-checked before they go live; without a
    /// worker command they are not (the runners will refuse a broken one).
    pub python: funcmesh_runner::PythonConfig,
    /// The capture rules announced until `funcmesh capture` changes them.
    pub capture: CaptureRules,
}

impl TronOptions {
    /// Defaults for serving `bundles`.
    pub fn new(bundles: impl Into<PathBuf>) -> Self {
        Self {
            bundles: bundles.into(),
            public_url: None,
            policy: QueuePolicy::default(),
            firehose: queues::FIREHOSE.to_owned(),
            grace: Duration::from_secs(31),
            max_upload: admin::DEFAULT_MAX_UPLOAD,
            watch: true,
            debounce: WatchOptions::default().debounce,
            python: funcmesh_runner::PythonConfig::default(),
            capture: CaptureRules::default(),
        }
    }
}

/// A running tron.
pub struct TronNode {
    id: String,
    bus: Arc<dyn Bus>,
    registry: Arc<Registry>,
    store: Arc<BundleStore>,
    options: TronOptions,
    store_url: String,
    admin_addr: SocketAddr,
    declared: Mutex<HashSet<String>>,
    runners: Mutex<HashMap<String, RunnerHeartbeat>>,
    capture: Mutex<CaptureRules>,
    shutdown: Shutdown,
    tasks: Mutex<JoinSet<()>>,
    watching: Mutex<Option<WatchHandle>>,
}

impl std::fmt::Debug for TronNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TronNode")
            .field("id", &self.id)
            .field("bundles", &self.options.bundles)
            .finish()
    }
}

impl TronNode {
    /// Declares the shared queues, loads every bundle, and starts the
    /// dispatcher, the dead-letter consumer, the announcer and the admin
    /// listener on `admin_listener`.
    pub async fn start(
        bus: Arc<dyn Bus>,
        options: TronOptions,
        admin_listener: TcpListener,
    ) -> anyhow::Result<Arc<Self>> {
        anyhow::ensure!(
            options.bundles.is_dir(),
            "{} is not a directory",
            options.bundles.display()
        );
        let admin_addr = admin_listener
            .local_addr()
            .context("reading the admin listener's address")?;
        let store_url = options
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{admin_addr}"));
        let capture = options.capture.clone();
        let node = Arc::new(Self {
            id: control::new_id(),
            bus,
            registry: Arc::new(Registry::new()),
            store: Arc::new(BundleStore::new()),
            options,
            store_url,
            admin_addr,
            declared: Mutex::default(),
            runners: Mutex::default(),
            capture: Mutex::new(capture),
            shutdown: Shutdown::new(),
            tasks: Mutex::new(JoinSet::new()),
            watching: Mutex::new(None),
        });
        node.declare_shared().await;
        node.spawn_consumers();
        node.spawn_admin(admin_listener);
        announce::spawn(&node);
        for dir in bundle::find_bundles(&node.options.bundles) {
            if let Err(error) = node.load(&dir).await {
                tracing::error!("bundle {} not loaded: {error:#}", dir.display());
            }
        }
        if node.options.watch {
            let options = WatchOptions {
                debounce: node.options.debounce,
            };
            let handle = watch::watch(&node.options.bundles, Arc::clone(&node), options)?;
            *lock(&node.watching) = Some(handle);
        }
        tracing::info!(tron.id = %node.id, admin = %node.store_url, bundles = %node.options.bundles.display(), "tron started");
        Ok(node)
    }

    /// The live bundles and routes.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Where the admin listener is bound.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The runners heard from recently.
    pub fn runners(&self) -> Vec<RunnerHeartbeat> {
        let mut runners: Vec<_> = lock(&self.runners).values().cloned().collect();
        runners.sort_by(|a, b| a.runner.cmp(&b.runner));
        runners
    }

    /// Stops every task: the firehose is left to the other trons.
    pub async fn shutdown(&self) {
        lock(&self.watching).take();
        self.shutdown.trigger();
        let mut tasks = std::mem::take(&mut *lock(&self.tasks));
        while tasks.join_next().await.is_some() {}
    }

    /// Declares the firehose and the dead-letter queues; with the broker
    /// down the backend declares them once it is up.
    async fn declare_shared(&self) {
        let declared = self
            .options
            .policy
            .declare_shared(&*self.bus, &self.options.firehose)
            .await;
        if let Err(error) = declared {
            tracing::warn!(%error, "declaring the shared queues failed; the bus retries on reconnect");
        }
    }

    fn spawn_consumers(self: &Arc<Self>) {
        let dispatcher = Arc::new(Dispatcher::new(
            Arc::clone(&self.bus),
            self.registry.subscribe(),
        ));
        let firehose = self.options.firehose.clone();
        let shutdown = self.shutdown.clone();
        self.spawn(async move {
            super::keep_serving("the firehose", shutdown, |stop| {
                let (dispatcher, firehose) = (Arc::clone(&dispatcher), firehose.clone());
                async move { dispatcher.serve(&firehose, stop).await }
            })
            .await;
        });
        let dead = Arc::new(DeadLetters::new(Arc::clone(&self.bus), queues::PARKED));
        let shutdown = self.shutdown.clone();
        self.spawn(async move {
            super::keep_serving("the dead letters", shutdown, |stop| {
                let dead = Arc::clone(&dead);
                async move { dead.serve(queues::DEAD_LETTER, stop).await }
            })
            .await;
        });
    }

    fn spawn_admin(self: &Arc<Self>, listener: TcpListener) {
        let uploads = Arc::downgrade(self);
        let status = Arc::downgrade(self);
        let state = AdminState {
            store: Arc::clone(&self.store),
            bundles_dir: self.options.bundles.clone(),
            max_upload: self.options.max_upload,
            on_upload: Arc::new(move |dir: PathBuf| {
                let node = uploads.upgrade();
                Box::pin(async move {
                    let node = node.context("the tron is shutting down")?;
                    node.load(&dir).await?;
                    node.registry
                        .get(&dir)
                        .map(|b| b.hash.clone())
                        .context("the uploaded bundle is not live")
                })
            }),
            status: Arc::new(move || {
                status
                    .upgrade()
                    .map_or(serde_json::Value::Null, |n| n.status())
            }),
        };
        let stop = self.shutdown.wait();
        self.spawn(async move {
            if let Err(error) = admin::serve(listener, state, stop).await {
                tracing::error!("the admin listener stopped: {error:#}");
            }
        });
    }

    /// `GET /status`: the routes and the runners.
    fn status(&self) -> serde_json::Value {
        serde_json::json!({
            "tron": self.id,
            "routes": self.registry.table().routes,
            "runners": self.runners(),
            "capture": lock(&self.capture).clone(),
        })
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        lock(&self.tasks).spawn(task);
    }
}
