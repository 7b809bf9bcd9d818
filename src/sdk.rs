//! The SDKs this binary carries: the Rust `func-sdk` crate and the Python
//! `funcmesh` package, as the sources they were built from. Neither can be
//! fetched from a package registry under our name, so the binary is where a
//! Func written outside this repository gets them:
//!
//! - `funcmesh new rust` writes the Rust SDK into the new bundle, under
//!   `vendor/func-sdk-<version>/`, and the bundle's `Cargo.toml` points
//!   there: a bundle builds anywhere cargo and the crate registry are, with
//!   or without funcmesh installed, and the version it builds against is in
//!   its own tree. `funcmesh sdk rust DIR` writes a newer one.
//! - `funcmesh sdk python --pip` installs the Python package (with its
//!   pytest plugin) into a Python's environment; `funcmesh sdk python DIR`
//!   writes the project to a directory instead. The runner serves the same
//!   sources to every Python bundle (`python_worker`).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// A file of an SDK: its path inside the SDK and its text.
#[derive(Debug, Clone, Copy)]
pub struct SdkFile {
    /// `/`-separated, relative to the SDK's root.
    pub path: &'static str,
    /// The file's contents.
    pub text: &'static str,
}

macro_rules! sdk_files {
    ($root:literal: $($path:literal),+ $(,)?) => {
        &[$(SdkFile { path: $path, text: include_str!(concat!($root, $path)) }),+]
    };
}

/// The version of both SDKs: this binary's.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The Rust SDK's sources, below its crate root (its `Cargo.toml` is
/// [`rust_manifest`]).
pub const RUST: &[SdkFile] = sdk_files!("../func-sdk/":
    "src/lib.rs",
    "src/abi.rs",
    "src/abi/error.rs",
    "src/abi/tests.rs",
    "src/error.rs",
    "src/export.rs",
    "src/request.rs",
    "src/response.rs",
    "src/testing.rs",
    "src/tests.rs",
);

/// The Python package's project: its metadata and the `funcmesh` package.
pub const PYTHON: &[SdkFile] = sdk_files!("../func-sdk/python/":
    "pyproject.toml",
    "README.md",
    "funcmesh/__init__.py",
    "funcmesh/_call.py",
    "funcmesh/_errors.py",
    "funcmesh/_multimapping.py",
    "funcmesh/_request.py",
    "funcmesh/_response.py",
    "funcmesh/pytest_plugin.py",
    "funcmesh/py.typed",
);

/// The Rust SDK's dependencies as a standalone crate states them (the
/// in-repository crate inherits them from the workspace).
const RUST_DEPENDENCIES: &[(&str, &str)] = &[
    ("serde", r#"{ version = "1", features = ["derive"] }"#),
    (
        "serde_json",
        r#"{ version = "1", features = ["raw_value"] }"#,
    ),
];

/// The `Cargo.toml` of the Rust SDK written outside this repository.
pub fn rust_manifest() -> String {
    let mut manifest = format!(
        "# The funcmesh Rust SDK {VERSION}, as the funcmesh binary carries it.\n\
         # `funcmesh sdk rust DIR` writes another version beside it.\n\
         [package]\n\
         name = \"func-sdk\"\n\
         version = \"{VERSION}\"\n\
         edition = \"2024\"\n\
         license = \"Apache-2.0\"\n\
         publish = false\n\
         \n\
         [dependencies]\n"
    );
    for (name, spec) in RUST_DEPENDENCIES {
        manifest.push_str(&format!("{name} = {spec}\n"));
    }
    manifest
}

/// The directory name the Rust SDK of this version is written under.
pub fn rust_dir_name() -> String {
    format!("func-sdk-{VERSION}")
}

/// Writes the Rust SDK crate into `parent/func-sdk-<version>/` (replacing
/// an older copy of the same version) and returns that directory.
pub fn write_rust(parent: &Path) -> anyhow::Result<PathBuf> {
    let dir = parent.join(rust_dir_name());
    write_tree(&dir, RUST)?;
    write(&dir.join("Cargo.toml"), &rust_manifest())?;
    Ok(dir)
}

/// Writes the Python SDK's project (`pyproject.toml`, the `funcmesh`
/// package) into `dir`.
pub fn write_python(dir: &Path) -> anyhow::Result<()> {
    write_tree(dir, PYTHON)
}

/// The Python module each package file defines (`funcmesh/_call.py` is
/// `funcmesh._call`), and its source: what the runner serves to bundles.
pub fn python_modules() -> impl Iterator<Item = (String, &'static str)> {
    PYTHON.iter().filter_map(|file| {
        let module = file.path.strip_suffix(".py")?;
        let module = module.strip_suffix("/__init__").unwrap_or(module);
        Some((module.replace('/', "."), file.text))
    })
}

/// Installs the Python SDK into `python`'s environment with pip, from a
/// copy written to a temporary directory (so nothing is built in any
/// source tree). Blocking.
pub fn pip_install(python: &Path) -> anyhow::Result<()> {
    let project = tempfile::Builder::new()
        .prefix("funcmesh-python-sdk-")
        .tempdir()
        .context("making a temporary directory")?;
    write_python(project.path())?;
    let status = std::process::Command::new(python)
        .args(["-m", "pip", "install", "--disable-pip-version-check"])
        .args(["--no-input", "--quiet"])
        .arg(project.path())
        .env("PIP_ROOT_USER_ACTION", "ignore")
        .status()
        .with_context(|| format!("running {} -m pip", python.display()))?;
    if !status.success() {
        bail!(
            "{} -m pip could not install the funcmesh package ({status}); pip's reasons are above",
            python.display()
        );
    }
    Ok(())
}

/// Writes every file of `files` below `dir`, creating directories.
fn write_tree(dir: &Path, files: &[SdkFile]) -> anyhow::Result<()> {
    for file in files {
        write(&dir.join(file.path), file.text)?;
    }
    Ok(())
}

/// Writes `text` to `path`, creating its directory.
pub(crate) fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    /// Every file below `root` (relative, `/`-separated) except those
    /// `skip` names.
    fn files_below(root: &Path, skip: &[&str]) -> BTreeSet<String> {
        let mut found = BTreeSet::new();
        let mut dirs = vec![root.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let relative = path.strip_prefix(root).unwrap().to_string_lossy();
                let relative = relative.replace('\\', "/");
                if skip.iter().any(|s| relative == *s || relative.ends_with(s)) {
                    continue;
                }
                match path.is_dir() {
                    true => dirs.push(path),
                    false => {
                        found.insert(relative);
                    }
                }
            }
        }
        found
    }

    fn listed(files: &[SdkFile]) -> BTreeSet<String> {
        files.iter().map(|f| f.path.to_owned()).collect()
    }

    #[test]
    fn the_rust_sdk_carried_is_every_source_file_of_the_crate() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("func-sdk");
        let on_disk = files_below(&root.join("src"), &[]);
        let on_disk: BTreeSet<String> = on_disk.into_iter().map(|f| format!("src/{f}")).collect();
        assert_eq!(
            listed(RUST),
            on_disk,
            "list every file of func-sdk/src in RUST"
        );
    }

    #[test]
    fn the_python_sdk_carried_is_every_file_of_the_package() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("func-sdk/python");
        let on_disk = files_below(&root.join("funcmesh"), &["__pycache__", ".pyc"]);
        let package: BTreeSet<String> = listed(PYTHON)
            .into_iter()
            .filter_map(|f| f.strip_prefix("funcmesh/").map(str::to_owned))
            .collect();
        assert_eq!(
            package, on_disk,
            "list every file of the funcmesh package in PYTHON"
        );
    }

    #[test]
    fn the_standalone_manifest_names_the_crates_dependencies() {
        let manifest: toml::Table = toml::from_str(include_str!("../func-sdk/Cargo.toml")).unwrap();
        let theirs: BTreeSet<&str> = manifest["dependencies"]
            .as_table()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let ours: BTreeSet<&str> = RUST_DEPENDENCIES.iter().map(|(name, _)| *name).collect();
        assert_eq!(ours, theirs);
        let written: toml::Table = toml::from_str(&rust_manifest()).unwrap();
        assert_eq!(written["package"]["version"].as_str(), Some(VERSION));
    }

    #[test]
    fn package_files_are_served_as_modules() {
        let modules: Vec<String> = python_modules().map(|(name, _)| name).collect();
        assert!(modules.contains(&"funcmesh".to_owned()));
        assert!(modules.contains(&"funcmesh._call".to_owned()));
        assert!(
            !modules
                .iter()
                .any(|m| m.contains('/') || m.ends_with("__init__"))
        );
    }
}
