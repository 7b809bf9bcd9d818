//! One live step on the local orchestrator: a tron (`--scaler local`) and
//! a gateway on a real broker, a pool from zero runners, then an open-loop
//! step of requests to a Func that takes 20 ms per call, then nothing. The
//! pool's runners are sampled from the tron's `/status` every 100 ms, and
//! the same figures as the simulator's are printed for what was measured,
//! beside the simulator's for the same step on the same pool.
//!
//!   scale_live FUNCMESH BUNDLE [--bus URL] [--rate N] [--seconds N]
//!
//! FUNCMESH is the `funcmesh` binary, BUNDLE a bundle directory with the
//! `GET /faults/slow?ms=N` operation (`tests/fixtures/faults`).

#[path = "../scale_sim/funcmesh.rs"]
mod funcmesh;
// Shared with scale_sim, which uses parts this binary does not.
#[path = "../scale_sim/pool.rs"]
#[allow(dead_code)]
mod pool;
#[path = "../scale_sim/traces.rs"]
#[allow(dead_code)]
mod traces;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use funcmesh_tron::scale::rule::{PoolLimits, RuleConfig};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::Mutex;

/// Milliseconds per call of the Func.
const SERVICE_MS: u64 = 20;
/// Calls a runner serves at once, and the pool's target.
const TARGET: u32 = 4;
/// The pool's most runners.
const MAX: u32 = 8;
/// The scale-down window and the idle time before zero, shortened so that
/// the run shows the way back as well.
const DOWN_WINDOW_MS: u64 = 10_000;
const IDLE_MS: u64 = 10_000;
/// Seconds before the step (the pool at zero) and after it (on the way
/// back to zero).
const BEFORE_S: f64 = 5.0;
const AFTER_S: f64 = 30.0;

type Http = Client<HttpConnector, Empty<Bytes>>;

/// A child process stopped when dropped: SIGTERM (a tron stops the
/// runners it started), then SIGKILL after 10 s.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id()) {
            // SAFETY: kill(2) on our own child, which we have not reaped.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// (seconds since the step, negative before it; runners asked for;
/// runners heard serving).
type Sample = (f64, u32, u32);

struct Args {
    funcmesh: PathBuf,
    bundle: PathBuf,
    bus: String,
    rate: f64,
    seconds: f64,
}

fn args() -> anyhow::Result<Args> {
    let mut it = std::env::args().skip(1);
    let usage = "usage: scale_live FUNCMESH BUNDLE [--bus URL] [--rate N] [--seconds N]";
    let funcmesh = PathBuf::from(it.next().context(usage)?);
    let bundle = PathBuf::from(it.next().context(usage)?);
    let mut args = Args {
        funcmesh,
        bundle,
        bus: "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned(),
        rate: 600.0,
        seconds: 30.0,
    };
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--bus" => args.bus = value,
            "--rate" => args.rate = value.parse().context("--rate")?,
            "--seconds" => args.seconds = value.parse().context("--seconds")?,
            _ => anyhow::bail!("unknown flag {flag}; {usage}"),
        }
    }
    Ok(args)
}

fn free_port() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// The mesh token every process of the benchmark's mesh shares.
fn mesh_token() -> &'static str {
    static TOKEN: std::sync::OnceLock<funcmesh_core::auth::MeshToken> = std::sync::OnceLock::new();
    TOKEN
        .get_or_init(funcmesh_core::auth::MeshToken::generate)
        .secret()
}

fn spawn(funcmesh: &Path, bus: &str, args: &[&str], log: &Path) -> anyhow::Result<Process> {
    let file = std::fs::File::create(log)?;
    let child = Command::new(funcmesh)
        .args(args)
        .env("FUNCMESH_BUS", bus)
        .env("FUNCMESH_TOKEN", mesh_token())
        .env("FUNCMESH_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .with_context(|| format!("starting {}", funcmesh.display()))?;
    Ok(Process(child))
}

async fn get(http: &Http, url: &str) -> anyhow::Result<(u16, Bytes)> {
    send(http, hyper::Request::get(url).body(Empty::new())?).await
}

async fn send(http: &Http, request: hyper::Request<Empty<Bytes>>) -> anyhow::Result<(u16, Bytes)> {
    let response = http.request(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// The tron's `/status`, which takes the mesh token.
async fn status(http: &Http, admin: SocketAddr) -> Option<serde_json::Value> {
    let request = hyper::Request::get(format!("http://{admin}/status"))
        .header("authorization", format!("Bearer {}", mesh_token()))
        .body(Empty::new())
        .ok()?;
    let (code, body) = send(http, request).await.ok()?;
    (code == 200).then(|| serde_json::from_slice(&body).ok())?
}

async fn wait_for(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while !check().await {
        anyhow::ensure!(Instant::now() < deadline, "not within {timeout:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let dir = tempfile::tempdir()?;
    let bundles = dir.path().join("bundles");
    std::fs::create_dir_all(&bundles)?;
    let packed = funcmesh_core::bundle::pack_any(&args.bundle)
        .with_context(|| format!("packing {}", args.bundle.display()))?;
    funcmesh_core::bundle::unpack_to(
        &packed.bytes,
        &packed.bundle.hash,
        &bundles.join(&packed.bundle.name),
    )?;
    let namespace = format!("scalelive{}", std::process::id());
    let separator = if args.bus.contains('?') { '&' } else { '?' };
    let bus = format!("{}{separator}namespace={namespace}", args.bus);
    let (admin, gateway) = (free_port()?, free_port()?);
    let pool = format!("default:min=0,max={MAX},target={TARGET}");
    let concurrency = format!("--runner-arg=--concurrency={TARGET}");
    let tron_log = dir.path().join("tron.log");
    let _tron = spawn(
        &args.funcmesh,
        &bus,
        &[
            "tron",
            "--bundles",
            &bundles.display().to_string(),
            "--admin",
            &admin.to_string(),
            "--scaler",
            "local",
            "--pool",
            &pool,
            &concurrency,
            "--scale-down-window-ms",
            &DOWN_WINDOW_MS.to_string(),
            "--scale-to-zero-after-ms",
            &IDLE_MS.to_string(),
        ],
        &tron_log,
    )?;
    let _gateway = spawn(
        &args.funcmesh,
        &bus,
        &["gateway", "--listen", &gateway.to_string()],
        &dir.path().join("gateway.log"),
    )?;
    let http: Http = Client::builder(TokioExecutor::new()).build_http();
    wait_for(
        "the tron holds the scaler's lease",
        Duration::from_secs(30),
        async || {
            status(&http, admin)
                .await
                .is_some_and(|s| s["scaling"]["holds_lease"] == true)
        },
    )
    .await?;
    wait_for("the gateway up", Duration::from_secs(30), async || {
        get(&http, &format!("http://{gateway}/__health"))
            .await
            .is_ok()
    })
    .await?;

    // Sample the pool every 100 ms from now on.
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let step_at = Instant::now() + Duration::from_secs_f64(BEFORE_S);
    let sampler = {
        let (samples, http) = (Arc::clone(&samples), http.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                let Some(status) = status(&http, admin).await else {
                    continue;
                };
                let asked = status["scaling"]["pools"]["default"]["current"]
                    .as_u64()
                    .unwrap_or(0) as u32;
                let serving = status["runners"].as_array().map_or(0, |runners| {
                    runners.iter().filter(|r| r["pool"] == "default").count()
                }) as u32;
                let now = Instant::now();
                let t = now.saturating_duration_since(step_at).as_secs_f64()
                    - step_at.saturating_duration_since(now).as_secs_f64();
                if let Ok(mut samples) = samples.lock() {
                    samples.push((t, asked, serving));
                }
            }
        })
    };
    tokio::time::sleep_until(step_at.into()).await;

    // The step: open loop, `rate` requests a second for `seconds`.
    let url = format!("http://{gateway}/faults/slow?ms={SERVICE_MS}");
    let mut requests = tokio::task::JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let end = step_at + Duration::from_secs_f64(args.seconds);
    while Instant::now() < end {
        tick.tick().await;
        let (http, url) = (http.clone(), url.clone());
        requests.spawn(async move {
            let sent = Instant::now();
            let code = get(&http, &url).await.map_or(0, |(code, _)| code);
            (code, sent.elapsed())
        });
    }
    let mut latencies = Vec::new();
    let mut failed = std::collections::BTreeMap::<u16, usize>::new();
    while let Some(joined) = requests.join_next().await {
        let (code, latency) = joined?;
        latencies.push(latency);
        if code != 200 {
            *failed.entry(code).or_default() += 1;
        }
    }
    let tail = end + Duration::from_secs_f64(AFTER_S);
    tokio::time::sleep_until(tail.into()).await;
    sampler.abort();

    let samples = samples
        .lock()
        .map_err(|_| anyhow::anyhow!("samples poisoned"))?
        .clone();
    latencies.sort();
    let quantile = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    let needed = ((args.rate * SERVICE_MS as f64 / 1e3) / f64::from(TARGET)).ceil() as u32;
    let live = measured(&samples, needed, args.seconds);
    println!(
        "pool: {TARGET} calls at once per runner, {SERVICE_MS} ms per call, min 0, max {MAX}; \
         scale-down window {} s, idle {} s before zero; local runner processes on {}",
        DOWN_WINDOW_MS / 1_000,
        IDLE_MS / 1_000,
        funcmesh_bus_name(&args.bus)
    );
    println!(
        "step 0 -> {:.0} req/s for {:.0} s: {} requests, {} not 200 {:?}, latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {needed} runners needed",
        args.rate,
        args.seconds,
        latencies.len(),
        failed.values().sum::<usize>(),
        failed,
        quantile(0.5).as_secs_f64() * 1e3,
        quantile(0.99).as_secs_f64() * 1e3,
        quantile(1.0).as_secs_f64() * 1e3,
    );
    println!();
    println!(
        "| | capacity reached (s after the step) | over-provisioned runner-s | under capacity (s) | changes | back at zero (s after the load) |"
    );
    println!("|---|--:|--:|--:|--:|--:|");
    println!("{}", live.row("measured (runners heard serving)"));
    let simulated = simulate(args.rate, args.seconds)?;
    println!("{}", simulated.row("simulated, same step and pool"));
    println!();
    println!("the tron's decisions:");
    let log = std::fs::read_to_string(&tron_log).unwrap_or_default();
    for line in log.lines().filter(|l| l.contains("pool=default ")) {
        println!("  {}", line.trim());
    }
    let failures = failed.values().sum::<usize>();
    anyhow::ensure!(
        failures == 0,
        "{failures} requests not answered 200 (logs: {})",
        tron_log.display()
    );
    Ok(())
}

fn funcmesh_bus_name(bus: &str) -> &'static str {
    match bus.split_once("://").map(|(scheme, _)| scheme) {
        Some("amqp") => "RabbitMQ",
        Some("nats") => "NATS",
        Some("kafka") => "Kafka",
        _ => "the bus",
    }
}

/// The figures of one run.
struct Figures {
    reach: Option<f64>,
    over: f64,
    under: f64,
    changes: u32,
    zero_after: Option<f64>,
}

impl Figures {
    fn row(&self, what: &str) -> String {
        let seconds = |s: Option<f64>| s.map_or("never".to_owned(), |s| format!("{s:.1}"));
        format!(
            "| {what} | {} | {:.0}% | {:.1} | {} | {} |",
            seconds(self.reach),
            self.over * 100.0,
            self.under,
            self.changes,
            seconds(self.zero_after)
        )
    }
}

/// The figures from the samples, as the simulator counts them: capacity
/// is reached when the runners heard serving are as many as needed;
/// over-provisioned runner-seconds are those asked for beyond the needed
/// ones (none once the load is over), as a share of the needed ones, over
/// the whole run; under capacity, the time with fewer serving than needed
/// under load.
fn measured(samples: &[Sample], needed: u32, seconds: f64) -> Figures {
    let mut figures = Figures {
        reach: None,
        over: 0.0,
        under: 0.0,
        changes: 0,
        zero_after: None,
    };
    let (mut extra, mut wanted) = (0.0, 0.0);
    for pair in samples.windows(2) {
        let ((t, asked, serving), (next, asked_next, _)) = (pair[0], pair[1]);
        let dt = next - t;
        let loaded = (0.0..seconds).contains(&t);
        let need = if loaded { needed } else { 0 };
        if asked_next != asked {
            figures.changes += 1;
            if asked_next == 0 {
                figures.zero_after = Some(next - seconds);
            }
        }
        if loaded && serving >= needed && figures.reach.is_none() {
            figures.reach = Some(t);
        }
        extra += f64::from(asked.saturating_sub(need)) * dt;
        wanted += f64::from(need) * dt;
        if loaded && serving < needed {
            figures.under += dt;
        }
    }
    figures.over = if wanted > 0.0 { extra / wanted } else { 0.0 };
    figures
}

/// The simulator's figures for the same step on the same pool.
fn simulate(rate: f64, seconds: f64) -> anyhow::Result<Figures> {
    let config = RuleConfig {
        down_window_ms: DOWN_WINDOW_MS,
        idle_ms: IDLE_MS,
        ..RuleConfig::default()
    };
    let limits = PoolLimits::new(0, MAX, TARGET)?;
    let trace = traces::Trace::pulse(
        "live step",
        BEFORE_S,
        seconds,
        rate,
        BEFORE_S + seconds + AFTER_S,
    );
    let params = pool::Params {
        service: SERVICE_MS as f64 / 1e3,
        target: TARGET,
        startup: 1.0,
        min: 0,
        max: MAX,
    };
    let mut policy = funcmesh::Funcmesh::new(config, limits);
    let figures = pool::simulate(&trace, params, &mut policy, false);
    let end = BEFORE_S + seconds;
    Ok(Figures {
        reach: figures.reach.first().copied().flatten(),
        over: figures.over,
        under: figures.under,
        changes: figures.changes,
        zero_after: figures.to_zero_at.map(|t| t - end),
    })
}
