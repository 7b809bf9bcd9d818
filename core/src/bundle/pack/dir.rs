//! Unpacked bundles on disk: written whole into a fresh directory, then
//! loaded and checked against the hash they were asked for.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::super::load::load_as;
use super::super::{Bundle, BundleError, Result, Vars};
use super::entries::{Entries, vars};

/// Writes the files of `entries` into `dir`, which must not exist yet.
/// A failure leaves nothing behind.
pub(super) fn write_new(dir: &Path, entries: &Entries<'_>) -> Result<()> {
    std::fs::create_dir(dir).map_err(io(dir))?;
    let written = entries.files.iter().try_for_each(|file| {
        let path = dir.join(file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, file.bytes).map_err(io(&path))
    });
    if written.is_err() {
        remove(dir);
    }
    written
}

/// Loads the bundle in `dir` with the routing `${VAR}`s from a `\0vars`
/// entry rather than the environment, and checks that its hash is
/// `expected`. The `[env]` variables, whose values a pack never carries,
/// are read from this process's environment.
pub(super) fn load_verified(
    dir: &Path,
    expected: &str,
    vars_text: Option<&[u8]>,
) -> Result<Bundle> {
    let values = vars(vars_text);
    let mut vars = Vars::with_lookup(move |name| {
        values
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    });
    let (bundle, _) = load_as(dir, None, &mut vars, false)?;
    if bundle.hash != expected {
        return Err(BundleError::HashMismatch {
            expected: expected.to_owned(),
            actual: bundle.hash,
        });
    }
    Ok(bundle)
}

/// A fresh name under `parent` that starts with `.`, so that bundle
/// discovery and watchers skip it.
pub(super) fn temp_path(parent: &Path, label: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    parent.join(format!(".unpack-{label}-{}-{n}", std::process::id()))
}

/// Removes `path`, a directory or a file, if it exists; best effort.
pub(super) fn remove(path: &Path) {
    let is_dir = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    let removed = match is_dir {
        true => std::fs::remove_dir_all(path),
        false => std::fs::remove_file(path),
    };
    if let Err(error) = removed
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), %error, "could not remove");
    }
}

/// Maps an I/O error to one that names `path`.
pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BundleError + '_ {
    move |source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    }
}
