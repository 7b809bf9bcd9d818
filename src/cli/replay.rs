//! `funcmesh replay`: captured traffic sent again, answers compared.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use funcmesh::replay::headers::IgnoredHeaders;
use funcmesh::replay::jsonpath::JsonPath;
use funcmesh::replay::{self, CompareRules, EXIT_FAILED, ReplayOptions, Target};

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// A block per difference or error, then a summary.
    Text,
    /// One JSON document: summary, differences, errors.
    Json,
}

/// `funcmesh replay FILE... --against TARGET`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    funcmesh replay captures/orders.jsonl --against http://127.0.0.1:8080\n  \
    funcmesh replay captures/*.jsonl --against swagger-examples --ignore-path '$.id' --report json\n\
\n\
Exit status:\n  \
    0  every answer was the same as captured (requests with no captured answer, counted as unverified, do not count)\n  \
    1  some answer differed, and every request was replayed\n  \
    2  some request could not be replayed (connection refused, timeout, unreadable file or malformed line, named file:line), \
       or the target could not be started (a bundle that failed to load)")]
pub struct ReplayArgs {
    /// Capture files (JSON lines, as `funcmesh dev --capture-dir` and
    /// `funcmesh capture` write them).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// A gateway's URL (`http://host:port`), or a bundle directory (one
    /// bundle, or a directory of bundles as `funcmesh dev` takes) served in
    /// this process for the replay.
    #[arg(long, env = "FUNCMESH_REPLAY_AGAINST")]
    against: String,
    /// A header for every request, `Name: value`, replacing a captured one
    /// of that name (e.g. a real Authorization for a masked one). Repeatable.
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE", value_parser = replay::parse_header)]
    headers: Vec<(String, String)>,
    /// A response header not compared, besides date, x-request-id,
    /// x-funcmesh-bundle, content-length, server, connection, keep-alive,
    /// transfer-encoding, traceparent, tracestate and the masked ones. Repeatable.
    #[arg(long = "ignore-header", value_name = "NAME")]
    ignore_headers: Vec<String>,
    /// A place in JSON bodies not compared: `$.timestamp`,
    /// `$.items[*].id`, `$['key']`, `$.list[0]`, `$.*`, `$..updated_at`;
    /// `$` leaves out the body. Repeatable.
    #[arg(long = "ignore-path", value_name = "JSONPATH", value_parser = parse_path)]
    ignore_paths: Vec<JsonPath>,
    /// Requests in flight at once.
    #[arg(long, env = "FUNCMESH_REPLAY_CONCURRENCY", default_value_t = 8)]
    concurrency: usize,
    /// Requests started per second at most (default: as fast as answers come).
    #[arg(long, value_name = "PER_SECOND")]
    rate: Option<f64>,
    /// How long one request may take, in milliseconds; past it the request
    /// is an error.
    #[arg(long, env = "FUNCMESH_REPLAY_TIMEOUT_MS", default_value_t = 30_000)]
    timeout_ms: u64,
    /// Write every replayed exchange, with its new answer, as a capture
    /// file (`source: "replay"`): a baseline for the next replay.
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// How the report is printed on stdout.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    report: ReportFormat,
    #[command(flatten)]
    python: super::flags::PythonFlags,
}

fn parse_path(text: &str) -> Result<JsonPath, String> {
    JsonPath::parse(text).map_err(|e| e.to_string())
}

/// Runs `funcmesh replay`; the exit code says whether anything differed.
/// A replay that cannot start exits 2 too, so that 1 always means "the
/// answers differ".
pub async fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    match replay(args).await {
        Ok(code) => Ok(code),
        Err(error) => {
            eprintln!("Error: {error:#}");
            Ok(ExitCode::from(EXIT_FAILED))
        }
    }
}

async fn replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    if let Some(rate) = args.rate {
        anyhow::ensure!(
            rate.is_finite() && rate > 0.0,
            "--rate must be a positive number"
        );
    }
    let target = Target::parse(&args.against)?;
    let mut options = ReplayOptions::new(args.files, target);
    options.headers = args.headers;
    options.rules = CompareRules {
        ignored_headers: IgnoredHeaders::with(&args.ignore_headers),
        ignored_paths: args.ignore_paths,
    };
    options.concurrency = args.concurrency;
    options.rate = args.rate;
    options.timeout = Duration::from_millis(args.timeout_ms.max(1));
    options.save = args.save;
    options.python = args.python.config();
    let report = replay::run(&options).await?;
    match args.report {
        ReportFormat::Text => print!("{}", replay::text::render(&report)),
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(ExitCode::from(report.exit_code()))
}
