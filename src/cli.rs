//! The cluster subcommands: flags (each with a `FUNCMESH_*` fallback) and
//! how each process runs until its signal.

pub mod capture;
pub mod replay;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use funcmesh::cluster::{
    self, GatewayNode, GatewayOptions, QueuePolicy, RunnerNode, RunnerOptions, TronNode,
    TronOptions,
};
use funcmesh_core::capture::{CaptureRules, Redaction, RouteRule, WriterConfig};
use funcmesh_runner::{PythonConfig, WorkerCommand};

/// The default bus: the local RabbitMQ's default virtual host.
const DEFAULT_BUS: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

#[derive(Debug, clap::Args)]
pub struct BusArg {
    /// The message bus: `amqp://user:pass@host:5672/vhost` (RabbitMQ),
    /// `nats://host:4222` (NATS with JetStream), `kafka://host:9092` (Kafka
    /// or a Kafka-compatible broker), or `inproc://` for one process. `?namespace=NAME` prefixes every queue, so that several
    /// meshes can share one broker.
    #[arg(long, env = "FUNCMESH_BUS", default_value = DEFAULT_BUS)]
    pub(crate) bus: String,
}

/// Where and how a gateway writes captured exchanges.
#[derive(Debug, clap::Args)]
pub struct CaptureWriterArgs {
    /// Write captured exchanges here, one JSON-lines file per Func
    /// (`NAME.jsonl`, rotated by size). Without it nothing is captured.
    #[arg(long, env = "FUNCMESH_CAPTURE_DIR", value_name = "DIR")]
    capture_dir: Option<PathBuf>,
    /// A header whose value is masked before anything is written, besides
    /// Authorization, Proxy-Authorization, Cookie and Set-Cookie (repeatable).
    #[arg(
        long,
        env = "FUNCMESH_CAPTURE_REDACT",
        value_delimiter = ',',
        value_name = "HEADER"
    )]
    capture_redact: Vec<String>,
    /// A capture file is rotated before it grows past this many MiB.
    #[arg(long, env = "FUNCMESH_CAPTURE_FILE_MB", default_value_t = 64)]
    capture_file_mb: u64,
    /// Capture files kept per Func, the one being written included.
    #[arg(long, env = "FUNCMESH_CAPTURE_KEEP", default_value_t = 10)]
    capture_keep: usize,
}

impl CaptureWriterArgs {
    /// The writer's settings, when a directory is given.
    pub fn config(&self) -> Option<WriterConfig> {
        let dir = self.capture_dir.as_ref()?;
        let mut config = WriterConfig::new(dir);
        config.redaction = Redaction::with(&self.capture_redact);
        config.max_file_bytes = self.capture_file_mb.max(1) * 1024 * 1024;
        config.max_files = self.capture_keep.max(1);
        Some(config)
    }
}

/// Which Funcs are captured from the start.
#[derive(Debug, clap::Args)]
pub struct CaptureRuleArgs {
    /// Capture a Func's traffic: `NAME` (all of it) or `NAME=RATE` (a share
    /// from 0 to 1, e.g. `orders=0.01`); `*` is every Func (repeatable).
    #[arg(long = "capture", env = "FUNCMESH_CAPTURE", value_delimiter = ',', value_name = "FUNC[=RATE]", value_parser = CaptureRules::parse_rule)]
    rules: Vec<RouteRule>,
}

impl CaptureRuleArgs {
    /// The rules.
    pub fn rules(&self) -> CaptureRules {
        self.rules
            .iter()
            .cloned()
            .fold(CaptureRules::default(), CaptureRules::with)
    }
}

#[derive(Debug, clap::Args)]
pub struct GatewayArgs {
    #[command(flatten)]
    bus: BusArg,
    /// Where to listen for HTTP.
    #[arg(long, env = "FUNCMESH_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// This gateway's id, which names its reply queue (default: random).
    #[arg(long, env = "FUNCMESH_GATEWAY_ID")]
    id: Option<String>,
    /// How long a client waits for its answer, in milliseconds.
    #[arg(long, env = "FUNCMESH_TIMEOUT_MS", default_value_t = 30_000)]
    timeout_ms: u64,
    /// The largest request body accepted, in bytes.
    #[arg(long, env = "FUNCMESH_BODY_LIMIT", default_value_t = 6 * 1024 * 1024)]
    body_limit: usize,
    /// Send every request through the firehose and a tron, even when the
    /// announced routes name its Func queue.
    #[arg(long, env = "FUNCMESH_NO_DIRECT_ROUTING")]
    no_direct_routing: bool,
    #[command(flatten)]
    capture: CaptureWriterArgs,
}

#[derive(Debug, clap::Args)]
pub struct TronArgs {
    #[command(flatten)]
    bus: BusArg,
    /// The watched directory of bundles (uploads land here too).
    #[arg(long, env = "FUNCMESH_BUNDLES")]
    bundles: PathBuf,
    /// Where the admin listener (bundle store, uploads, status) listens.
    #[arg(long, env = "FUNCMESH_ADMIN", default_value = "127.0.0.1:7070")]
    admin: SocketAddr,
    /// The URL runners fetch bundles from (default: http:// + --admin).
    #[arg(long, env = "FUNCMESH_PUBLIC_URL")]
    public_url: Option<String>,
    /// Requests that may wait on one queue before new ones get 503.
    #[arg(long, env = "FUNCMESH_QUEUE_LIMIT", default_value_t = QueuePolicy::default().queue_limit)]
    queue_limit: usize,
    /// Deliveries of one request before it is dead-lettered and its client
    /// gets 502.
    #[arg(long, env = "FUNCMESH_MAX_DELIVERIES", default_value_t = QueuePolicy::default().max_deliveries)]
    max_deliveries: u32,
    /// Serve the bundles as loaded at start: no reload on save.
    #[arg(long, env = "FUNCMESH_NO_WATCH")]
    no_watch: bool,
    /// The capture rules announced to the gateways until `funcmesh capture
    /// on|off` changes them.
    #[command(flatten)]
    capture: CaptureRuleArgs,
}

#[derive(Debug, clap::Args)]
pub struct RunnerArgs {
    #[command(flatten)]
    bus: BusArg,
    /// Admin URLs of trons to fetch bundles from, comma-separated (default:
    /// the store each tron announces).
    #[arg(long, env = "FUNCMESH_TRON", value_delimiter = ',')]
    tron: Vec<String>,
    /// Where fetched bundles are cached (default: ~/.cache/funcmesh/bundles).
    #[arg(long, env = "FUNCMESH_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Function calls run at once (default: twice the cores).
    #[arg(long, env = "FUNCMESH_CONCURRENCY")]
    concurrency: Option<usize>,
    /// Put a function's panic message or traceback in its 502 answers.
    #[arg(long, env = "FUNCMESH_DEV_MODE")]
    dev_mode: bool,
    #[command(flatten)]
    python: PythonArgs,
}

/// How Python bundles run.
#[derive(Debug, clap::Args)]
pub struct PythonArgs {
    /// Python worker processes per bundle version, each one interpreter
    /// running one call at a time (default: one per core; at most the
    /// bundle's max_concurrency).
    #[arg(long, env = "FUNCMESH_PYTHON_WORKERS")]
    python_workers: Option<usize>,
    /// How long a Python call may run past its deadline, ignoring the
    /// interrupt, before its worker is killed and replaced, in milliseconds.
    #[arg(long, env = "FUNCMESH_PYTHON_KILL_GRACE_MS", default_value_t = PythonConfig::default().kill_grace_ms)]
    python_kill_grace_ms: u64,
}

impl PythonArgs {
    /// The runner's Python settings; workers are this binary.
    pub fn config(&self) -> PythonConfig {
        let mut config = PythonConfig {
            worker: worker_command(),
            kill_grace_ms: self.python_kill_grace_ms,
            ..PythonConfig::default()
        };
        if let Some(n) = self.python_workers {
            config.workers = n.max(1);
        }
        config
    }
}

/// This binary as a Python worker, when it embeds Python.
fn worker_command() -> Option<WorkerCommand> {
    if !cfg!(feature = "python") {
        return None;
    }
    match std::env::current_exe() {
        Ok(exe) => Some(WorkerCommand::funcmesh(exe)),
        Err(error) => {
            tracing::warn!(%error, "cannot find this binary: Python bundles will be refused");
            None
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The bundle directory (a Rust func crate is built first).
    dir: PathBuf,
    /// The tron's admin URL.
    #[arg(long, env = "FUNCMESH_TRON", default_value = "http://127.0.0.1:7070")]
    tron: String,
    /// The name it is stored under (default: the directory's name).
    #[arg(long)]
    name: Option<String>,
}

pub async fn gateway(
    args: GatewayArgs,
    signal: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let bus = cluster::connect(&args.bus.bus).await?;
    let mut options = GatewayOptions::default();
    if let Some(id) = args.id {
        options.config.id = id;
    }
    options.config.timeout = Duration::from_millis(args.timeout_ms);
    options.config.body_limit = args.body_limit;
    options.config.direct_routing = !args.no_direct_routing;
    options.capture = args.capture.config();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let node = GatewayNode::start(bus, options).await?;
    tracing::info!("funcmesh gateway serving on http://{}", args.listen);
    node.serve(listener, signal).await
}

pub async fn tron(args: TronArgs, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
    let bus = cluster::connect(&args.bus.bus).await?;
    let mut options = TronOptions::new(&args.bundles);
    options.public_url = args.public_url;
    options.policy.queue_limit = args.queue_limit;
    options.policy.max_deliveries = args.max_deliveries.max(1);
    options.watch = !args.no_watch;
    options.python.worker = worker_command();
    options.capture = args.capture.rules();
    let listener = tokio::net::TcpListener::bind(args.admin)
        .await
        .with_context(|| format!("binding the admin listener {}", args.admin))?;
    let node = TronNode::start(bus, options, listener).await?;
    log_routes(&node.registry().table());
    signal.await;
    tracing::info!("tron stopping");
    node.shutdown().await;
    Ok(())
}

pub async fn runner(args: RunnerArgs, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
    let bus = cluster::connect(&args.bus.bus).await?;
    let cache_dir = args.cache_dir.unwrap_or_else(default_cache_dir);
    std::fs::create_dir_all(&cache_dir)
        .with_context(|| format!("creating the bundle cache {}", cache_dir.display()))?;
    let mut options = RunnerOptions::new(cache_dir);
    options.trons = args.tron;
    options.dev_mode = args.dev_mode;
    options.python = args.python.config();
    if let Some(n) = args.concurrency {
        options.concurrency = n.max(1);
    }
    let node = RunnerNode::start(bus, options).await?;
    signal.await;
    tracing::info!("runner stopping: finishing requests in flight");
    node.shutdown().await;
    Ok(())
}

pub async fn push(args: PushArgs) -> anyhow::Result<()> {
    let dir = args.dir.clone();
    let packed = tokio::task::spawn_blocking(move || funcmesh_core::bundle::pack_any(&dir))
        .await
        .context("the bundle loader panicked")??;
    let name = args.name.unwrap_or_else(|| packed.bundle.name.clone());
    let answer = cluster::upload(&args.tron, &name, &packed).await?;
    println!("{answer}");
    Ok(())
}

/// One INFO line per route being served.
pub fn log_routes(table: &funcmesh_core::routing::RouteTable) {
    for route in &table.routes {
        tracing::info!(
            "route http://{}{}/ -> {} ({})",
            route.host.as_deref().unwrap_or("*"),
            route.base_path,
            route.name,
            &route.bundle[..12.min(route.bundle.len())]
        );
    }
}

fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("funcmesh").join("bundles")
}
