//! Python bundles: the operations are Python functions named
//! `module.function` (a dotted module path), the modules are files of the
//! bundle, and vendored dependencies live in its `lib/` directory.
//!
//! Loading only checks what can be checked without an interpreter: that each
//! `operationId` is a dotted Python name and that its module is a file of the
//! bundle. Importing the modules and finding the functions is the runner's
//! job. The whole directory is the code, so every file is hashed except
//! byte-code caches and hidden files, which Python and test tools write
//! beside the sources.

use std::path::{Path, PathBuf};

use super::{BundleError, Operation, Result};

/// The directory of vendored dependencies, put on `sys.path` after the
/// bundle itself.
pub const LIB_DIR: &str = "lib";
/// The file that lists a bundle's dependencies for `pip`.
pub const REQUIREMENTS_FILE: &str = "requirements.txt";

/// Whether a file or directory name is left out of a Python bundle's
/// contents: hidden entries, `__pycache__` and compiled byte code.
pub fn is_ignored_name(name: &str) -> bool {
    name.starts_with('.')
        || name == "__pycache__"
        || name.ends_with(".pyc")
        || name.ends_with(".pyo")
}

/// Whether `dir` looks like Python code: a `*.py` file or a package (a
/// directory with `__init__.py`) at its top level.
pub fn has_python(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(|e| e.ok()).any(|entry| {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if is_ignored_name(&name) || name == LIB_DIR {
            return false;
        }
        (path.is_file() && name.ends_with(".py")) || path.join("__init__.py").is_file()
    })
}

/// An `operationId` split into its module and function.
pub fn split_entry_point(id: &str) -> Option<(&str, &str)> {
    let (module, function) = id.rsplit_once('.')?;
    let valid = module.split('.').all(is_identifier) && is_identifier(function);
    valid.then_some((module, function))
}

fn is_identifier(part: &str) -> bool {
    let mut chars = part.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// The file that module `name` is imported from, looked up in the bundle
/// and then in its `lib/`.
pub fn module_file(dir: &Path, name: &str) -> Option<PathBuf> {
    let relative: PathBuf = name.split('.').collect();
    [dir.to_path_buf(), dir.join(LIB_DIR)]
        .into_iter()
        .flat_map(|root| {
            [
                root.join(&relative).with_extension("py"),
                root.join(&relative).join("__init__.py"),
            ]
        })
        .find(|path| path.is_file())
}

/// Checks every operation's entry point; returns the modules to import, in
/// the order first named.
pub(super) fn check_entry_points(dir: &Path, operations: &[Operation]) -> Result<Vec<String>> {
    let mut modules: Vec<String> = Vec::new();
    let mut problems = Vec::new();
    for op in operations {
        match split_entry_point(&op.id) {
            None => problems.push(format!(
                "operationId `{}` ({} {}) is not `module.function` (a dotted Python name)",
                op.id, op.method, op.path
            )),
            Some((module, _)) if module_file(dir, module).is_none() => {
                let relative = module.replace('.', "/");
                problems.push(format!(
                    "operationId `{}` ({} {}): module `{module}` not found \
                     (looked for {relative}.py and {relative}/__init__.py, in the bundle and in {LIB_DIR}/)",
                    op.id, op.method, op.path
                ));
            }
            Some((module, _)) => {
                if !modules.iter().any(|m| m == module) {
                    modules.push(module.to_owned());
                }
            }
        }
    }
    match problems.is_empty() {
        true => Ok(modules),
        false => Err(BundleError::Code {
            path: dir.to_path_buf(),
            message: problems.join("; "),
        }),
    }
}

/// Copies the files of the Python bundle in `dir` that its hash covers into
/// `to`, which must not exist. The runner runs a version from such a copy,
/// so that later edits to the sources cannot reach a version already
/// running. Symlinked files are copied as files; symlinked directories are
/// left out, as the hash leaves them out.
pub fn copy_sources(dir: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if is_ignored_name(&name.to_string_lossy()) {
            continue;
        }
        let (from, into) = (entry.path(), to.join(&name));
        if entry.file_type()?.is_dir() {
            copy_sources(&from, &into)?;
        } else if from.is_file() {
            std::fs::copy(&from, &into)?;
        }
    }
    Ok(())
}
