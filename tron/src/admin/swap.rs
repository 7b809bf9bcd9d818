//! Swapping an unpacked upload in for the previous version of a bundle,
//! and back when it cannot go live. Every directory involved sits in the
//! bundles directory under a name starting with `.`, which the loader and
//! the watcher skip: all they see is `{name}/` renamed away and back.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use http::StatusCode;

use super::reply::Refusal;

/// The directories of one upload, all in the bundles directory.
#[derive(Clone)]
pub(super) struct Dirs {
    /// `{name}/`, where the bundle lives.
    pub(super) target: PathBuf,
    /// Where the pack is unpacked first.
    pub(super) temp: PathBuf,
    /// Where the previous version waits until the new one is live.
    pub(super) old: PathBuf,
    /// Where a version that could not go live is moved to be removed.
    refused: PathBuf,
}

impl Dirs {
    pub(super) fn new(root: &Path, name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id = format!(
            "{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Self {
            target: root.join(name),
            temp: root.join(format!(".upload-{name}-{id}")),
            old: root.join(format!(".replaced-{name}-{id}")),
            refused: root.join(format!(".refused-{name}-{id}")),
        }
    }

    /// `text` with this upload's directories named as the client knows
    /// them (`{name}/`), and the bundles directory not named at all: a
    /// client learns nothing of the tron's file system from an error.
    pub(super) fn scrub(&self, text: &str) -> String {
        let name = self.target.file_name().map_or_else(
            || "the bundle".to_owned(),
            |name| name.to_string_lossy().into_owned(),
        );
        let mut text = text.to_owned();
        for dir in [&self.temp, &self.old, &self.refused, &self.target] {
            text = text.replace(&*dir.to_string_lossy(), &name);
        }
        if let Some(root) = self.target.parent().filter(|r| !r.as_os_str().is_empty()) {
            text = text.replace(&*root.to_string_lossy(), "<bundles>");
        }
        text
    }

    /// Creates the bundles directory if it is missing.
    pub(super) fn create_root(&self) -> Result<(), Refusal> {
        let Some(root) = self.target.parent() else {
            return Ok(());
        };
        std::fs::create_dir_all(root).map_err(|error| {
            Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("creating {} failed: {error}", root.display()),
            )
        })
    }

    /// Moves the unpacked bundle to `{name}/` and the previous version
    /// aside. Returns whether there was one.
    pub(super) fn swap_in(&self) -> Result<bool, Refusal> {
        let failed = |what: &str, error: std::io::Error| {
            remove(&self.temp);
            tracing::warn!(%error, path = %self.target.display(), "{what} failed");
            Refusal::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{what} failed: {error}"),
            )
        };
        let had_old = std::fs::symlink_metadata(&self.target).is_ok();
        if had_old {
            std::fs::rename(&self.target, &self.old)
                .map_err(|error| failed("moving the previous version aside", error))?;
        }
        if let Err(error) = std::fs::rename(&self.temp, &self.target) {
            if had_old && let Err(back) = std::fs::rename(&self.old, &self.target) {
                tracing::warn!(error = %back, path = %self.old.display(), "putting the previous version back failed");
            }
            return Err(failed("moving the upload into place", error));
        }
        Ok(had_old)
    }

    /// Puts the previous version back (or leaves no `{name}/` when there
    /// was none).
    pub(super) fn restore(&self, had_old: bool) {
        match std::fs::rename(&self.target, &self.refused) {
            Ok(()) => remove(&self.refused),
            Err(error) => {
                tracing::warn!(%error, path = %self.target.display(), "moving a refused upload aside failed")
            }
        }
        if had_old && let Err(error) = std::fs::rename(&self.old, &self.target) {
            tracing::warn!(%error, path = %self.old.display(), "putting the previous version back failed");
        }
    }
}

/// Removes a directory (or file) if it is there; best effort.
pub(super) fn remove(path: &Path) {
    let removed = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(_) => return,
    };
    if let Err(error) = removed {
        tracing::warn!(%error, path = %path.display(), "removing failed");
    }
}
