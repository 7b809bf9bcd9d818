//! One set of flags per component, each with a `FUNCMESH_*` fallback,
//! flattened into every command that runs that component: `dev` takes the
//! gateway's, the tron's and the runner's; `gateway`, `tron` and `runner`
//! take their own plus where they connect. A value out of range is refused
//! here, with the flag's name, never clamped later.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use funcmesh_core::auth::MeshToken;
use funcmesh_core::capture::{CaptureRules, Redaction, RouteRule, WriterConfig};
use funcmesh_gateway::{GatewayConfig, GatewayOptions};
use funcmesh_runner::{CgroupMode, PythonConfig, WorkerCommand};
use std::sync::Arc;

use anyhow::Context as _;
use funcmesh_tron::scale::rule::RuleConfig;
use funcmesh_tron::scale::{
    Kubernetes, KubernetesOptions, LocalProcesses, Marathon, MarathonOptions, Orchestrator, Pools,
    RunnerCommand, Swarm, SwarmOptions,
};
use funcmesh_tron::{QueuePolicy, Scaling, TronOptions};

/// The default bus: the local RabbitMQ's default virtual host.
const DEFAULT_BUS: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// What a runner started by the tron is told through its environment,
/// where the other users of the machine cannot read it: the bus with its
/// credentials, and the mesh token (or that there is none).
fn runner_env(
    bus: &str,
    token: Option<&MeshToken>,
    admin_ca: Option<&std::path::Path>,
) -> Vec<(String, String)> {
    let auth = match token {
        Some(token) => (funcmesh_core::auth::TOKEN_VAR, token.secret().to_owned()),
        None => ("FUNCMESH_NO_AUTH", "true".to_owned()),
    };
    let mut env = vec![
        ("FUNCMESH_BUS".to_owned(), bus.to_owned()),
        (auth.0.to_owned(), auth.1),
    ];
    if let Some(ca) = admin_ca {
        env.push((ADMIN_CA_VAR.to_owned(), ca.display().to_string()));
    }
    env
}

/// The variable `--admin-ca` reads.
const ADMIN_CA_VAR: &str = "FUNCMESH_ADMIN_CA";

/// Whom a client of a tron's admin listener trusts.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Security")]
pub struct AdminCaArg {
    /// A PEM file of CA certificates to trust, besides the system's, for
    /// `https://` tron URLs (a tron serving --admin-tls-cert).
    #[arg(long = "admin-ca", env = ADMIN_CA_VAR, value_name = "FILE")]
    pub ca: Option<PathBuf>,
}

impl AdminCaArg {
    /// The trust it names.
    pub fn trust(&self) -> funcmesh_core::tls::AdminTrust {
        funcmesh_core::tls::AdminTrust {
            ca: self.ca.clone(),
        }
    }
}

/// The tron's admin listener over TLS.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Security")]
pub struct AdminTlsArgs {
    /// Serve the admin listener over TLS with this PEM certificate chain
    /// (read at start); runners and `funcmesh push` then use https://.
    #[arg(
        long,
        env = "FUNCMESH_ADMIN_TLS_CERT",
        value_name = "FILE",
        requires = "admin_tls_key"
    )]
    pub admin_tls_cert: Option<PathBuf>,
    /// The PEM private key of --admin-tls-cert.
    #[arg(
        long,
        env = "FUNCMESH_ADMIN_TLS_KEY",
        value_name = "FILE",
        requires = "admin_tls_cert"
    )]
    pub admin_tls_key: Option<PathBuf>,
}

impl AdminTlsArgs {
    /// The listener's TLS, when a certificate is given.
    pub fn server_config(&self) -> anyhow::Result<Option<Arc<rustls::ServerConfig>>> {
        match (&self.admin_tls_cert, &self.admin_tls_key) {
            (Some(cert), Some(key)) => Ok(Some(funcmesh_core::tls::server_config(cert, key)?)),
            _ => Ok(None),
        }
    }
}

/// A whole number of at least 1.
pub fn positive<T>(text: &str) -> Result<T, String>
where
    T: FromStr + PartialOrd + From<u8>,
    T::Err: std::fmt::Display,
{
    let value: T = text.parse().map_err(|error| format!("{error}"))?;
    if value < T::from(1) {
        return Err("must be at least 1".into());
    }
    Ok(value)
}

pub use funcmesh::logging::{LogFormat, Logging};

/// Where Prometheus scrapes this process.
#[derive(Debug, clap::Args)]
pub struct MetricsArg {
    /// Serve Prometheus metrics at http://ADDR/metrics (plain HTTP, no
    /// token: bind an address only the scraper reaches). Off by default.
    #[arg(long, env = "FUNCMESH_METRICS", value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
}

impl MetricsArg {
    /// Serves the bus's metrics and those `register` adds, when asked to.
    pub async fn serve(
        &self,
        register: impl FnOnce(&mut funcmesh_core::metrics::Registry),
    ) -> anyhow::Result<()> {
        let Some(addr) = self.metrics else {
            return Ok(());
        };
        let mut registry = funcmesh::metrics::registry();
        register(&mut registry);
        funcmesh::metrics::serve(addr, registry).await.map(drop)
    }
}

/// Where the bus is.
#[derive(Debug, clap::Args)]
pub struct BusArg {
    /// The message bus: `amqp://user:pass@host:5672/vhost` (RabbitMQ),
    /// `nats://host:4222` (NATS with JetStream), `kafka://host:9092` (Kafka
    /// or a Kafka-compatible broker), or `inproc://` for one process.
    /// `?namespace=NAME` prefixes every queue, so that several meshes can
    /// share one broker.
    #[arg(long, env = "FUNCMESH_BUS", default_value = DEFAULT_BUS)]
    pub bus: String,
    #[command(flatten)]
    pub auth: AuthArgs,
}

impl BusArg {
    /// The mesh token this process runs with (required unless `--no-auth`),
    /// and the bus, its control messages signed and checked under it.
    pub async fn connect(&self) -> anyhow::Result<(Option<MeshToken>, Arc<dyn funcmesh_bus::Bus>)> {
        let token = self.auth.required()?;
        let bus = funcmesh::cluster::connect(&self.bus, token.as_ref()).await?;
        Ok((token, bus))
    }
}

/// The mesh token: the same secret on every process of a mesh. Its value
/// is read from `FUNCMESH_TOKEN` or a file, never from the command line,
/// which any user of the machine can read.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Security")]
pub struct AuthArgs {
    /// A file holding the mesh token (a mounted secret); without it the
    /// token is read from FUNCMESH_TOKEN. `funcmesh token` makes one.
    #[arg(long, env = "FUNCMESH_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Run without a mesh token: the tron's admin API is open to anyone who
    /// reaches it, and control messages on the bus are not signed. Only
    /// for a machine of one's own.
    #[arg(long, env = "FUNCMESH_NO_AUTH")]
    pub no_auth: bool,
}

impl AuthArgs {
    /// The token, which a cluster process must have unless `--no-auth`.
    pub fn required(&self) -> anyhow::Result<Option<MeshToken>> {
        match (self.given()?, self.no_auth) {
            (Some(_), true) => anyhow::bail!(
                "both --no-auth and a mesh token are given (FUNCMESH_TOKEN or --token-file); drop one"
            ),
            (Some(token), false) => Ok(Some(token)),
            (None, true) => {
                tracing::warn!(
                    "running without a mesh token (--no-auth): the admin API is open and control messages are not signed"
                );
                Ok(None)
            }
            (None, false) => anyhow::bail!(
                "no mesh token: set FUNCMESH_TOKEN (or --token-file FILE) to the same secret on every \
                 process of the mesh; `funcmesh token` prints a new one. `--no-auth` runs without one, \
                 on a machine of your own only"
            ),
        }
    }

    /// The token if one is given.
    pub fn given(&self) -> anyhow::Result<Option<MeshToken>> {
        Ok(MeshToken::from_env_or(self.token_file.as_deref())?)
    }
}

/// How a gateway serves HTTP.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Gateway")]
pub struct GatewayFlags {
    /// Where to listen for HTTP.
    #[arg(long, env = "FUNCMESH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// How long a client waits for its answer, in milliseconds.
    #[arg(long, env = "FUNCMESH_TIMEOUT_MS", default_value_t = 30_000, value_parser = positive::<u64>)]
    pub timeout_ms: u64,
    /// The largest request body accepted, in bytes.
    #[arg(long, env = "FUNCMESH_BODY_LIMIT", default_value_t = 6 * 1024 * 1024, value_parser = positive::<usize>)]
    pub body_limit: usize,
    /// Send every request through the firehose and a tron, even when the
    /// announced routes name its Func queue.
    #[arg(long, env = "FUNCMESH_NO_DIRECT_ROUTING")]
    pub no_direct_routing: bool,
    /// Serve `GET /__routes` (the routing table, with each Func's bundle
    /// hash) to every client; off by default.
    #[arg(long, env = "FUNCMESH_EXPOSE_ROUTES")]
    pub expose_routes: bool,
    /// Serve `GET /__openapi/NAME` (each bundle's API description, with
    /// the route it was given) and `GET /__openapi` (their list) to every
    /// client; off by default, always on in `funcmesh dev`.
    #[arg(long, env = "FUNCMESH_EXPOSE_OPENAPI")]
    pub expose_openapi: bool,
    /// How long a connection may stay silent before it sends a request's
    /// headers (after it opens, or after its previous answer), in
    /// milliseconds; then it is closed.
    #[arg(long, env = "FUNCMESH_HEADER_TIMEOUT_MS", default_value_t = 10_000, value_parser = positive::<u64>)]
    pub header_timeout_ms: u64,
    /// Connections held at once; beyond, a new one is closed at once
    /// (default: three quarters of the file descriptor limit, at most
    /// 10,000).
    #[arg(long, env = "FUNCMESH_MAX_CONNECTIONS", value_parser = positive::<usize>)]
    pub max_connections: Option<usize>,
    #[command(flatten)]
    pub capture: CaptureWriterArgs,
}

impl GatewayFlags {
    /// The gateway's settings (its id left to the default).
    pub fn options(&self) -> GatewayOptions {
        let config = GatewayConfig {
            timeout: Duration::from_millis(self.timeout_ms),
            body_limit: self.body_limit,
            direct_routing: !self.no_direct_routing,
            expose_routes: self.expose_routes,
            expose_openapi: self.expose_openapi,
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            max_connections: self.max_connections,
            ..GatewayConfig::default()
        };
        GatewayOptions {
            config,
            capture: self.capture.config(),
        }
    }
}

/// Where and how a gateway writes captured exchanges.
#[derive(Debug, clap::Args)]
pub struct CaptureWriterArgs {
    /// Write captured exchanges here, one JSON-lines file per Func
    /// (`NAME.jsonl`, rotated by size). Without it nothing is captured.
    #[arg(long, env = "FUNCMESH_CAPTURE_DIR", value_name = "DIR")]
    pub capture_dir: Option<PathBuf>,
    /// A header whose value is masked before anything is written, besides
    /// Authorization, Proxy-Authorization, Cookie and Set-Cookie (repeatable).
    #[arg(
        long,
        env = "FUNCMESH_CAPTURE_REDACT",
        value_delimiter = ',',
        value_name = "HEADER"
    )]
    pub capture_redact: Vec<String>,
    /// A capture file is rotated before it grows past this many MiB.
    #[arg(long, env = "FUNCMESH_CAPTURE_FILE_MB", default_value_t = 64, value_parser = positive::<u64>)]
    pub capture_file_mb: u64,
    /// Capture files kept per Func, the one being written included.
    #[arg(long, env = "FUNCMESH_CAPTURE_KEEP", default_value_t = 10, value_parser = positive::<usize>)]
    pub capture_keep: usize,
}

impl CaptureWriterArgs {
    /// The writer's settings, when a directory is given.
    pub fn config(&self) -> Option<WriterConfig> {
        let dir = self.capture_dir.as_ref()?;
        let mut config = WriterConfig::new(dir);
        config.redaction = Redaction::with(&self.capture_redact);
        config.max_file_bytes = self.capture_file_mb * 1024 * 1024;
        config.max_files = self.capture_keep;
        Some(config)
    }
}

/// How a tron declares queues, reloads bundles and starts capture.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Tron")]
pub struct TronFlags {
    /// Requests that may wait on one queue before new ones get 503.
    #[arg(long, env = "FUNCMESH_QUEUE_LIMIT", default_value_t = QueuePolicy::default().queue_limit, value_parser = positive::<usize>)]
    pub queue_limit: usize,
    /// Deliveries of one request before it is dead-lettered and its client
    /// gets 502.
    #[arg(long, env = "FUNCMESH_MAX_DELIVERIES", default_value_t = QueuePolicy::default().max_deliveries, value_parser = positive::<u32>)]
    pub max_deliveries: u32,
    /// Serve the bundles as loaded at start: no reload on save.
    #[arg(long, env = "FUNCMESH_NO_WATCH")]
    pub no_watch: bool,
    /// How long a file's events are held to merge a burst of writes into
    /// one reload, in milliseconds.
    #[arg(long, env = "FUNCMESH_DEBOUNCE_MS", default_value_t = 100, value_parser = positive::<u64>)]
    pub debounce_ms: u64,
    /// Capture a Func's traffic from the start: `NAME` (all of it) or
    /// `NAME=RATE` (a share from 0 to 1, e.g. `orders=0.01`); `*` is every
    /// Func (repeatable). On a cluster, `funcmesh capture on|off` changes
    /// the rules while it serves.
    #[arg(long = "capture", env = "FUNCMESH_CAPTURE", value_delimiter = ',', value_name = "FUNC[=RATE]", value_parser = CaptureRules::parse_rule)]
    pub capture: Vec<RouteRule>,
}

impl TronFlags {
    /// The queues' limits.
    pub fn policy(&self) -> QueuePolicy {
        QueuePolicy {
            queue_limit: self.queue_limit,
            max_deliveries: self.max_deliveries,
            ..QueuePolicy::default()
        }
    }

    /// The capture rules in force from the start.
    pub fn capture_rules(&self) -> CaptureRules {
        self.capture
            .iter()
            .cloned()
            .fold(CaptureRules::default(), CaptureRules::with)
    }

    /// A tron's settings for serving `bundles`.
    pub fn options(&self, bundles: PathBuf) -> TronOptions {
        let mut options = TronOptions::new(bundles);
        options.policy = self.policy();
        options.watch = !self.no_watch;
        options.debounce = Duration::from_millis(self.debounce_ms);
        options.capture = self.capture_rules();
        options
    }
}

/// How a tron scales the runner pools.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Scaling")]
pub struct ScalingFlags {
    /// What runs the pools' runners: `none` (they are started by hand or by
    /// another tool), `local` (child processes of this tron, on its host),
    /// `kubernetes` (a Deployment per pool), `swarm` (a Docker Swarm service
    /// per pool) or `marathon` (a Marathon app per pool).
    #[arg(long, env = "FUNCMESH_SCALER", value_enum, default_value_t = ScalerKind::None)]
    pub scaler: ScalerKind,
    /// A TOML file of pool limits (`[pools.NAME]` with `min`, `max`,
    /// `target`). A pool is defined here or by `--pool`, not both.
    #[arg(long, env = "FUNCMESH_POOLS", value_name = "FILE")]
    pub pools: Option<PathBuf>,
    /// A pool's limits: `NAME:min=N,max=N,target=N` (keys left out: min 1,
    /// max 10, target 8 calls in flight per runner); repeatable, one pool
    /// each. Pools no flag or file defines get those defaults.
    #[arg(long = "pool", value_name = "NAME:min=N,max=N,target=N")]
    pub pool: Vec<String>,
    /// An argument for the runners `--scaler local` starts (repeatable),
    /// e.g. `--runner-arg=--concurrency=16`.
    #[arg(long = "runner-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub runner_args: Vec<String>,
    /// How long a runner told to stop may drain before it is killed, in
    /// milliseconds (cover the longest request deadline).
    #[arg(long, env = "FUNCMESH_RUNNER_STOP_TIMEOUT_MS", default_value_t = 35_000, value_parser = positive::<u64>)]
    pub runner_stop_timeout_ms: u64,
    /// How often the pools are looked at, in milliseconds.
    #[arg(long, env = "FUNCMESH_SCALE_TICK_MS", default_value_t = RuleConfig::default().tick_ms, value_parser = positive::<u64>)]
    pub scale_tick_ms: u64,
    /// A pool shrinks only to the highest count the rule recommended within
    /// this window, in milliseconds, unless the drop is clear (see
    /// --scale-tolerance-pct), so that steady or noisy load never flaps.
    #[arg(long, env = "FUNCMESH_SCALE_DOWN_WINDOW_MS", default_value_t = RuleConfig::default().down_window_ms, value_parser = positive::<u64>)]
    pub scale_down_window_ms: u64,
    /// The noise band, in percent of a pool's load: a drop to a count that
    /// would still serve this much more load is a clear drop, followed
    /// after --scale-clear-drop-window-ms; a smaller one waits the whole
    /// scale-down window.
    #[arg(long, env = "FUNCMESH_SCALE_TOLERANCE_PCT", default_value_t = RuleConfig::default().tolerance_pct)]
    pub scale_tolerance_pct: u32,
    /// How long a clear drop must hold before a pool shrinks, in
    /// milliseconds (at the scale-down window or more, every drop waits
    /// the whole window). Default 1000; 5000 on kafka://, where the queue
    /// stalls for a moment while partitions change hands as runners join,
    /// and throughput reads low then.
    #[arg(long, env = "FUNCMESH_SCALE_CLEAR_DROP_WINDOW_MS", value_parser = positive::<u64>)]
    pub scale_clear_drop_window_ms: Option<u64>,
    /// A pool whose min is 0 goes to zero runners after this long with
    /// nothing queued, in flight or arriving, in milliseconds.
    #[arg(long, env = "FUNCMESH_SCALE_TO_ZERO_AFTER_MS", default_value_t = RuleConfig::default().idle_ms, value_parser = positive::<u64>)]
    pub scale_to_zero_after_ms: u64,
    #[command(flatten)]
    pub kubernetes: KubernetesFlags,
    #[command(flatten)]
    pub swarm: SwarmFlags,
    #[command(flatten)]
    pub marathon: MarathonFlags,
}

/// Where `--scaler swarm` finds the Docker engine and the runner services.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Scaling on Docker Swarm")]
pub struct SwarmFlags {
    /// The Docker engine's Unix socket of a swarm manager (default:
    /// `DOCKER_HOST` when it is `unix://...`, else /var/run/docker.sock).
    #[arg(
        long = "docker-socket",
        env = "FUNCMESH_DOCKER_SOCKET",
        value_name = "PATH"
    )]
    pub socket: Option<String>,
    /// A pool's runner service by name, `POOL=NAME` (repeatable); other
    /// pools use the one service labelled `funcmesh.dev/pool=POOL`.
    #[arg(long = "swarm-service", value_name = "POOL=NAME", value_parser = pool_pair)]
    pub services: Vec<(String, String)>,
    /// The label whose value names a service's pool.
    #[arg(id = "swarm_pool_label", long = "swarm-pool-label", env = "FUNCMESH_SWARM_POOL_LABEL", value_name = "KEY", default_value = funcmesh_tron::scale::kubernetes::POOL_LABEL)]
    pub pool_label: String,
}

/// Where `--scaler kubernetes` finds the cluster and the runner
/// Deployments.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Scaling on Kubernetes")]
pub struct KubernetesFlags {
    /// A kubeconfig file (default: `KUBECONFIG`, `~/.kube/config`, or the
    /// pod's service account inside a cluster).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The namespace of the runner Deployments (default: the kubeconfig
    /// context's, or the tron's own pod's).
    #[arg(
        long = "k8s-namespace",
        env = "FUNCMESH_K8S_NAMESPACE",
        value_name = "NAMESPACE"
    )]
    pub namespace: Option<String>,
    /// A pool's runner Deployment by name, `POOL=NAME` (repeatable); other
    /// pools use the one Deployment labelled `funcmesh.dev/pool=POOL`.
    #[arg(long = "k8s-deployment", value_name = "POOL=NAME", value_parser = pool_pair)]
    pub deployments: Vec<(String, String)>,
    /// The label whose value names a Deployment's pool.
    #[arg(long = "k8s-pool-label", env = "FUNCMESH_K8S_POOL_LABEL", value_name = "KEY", default_value = funcmesh_tron::scale::kubernetes::POOL_LABEL)]
    pub pool_label: String,
}

/// Where `--scaler marathon` finds Marathon and the pools' apps.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Scaling on Marathon")]
pub struct MarathonFlags {
    /// Marathon's URL, `http://[user:password@]host:8080` (credentials go
    /// as HTTP basic authentication; put them in the environment).
    #[arg(
        long = "marathon-url",
        env = "FUNCMESH_MARATHON_URL",
        value_name = "URL"
    )]
    pub url: Option<String>,
    /// A pool's Marathon app by id, `POOL=/APP/ID` (repeatable); other
    /// pools are `/funcmesh/runner-POOL`.
    #[arg(long = "marathon-app", value_name = "POOL=ID", value_parser = pool_pair)]
    pub apps: Vec<(String, String)>,
}

/// `POOL=VALUE`, both non-empty.
fn pool_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((pool, value)) if !pool.is_empty() && !value.is_empty() => {
            Ok((pool.to_owned(), value.to_owned()))
        }
        _ => Err(format!("{text:?}: expected POOL=VALUE")),
    }
}

/// What runs the pools' runners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScalerKind {
    /// Nothing: the tron does not scale.
    None,
    /// Child processes of the tron.
    Local,
    /// A Deployment per pool, through the Kubernetes API.
    Kubernetes,
    /// A replicated service per pool, through the Docker Engine API of a
    /// swarm manager.
    Swarm,
    /// A Marathon app per pool, through Marathon's REST API.
    Marathon,
}

/// The clear-drop window on Kafka: longer than the ~3 s in which a
/// partition handover stalls a queue's consumers, which reads as a drop.
const KAFKA_CLEAR_DROP_WINDOW_MS: u64 = 5_000;

impl ScalingFlags {
    /// How the tron scales, through the orchestrator `--scaler` names (the
    /// local one starts runners on `bus` logging as `log` says); `None` with
    /// `--scaler none`.
    pub async fn scaling(
        &self,
        bus: &str,
        log: &Logging,
        token: Option<&MeshToken>,
        admin_ca: Option<&std::path::Path>,
    ) -> anyhow::Result<Option<Scaling>> {
        let pools = Pools::load(self.pools.as_deref(), &self.pool).map_err(anyhow::Error::msg)?;
        let orchestrator: Arc<dyn Orchestrator> = match self.scaler {
            ScalerKind::None => {
                anyhow::ensure!(
                    self.pools.is_none() && self.pool.is_empty(),
                    "--pool and --pools need a scaler: give --scaler local, kubernetes, swarm or marathon"
                );
                return Ok(None);
            }
            ScalerKind::Local => {
                let program = std::env::current_exe().context("finding this binary")?;
                let mut args = vec!["runner".to_owned()];
                args.extend(log.args());
                args.extend(self.runner_args.iter().cloned());
                let command = RunnerCommand {
                    program,
                    args,
                    env: runner_env(bus, token, admin_ca),
                };
                let stop = Duration::from_millis(self.runner_stop_timeout_ms);
                Arc::new(LocalProcesses::new(command, stop))
            }
            ScalerKind::Kubernetes => {
                let flags = &self.kubernetes;
                let options = KubernetesOptions {
                    kubeconfig: flags.kubeconfig.clone(),
                    namespace: flags.namespace.clone(),
                    deployments: unique_pairs("--k8s-deployment", &flags.deployments)?,
                    pool_label: Some(flags.pool_label.clone()),
                };
                let kubernetes = Kubernetes::connect(options).await?;
                tracing::info!(
                    namespace = kubernetes.namespace(),
                    "scaling runner Deployments"
                );
                Arc::new(kubernetes)
            }
            ScalerKind::Swarm => {
                let flags = &self.swarm;
                let swarm = Swarm::new(SwarmOptions {
                    socket: flags.socket.clone(),
                    services: unique_pairs("--swarm-service", &flags.services)?,
                    pool_label: Some(flags.pool_label.clone()),
                })?;
                tracing::info!(
                    socket = swarm.socket(),
                    "scaling runner services of a swarm"
                );
                Arc::new(swarm)
            }
            ScalerKind::Marathon => {
                let url =
                    self.marathon.url.clone().context(
                        "--scaler marathon needs --marathon-url (or FUNCMESH_MARATHON_URL)",
                    )?;
                Arc::new(Marathon::new(MarathonOptions {
                    url,
                    apps: unique_pairs("--marathon-app", &self.marathon.apps)?,
                    app_prefix: None,
                })?)
            }
        };
        let rule = RuleConfig {
            tick_ms: self.scale_tick_ms,
            down_window_ms: self.scale_down_window_ms,
            tolerance_pct: self.scale_tolerance_pct,
            clear_drop_window_ms: self.scale_clear_drop_window_ms.unwrap_or(
                match bus.starts_with("kafka://") {
                    true => KAFKA_CLEAR_DROP_WINDOW_MS,
                    false => RuleConfig::default().clear_drop_window_ms,
                },
            ),
            idle_ms: self.scale_to_zero_after_ms,
            ..RuleConfig::default()
        };
        Ok(Some(Scaling {
            orchestrator,
            pools,
            rule,
        }))
    }
}

/// `POOL=VALUE` pairs as a map, refusing a pool named twice.
fn unique_pairs(
    flag: &str,
    pairs: &[(String, String)],
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let mut map = std::collections::BTreeMap::new();
    for (pool, value) in pairs {
        if let Some(before) = map.insert(pool.clone(), value.clone()) {
            anyhow::bail!("{flag} names pool {pool} twice ({before} and {value})");
        }
    }
    Ok(map)
}

/// How a runner runs calls.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Runner")]
pub struct RunnerFlags {
    /// Function calls run at once (default: twice the cores).
    #[arg(long, env = "FUNCMESH_CONCURRENCY", value_parser = positive::<usize>)]
    pub concurrency: Option<usize>,
    #[command(flatten)]
    pub python: PythonFlags,
}

impl RunnerFlags {
    /// Calls run at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
            .unwrap_or_else(|| funcmesh_runner::ExecutorConfig::default().concurrency)
    }
}

/// How Python bundles run.
#[derive(Debug, clap::Args)]
pub struct PythonFlags {
    /// Python worker processes per bundle version, each one interpreter
    /// running one call at a time (default: one per core; at most the
    /// bundle's max_concurrency).
    #[arg(long, env = "FUNCMESH_PYTHON_WORKERS", value_parser = positive::<usize>)]
    pub python_workers: Option<usize>,
    /// How long a Python call may run past its deadline, ignoring the
    /// interrupt, before its worker is killed and replaced, in milliseconds.
    #[arg(long, env = "FUNCMESH_PYTHON_KILL_GRACE_MS", default_value_t = PythonConfig::default().kill_grace_ms)]
    pub python_kill_grace_ms: u64,
    #[command(flatten)]
    pub confine: PythonConfineFlags,
}

impl PythonFlags {
    /// The Python settings; workers are this binary.
    pub fn config(&self) -> PythonConfig {
        let mut config = PythonConfig {
            kill_grace_ms: self.python_kill_grace_ms,
            ..self.confine.config()
        };
        if let Some(n) = self.python_workers {
            config.workers = n;
        }
        config
    }
}

/// What a Python worker process may do; taken by the runner and by the
/// tron, which imports each Python bundle in a worker before it goes live.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Python")]
pub struct PythonConfineFlags {
    /// The user Python workers run as when this process is root: a name,
    /// UID or UID:GID. `root` keeps them root, able to read and change all
    /// that this process can.
    #[arg(long, env = "FUNCMESH_PYTHON_USER", default_value_t = funcmesh_runner::python::default_user())]
    pub python_user: String,
    /// The files one Python worker may hold open (a hard RLIMIT_NOFILE).
    #[arg(long, env = "FUNCMESH_PYTHON_MAX_OPEN_FILES", default_value_t = PythonConfig::default().max_open_files, value_parser = positive::<u64>)]
    pub python_max_open_files: u64,
    /// The processes and threads the Python workers' user may have before a
    /// worker's fork fails (a hard RLIMIT_NPROC; every process of that user
    /// counts, so all workers share it when they switch to one user).
    #[arg(long, env = "FUNCMESH_PYTHON_MAX_PROCESSES", default_value_t = PythonConfig::default().max_processes, value_parser = positive::<u64>)]
    pub python_max_processes: u64,
    /// The network Python workers see: `host`, this host's, or `none`, a
    /// network namespace of each worker's own with no interface but a
    /// loopback that is down (needs this process to be root).
    #[arg(long, env = "FUNCMESH_PYTHON_NETWORK", value_enum, default_value_t = PythonNetwork::Host)]
    pub python_network: PythonNetwork,
    /// Whether each Python worker runs in a cgroup of its own, which holds
    /// it to its bundle's memory_limit_mb (all its memory, not the heap
    /// alone), --python-max-processes and --python-cpu, and in which what
    /// it forks dies with it: `auto` where this host lets this process
    /// make them (root, cgroup v1), `required`, or `off`.
    #[arg(long, env = "FUNCMESH_PYTHON_CGROUPS", value_enum, default_value_t = PythonCgroups::Auto)]
    pub python_cgroups: PythonCgroups,
    /// The CPU one Python worker may use, in cores (e.g. 0.5), where it has
    /// a cgroup of its own.
    #[arg(long, env = "FUNCMESH_PYTHON_CPU", default_value = "1", value_parser = cores)]
    pub python_cpu: u32,
    /// Whether Python workers run under a seccomp filter that denies the
    /// system calls a function has no use for (namespaces and mounts,
    /// ptrace, keyrings, bpf, perf events, io_uring, modules, the clock):
    /// `on` or `off`.
    #[arg(long, env = "FUNCMESH_PYTHON_SECCOMP", value_enum, default_value_t = OnOff::On)]
    pub python_seccomp: OnOff,
}

/// A setting that is on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    /// On.
    On,
    /// Off.
    Off,
}

/// What `--python-cgroups` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PythonCgroups {
    /// Where they can be made; said once in the log where they cannot.
    Auto,
    /// Always: Python bundles are refused where they cannot be made.
    Required,
    /// Never.
    Off,
}

/// Cores, as thousandths of a core: at least 0.01, at most 1,024.
fn cores(text: &str) -> Result<u32, String> {
    let cores: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of cores"))?;
    match cores {
        c if (0.01..=1_024.0).contains(&c) => Ok((c * 1_000.0).round() as u32),
        _ => Err(format!("{text} cores: give from 0.01 to 1024")),
    }
}

/// What `--python-network` gives Python workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PythonNetwork {
    /// This host's network.
    Host,
    /// None at all.
    None,
}

impl PythonConfineFlags {
    /// The Python settings with these limits; workers are this binary.
    pub fn config(&self) -> PythonConfig {
        PythonConfig {
            worker: worker_command(),
            user: self.python_user.clone(),
            max_open_files: self.python_max_open_files,
            max_processes: self.python_max_processes,
            isolate_network: self.python_network == PythonNetwork::None,
            cgroups: match self.python_cgroups {
                PythonCgroups::Auto => CgroupMode::Auto,
                PythonCgroups::Required => CgroupMode::Required,
                PythonCgroups::Off => CgroupMode::Off,
            },
            cpu_millis: self.python_cpu,
            seccomp: self.python_seccomp == OnOff::On,
            ..PythonConfig::default()
        }
    }
}

/// This binary as a Python worker, when it embeds Python.
pub fn worker_command() -> Option<WorkerCommand> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn zero_is_refused_with_a_reason() {
        assert_eq!(positive::<usize>("0").unwrap_err(), "must be at least 1");
        assert!(positive::<u64>("-1").is_err());
        assert!(positive::<u32>("many").is_err());
        assert_eq!(positive::<u32>("5").unwrap(), 5);
    }
}
