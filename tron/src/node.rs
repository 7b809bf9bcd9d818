//! The tron as a node of the mesh: it owns the bundle directory and the
//! bundle store, declares the queues, announces the routes, dispatches the
//! firehose and answers dead letters.
//!
//! - `target`: loading and unloading bundles, which the watcher drives.
//! - `announce`: the control traffic: announcing the routes, hearing
//!   runners' heartbeats and capture changes.

mod announce;
mod metrics;
mod scaling;
mod target;

pub use scaling::Scaling;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use funcmesh_bus::Bus;
use funcmesh_core::bundle::{self, Bundle};
use funcmesh_core::capture::CaptureRules;
use funcmesh_core::control::{self, RunnerHeartbeat};
use funcmesh_core::queues;
use funcmesh_core::shutdown::{Shutdown, keep_serving};
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::admin::{self, AdminState};
use crate::policy::QueuePolicy;
use crate::store::BundleStore;
use crate::watch::{self, WatchHandle, WatchOptions};
use crate::{DeadLetters, Dispatcher, Registry};

/// What must hold of a bundle before it goes live, beyond loading: a Python
/// bundle imports, say, or (in one process) the runner has it installed. A
/// bundle that fails it is refused and the version live keeps serving.
pub trait Prepare: Send + Sync + 'static {
    /// Readies `bundle`, or says why it cannot serve.
    fn prepare(
        &self,
        bundle: Arc<Bundle>,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + '_>>;

    /// `hash` was prepared but did not go live (its route is taken by
    /// another bundle): undo what [`prepare`](Self::prepare) did.
    fn discard(&self, hash: &str) {
        let _ = hash;
    }
}

/// How a tron node runs.
#[derive(Clone)]
pub struct TronOptions {
    /// The watched directory of bundles.
    pub bundles: PathBuf,
    /// The URL runners use to reach the admin listener; default
    /// `http://` (`https://` with `admin_tls`) + its bound address.
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
    /// What is checked of a bundle before it goes live; without it, only
    /// that it loads (the runners will refuse a version they cannot run).
    pub prepare: Option<Arc<dyn Prepare>>,
    /// The capture rules announced until `funcmesh capture` changes them.
    pub capture: CaptureRules,
    /// How the runner pools are scaled; `None`: they are not (runners are
    /// started and stopped by hand or by another tool).
    pub scaling: Option<Scaling>,
    /// The mesh token the admin API requires; `None` leaves it open.
    pub token: Option<funcmesh_core::auth::MeshToken>,
    /// The admin listener's TLS (`funcmesh_core::tls::server_config`);
    /// `None` serves plain HTTP.
    pub admin_tls: Option<Arc<rustls::ServerConfig>>,
}

impl std::fmt::Debug for TronOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TronOptions")
            .field("bundles", &self.bundles)
            .field("public_url", &self.public_url)
            .field("policy", &self.policy)
            .field("firehose", &self.firehose)
            .field("grace", &self.grace)
            .field("watch", &self.watch)
            .field("prepare", &self.prepare.is_some())
            .field("authenticated", &self.token.is_some())
            .field("admin_tls", &self.admin_tls.is_some())
            .field("capture", &self.capture)
            .field(
                "scaling",
                &self.scaling.as_ref().map(|s| s.orchestrator.name()),
            )
            .finish_non_exhaustive()
    }
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
            prepare: None,
            capture: CaptureRules::default(),
            scaling: None,
            token: None,
            admin_tls: None,
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
    /// Where runners fetch packs, when the admin listener serves them.
    store_url: Option<String>,
    admin_addr: Option<SocketAddr>,
    declared: Mutex<HashSet<String>>,
    runners: Mutex<HashMap<String, RunnerHeartbeat>>,
    capture: Mutex<CaptureRules>,
    log_levels: Mutex<control::LogLevels>,
    shutdown: Shutdown,
    tasks: Mutex<JoinSet<()>>,
    watching: Mutex<Option<WatchHandle>>,
    scaler: Mutex<Option<Arc<scaling::Running>>>,
    /// What the firehose's dispatcher and the dead-letter consumer did.
    dispatch: Arc<crate::DispatchStats>,
    dead_letters: Arc<crate::dead_letter::DeadLetterStats>,
    /// Each queue's depth when last sampled (for the metrics).
    depths: Mutex<std::collections::BTreeMap<String, u64>>,
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
    /// dispatcher, the dead-letter consumer, the announcer and, on
    /// `admin_listener`, the admin listener (a mesh in one process may do
    /// without: its runner gets bundles in memory).
    pub async fn start(
        bus: Arc<dyn Bus>,
        options: TronOptions,
        admin_listener: Option<TcpListener>,
    ) -> anyhow::Result<Arc<Self>> {
        anyhow::ensure!(
            options.bundles.is_dir(),
            "{} is not a directory",
            options.bundles.display()
        );
        let admin_addr = admin_listener
            .as_ref()
            .map(TcpListener::local_addr)
            .transpose()
            .context("reading the admin listener's address")?;
        let store_url = options.public_url.clone().or_else(|| {
            let scheme = match options.admin_tls {
                Some(_) => "https",
                None => "http",
            };
            admin_addr.map(|addr| format!("{scheme}://{addr}"))
        });
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
            log_levels: Mutex::default(),
            shutdown: Shutdown::new(),
            tasks: Mutex::new(JoinSet::new()),
            watching: Mutex::new(None),
            scaler: Mutex::new(None),
            dispatch: Arc::default(),
            dead_letters: Arc::default(),
            depths: Mutex::default(),
        });
        node.declare_shared().await;
        if let Some(listener) = admin_listener {
            node.spawn_admin(listener);
        }
        announce::spawn(&node);
        if let Some(scaling) = node.options.scaling.clone() {
            let running = scaling::start(&node, scaling).await?;
            *node.scaler.lock() = Some(running);
        }
        for dir in bundle::find_bundles(&node.options.bundles) {
            if let Err(error) = node.load(&dir).await {
                tracing::error!("bundle {} not loaded: {error:#}", dir.display());
            }
        }
        // Only now the firehose: a request taken before its bundle was
        // loaded would be answered 404 (it waits on the queue meanwhile).
        node.spawn_consumers();
        if node.options.watch {
            let handle = node.watch()?;
            *node.watching.lock() = Some(handle);
        }
        tracing::info!(
            tron.id = %node.id,
            admin = node.store_url.as_deref().unwrap_or("-"),
            bundles = %node.options.bundles.display(),
            "tron started"
        );
        Ok(node)
    }

    /// Watches the bundle directory: a saved change reloads its bundle, a
    /// new bundle directory goes live, a removed one stops routing. Keep
    /// the handle; dropping it stops the watching. Its
    /// [`WatchHandle::subscribe`] tells each reload's result. A node
    /// started with [`TronOptions::watch`] watches already.
    pub fn watch(self: &Arc<Self>) -> anyhow::Result<WatchHandle> {
        let options = WatchOptions {
            debounce: self.options.debounce,
        };
        watch::watch(&self.options.bundles, Arc::clone(self), options)
    }

    /// The live bundles and routes.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Where the admin listener is bound, if the node has one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The runners heard from recently.
    pub fn runners(&self) -> Vec<RunnerHeartbeat> {
        let mut runners: Vec<_> = self.runners.lock().values().cloned().collect();
        runners.sort_by(|a, b| a.runner.cmp(&b.runner));
        runners
    }

    /// Stops every task: the firehose is left to the other trons.
    pub async fn shutdown(&self) {
        self.watching.lock().take();
        self.shutdown.trigger();
        let mut tasks = std::mem::take(&mut *self.tasks.lock());
        while tasks.join_next().await.is_some() {}
        let scaler = self.scaler.lock().take();
        if let Some(scaler) = scaler {
            scaler.shutdown().await;
        }
        // The firehose's last acknowledgements: without them, another
        // tron would route what was routed here again.
        funcmesh_bus::finish(&*self.bus).await;
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
        let dispatcher = Arc::new(Dispatcher::with_stats(
            Arc::clone(&self.bus),
            self.registry.subscribe(),
            Arc::clone(&self.dispatch),
        ));
        let firehose = self.options.firehose.clone();
        let shutdown = self.shutdown.clone();
        self.spawn(async move {
            keep_serving("the firehose", shutdown, |stop| {
                let (dispatcher, firehose) = (Arc::clone(&dispatcher), firehose.clone());
                async move { dispatcher.serve(&firehose, stop).await }
            })
            .await;
        });
        let dead = Arc::new(DeadLetters::with_stats(
            Arc::clone(&self.bus),
            queues::PARKED,
            Arc::clone(&self.dead_letters),
        ));
        let shutdown = self.shutdown.clone();
        self.spawn(async move {
            keep_serving("the dead letters", shutdown, |stop| {
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
            token: self.options.token.clone(),
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
        let tls = self.options.admin_tls.clone();
        self.spawn(async move {
            if let Err(error) = admin::serve(listener, state, tls, stop).await {
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
            "capture": self.capture.lock().clone(),
            "log_levels": self.log_levels.lock().live(funcmesh_bus::now_ms()),
            "scaling": self.scaler.lock().as_ref().map(|s| s.status()),
        })
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.lock().spawn(task);
    }
}
