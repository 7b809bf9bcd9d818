//! `funcmesh capture`: switch capture on a cluster, or copy a Func queue's
//! requests to a file.

use std::path::PathBuf;
use std::time::Duration;

use funcmesh::capture::control::{self, CaptureChange};
use funcmesh::capture::queue::{self as queue_capture, Limits, QueueCapture};
use funcmesh_core::capture::Redaction;
use funcmesh_core::capture::{CaptureRules, RouteRule};

use super::flags::BusArg;

/// `funcmesh capture on|off ...` or `funcmesh capture --from-queue ...`.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  \
    funcmesh capture on orders=0.1 --bus nats://127.0.0.1:4222   # a tenth of its traffic, on every gateway\n  \
    funcmesh capture off orders --bus nats://127.0.0.1:4222\n  \
    funcmesh capture --from-queue orders --out orders.jsonl --count 100 --bus nats://127.0.0.1:4222"
)]
pub struct CaptureArgs {
    #[command(subcommand)]
    command: Option<CaptureCommand>,
    #[command(flatten)]
    queue: QueueArgs,
}

#[derive(Debug, clap::Subcommand)]
enum CaptureCommand {
    /// Start capturing a Func's traffic on every gateway of a cluster.
    On(OnArgs),
    /// Stop capturing a Func's traffic (or every Func's).
    Off(OffArgs),
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    funcmesh capture on orders --bus amqp://guest:guest@127.0.0.1:5672/%2f\n  \
    funcmesh capture on '*=0.01' --bus nats://127.0.0.1:4222   # one request in a hundred, every Func")]
struct OnArgs {
    /// The Func (its bundle's name) or `*` for every Func, with an optional
    /// sample rate from 0 to 1: `orders`, `orders=0.01`.
    #[arg(value_name = "FUNC[=RATE]", value_parser = CaptureRules::parse_rule)]
    rule: RouteRule,
    #[command(flatten)]
    bus: BusArg,
    /// How long to wait for a tron to announce the change, in seconds.
    #[arg(long, default_value_t = 10)]
    wait: u64,
}

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    funcmesh capture off orders --bus nats://127.0.0.1:4222\n  \
    funcmesh capture off --bus nats://127.0.0.1:4222    # every rule")]
struct OffArgs {
    /// The Func whose rule is dropped; none drops every rule.
    #[arg(value_name = "FUNC")]
    route: Option<String>,
    #[command(flatten)]
    bus: BusArg,
    /// How long to wait for a tron to announce the change, in seconds.
    #[arg(long, default_value_t = 10)]
    wait: u64,
}

/// Copying the requests flowing through a Func's queue.
#[derive(Debug, clap::Args)]
struct QueueArgs {
    /// The Func (its name in the announced routes) or the queue
    /// (`funcmesh.func.…`) whose requests are copied, without taking them
    /// from the runners.
    #[arg(long, value_name = "FUNC")]
    from_queue: Option<String>,
    #[command(flatten)]
    bus: BusArg,
    /// The capture file (JSON lines), created or emptied.
    #[arg(long, value_name = "FILE", requires = "from_queue")]
    out: Option<PathBuf>,
    /// Stop after this many requests.
    #[arg(long, value_name = "N", requires = "from_queue")]
    count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long = "for", value_name = "SECONDS", requires = "from_queue")]
    for_secs: Option<u64>,
    /// A header to mask, besides authorization, proxy-authorization, cookie
    /// and set-cookie (repeatable).
    #[arg(long = "redact", value_name = "NAME", requires = "from_queue")]
    redact: Vec<String>,
    /// How long to wait for a tron to announce the routes, in seconds.
    #[arg(long = "routes-wait", value_name = "SECONDS", default_value_t = 10)]
    routes_wait: u64,
}

/// Runs `funcmesh capture`.
pub async fn run(args: CaptureArgs) -> anyhow::Result<()> {
    match (args.command, args.queue.from_queue.clone()) {
        (Some(CaptureCommand::On(on)), _) => {
            change(&on.bus, CaptureChange::On { rule: on.rule }, on.wait).await
        }
        (Some(CaptureCommand::Off(off)), _) => {
            change(&off.bus, CaptureChange::Off { route: off.route }, off.wait).await
        }
        (None, Some(func)) => from_queue(&func, args.queue).await,
        (None, None) => anyhow::bail!(
            "say what to capture: `funcmesh capture on FUNC[=RATE]`, `funcmesh capture off [FUNC]`, \
             or `funcmesh capture --from-queue FUNC --out FILE`"
        ),
    }
}

/// Sends a capture change through the trons and prints the rules in force.
async fn change(bus: &BusArg, change: CaptureChange, wait: u64) -> anyhow::Result<()> {
    let (_, bus) = bus.connect().await?;
    let rules = control::send(bus, change, Duration::from_secs(wait.max(1))).await?;
    match rules.routes.as_slice() {
        [] => println!("capture off: no Func is captured"),
        routes => {
            for rule in routes {
                println!("capturing {} at rate {}", rule.route, rule.rate);
            }
        }
    }
    Ok(())
}

/// Copies the requests flowing through `func`'s queue to `--out` until
/// `--count`, `--for`, Ctrl-C or SIGTERM, and says how many it wrote.
async fn from_queue(func: &str, args: QueueArgs) -> anyhow::Result<()> {
    let Some(out) = args.out else {
        anyhow::bail!("--from-queue needs --out FILE, the capture file to write");
    };
    let (_, bus) = args.bus.connect().await?;
    let wait = Duration::from_secs(args.routes_wait.max(1));
    let target = queue_capture::resolve(std::sync::Arc::clone(&bus), func, wait).await?;
    let redaction = Redaction::with(&args.redact);
    let capture = QueueCapture::start(&*bus, target.clone(), &out, redaction).await?;
    // On stderr, so that a script (or a test) knows copies flow from now on.
    eprintln!(
        "capturing the requests of Func {} (queue {}) into {}",
        target.route,
        target.queue,
        out.display()
    );
    let limits = Limits {
        count: args.count,
        duration: args.for_secs.map(Duration::from_secs),
    };
    let captured = capture.run(limits, crate::wait_for_signal()).await?;
    eprintln!(
        "captured {} request(s) of Func {} into {}{}",
        captured.records,
        target.route,
        out.display(),
        match captured.skipped {
            0 => String::new(),
            n => format!("; {n} message(s) that were not request envelopes skipped"),
        }
    );
    Ok(())
}
