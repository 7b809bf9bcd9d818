//! Checks of a manifest against its bundle and of a module against the
//! API description.

use std::path::{Component, Path, PathBuf};

use super::wasm::{ExportKind, wasm_export_list};
use super::{BundleError, Manifest, Operation, Result};

/// The longest call a manifest may allow: 15 minutes.
const MAX_TIMEOUT_MS: u64 = 900_000;
/// The most memory a manifest may allow: 4 GiB, all a wasm32 module can address.
const MAX_MEMORY_MB: u32 = 4096;
/// Exports the guest ABI needs besides the handlers, with their kinds.
const ABI_EXPORTS: [(&str, ExportKind, &str); 2] = [
    ("memory", ExportKind::Memory, "memory"),
    ("funcmesh_alloc", ExportKind::Func, "function"),
];

/// A relative path that stays inside the bundle, `/`-separated with `.`
/// dropped (`""` for the bundle itself); `None` if it is absolute or
/// climbs out with `..`.
pub(super) fn inside(relative: &str) -> Option<String> {
    let mut parts = Vec::new();
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

/// Limits in range and granted directories that exist inside `dir`.
/// Returns the granted directories, relative and resolved.
pub(super) fn check_manifest(
    dir: &Path,
    file: &Path,
    manifest: &Manifest,
) -> Result<Vec<(String, PathBuf)>> {
    let invalid = |message: String| BundleError::Invalid {
        path: file.to_path_buf(),
        message,
    };
    if !(1..=MAX_TIMEOUT_MS).contains(&manifest.timeout_ms) {
        return Err(invalid(format!(
            "timeout_ms = {} is outside 1..={MAX_TIMEOUT_MS}",
            manifest.timeout_ms
        )));
    }
    if !(1..=MAX_MEMORY_MB).contains(&manifest.memory_limit_mb) {
        return Err(invalid(format!(
            "memory_limit_mb = {} is outside 1..={MAX_MEMORY_MB}",
            manifest.memory_limit_mb
        )));
    }
    if manifest.max_concurrency == 0 {
        return Err(invalid("max_concurrency must be at least 1".to_owned()));
    }
    if !super::valid_pool_name(&manifest.scale.pool) {
        return Err(invalid(format!(
            "scale.pool = {:?}: a pool is named with 1 to 63 letters, digits, `-` or `_`",
            manifest.scale.pool
        )));
    }
    let root = dir.canonicalize().map_err(|source| BundleError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut grants = Vec::new();
    for (i, grant) in manifest.wasi.dirs.iter().enumerate() {
        let host = &grant.host;
        let relative = inside(host).ok_or_else(|| {
            invalid(format!(
                "wasi.dirs `{host}`: must be a path inside the bundle (relative, no `..`)"
            ))
        })?;
        let resolved = dir.join(&relative);
        match resolved.canonicalize() {
            Ok(real) if real.is_dir() && real.starts_with(&root) => {}
            Ok(real) if real.is_dir() => {
                return Err(invalid(format!(
                    "wasi.dirs `{host}`: leads outside the bundle (to {})",
                    real.display()
                )));
            }
            _ => {
                return Err(invalid(format!(
                    "wasi.dirs `{host}`: no such directory in the bundle"
                )));
            }
        }
        if !grant.guest.starts_with('/') {
            return Err(invalid(format!(
                "wasi.dirs `{host}`: guest path `{}` must be absolute",
                grant.guest
            )));
        }
        if manifest.wasi.dirs[..i]
            .iter()
            .any(|other| other.guest == grant.guest)
        {
            return Err(invalid(format!(
                "wasi.dirs: guest path `{}` is granted twice",
                grant.guest
            )));
        }
        grants.push((relative, resolved));
    }
    Ok(grants)
}

/// The module exports `memory`, `funcmesh_alloc` and one function per
/// operationId.
pub(super) fn check_module(path: &Path, bytes: &[u8], operations: &[Operation]) -> Result<()> {
    let code = |message: String| BundleError::Code {
        path: path.to_path_buf(),
        message,
    };
    let exports = wasm_export_list(bytes).map_err(code)?;
    let has = |name: &str, kind| exports.iter().any(|e| e.name == name && e.kind == kind);
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    let mut missing: Vec<String> = ABI_EXPORTS
        .iter()
        .filter(|(name, kind, _)| !has(name, *kind))
        .map(|(name, _, kind)| format!("the guest ABI needs `{name}` exported as a {kind}"))
        .collect();
    missing.extend(
        operations
            .iter()
            .filter(|op| !has(&op.id, ExportKind::Func))
            .map(|op| {
                format!(
                    "operationId `{}` ({} {}) has no exported handler in {file}",
                    op.id, op.method, op.path
                )
            }),
    );
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = exports.iter().map(|e| e.name.as_str()).collect();
    Err(code(format!(
        "{}; exports: [{}]",
        missing.join("; "),
        names.join(", ")
    )))
}
