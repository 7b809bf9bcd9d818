//! Reloads: one at a time per bundle, any number at once across bundles,
//! each logged and broadcast.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use funcmesh_core::bundle;
use parking_lot::Mutex;
use tokio::sync::broadcast;

use super::paths::Change;
use super::{LoadOutcome, ReloadEvent, Target};

/// Runs the reloads of a [`Target`].
pub(crate) struct Reloader<T> {
    target: Arc<T>,
    events: broadcast::Sender<ReloadEvent>,
    /// The bundles being reloaded, each with the change that arrived since
    /// its reload started (run once more when it ends).
    running: Mutex<HashMap<PathBuf, Option<Change>>>,
    /// The bundles whose last reload failed: the next one that finds the
    /// version serving again says so.
    failing: Mutex<BTreeSet<PathBuf>>,
}

/// What one reload did.
enum Attempt {
    Loaded(LoadOutcome),
    Failed(anyhow::Error),
    /// The directory is no bundle (any more); the hash taken down, if any.
    Removed(Option<String>),
}

impl<T: Target> Reloader<T> {
    pub fn new(target: Arc<T>, events: broadcast::Sender<ReloadEvent>) -> Self {
        Self {
            target,
            events,
            running: Mutex::default(),
            failing: Mutex::default(),
        }
    }

    pub fn target(&self) -> &Arc<T> {
        &self.target
    }

    /// Reloads `change.dir` now, or once more after the reload running.
    pub fn submit(self: &Arc<Self>, change: Change) {
        let mut running = self.running.lock();
        match running.get_mut(&change.dir) {
            Some(Some(pending)) => pending.merge(change),
            Some(slot @ None) => *slot = Some(change),
            None => {
                running.insert(change.dir.clone(), None);
                drop(running);
                tokio::spawn(Arc::clone(self).drive(change));
            }
        }
    }

    /// Reloads one directory until no change is pending for it.
    async fn drive(self: Arc<Self>, mut change: Change) {
        let mut unwedge = Unwedge {
            reloader: &self,
            dir: change.dir.clone(),
            armed: true,
        };
        loop {
            let attempt = self.attempt(&change.dir).await;
            match (attempt, self.next(&change.dir)) {
                // The files were still being written: the next attempt,
                // which sees them whole, is the one to report.
                (Attempt::Failed(error), Some(next)) => {
                    tracing::debug!(dir = %change.dir.display(), "superseded by a later change: {error:#}");
                    change.merge(next);
                }
                (attempt, next) => {
                    self.report(&change, attempt);
                    match next {
                        Some(next) => change = next,
                        None => {
                            unwedge.armed = false;
                            return;
                        }
                    }
                }
            }
        }
    }

    async fn attempt(&self, dir: &Path) -> Attempt {
        if bundle::is_bundle_dir(dir) {
            match self.target.load(dir).await {
                Ok(outcome) => Attempt::Loaded(outcome),
                Err(error) => Attempt::Failed(error),
            }
        } else {
            Attempt::Removed(self.target.unload(dir).await)
        }
    }

    /// The change that arrived during the reload of `dir`; when none did,
    /// `dir` is no longer running.
    fn next(&self, dir: &Path) -> Option<Change> {
        let mut running = self.running.lock();
        let next = running.get_mut(dir).and_then(Option::take);
        if next.is_none() {
            running.remove(dir);
        }
        next
    }

    /// The log line and the event.
    fn report(&self, change: &Change, attempt: Attempt) {
        let dir = &change.dir;
        let changed = describe(&change.files);
        let was_failing = match &attempt {
            Attempt::Failed(_) => {
                self.failing.lock().insert(dir.clone());
                true
            }
            _ => self.failing.lock().remove(dir),
        };
        let event = match attempt {
            Attempt::Loaded(LoadOutcome::Live {
                name,
                hash,
                previous,
            }) => {
                let elapsed = change.first.elapsed();
                let elapsed_ms = elapsed.as_millis() as u64;
                match &previous {
                    Some(old) => tracing::info!(
                        bundle = %name, from = %short(old), to = %short(&hash), elapsed_ms, %changed,
                        "bundle reloaded"
                    ),
                    None => tracing::info!(
                        bundle = %name, hash = %short(&hash), elapsed_ms, "bundle live"
                    ),
                }
                ReloadEvent::Reloaded {
                    dir: dir.clone(),
                    name,
                    hash,
                    previous,
                    elapsed,
                }
            }
            Attempt::Loaded(LoadOutcome::Unchanged) => {
                let live = self.target.live(dir).filter(|_| was_failing);
                match &live {
                    // A fix that brought the files back to the version
                    // serving: the error logged before is over.
                    Some(hash) => tracing::info!(
                        bundle = %name_of(dir), hash = %short(hash), %changed,
                        "fixed: the files are the version serving again, which is confirmed"
                    ),
                    None => tracing::debug!(bundle = %name_of(dir), %changed, "unchanged"),
                }
                ReloadEvent::Unchanged {
                    dir: dir.clone(),
                    fixed: live.is_some(),
                }
            }
            Attempt::Failed(error) => {
                let live = self.target.live(dir);
                let keeps = match &live {
                    Some(hash) => format!("version {} keeps serving", short(hash)),
                    None => "it is not live".to_owned(),
                };
                let error = format!("{error:#}");
                tracing::error!(
                    bundle = %name_of(dir), %changed,
                    "not reloaded, {keeps}: {error}"
                );
                ReloadEvent::Failed {
                    dir: dir.clone(),
                    error,
                    live,
                }
            }
            Attempt::Removed(Some(hash)) => {
                tracing::info!(bundle = %name_of(dir), hash = %short(&hash), "bundle removed; its routes answer 404");
                ReloadEvent::Removed {
                    dir: dir.clone(),
                    hash,
                }
            }
            Attempt::Removed(None) => return,
        };
        // No subscriber is fine: the log line is the report.
        let _ = self.events.send(event);
    }
}

/// If a reload panics (or its task is cancelled), its directory must not
/// stay marked as running, or it would never be reloaded again.
struct Unwedge<'a, T: Target> {
    reloader: &'a Reloader<T>,
    dir: PathBuf,
    /// Cleared when the loop ends normally, having unmarked `dir` itself.
    armed: bool,
}

impl<T: Target> Drop for Unwedge<'_, T> {
    fn drop(&mut self) {
        if self.armed {
            self.reloader.running.lock().remove(&self.dir);
        }
    }
}

fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

fn name_of(dir: &Path) -> String {
    dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// `src/lib.rs, openapi.yaml`, at most three names.
fn describe(files: &BTreeSet<PathBuf>) -> String {
    let mut names: Vec<String> = files
        .iter()
        .take(3)
        .map(|f| match f.as_os_str().is_empty() {
            true => ".".to_owned(),
            false => f.display().to_string(),
        })
        .collect();
    if files.len() > 3 {
        names.push(format!("and {} more", files.len() - 3));
    }
    names.join(", ")
}

#[cfg(test)]
mod tests;
