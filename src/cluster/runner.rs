//! `funcmesh runner`: serves every announced route with bundles fetched
//! from a tron, and reports its statistics.

mod source;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use funcmesh_bus::{Bus, now_ms};
use funcmesh_runner::{Executor, ExecutorConfig, Runner, RunnerConfig};
use tokio::task::JoinSet;

use super::control::{
    self, HEARTBEAT_EVERY, RUNNER_STATS_TOPIC, RoutesAnnouncement, RunnerHeartbeat,
};
use super::{follow, lock};
use crate::shutdown::Shutdown;
use source::FetchSource;

/// How `funcmesh runner` runs.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// Admin URLs of the trons to fetch bundles from; empty: the store each
    /// tron announces.
    pub trons: Vec<String>,
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
    pub python: funcmesh_runner::PythonConfig,
}

impl RunnerOptions {
    /// Defaults, caching bundles under `cache_dir`.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            trons: Vec::new(),
            cache_dir: cache_dir.into(),
            concurrency: funcmesh_runner::ExecutorConfig::default().concurrency,
            dev_mode: false,
            grace: Duration::from_secs(31),
            python: funcmesh_runner::PythonConfig::default(),
        }
    }
}

/// A running runner.
pub struct RunnerNode {
    id: String,
    bus: Arc<dyn Bus>,
    runner: Runner,
    options: RunnerOptions,
    source: Arc<FetchSource>,
    queues: Mutex<HashSet<String>>,
    wanted: Mutex<HashSet<String>>,
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
            },
        );
        let source = Arc::new(FetchSource::new(&options.trons, &options.cache_dir));
        runner.set_source(Arc::clone(&source) as _);
        let id = control::new_id();
        let mut routes = follow::follow(Arc::clone(&bus), "runner", &id).await?;
        let node = Arc::new(Self {
            id,
            bus,
            runner,
            options,
            source,
            queues: Mutex::default(),
            wanted: Mutex::default(),
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
                        (Some(announced), Some(node)) => node.apply(&announced),
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
    pub fn stats(&self) -> funcmesh_runner::StatsSnapshot {
        self.runner.stats()
    }

    /// Stops taking requests, finishes those in flight, then returns.
    pub async fn shutdown(&self) {
        self.shutdown.trigger();
        let mut tasks = std::mem::take(&mut *lock(&self.tasks));
        while tasks.join_next().await.is_some() {}
    }

    /// Serves the routes of `announced`: installs their bundles (in the
    /// background) and consumes their Func queues; versions no route names
    /// any more are retired after the grace period.
    fn apply(self: &Arc<Self>, announced: &RoutesAnnouncement) {
        if let Some(store) = &announced.store {
            self.source.use_store(store);
        }
        for route in &announced.table.routes {
            self.source.name(&route.bundle, &route.name);
        }
        let hashes: HashSet<String> = announced
            .table
            .routes
            .iter()
            .map(|r| r.bundle.clone())
            .collect();
        let dropped: Vec<String> = {
            let mut wanted = lock(&self.wanted);
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
        for route in &announced.table.routes {
            self.serve_queue(&route.queue);
        }
    }

    fn serve_queue(&self, queue: &str) {
        if !lock(&self.queues).insert(queue.to_owned()) {
            return;
        }
        let runner = self.runner.clone();
        let queue = queue.to_owned();
        let shutdown = self.shutdown.clone();
        self.spawn(async move {
            let what = format!("the Func queue {queue}");
            super::keep_serving(&what, shutdown, |stop| {
                let (runner, queue) = (runner.clone(), queue.clone());
                async move { runner.serve(&queue, stop).await }
            })
            .await;
        });
    }

    fn retire_later(self: &Arc<Self>, hash: String) {
        let weak = Arc::downgrade(self);
        let grace = self.options.grace;
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            if let Some(node) = weak.upgrade()
                && !lock(&node.wanted).contains(&hash)
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
                    let body = control::encode(&node.heartbeat());
                    if let Err(error) = node.bus.broadcast(RUNNER_STATS_TOPIC, body).await {
                        tracing::debug!(%error, "heartbeat not sent");
                    }
                }
            };
            tokio::select! { () = stop => {}, () = beat => {} }
        });
    }

    fn heartbeat(&self) -> RunnerHeartbeat {
        let mut queues: Vec<String> = lock(&self.queues).iter().cloned().collect();
        queues.sort();
        let mut bundles: Vec<String> = lock(&self.wanted)
            .iter()
            .filter(|hash| self.runner.has(hash))
            .cloned()
            .collect();
        bundles.sort();
        RunnerHeartbeat {
            runner: self.id.clone(),
            host: host_name(),
            pid: std::process::id(),
            concurrency: self.options.concurrency,
            queues,
            bundles,
            stats: self.runner.stats(),
            at_ms: now_ms(),
        }
    }

    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        lock(&self.tasks).spawn(task);
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}
