//! Func bundles: the model every component reads, and how it is loaded.
//!
//! A bundle is a directory holding `swagger.{yaml,yml,json}` or
//! `openapi.{yaml,yml,json}`, the code (`*.wasm`, a Rust func crate that
//! is built to one, or Python sources with their dependencies vendored in
//! `lib/`), and an optional `funcmesh.toml` manifest. Loading
//! validates all of it and names the file and the problem when it fails.
//!
//! - `model`, `manifest`, `error`: the types.
//! - `spec`: the API description (Swagger 2.0, OpenAPI 3.0/3.1; YAML or
//!   JSON) read into host, basePath and operations, local `$ref`s resolved.
//! - `load`: [`load_dir`] finds the files of a bundle directory, checks the
//!   manifest and that the module exports a handler per operationId, and
//!   hashes the contents; [`find_bundles`] lists the bundles under a root.
//! - `build`: [`load_any`] builds a Rust func crate with cargo first.
//! - `python`: Python bundles: `operationId` = `module.function`, each
//!   module a file of the bundle or of its `lib/`.
//! - `wasm`: [`wasm_exports`], the export section of a module, read without
//!   compiling it.
//! - `pack`: [`pack_any`] loads a bundle and writes its pack, the byte
//!   stream its hash is taken over; [`unpack`] checks a pack against the
//!   hash asked for and unpacks it into a cache, [`unpack_to`] into a
//!   directory of its own.
//! - `vars`: [`Vars`], `${VAR}` / `${VAR:-default}` in the spec's `host`,
//!   `basePath`, `servers[].url` and the manifest's `[env]` values, filled
//!   from the process environment at load.
//!
//! The [`Bundle::hash`] is the hex SHA-256 over, sorted by relative path,
//! `path \0 len \0 bytes` of the API description, `funcmesh.toml`, the module
//! and every file under the directories the manifest grants. A Python
//! bundle's code is its whole directory: every file is hashed but hidden
//! ones, `__pycache__` directories and `*.pyc`. When the spec
//! or manifest uses `${VAR}`s, one more entry is hashed: path `\0vars` (no
//! file can have that name), bytes `NAME=value\n` per variable used with the
//! value it took, sorted by name. The files are hashed as written; the
//! resolved values are mixed in, so the same files loaded in another
//! environment are another version, and a bundle without variables keeps
//! the hash of its files alone.

mod build;
mod check;
mod error;
mod hash;
mod load;
mod manifest;
mod model;
mod pack;
mod python;
mod spec;
mod vars;
mod wasm;

#[cfg(test)]
mod tests;

pub use build::{build_rust, is_rust_crate, load_any};
pub use error::{BundleError, Result};
pub use load::{MANIFEST_FILE, SPEC_FILES, find_bundles, is_bundle_dir, load_dir, load_with_wasm};
pub use manifest::{DEFAULT_POOL, DirGrant, Manifest, Runtime, Scale, WasiGrants, valid_pool_name};
pub use model::{Bundle, Code, Operation, ParamLocation, Parameter, RequestBody, short_hash};
pub use pack::{
    Packed, is_bundle_hash, load_cached, pack_any, pack_hash, remove_cached, unpack, unpack_to,
};
pub use python::{
    LIB_DIR, REQUIREMENTS_FILE, copy_sources, has_python, is_ignored_name, module_file,
    split_entry_point,
};
pub use spec::{ApiSpec, parse_spec, parse_spec_with, read_spec, served_document};
pub use vars::Vars;
pub use wasm::{ExportKind, WasmExport, is_wasm, wasm_export_list, wasm_exports};
