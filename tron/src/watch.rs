//! Reload on save: a directory of bundles is watched, and each change makes
//! its bundle's new version live, takes a removed bundle out of service, or
//! says clearly why it could not.
//!
//! - `paths`: which bundle a changed file belongs to, and which files are
//!   not worth a reload (build output, hidden files, editors' temporaries).
//! - `reload`: one reload at a time per bundle (a change during a reload
//!   runs it once more afterwards), any number across bundles; the log line
//!   and the [`ReloadEvent`] of each.
//!
//! The watcher drives a [`Target`], not a particular mesh: `funcmesh dev`
//! implements it over its in-process registry, and a tron serving a bundle
//! directory can implement it over its own.

mod paths;
mod reload;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use notify::RecursiveMode;
use notify_debouncer_full::{
    DebounceEventResult, Debouncer, RecommendedCache, new_debouncer, notify,
};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use paths::Layout;
use reload::Reloader;

/// What loading a bundle did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadOutcome {
    /// The bundle is live; `previous` is the hash it replaced.
    Live {
        /// The bundle's name.
        name: String,
        /// Its content hash.
        hash: String,
        /// The version it replaced, if any.
        previous: Option<String>,
    },
    /// The same version is already live.
    Unchanged,
}

impl LoadOutcome {
    /// `bundle` went live in place of `previous`.
    pub fn live(
        bundle: &funcmesh_core::bundle::Bundle,
        previous: Option<&funcmesh_core::bundle::Bundle>,
    ) -> Self {
        Self::Live {
            name: bundle.name.clone(),
            hash: bundle.hash.clone(),
            previous: previous.map(|p| p.hash.clone()),
        }
    }
}

/// What the watcher reloads bundles into.
pub trait Target: Send + Sync + 'static {
    /// Loads (or reloads) the bundle in `dir` and makes it live. On error
    /// the version already live, if any, keeps serving.
    fn load(&self, dir: &Path) -> impl Future<Output = anyhow::Result<LoadOutcome>> + Send;

    /// Takes the bundle from `dir` out of service; the hash it served.
    fn unload(&self, dir: &Path) -> impl Future<Output = Option<String>> + Send;

    /// The hash live for `dir`, if any.
    fn live(&self, dir: &Path) -> Option<String>;

    /// The directories whose bundles are live.
    fn served(&self) -> Vec<PathBuf>;
}

/// One reload's result, as tests and tools wait for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadEvent {
    /// A new version is live (a new bundle, or a changed one).
    Reloaded {
        /// The bundle directory.
        dir: PathBuf,
        /// The bundle's name.
        name: String,
        /// The new version.
        hash: String,
        /// The version it replaced.
        previous: Option<String>,
        /// From the first file event of the change to live.
        elapsed: Duration,
    },
    /// Files changed, but their bundle is the version already live.
    Unchanged {
        /// The bundle directory.
        dir: PathBuf,
        /// The reload before failed: this change fixed it, back to the
        /// version serving (logged as confirmed).
        fixed: bool,
    },
    /// The change could not be loaded; the version live before keeps serving.
    Failed {
        /// The bundle directory.
        dir: PathBuf,
        /// The load error's whole chain; it names the file and the problem.
        error: String,
        /// The version still serving, if any.
        live: Option<String>,
    },
    /// The bundle is gone and its routes answer 404.
    Removed {
        /// The bundle directory.
        dir: PathBuf,
        /// The version taken out of service.
        hash: String,
    },
}

/// How the watcher waits for a burst of writes to end.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// A file's events are held this long, and merged with those that follow.
    pub debounce: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(100),
        }
    }
}

/// A running watcher; dropping it stops the watching.
pub struct WatchHandle {
    events: broadcast::Sender<ReloadEvent>,
    pump: JoinHandle<()>,
    _debouncer: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

impl fmt::Debug for WatchHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchHandle").finish_non_exhaustive()
    }
}

impl WatchHandle {
    /// The reload events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ReloadEvent> {
        self.events.subscribe()
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

/// What the debouncer's thread hands to the runtime.
enum Notice {
    /// Changes, grouped by bundle.
    Changes(Vec<paths::Change>),
    /// Events were lost (a kernel queue overflowed): look at everything.
    Rescan(Instant),
}

/// Watches `root` (a bundle, or a directory of bundles) and reloads the
/// bundles whose files change into `target`. Must run inside a Tokio runtime.
pub fn watch<T: Target>(
    root: &Path,
    target: Arc<T>,
    options: WatchOptions,
) -> anyhow::Result<WatchHandle> {
    let (events, _) = broadcast::channel(256);
    let reloader = Arc::new(Reloader::new(target, events.clone()));
    let (tx, rx) = mpsc::unbounded_channel();
    let layout = Layout::new(root);
    let handler = move |result: DebounceEventResult| match result {
        Ok(batch) => {
            let notice = match batch.iter().find(|e| e.need_rescan()) {
                Some(event) => Notice::Rescan(event.time),
                None => Notice::Changes(layout.changes(&batch)),
            };
            let _ = tx.send(notice);
        }
        Err(errors) => {
            for error in errors {
                tracing::error!(%error, "watching the bundle directory; saves may go unnoticed");
            }
        }
    };
    let mut debouncer =
        new_debouncer(options.debounce, None, handler).context("starting the file watcher")?;
    debouncer
        .watch(root, RecursiveMode::Recursive)
        .with_context(|| format!("watching {}", root.display()))?;
    let pump = tokio::spawn(pump(rx, reloader, root.to_path_buf()));
    tracing::info!(dir = %root.display(), debounce_ms = options.debounce.as_millis() as u64, "watching for changes");
    Ok(WatchHandle {
        events,
        pump,
        _debouncer: debouncer,
    })
}

/// Hands each change to the reloader.
async fn pump<T: Target>(
    mut rx: mpsc::UnboundedReceiver<Notice>,
    reloader: Arc<Reloader<T>>,
    root: PathBuf,
) {
    while let Some(notice) = rx.recv().await {
        let changes = match notice {
            Notice::Changes(changes) => changes,
            Notice::Rescan(at) => paths::everything(&root, reloader.target().served(), at),
        };
        for change in changes {
            reloader.submit(change);
        }
    }
}
