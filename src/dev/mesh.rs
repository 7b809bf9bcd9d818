use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use funcmesh_bus::inproc::InProcBus;
use funcmesh_bus::{Bus, QueueSpec};
use funcmesh_core::bundle::{self, Bundle};
use funcmesh_core::capture::Capture;
use funcmesh_core::queues;
use funcmesh_core::routing::Route;
use funcmesh_gateway::Gateway;
use funcmesh_runner::{Executor, ExecutorConfig, Runner, RunnerConfig};
use funcmesh_tron::{DeadLetters, Dispatcher, Registry};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::DevOptions;
use crate::shutdown::Shutdown;
use crate::watch::LoadOutcome;

/// A whole mesh in one process.
pub struct DevMesh {
    bus: Arc<dyn Bus>,
    registry: Arc<Registry>,
    runner: Arc<Runner>,
    gateway: Arc<Gateway>,
    options: DevOptions,
    served: Mutex<HashSet<String>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Stops the gateway: no new requests, those in flight are answered.
    drain: Shutdown,
    /// Then stops the tron and the runners.
    shutdown: Shutdown,
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

/// The gateway's capture, with the rules it starts with.
fn start_capture(options: &DevOptions) -> anyhow::Result<Arc<Capture>> {
    let capture = crate::capture::open(options.capture.clone())?;
    capture
        .set_rules(options.capture_rules.clone())
        .map_err(|error| anyhow::anyhow!("--capture: {error} (give --capture-dir)"))?;
    Ok(Arc::new(capture))
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
        let addr = listener
            .local_addr()
            .context("reading the listener's address")?;
        let bus: Arc<dyn Bus> = Arc::new(InProcBus::new());
        bus.declare(&QueueSpec::work(queues::DEAD_LETTER)).await?;
        bus.declare(&QueueSpec::work(queues::PARKED).max_len(options.queue_limit))
            .await?;
        let firehose = QueueSpec::work(&options.gateway.firehose)
            .max_len(options.queue_limit)
            .dead_letter_after(options.max_deliveries, queues::DEAD_LETTER);
        bus.declare(&firehose).await?;

        let registry = Arc::new(Registry::new());
        let executor = Arc::new(Executor::new(ExecutorConfig {
            concurrency: options.concurrency,
            python: options.python.clone(),
            ..ExecutorConfig::default()
        })?);
        let runner = Arc::new(Runner::new(
            Arc::clone(&bus),
            Arc::clone(&executor),
            RunnerConfig {
                concurrency: options.concurrency,
                dev_mode: options.dev_mode,
            },
        ));
        let gateway = Gateway::start_capturing(
            Arc::clone(&bus),
            options.gateway.clone(),
            registry.subscribe(),
            start_capture(&options)?,
        )
        .await?;
        let drain = Shutdown::new();
        let shutdown = Shutdown::new();

        let dispatcher = Dispatcher::new(Arc::clone(&bus), registry.subscribe());
        let firehose_name = options.gateway.firehose.clone();
        let stop = shutdown.wait();
        let tron = tokio::spawn(async move {
            if let Err(error) = dispatcher.serve(&firehose_name, stop).await {
                tracing::error!(%error, "the dispatcher stopped");
            }
        });
        let dead = DeadLetters::new(Arc::clone(&bus), queues::PARKED);
        let stop = shutdown.wait();
        let dead_letters = tokio::spawn(async move {
            if let Err(error) = dead.serve(queues::DEAD_LETTER, stop).await {
                tracing::error!(%error, "the dead-letter consumer stopped");
            }
        });
        let server = tokio::spawn(funcmesh_gateway::serve(
            listener,
            Arc::clone(&gateway),
            drain.wait(),
        ));

        let mesh = Arc::new(Self {
            bus,
            registry,
            runner,
            gateway,
            options,
            served: Mutex::default(),
            tasks: Mutex::new(vec![tron, dead_letters]),
            drain,
            shutdown,
            addr,
            server: Mutex::new(Some(server)),
        });
        for dir in bundle::find_bundles(&mesh.options.dir) {
            match mesh.load(&dir).await {
                Ok(_) => {}
                Err(error) => tracing::error!("bundle {} not loaded: {error:#}", dir.display()),
            }
        }
        Ok(mesh)
    }

    /// Loads (or reloads) the bundle in `dir` and makes it live. On error the
    /// version already live, if any, keeps serving.
    pub async fn load(&self, dir: &Path) -> anyhow::Result<LoadOutcome> {
        let started = Instant::now();
        let owned = dir.to_path_buf();
        let bundle = tokio::task::spawn_blocking(move || bundle::load_any(&owned))
            .await
            .context("the bundle loader panicked")??;
        let bundle = Arc::new(bundle);
        let current = self.registry.get(&bundle.dir);
        if current.as_ref().is_some_and(|c| c.hash == bundle.hash) {
            return Ok(LoadOutcome::Unchanged);
        }
        self.runner
            .install(Arc::clone(&bundle))
            .await
            .with_context(|| format!("installing {}", bundle.name))?;
        self.serve_route(&bundle).await?;
        let previous = match self.registry.install(Arc::clone(&bundle)) {
            Ok(previous) => previous,
            Err(conflict) => {
                if current.is_none() {
                    self.runner.retire(&bundle.hash);
                }
                // Named by the file that declares the route.
                let spec = bundle.spec_file.display().to_string();
                return Err(anyhow::Error::new(conflict).context(spec));
            }
        };
        if let Some(old) = &previous {
            self.retire_later(old);
        }
        // The watcher, or the caller, says why at INFO.
        tracing::debug!(
            bundle = %bundle.name,
            hash = bundle.short_hash(),
            previous = previous.as_ref().map(|p| p.short_hash()).unwrap_or("-"),
            host = bundle.host.as_deref().unwrap_or("*"),
            base_path = %bundle.base_path,
            operations = bundle.operations.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "bundle live"
        );
        Ok(LoadOutcome::live(&bundle, previous.as_deref()))
    }

    /// Takes the bundle from `dir` out of service: its routes answer 404.
    pub fn unload(&self, dir: &Path) -> Option<Arc<Bundle>> {
        let removed = self.registry.remove(dir)?;
        self.retire_later(&removed);
        tracing::debug!(bundle = %removed.name, hash = removed.short_hash(), "bundle removed");
        Some(removed)
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
        &self.registry
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
        &self.gateway
    }

    /// Stops accepting, answers what is in flight, then stops every task.
    /// The tron and the runners keep working until the gateway has drained,
    /// so that requests already queued are answered, not timed out.
    pub async fn shutdown(&self) -> anyhow::Result<()> {
        self.drain.trigger();
        let server = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let drained = match server {
            Some(server) => server
                .await
                .context("the gateway task panicked")
                .and_then(|r| r),
            None => Ok(()),
        };
        self.shutdown.trigger();
        crate::capture::log_stats(self.gateway.capture());
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for task in tasks {
            let _ = task.await;
        }
        drained
    }

    /// Makes sure the route's Func queue exists and a runner consumes it.
    async fn serve_route(&self, bundle: &Bundle) -> anyhow::Result<()> {
        let route = Route::for_bundle(bundle);
        let fresh = self
            .served
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(route.queue.clone());
        if !fresh {
            return Ok(());
        }
        let spec = QueueSpec::work(&route.queue)
            .max_len(self.options.queue_limit)
            .dead_letter_after(self.options.max_deliveries, queues::DEAD_LETTER);
        self.bus.declare(&spec).await?;
        let runner = Arc::clone(&self.runner);
        let stop = self.shutdown.wait();
        let task = tokio::spawn(async move {
            if let Err(error) = runner.serve(&route.queue, stop).await {
                tracing::error!(%error, queue = %route.queue, "runner stopped serving");
            }
        });
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(task);
        Ok(())
    }

    /// Keeps a replaced version installed until every request that was routed
    /// to it has had its deadline, then frees its compiled module.
    fn retire_later(&self, old: &Arc<Bundle>) {
        let runner = Arc::clone(&self.runner);
        let registry = Arc::clone(&self.registry);
        let old = Arc::clone(old);
        let grace = self.options.gateway.timeout + Duration::from_secs(1);
        tokio::spawn(async move {
            tokio::time::sleep(grace).await;
            let live_again = registry.bundles().iter().any(|b| b.hash == old.hash);
            if !live_again {
                runner.retire(&old.hash);
            }
        });
    }
}
