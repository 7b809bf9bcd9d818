//! Loading a bundle directory: find its files, parse, check, hash.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::check::{check_manifest, check_module, inside};
use super::hash::{Contents, Source};
use super::python::{check_entry_points, has_python, is_ignored_name};
use super::spec::{line_column, parse_spec_with};
use super::{Bundle, BundleError, Code, Manifest, Result, Runtime, Vars};

/// The names an API description may have, in the order they are looked for.
pub const SPEC_FILES: [&str; 6] = [
    "swagger.yaml",
    "swagger.yml",
    "swagger.json",
    "openapi.yaml",
    "openapi.yml",
    "openapi.json",
];
/// The optional manifest.
pub const MANIFEST_FILE: &str = "funcmesh.toml";
/// The hash entry for the `${VAR}` values used; no file can have this name.
pub(super) const VARS_KEY: &str = "\0vars";

/// Whether `dir` holds an API description, which makes it a bundle.
pub fn is_bundle_dir(dir: &Path) -> bool {
    SPEC_FILES.iter().any(|name| dir.join(name).is_file())
}

/// The bundles under `root`: `root` itself if it is one, else its immediate
/// subdirectories that are, hidden ones and `target` skipped, sorted.
pub fn find_bundles(root: &Path) -> Vec<PathBuf> {
    if is_bundle_dir(root) {
        return vec![root.to_path_buf()];
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            !name.starts_with('.') && name != "target"
        })
        .map(|entry| entry.path())
        .filter(|path| path.is_dir() && is_bundle_dir(path))
        .collect();
    dirs.sort();
    dirs
}

/// Loads the bundle in `dir`, its module a `*.wasm` file there (or the one
/// `module` names in `funcmesh.toml`).
pub fn load_dir(dir: &Path) -> Result<Bundle> {
    load(dir, None, &mut Vars::from_env())
}

/// Loads the bundle in `dir` with the module at `wasm`, built elsewhere
/// (a Rust func crate's target directory).
pub fn load_with_wasm(dir: &Path, wasm: &Path) -> Result<Bundle> {
    load(dir, Some(wasm), &mut Vars::from_env())
}

/// Loads the bundle in `dir`, `${VAR}`s read from `vars`.
pub(crate) fn load(dir: &Path, wasm: Option<&Path>, vars: &mut Vars) -> Result<Bundle> {
    load_as(dir, wasm, vars, false).map(|(bundle, _)| bundle)
}

/// Loads the bundle in `dir` and, when `pack` is set, also returns the byte
/// stream its hash is taken over; the files are read once either way.
pub(super) fn load_as(
    dir: &Path,
    wasm: Option<&Path>,
    vars: &mut Vars,
    pack: bool,
) -> Result<(Bundle, Option<Vec<u8>>)> {
    let spec_name = find_spec(dir)?;
    let spec_file = dir.join(spec_name);
    let spec_text = read(&spec_file)?;
    let spec = parse_spec_with(&spec_file, utf8(&spec_file, &spec_text)?, vars)?;
    let manifest_file = dir.join(MANIFEST_FILE);
    let manifest_text = match manifest_file.is_file() {
        true => Some(read(&manifest_file)?),
        false => None,
    };
    let manifest = match &manifest_text {
        Some(text) => {
            let manifest = parse_manifest(&manifest_file, utf8(&manifest_file, text)?)?;
            fill_env(&manifest_file, manifest, vars)?
        }
        None => Manifest::default(),
    };
    let grants = check_manifest(dir, &manifest_file, &manifest)?;
    let mut contents = Contents::default();
    contents.add(spec_name.to_owned(), Source::Bytes(&spec_text));
    if let Some(text) = &manifest_text {
        contents.add(MANIFEST_FILE.to_owned(), Source::Bytes(text));
    }
    let module_bytes;
    let code = match runtime(dir, wasm, &manifest) {
        Runtime::Wasm => {
            let module = match wasm {
                Some(wasm) => wasm.to_path_buf(),
                None => find_module(dir, &manifest)?,
            };
            module_bytes = read(&module)?;
            check_module(&module, &module_bytes, &spec.operations)?;
            contents.add(module_key(dir, &module), Source::Bytes(&module_bytes));
            for (relative, path) in &grants {
                contents.add_dir(path, relative)?;
            }
            Code::Wasm {
                path: module,
                bytes: Arc::from(&module_bytes[..]),
            }
        }
        Runtime::Python => {
            if !manifest.wasi.dirs.is_empty() {
                return Err(BundleError::Invalid {
                    path: manifest_file,
                    message: "wasi.dirs applies to WebAssembly bundles; a Python function reads its bundle's files from the working directory".to_owned(),
                });
            }
            let modules = check_entry_points(dir, &spec.operations)?;
            contents.add_dir_except(dir, "", is_ignored_name)?;
            Code::Python { modules }
        }
    };
    let used = vars.fingerprint();
    if let Some(used) = &used {
        contents.add(VARS_KEY.to_owned(), Source::Bytes(used.as_bytes()));
    }
    let (hash, packed) = match pack {
        true => contents.pack().map(|(hash, bytes)| (hash, Some(bytes)))?,
        false => (contents.sha256()?, None),
    };
    let bundle = Bundle {
        hash,
        name: bundle_name(dir),
        dir: dir.to_path_buf(),
        spec_file,
        host: spec.host,
        base_path: spec.base_path,
        operations: spec.operations,
        manifest,
        code,
    };
    Ok((bundle, packed))
}

/// What runs the bundle: the manifest's `runtime`, else WebAssembly when a
/// module is given, named or present, else Python when there are Python
/// sources, else WebAssembly (whose loader explains what is missing).
fn runtime(dir: &Path, wasm: Option<&Path>, manifest: &Manifest) -> Runtime {
    if let Some(runtime) = manifest.runtime {
        return runtime;
    }
    let has_wasm = || {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries
                .filter_map(|e| e.ok())
                .any(|e| e.path().extension().is_some_and(|ext| ext == "wasm"))
        })
    };
    if wasm.is_some() || manifest.module.is_some() || has_wasm() || !has_python(dir) {
        Runtime::Wasm
    } else {
        Runtime::Python
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| BundleError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn utf8<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| BundleError::Syntax {
        path: path.to_path_buf(),
        message: format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.valid_up_to()
        ),
    })
}

/// The one API description in `dir`.
fn find_spec(dir: &Path) -> Result<&'static str> {
    let found: Vec<&str> = SPEC_FILES
        .into_iter()
        .filter(|name| dir.join(name).is_file())
        .collect();
    match found[..] {
        [one] => Ok(one),
        [] => Err(BundleError::NoSpec {
            dir: dir.to_path_buf(),
        }),
        _ => Err(BundleError::Invalid {
            path: dir.to_path_buf(),
            message: format!(
                "more than one API description ({}); keep one",
                found.join(", ")
            ),
        }),
    }
}

fn parse_manifest(path: &Path, text: &str) -> Result<Manifest> {
    toml::from_str(text).map_err(|error| {
        let problem = error.message().trim_end();
        let message = match error.span() {
            Some(span) => {
                let (line, column) = line_column(text, span.start);
                format!("line {line} column {column}: {problem}")
            }
            None => problem.to_owned(),
        };
        BundleError::Syntax {
            path: path.to_path_buf(),
            message,
        }
    })
}

/// The manifest with `${VAR}`s in its `[env]` values filled in, read as
/// secrets (see [`Vars::expand_secret`]).
fn fill_env(path: &Path, mut manifest: Manifest, vars: &mut Vars) -> Result<Manifest> {
    for (name, value) in &mut manifest.env {
        *value = vars
            .expand_secret(value)
            .map_err(|e| BundleError::Invalid {
                path: path.to_path_buf(),
                message: format!("[env] {name}: {e}"),
            })?;
    }
    Ok(manifest)
}

/// The module `manifest.module` names, or the one `*.wasm` in `dir`.
fn find_module(dir: &Path, manifest: &Manifest) -> Result<PathBuf> {
    let code = |message: String| BundleError::Code {
        path: dir.to_path_buf(),
        message,
    };
    if let Some(module) = &manifest.module {
        let relative = inside(module).filter(|r| !r.is_empty());
        let relative = relative.ok_or_else(|| {
            code(format!(
                "module `{module}` must be a path inside the bundle"
            ))
        })?;
        let path = dir.join(relative);
        return match path.is_file() {
            true => Ok(path),
            false => Err(code(format!(
                "module `{module}` named in {MANIFEST_FILE} does not exist"
            ))),
        };
    }
    let entries = std::fs::read_dir(dir).map_err(|source| BundleError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut modules: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm") && path.is_file())
        .collect();
    modules.sort();
    match &modules[..] {
        [one] => Ok(one.clone()),
        [] => Err(code(
            "no .wasm module and no Python sources (build the Rust crate with `cargo build --release --target wasm32-wasip1` \
             and copy the .wasm here, or name it with `module` in funcmesh.toml; for Python, add the modules the operationIds name)"
                .to_owned(),
        )),
        many => {
            let names: Vec<String> = many.iter().map(|p| file_name(p)).collect();
            Err(code(format!("more than one .wasm module ({}); name one with `module` in {MANIFEST_FILE}", names.join(", "))))
        }
    }
}

/// The module's path relative to the bundle, or its file name when it was
/// built outside it.
fn module_key(dir: &Path, module: &Path) -> String {
    module
        .strip_prefix(dir)
        .ok()
        .and_then(|relative| inside(&relative.to_string_lossy()))
        .filter(|relative| !relative.is_empty())
        .unwrap_or_else(|| file_name(module))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |name| name.to_string_lossy().into_owned())
}

/// The directory's name; `.` and the like are resolved first.
fn bundle_name(dir: &Path) -> String {
    let name = match dir.file_name() {
        Some(name) => Some(name.to_owned()),
        None => dir
            .canonicalize()
            .ok()
            .and_then(|real| real.file_name().map(ToOwned::to_owned)),
    };
    name.map_or_else(
        || "bundle".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    )
}
