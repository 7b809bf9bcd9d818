//! `funcmesh bundle build DIR`: make a bundle self-contained. A Python
//! bundle's `requirements.txt` is installed with pip into its `lib/`, which
//! the runner puts on `sys.path` after the bundle itself; a Rust func crate
//! is built to WebAssembly.
//!
//! pip installs into a fresh directory that then replaces `lib/`, so a
//! dependency dropped from the requirements is gone from the bundle too,
//! and a failed install leaves the old `lib/` as it was.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use funcmesh_core::bundle::{LIB_DIR, REQUIREMENTS_FILE, build_rust, is_rust_crate};

/// The Python this binary was built against (its pip installs packages the
/// embedded interpreter can load), else `python3`.
pub fn default_python() -> PathBuf {
    PathBuf::from(option_env!("FUNCMESH_PYTHON").unwrap_or("python3"))
}

/// Installs `dir`'s requirements into `dir/lib` with `python -m pip`, or
/// builds its Rust crate. Blocking.
pub fn build(dir: &Path, python: &Path) -> anyhow::Result<()> {
    if is_rust_crate(dir) {
        build_rust(dir)?;
    }
    let requirements = dir.join(REQUIREMENTS_FILE);
    if !requirements.is_file() {
        return Ok(());
    }
    check_version(python)?;
    let lib = dir.join(LIB_DIR);
    let staging = dir.join(format!(".{LIB_DIR}.new"));
    remove(&staging)?;
    tracing::info!(requirements = %requirements.display(), python = %python.display(), "installing with pip");
    let status = Command::new(python)
        .args([
            "-m",
            "pip",
            "install",
            "--no-compile",
            "--disable-pip-version-check",
        ])
        .args(["--no-input", "--quiet", "--target"])
        .arg(&staging)
        .arg("--requirement")
        .arg(&requirements)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .status()
        .with_context(|| format!("running {} -m pip", python.display()))?;
    if !status.success() {
        remove(&staging)?;
        bail!(
            "pip could not install {} ({status}); {} is unchanged",
            requirements.display(),
            lib.display()
        );
    }
    // Scripts are for a shell, not for an interpreter that imports.
    remove(&staging.join("bin"))?;
    remove(&lib)?;
    std::fs::rename(&staging, &lib)
        .with_context(|| format!("moving the installed packages to {}", lib.display()))?;
    Ok(())
}

/// pip must belong to the Python version the runner embeds, or compiled
/// extensions would not load; a mismatch is refused.
fn check_version(python: &Path) -> anyhow::Result<()> {
    let Some(embedded) = option_env!("FUNCMESH_PYTHON_VERSION") else {
        return Ok(());
    };
    let output = Command::new(python)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if version != embedded {
        bail!(
            "{} is Python {version}, but this funcmesh embeds Python {embedded}: \
             packages installed with it may not load; pass --python with a {embedded} interpreter",
            python.display()
        );
    }
    Ok(())
}

fn remove(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}
