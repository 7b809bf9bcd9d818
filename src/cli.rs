//! The mesh's commands: `dev`, `gateway`, `tron`, `runner` and `push`, each
//! composed from the flag groups in `flags` and running until its signal.

pub mod capture;
pub mod clean;
pub mod flags;
pub mod invoke;
pub mod log_level;
pub mod new;
pub mod replay;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use funcmesh::cluster;
use funcmesh::compose::PythonImportCheck;
use funcmesh::dev::{DevMesh, DevOptions};
use funcmesh_gateway::GatewayNode;
use funcmesh_runner::{RunnerNode, RunnerOptions};
use funcmesh_tron::TronNode;

use flags::{BusArg, GatewayFlags, RunnerFlags, TronFlags};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    funcmesh dev swagger-examples               # every bundle below it, on 127.0.0.1:8080\n  \
    funcmesh dev orders --listen 0.0.0.0:8080   # one bundle, reachable from other hosts\n  \
    funcmesh dev swagger-examples --capture-dir captures   # and record the traffic to replay")]
pub struct DevArgs {
    /// The directory of bundles (or one bundle).
    dir: PathBuf,
    #[command(flatten)]
    gateway: GatewayFlags,
    #[command(flatten)]
    tron: TronFlags,
    #[command(flatten)]
    runner: RunnerFlags,
    #[command(flatten)]
    metrics: flags::MetricsArg,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    export FUNCMESH_TOKEN=$(funcmesh token)     # the same on every process of the mesh\n  \
    funcmesh gateway --bus amqp://guest:guest@127.0.0.1:5672/%2f --listen 0.0.0.0:8080\n  \
    funcmesh gateway --bus nats://127.0.0.1:4222 --expose-openapi")]
pub struct GatewayArgs {
    #[command(flatten)]
    bus: BusArg,
    /// This gateway's id, which names its reply queue (default: random).
    #[arg(long, env = "FUNCMESH_GATEWAY_ID")]
    id: Option<String>,
    #[command(flatten)]
    gateway: GatewayFlags,
    #[command(flatten)]
    metrics: flags::MetricsArg,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    funcmesh tron --bus amqp://guest:guest@127.0.0.1:5672/%2f --bundles /srv/funcmesh/bundles\n  \
    funcmesh tron --bus nats://127.0.0.1:4222 --bundles bundles --scaler local   # starts its runners too")]
pub struct TronArgs {
    #[command(flatten)]
    bus: BusArg,
    /// The watched directory of bundles (uploads land here too).
    #[arg(long, env = "FUNCMESH_BUNDLES")]
    bundles: PathBuf,
    /// Where the admin listener (bundle store, uploads, status) listens.
    #[arg(long, env = "FUNCMESH_ADMIN", default_value = "127.0.0.1:7070")]
    admin: std::net::SocketAddr,
    /// The URL runners fetch bundles from (default: http:// + --admin, or
    /// https:// with --admin-tls-cert).
    #[arg(long, env = "FUNCMESH_PUBLIC_URL")]
    public_url: Option<String>,
    #[command(flatten)]
    admin_tls: flags::AdminTlsArgs,
    #[command(flatten)]
    admin_ca: flags::AdminCaArg,
    #[command(flatten)]
    tron: TronFlags,
    #[command(flatten)]
    scaling: flags::ScalingFlags,
    #[command(flatten)]
    python: flags::PythonConfineFlags,
    #[command(flatten)]
    metrics: flags::MetricsArg,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    funcmesh runner --bus amqp://guest:guest@127.0.0.1:5672/%2f\n  \
    funcmesh runner --bus kafka://127.0.0.1:9092 --pool batch --concurrency 16")]
pub struct RunnerArgs {
    #[command(flatten)]
    bus: BusArg,
    /// Admin URLs of trons to fetch bundles from, comma-separated (default:
    /// the store each tron announces).
    #[arg(long, env = "FUNCMESH_TRON", value_delimiter = ',')]
    tron: Vec<String>,
    #[command(flatten)]
    admin_ca: flags::AdminCaArg,
    /// Where fetched bundles are cached (default: ~/.cache/funcmesh/bundles).
    #[arg(long, env = "FUNCMESH_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Put a function's panic message or traceback in its 502 answers.
    #[arg(long, env = "FUNCMESH_DEV_MODE")]
    dev_mode: bool,
    /// The runner pool served: only the routes of bundles whose
    /// `funcmesh.toml` names this pool (`[scale] pool = "..."`; `default`
    /// when they name none).
    #[arg(long, env = "FUNCMESH_POOL", default_value = funcmesh_core::bundle::DEFAULT_POOL, value_parser = pool_name)]
    pool: String,
    #[command(flatten)]
    runner: RunnerFlags,
    #[command(flatten)]
    metrics: flags::MetricsArg,
}

fn pool_name(text: &str) -> Result<String, String> {
    match funcmesh_core::bundle::valid_pool_name(text) {
        true => Ok(text.to_owned()),
        false => Err("a pool is named with 1 to 63 letters, digits, `-` or `_`".into()),
    }
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    funcmesh push orders                        # to the tron on 127.0.0.1:7070\n  \
    funcmesh push orders --name orders-v2 --tron https://tron-a:7070,https://tron-b:7070 --admin-ca ca.pem")]
pub struct PushArgs {
    /// The bundle directory (a Rust func crate is built first).
    dir: PathBuf,
    /// Admin URLs of the trons to upload to, comma-separated; each one
    /// gets the bundle.
    #[arg(
        long,
        env = "FUNCMESH_TRON",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:7070"
    )]
    tron: Vec<String>,
    /// The name it is stored under (default: the directory's name).
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    admin_ca: flags::AdminCaArg,
    /// A file holding the mesh token sent to the trons; without it,
    /// FUNCMESH_TOKEN.
    #[arg(long, env = "FUNCMESH_TOKEN_FILE", value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Print each tron's answer as the JSON it sent (`name`, `hash`,
    /// `uploaded`; or `error`), one per line, instead of sentences.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  export FUNCMESH_TOKEN=$(funcmesh token)\n  \
    funcmesh token --file /run/funcmesh/token   # made once, then kept\n  \
    funcmesh token --file /run/funcmesh/token --show"
)]
pub struct TokenArgs {
    /// Keep the token in FILE: if FILE exists it is left as it is;
    /// otherwise it is created (mode 0600) holding FUNCMESH_TOKEN when that
    /// is set, or a new random token, which is printed this once.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// With --file: print the token the file holds.
    #[arg(long, requires = "file")]
    show: bool,
}

/// `funcmesh token`.
pub fn token(args: &TokenArgs) -> anyhow::Result<()> {
    use funcmesh_core::auth::MeshToken;
    let Some(file) = &args.file else {
        println!("{}", MeshToken::generate().secret());
        return Ok(());
    };
    if file.exists() {
        let kept = MeshToken::from_file(file)?;
        match args.show {
            true => println!("{}", kept.secret()),
            false => eprintln!("the mesh token in {} is kept", file.display()),
        }
        return Ok(());
    }
    let (token, given) = match MeshToken::from_env_or(None)? {
        Some(token) => (token, true),
        None => (MeshToken::generate(), false),
    };
    write_private(file, token.secret())?;
    match given {
        true => eprintln!(
            "the mesh token from FUNCMESH_TOKEN is kept in {}",
            file.display()
        ),
        false => println!(
            "a new mesh token is kept in {}: {}\n(it is shown this once; commands that talk to the mesh need it in FUNCMESH_TOKEN)",
            file.display(),
            token.secret()
        ),
    }
    Ok(())
}

/// Writes `text` to a new file only its owner can read.
fn write_private(file: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .with_context(|| format!("creating {}", file.display()))?;
    writeln!(out, "{text}").with_context(|| format!("writing {}", file.display()))
}

pub async fn dev(args: DevArgs, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
    let mut options = DevOptions::new(&args.dir);
    let gateway = args.gateway.options();
    options.gateway = gateway.config;
    // Development serves every bundle's contract, for Swagger UI and
    // client generators.
    options.gateway.expose_openapi = true;
    options.capture = gateway.capture;
    options.policy = args.tron.policy();
    options.debounce = std::time::Duration::from_millis(args.tron.debounce_ms);
    options.capture_rules = args.tron.capture_rules();
    options.concurrency = args.runner.concurrency();
    options.python = args.runner.python.config();
    let listener = bind(args.gateway.listen, "the gateway's listener").await?;
    let mesh = DevMesh::start(options, listener).await?;
    args.metrics.serve(|r| mesh.register_metrics(r)).await?;
    let table = mesh.registry().table();
    log_routes(&table);
    if table.routes.is_empty() {
        tracing::warn!(
            "no bundle found in {}: a bundle is a directory holding one of {} \
             (DIR itself, or a directory right below it; deeper ones are not looked for)",
            args.dir.display(),
            funcmesh_core::bundle::SPEC_FILES.join(", ")
        );
    }
    tracing::info!(
        "funcmesh dev serving {} bundle(s) on {}",
        table.routes.len(),
        funcmesh::dev::describe(mesh.local_addr())
    );
    let watching = match args.tron.no_watch {
        true => None,
        false => Some(mesh.watch()?),
    };
    signal.await;
    tracing::info!("shutting down: answering requests in flight");
    drop(watching);
    mesh.shutdown().await
}

pub async fn gateway(
    args: GatewayArgs,
    signal: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (_, bus) = args.bus.connect().await?;
    let mut options = args.gateway.options();
    if let Some(id) = args.id {
        options.config.id = id;
    }
    let listener = bind(args.gateway.listen, "the gateway's listener").await?;
    let node = GatewayNode::start(bus, options).await?;
    args.metrics
        .serve(|r| node.gateway().register_metrics(r))
        .await?;
    tracing::info!("funcmesh gateway serving on http://{}", args.gateway.listen);
    node.serve(listener, signal).await
}

/// Runs a tron until `signal`; the runners it starts log as `log` says.
pub async fn tron(
    args: TronArgs,
    log: &flags::Logging,
    signal: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let (token, bus) = args.bus.connect().await?;
    let mut options = args.tron.options(args.bundles);
    options.public_url = args.public_url;
    options.token = token;
    options.admin_tls = args.admin_tls.server_config()?;
    let python = args.python.config();
    options.prepare = Some(Arc::new(PythonImportCheck(python)));
    options.scaling = args
        .scaling
        .scaling(
            &args.bus.bus,
            log,
            options.token.as_ref(),
            args.admin_ca.ca.as_deref(),
        )
        .await?;
    let listener = bind(args.admin, "the admin listener").await?;
    let node = TronNode::start(bus, options, Some(listener)).await?;
    args.metrics.serve(|r| node.register_metrics(r)).await?;
    log_routes(&node.registry().table());
    signal.await;
    tracing::info!("tron stopping");
    node.shutdown().await;
    Ok(())
}

pub async fn runner(args: RunnerArgs, signal: impl Future<Output = ()>) -> anyhow::Result<()> {
    let (token, bus) = args.bus.connect().await?;
    let cache_dir = args.cache_dir.unwrap_or_else(default_cache_dir);
    std::fs::create_dir_all(&cache_dir)
        .with_context(|| format!("creating the bundle cache {}", cache_dir.display()))?;
    let mut options = RunnerOptions::new(cache_dir);
    options.trons = args.tron;
    options.token = token;
    options.admin_trust = args.admin_ca.trust();
    options.pool = Some(args.pool);
    options.dev_mode = args.dev_mode;
    options.python = args.runner.python.config();
    options.concurrency = args.runner.concurrency();
    let node = RunnerNode::start(bus, options).await?;
    args.metrics
        .serve(|r| node.runner().stats_handle().register(r))
        .await?;
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
    let token = funcmesh_core::auth::MeshToken::from_env_or(args.token_file.as_deref())?;
    let connector = args.admin_ca.trust().connector()?;
    let mut refused = 0;
    for tron in &args.tron {
        let answer = cluster::upload(&connector, tron, &name, &packed, token.as_ref()).await?;
        match (args.json, answer.describe(&name)) {
            (true, _) => println!("{}", answer.body),
            (false, Ok(live)) => println!("{live}"),
            (false, Err(why)) => eprintln!("{why}"),
        }
        refused += usize::from(!answer.status.is_success());
    }
    anyhow::ensure!(
        refused == 0,
        "{refused} of {} tron(s) refused {name}; a version they served before keeps serving",
        args.tron.len()
    );
    Ok(())
}

async fn bind(addr: std::net::SocketAddr, what: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {what} {addr}"))
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
