//! The runner as a node of the mesh: it serves every announced route, with
//! bundles fetched from a tron's store by hash (or handed over in-process),
//! and reports its statistics in heartbeats.

mod source;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use funcmesh_bus::{Bus, now_ms};
use funcmesh_core::control::{
    self, HEARTBEAT_EVERY, RUNNER_STATS_TOPIC, RoutesAnnouncement, RunnerHeartbeat, follow,
};
use funcmesh_core::routing::Route;
use funcmesh_core::shutdown::{Shutdown, keep_serving};
use parking_lot::Mutex;
use tokio::task::JoinSet;

use crate::{BundleSource, Executor, ExecutorConfig, Runner, RunnerConfig};
use source::FetchSource;

/// How long a runner that stops waits for its last heartbeat to be sent.
const LAST_HEARTBEAT_WAIT: Duration = Duration::from_secs(1);

/// How a runner node runs.
#[derive(Clone)]
pub struct RunnerOptions {
    /// Admin URLs of the trons to fetch bundles from; empty: the store each
    /// tron announces.
    pub trons: Vec<String>,
    /// Where bundles come from instead of a tron's store: a mesh in one
    /// process hands them over in memory.
    pub source: Option<Arc<dyn BundleSource>>,
    /// The runner pool served: only routes of that pool are consumed.
    /// `None`: every route (a mesh in one process has one runner).
    pub pool: Option<String>,
    /// Where fetched bundles are kept.
    pub cache_dir: PathBuf,
    /// Calls run at once (also each Func queue's prefetch).
    pub concurrency: usize,
    /// Whether 502 answers may carry a function's panic message.
    pub dev_mode: bool,
    /// How long a bundle version dropped from the routes stays installed,
    /// for requests already routed to it.
    pub grace: Duration,
    /// How Python bundles run; without a worker command they are refused.
    pub python: crate::PythonConfig,
    /// The mesh token sent with every bundle download.
    pub token: Option<funcmesh_core::auth::MeshToken>,
    /// Whom `https://` trons are trusted as (`--admin-ca`).
    pub admin_trust: funcmesh_core::tls::AdminTrust,
}

impl RunnerOptions {
    /// Defaults, caching bundles under `cache_dir`.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            trons: Vec::new(),
            source: None,
            pool: Some(funcmesh_core::bundle::DEFAULT_POOL.to_owned()),
            cache_dir: cache_dir.into(),
            concurrency: ExecutorConfig::default().concurrency,
            dev_mode: false,
            grace: Duration::from_secs(31),
            python: crate::PythonConfig::default(),
            token: None,
            admin_trust: funcmesh_core::tls::AdminTrust::default(),
        }
    }
}

impl std::fmt::Debug for RunnerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerOptions")
            .field("trons", &self.trons)
            .field("in_process_source", &self.source.is_some())
            .field("pool", &self.pool)
            .field("cache_dir", &self.cache_dir)
            .field("concurrency", &self.concurrency)
            .field("dev_mode", &self.dev_mode)
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

/// A running runner.
pub struct RunnerNode {
    id: String,
    bus: Arc<dyn Bus>,
    runner: Runner,
    options: RunnerOptions,
    /// The trons' store, unless the options gave another source.
    fetch: Option<Arc<FetchSource>>,
    /// The Func queues consumed, each with the signal that stops its
    /// consumer alone.
    queues: Mutex<HashMap<String, Shutdown>>,
    wanted: Mutex<HashSet<String>>,
    applied: tokio::sync::watch::Sender<Option<Arc<RoutesAnnouncement>>>,
    shutdown: Shutdown,
    tasks: Mutex<JoinSet<()>>,
}

impl std::fmt::Debug for RunnerNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunnerNode").field("id", &self.id).finish()
    }
}

impl RunnerNode {
    /// Starts following the routes and reporting.
    pub async fn start(bus: Arc<dyn Bus>, options: RunnerOptions) -> anyhow::Result<Arc<Self>> {
        let executor = Arc::new(Executor::new(ExecutorConfig {
            concurrency: options.concurrency,
            python: options.python.clone(),
            ..ExecutorConfig::default()
        })?);
        let runner = Runner::new(
            Arc::clone(&bus),
            executor,
            RunnerConfig {
                concurrency: options.concurrency,
                dev_mode: options.dev_mode,
                ..RunnerConfig::default()
            },
        );
        let fetch = match &options.source {
            Some(given) => {
                runner.set_source(Arc::clone(given));
                None
            }
            None => {
                let config = crate::fetch::FetchConfig {
                    token: options.token.clone(),
                    connector: options
                        .admin_trust
                        .connector()
                        .context("the CA certificates for the trons (--admin-ca)")?,
                    ..crate::fetch::FetchConfig::default()
                };
                let fetch = Arc::new(FetchSource::new(&options.trons, &options.cache_dir, config));
                runner.set_source(Arc::clone(&fetch) as _);
                Some(fetch)
            }
        };
        let id = control::new_id();
        let mut routes = follow::follow(Arc::clone(&bus), "runner", &id)
            .await
            .context("listening for the routing tables")?;
        let node = Arc::new(Self {
            id,
            bus,
            runner,
            options,
            fetch,
            queues: Mutex::default(),
            wanted: Mutex::default(),
            applied: tokio::sync::watch::Sender::new(None),
            shutdown: Shutdown::new(),
            tasks: Mutex::new(JoinSet::new()),
        });
        let weak = Arc::downgrade(&node);
        let stop = node.shutdown.wait();
        node.spawn(async move {
            let follow = async {
                while routes.changed().await.is_ok() {
                    let current = routes.borrow_and_update().clone();
                    match (current, weak.upgrade()) {
                        (Some(announced), Some(node)) => {
                            node.apply(&announced);
                            node.applied.send_replace(Some(announced));
                        }
                        (_, None) => return,
                        _ => {}
                    }
                }
            };
            tokio::select! { () = stop => {}, () = follow => {} }
        });
        node.spawn_heartbeat();
        tracing::info!(runner.id = %node.id, concurrency = node.options.concurrency, "runner started");
        Ok(node)
    }

    /// What the runner has done so far.
    pub fn stats(&self) -> crate::StatsSnapshot {
        self.runner.stats()
    }

    /// The runner that runs the calls.
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// The last announcement this runner serves, as it changes: `None`
    /// until the first.
    pub fn applied(&self) -> tokio::sync::watch::Receiver<Option<Arc<RoutesAnnouncement>>> {
        self.applied.subscribe()
    }

    /// Stops taking requests, finishes those in flight, says so in a last
    /// heartbeat, then returns.
    pub async fn shutdown(&self) {
        self.shutdown.trigger();
        let mut tasks = std::mem::take(&mut *self.tasks.lock());
        while tasks.join_next().await.is_some() {}
        // Nothing in flight any more, and the calls finished while
        // draining: otherwise a tron would count the calls of the last
        // heartbeat as running until it forgets this runner.
        let last = self.send_heartbeat();
        if tokio::time::timeout(LAST_HEARTBEAT_WAIT, last)
            .await
            .is_err()
        {
            tracing::debug!("last heartbeat not sent in time");
        }
        // What the dropped consumers owe the broker (the last
        // acknowledgements, Kafka's commits and hand-overs): without it,
        // other runners would run what was answered here again.
        funcmesh_bus::finish(&*self.bus).await;
    }

    /// Serves the routes of `announced`: installs their bundles (in the
    /// background) and consumes their Func queues; versions no route names
    /// any more are retired after the grace period.
    fn apply(self: &Arc<Self>, announced: &RoutesAnnouncement) {
        let mine: Vec<&Route> = announced
            .table
            .routes
            .iter()
            .filter(|route| {
                self.options
                    .pool
                    .as_ref()
                    .is_none_or(|pool| *pool == route.pool)
            })
            .collect();
        if let Some(fetch) = &self.fetch {
            if let Some(store) = &announced.store {
                fetch.use_store(store);
            }
            for route in &mine {
                fetch.name(&route.bundle, &route.name);
            }
        }
        let hashes: HashSet<String> = mine.iter().map(|r| r.bundle.clone()).collect();
        let dropped: Vec<String> = {
            let mut wanted = self.wanted.lock();
            let dropped = wanted.difference(&hashes).cloned().collect();
            *wanted = hashes.clone();
            dropped
        };
        for hash in hashes {
            let runner = self.runner.clone();
            tokio::spawn(async move {
                if !runner.ensure(&hash).await {
                    tracing::warn!(bundle = %hash, "announced bundle not installed; requests for it will retry the fetch");
                }
            });
        }
        for hash in dropped {
            self.retire_later(hash);
        }
        let queues: HashSet<&str> = mine.iter().map(|r| r.queue.as_str()).collect();
        self.queues.lock().retain(|queue, stop| {
            let keep = queues.contains(queue.as_str());
            if !keep {
                tracing::info!(
                    queue,
                    "no route of this runner's pool uses the queue any more; draining its consumer"
                );
                stop.trigger();
            }
            keep
        });
        for queue in queues {
            self.serve_queue(queue);
        }
    }

    fn serve_queue(&self, queue: &str) {
        let own = Shutdown::new();
        {
            let mut queues = self.queues.lock();
            if queues.contains_key(queue) {
                return;
            }
            queues.insert(queue.to_owned(), own.clone());
        }
        let runner = self.runner.clone();
        let queue = queue.to_owned();
        let node_stop = self.shutdown.wait();
        let stopped = own.clone();
        self.spawn(async move {
            let what = format!("the Func queue {queue}");
            let serve = keep_serving(&what, own.clone(), |stop| {
                let (runner, queue) = (runner.clone(), queue.clone());
                async move { runner.serve(&queue, stop).await }
            });
            // The node's shutdown stops every queue's consumer; a queue
            // dropped from the routes stops alone.
            let linked = async move {
                node_stop.await;
                stopped.trigger();
                std::future::pending::<()>().await
            };
            tokio::select! { () = serve => {}, () = linked => {} }
        });
    }

    fn retire_later(self: &Arc<Self>, hash: String) {
        let weak = Arc::downgrade(self);
        let grace = self.options.grace;
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            if let Some(node) = weak.upgrade()
                && !node.wanted.lock().contains(&hash)
            {
                tracing::debug!(bundle = %hash, "bundle retired");
                node.runner.retire(&hash);
            }
        });
    }

    fn spawn_heartbeat(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let stop = self.shutdown.wait();
        self.spawn(async move {
            let beat = async {
                let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
                loop {
                    tick.tick().await;
                    let Some(node) = weak.upgrade() else { return };
                    node.send_heartbeat().await;
                }
            };
            tokio::select! { () = stop => {}, () = beat => {} }
        });
    }

    /// Broadcasts this runner's heartbeat.
    async fn send_heartbeat(&self) {
        let body = control::encode(&self.heartbeat());
        if let Err(error) = self.bus.broadcast(RUNNER_STATS_TOPIC, body).await {
            tracing::debug!(%error, "heartbeat not sent");
        }
    }

    fn heartbeat(&self) -> RunnerHeartbeat {
        let mut queues: Vec<String> = self.queues.lock().keys().cloned().collect();
        queues.sort();
        let mut bundles: Vec<String> = self
            .wanted
            .lock()
            .iter()
            .filter(|hash| self.runner.has(hash))
            .cloned()
            .collect();
        bundles.sort();
        RunnerHeartbeat {
            runner: self.id.clone(),
            host: host_name(),
            pid: std::process::id(),
            pool: self.options.pool.clone(),
            concurrency: self.options.concurrency,
            queues,
            bundles,
            stats: crate::StatsSnapshot {
                queue_held: self.bus.held(),
                ..self.runner.stats()
            },
            at_ms: now_ms(),
        }
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.lock().spawn(task);
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}
