//! `funcmesh capture`: switch capture on a cluster, or copy a Func queue's
//! requests to a file.

use std::time::Duration;

use funcmesh::capture::control::{self, CaptureChange};
use funcmesh_core::capture::{CaptureRules, RouteRule};

use super::BusArg;

/// `funcmesh capture on|off ...` or `funcmesh capture --from-queue ...`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
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
    /// The Func (its name in the announced routes) or the queue whose
    /// requests are copied.
    #[arg(long, value_name = "FUNC")]
    from_queue: Option<String>,
}

/// Runs `funcmesh capture`.
pub async fn run(args: CaptureArgs) -> anyhow::Result<()> {
    match (args.command, args.queue.from_queue) {
        (Some(CaptureCommand::On(on)), _) => {
            change(&on.bus, CaptureChange::On(on.rule), on.wait).await
        }
        (Some(CaptureCommand::Off(off)), _) => {
            change(&off.bus, CaptureChange::Off(off.route), off.wait).await
        }
        (None, Some(_queue)) => anyhow::bail!("capture --from-queue: not yet wired"),
        (None, None) => anyhow::bail!(
            "say what to capture: `funcmesh capture on FUNC[=RATE]`, `funcmesh capture off [FUNC]`, \
             or `funcmesh capture --from-queue FUNC --out FILE`"
        ),
    }
}

/// Sends a capture change through the trons and prints the rules in force.
async fn change(bus: &BusArg, change: CaptureChange, wait: u64) -> anyhow::Result<()> {
    let bus = funcmesh::cluster::connect(&bus.bus).await?;
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
