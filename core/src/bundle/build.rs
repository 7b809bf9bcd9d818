//! Rust func crates: built to `wasm32-wasip1` with cargo, then loaded.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use super::{Bundle, BundleError, Result, load_dir, load_with_wasm};

const TARGET: &str = "wasm32-wasip1";
/// Where cargo puts what it builds, when set: instead of the crate's (or its
/// workspace's) `target/`, so that a bundle directory mounted read-only, or
/// shared with a host's own builds, is left alone (the container images set
/// it).
pub const TARGET_DIR_VAR: &str = "FUNCMESH_CARGO_TARGET_DIR";
/// Variables an outer cargo (`cargo test`, `cargo run`) sets that would
/// retarget or reconfigure the guest build.
const STRIPPED_VARS: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_BUILD_TARGET",
    "CARGO_TARGET_DIR",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_CRATE_NAME",
];
const STRIPPED_PREFIXES: &[&str] = &["__CARGO_", "CARGO_PKG_", "CARGO_MANIFEST_"];

/// Whether `dir` is a Rust crate (holds a `Cargo.toml`).
pub fn is_rust_crate(dir: &Path) -> bool {
    dir.join("Cargo.toml").is_file()
}

/// Loads the bundle in `dir`, building it first if it is a Rust crate.
/// Blocking (it may run cargo): call it from `spawn_blocking`.
pub fn load_any(dir: &Path) -> Result<Bundle> {
    if is_rust_crate(dir) {
        let wasm = build_rust(dir)?;
        load_with_wasm(dir, &wasm)
    } else {
        load_dir(dir)
    }
}

/// Builds the Rust crate in `dir` for `wasm32-wasip1` (release) and returns
/// its `.wasm`. Cargo runs in `dir`, so a workspace around it is found and
/// its target directory shared; its diagnostics go to this process's stderr.
pub fn build_rust(dir: &Path) -> Result<PathBuf> {
    let fail = |message: String| BundleError::Build {
        dir: dir.to_path_buf(),
        message,
    };
    ensure_target(dir).map_err(fail)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .args([
            "build",
            "--release",
            "--lib",
            "--target",
            TARGET,
            message_format(),
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    clean_env(&mut command);
    if let Some(target_dir) = std::env::var_os(TARGET_DIR_VAR).filter(|dir| !dir.is_empty()) {
        command.env("CARGO_TARGET_DIR", target_dir);
    }
    let mut child = command
        .spawn()
        .map_err(|e| fail(format!("cannot run {}: {e}", cargo.to_string_lossy())))?;
    let manifest = dir.join("Cargo.toml");
    let manifest = manifest.canonicalize().unwrap_or(manifest);
    let mut wasm = None;
    let mut errors = Errors::default();
    if let Some(stdout) = child.stdout.take() {
        // Read to the end even after a match, so cargo never blocks on a full pipe.
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| fail(format!("reading cargo's output: {e}")))?;
            if let Some(diagnostic) = compiler_message(&line) {
                // As cargo would have printed it, as it comes.
                let _ = std::io::stderr().write_all(diagnostic.rendered.as_bytes());
                errors.note(&diagnostic);
            }
            wasm = wasm.or_else(|| cdylib_wasm(&line, &manifest));
        }
    }
    let status = child
        .wait()
        .map_err(|e| fail(format!("waiting for cargo: {e}")))?;
    if !status.success() {
        return Err(fail(errors.summary().unwrap_or_else(|| {
            format!("cargo build --target {TARGET} {status}; its diagnostics are above")
        })));
    }
    wasm.ok_or_else(|| {
        fail(format!(
            "cargo built no cdylib .wasm for {} (add `crate-type = [\"cdylib\"]` under [lib])",
            manifest.display()
        ))
    })
}

/// JSON on stdout, with each diagnostic rendered (in colour when stderr is a
/// terminal, as cargo itself decides) for this process to print.
fn message_format() -> &'static str {
    match std::io::stderr().is_terminal() {
        true => "--message-format=json-diagnostic-rendered-ansi",
        false => "--message-format=json",
    }
}

/// Installs the target with rustup when it is missing.
fn ensure_target(dir: &Path) -> Result<(), String> {
    let rustup = |args: &[&str]| {
        let mut command = Command::new("rustup");
        command
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit());
        command
    };
    let listed = rustup(&["target", "list", "--installed"]).output().map_err(|e| {
        format!("rustup is needed to install the {TARGET} target and could not be run ({e}); install it from https://rustup.rs")
    })?;
    if String::from_utf8_lossy(&listed.stdout)
        .lines()
        .any(|l| l.trim() == TARGET)
    {
        return Ok(());
    }
    tracing::info!(target = TARGET, "installing the wasm target with rustup");
    let status = rustup(&["target", "add", TARGET])
        .status()
        .map_err(|e| format!("rustup target add {TARGET}: {e}"))?;
    match status.success() {
        true => Ok(()),
        false => Err(format!("rustup target add {TARGET} {status}")),
    }
}

/// Removes what an outer cargo set from the child's environment only.
fn clean_env(command: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let strip = key.to_str().is_some_and(|key| {
            STRIPPED_VARS.contains(&key)
                || STRIPPED_PREFIXES
                    .iter()
                    .any(|prefix| key.starts_with(prefix))
        });
        if strip {
            command.env_remove(&key);
        }
    }
}

/// A `compiler-artifact` line of cargo's JSON output.
#[derive(Deserialize)]
struct Artifact {
    reason: String,
    #[serde(default)]
    manifest_path: PathBuf,
    #[serde(default)]
    target: ArtifactTarget,
    #[serde(default)]
    filenames: Vec<PathBuf>,
}

#[derive(Default, Deserialize)]
struct ArtifactTarget {
    #[serde(default)]
    kind: Vec<String>,
}

/// The `.wasm` of the cdylib that `line` reports for `manifest`, if it does.
pub(super) fn cdylib_wasm(line: &str, manifest: &Path) -> Option<PathBuf> {
    let artifact: Artifact = serde_json::from_str(line).ok()?;
    let ours = artifact.manifest_path == manifest
        || artifact.manifest_path.canonicalize().ok().as_deref() == Some(manifest);
    if artifact.reason != "compiler-artifact"
        || !ours
        || !artifact.target.kind.iter().any(|k| k == "cdylib")
    {
        return None;
    }
    artifact
        .filenames
        .into_iter()
        .find(|f| f.extension() == Some(OsStr::new("wasm")))
}

/// A `compiler-message` line of cargo's JSON output: one rustc diagnostic.
#[derive(Deserialize)]
struct CompilerMessage {
    reason: String,
    message: Diagnostic,
}

/// A rustc diagnostic.
#[derive(Deserialize)]
pub(super) struct Diagnostic {
    /// The text rustc would have printed.
    #[serde(default)]
    rendered: String,
    /// `error`, `warning`, `note`, ...
    level: String,
    /// The headline, e.g. "expected `;`, found `}`".
    message: String,
    #[serde(default)]
    spans: Vec<Span>,
}

#[derive(Deserialize)]
struct Span {
    /// Relative to the workspace root cargo ran rustc in.
    file_name: String,
    line_start: u32,
    column_start: u32,
    is_primary: bool,
}

/// The diagnostic that `line` reports, if it is a compiler message.
pub(super) fn compiler_message(line: &str) -> Option<Diagnostic> {
    if !line.contains(r#""reason":"compiler-message""#) {
        return None;
    }
    let message: CompilerMessage = serde_json::from_str(line).ok()?;
    (message.reason == "compiler-message").then_some(message.message)
}

/// The compile errors seen, for a summary that names the file.
#[derive(Default)]
pub(super) struct Errors {
    first: Option<String>,
    count: usize,
}

impl Errors {
    /// Counts `diagnostic` if it is an error located in a file; summaries
    /// such as "aborting due to 2 previous errors" have no location.
    pub(super) fn note(&mut self, diagnostic: &Diagnostic) {
        if !diagnostic.level.starts_with("error") {
            return;
        }
        let Some(at) = diagnostic.spans.iter().find(|s| s.is_primary) else {
            return;
        };
        self.count += 1;
        self.first.get_or_insert_with(|| {
            format!(
                "{}:{}:{}: {}",
                at.file_name, at.line_start, at.column_start, diagnostic.message
            )
        });
    }

    /// `src/lib.rs:5:9: expected ... (and 2 more errors)`, or `None`.
    pub(super) fn summary(&self) -> Option<String> {
        let first = self.first.as_ref()?;
        let more = match self.count {
            0 | 1 => String::new(),
            2 => " (and 1 more error)".to_owned(),
            n => format!(" (and {} more errors)", n - 1),
        };
        Some(format!(
            "{first}{more}; the compiler's diagnostics are above"
        ))
    }
}
