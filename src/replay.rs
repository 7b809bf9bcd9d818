//! `funcmesh replay`: captured traffic sent again, answers compared.
//!
//! Each record of the capture files is sent again to a target (a running
//! gateway, or a bundle directory served in this process for the replay's
//! length) as the client sent it, to the captured `Host`, and the new
//! answer is compared with the captured one.
//!
//! - [`target`]: `--against`, and the in-process mesh for a directory.
//! - [`files`]: capture files read with each record's file and line.
//! - [`send`]: a record rebuilt into an HTTP request and sent.
//! - [`engine`]: concurrency and rate, one verdict per record.
//! - [`compare`]: status, [`headers`] and body; [`json`] bodies as values
//!   with [`jsonpath`] places ignored, text and bytes by [`diff`].
//! - [`report`]: the counts, the differences and the exit status, summed
//!   up by `tally`; [`text`] renders it for people, `serde_json` for
//!   machines.
//! - `save`: `--save`, each replayed exchange as a new capture record.
//! - [`progress`]: a progress bar on a terminal's stderr.

pub mod compare;
pub mod diff;
pub mod engine;
pub mod files;
pub mod headers;
pub mod json;
pub mod jsonpath;
pub mod progress;
pub mod report;
mod save;
pub mod send;
mod tally;
pub mod target;
pub mod text;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use compare::CompareRules;
pub use report::{EXIT_DIFFERENT, EXIT_FAILED, EXIT_SAME, Report};
pub use target::Target;

use engine::Pace;

/// Why a replay could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--against` names nothing that can be replayed against.
    #[error("--against {0}")]
    Target(String),
    /// The in-process mesh did not start.
    #[error("starting the mesh: {0}")]
    Start(String),
    /// Bundles of the target directory did not load.
    #[error("{} bundle(s) failed to load:{}", .0.len(), .0.iter().map(|(dir, e)| format!("\n  {}: {e}", dir.display())).collect::<String>())]
    Bundles(Vec<(PathBuf, String)>),
    /// A `--header` is not a valid header.
    #[error(transparent)]
    Header(#[from] send::SendError),
    /// `--save` could not be written.
    #[error("writing {}: {source}", path.display())]
    Save {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// What to replay, where, and how.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The capture files.
    pub files: Vec<PathBuf>,
    /// Where to send them.
    pub target: Target,
    /// Headers added to (or replacing those of) every request.
    pub headers: Vec<(String, String)>,
    /// What the comparison leaves out.
    pub rules: CompareRules,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Requests started per second at most.
    pub rate: Option<f64>,
    /// How long one request may take.
    pub timeout: Duration,
    /// Where to write every replayed exchange as a capture record.
    pub save: Option<PathBuf>,
    /// How Python bundles run, for a directory target.
    pub python: funcmesh_runner::PythonConfig,
    /// Whether to draw a progress bar when stderr is a terminal.
    pub progress: bool,
}

impl ReplayOptions {
    /// Defaults: 8 at once, no rate limit, 30 s per request.
    pub fn new(files: Vec<PathBuf>, target: Target) -> Self {
        Self {
            files,
            target,
            headers: Vec::new(),
            rules: CompareRules::default(),
            concurrency: 8,
            rate: None,
            timeout: Duration::from_secs(30),
            save: None,
            python: funcmesh_runner::PythonConfig::default(),
            progress: true,
        }
    }
}

/// Reads `Name: value` as given to `--header`.
pub fn parse_header(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(format!("{text:?} is not `Name: value`")),
    }
}

/// Replays every record of the files against the target.
pub async fn run(options: &ReplayOptions) -> Result<Report, Error> {
    let files = options.files.clone();
    let (records, errors) = tokio::task::spawn_blocking(move || files::read_all(&files))
        .await
        .map_err(|e| Error::Start(format!("reading the capture files: {e}")))?;
    let live = target::Live::start(&options.target, options.timeout, &options.python).await?;
    let sender = match send::Sender::new(
        &live.base,
        &options.headers,
        options.timeout,
        options.concurrency,
    ) {
        Ok(sender) => Arc::new(sender),
        Err(error) => {
            live.stop().await;
            return Err(error.into());
        }
    };
    let records: Vec<Arc<files::Located>> = records.into_iter().map(Arc::new).collect();
    let mut progress = match options.progress {
        true => progress::Progress::new(records.len()),
        false => progress::Progress::quiet(records.len()),
    };
    let pace = Pace {
        concurrency: options.concurrency,
        rate: options.rate,
    };
    let started = Instant::now();
    let rules = Arc::new(options.rules.clone());
    let outcomes = engine::replay_all(
        &records,
        sender,
        rules,
        pace,
        options.save.is_some(),
        &mut progress,
    )
    .await;
    let elapsed = started.elapsed();
    let saved = options
        .save
        .as_ref()
        .map(|path| (path, save::records(&records, &outcomes, &live)));
    live.stop().await;
    if let Some((path, saved)) = saved {
        files::write_all(path, &saved)?;
    }
    Ok(tally::report(
        options.target.to_string(),
        &records,
        &outcomes,
        errors,
        elapsed,
    ))
}
