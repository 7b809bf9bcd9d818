//! Packs: a bundle as one byte stream, to move it between machines.
//!
//! A pack is exactly the stream [`Bundle::hash`] is taken over (see the
//! [module docs](super)), so `sha256(pack) == bundle.hash` by construction
//! and the receiver checks a pack before reading a byte of it. Unpacking
//! writes the files into a directory, then loads that directory with the
//! routing `${VAR}` values recorded in the pack (not the local
//! environment) and checks the loaded bundle's hash once more. A pack never
//! holds the values of the manifest's `[env]` variables, only their names:
//! the unpacking process reads them from its own environment.
//!
//! A cache holds one directory per hash, `<root>/<hash>/`, written under a
//! temporary name and renamed into place, and the variables, when the
//! bundle uses any, in `<root>/<hash>.vars`. An entry is reloaded and
//! re-hashed whenever it is used, so a changed file is never run.

mod dir;
mod entries;

use std::path::Path;

use bytes::Bytes;

use self::dir::{io, load_verified, remove, temp_path, write_new};
use super::build::{build_rust, is_rust_crate};
use super::hash::sha256_hex;
use super::load::load_as;
use super::{Bundle, BundleError, Result, Vars};

/// A loaded bundle and its pack.
#[derive(Debug, Clone)]
pub struct Packed {
    /// The bundle; `bundle.hash` is the SHA-256 of `bytes`.
    pub bundle: Bundle,
    /// The pack.
    pub bytes: Bytes,
}

/// Loads and packs the bundle in `dir`, building it first if it is a Rust
/// crate, reading each file once. Blocking: call it from `spawn_blocking`.
pub fn pack_any(dir: &Path) -> Result<Packed> {
    let wasm = match is_rust_crate(dir) {
        true => Some(build_rust(dir)?),
        false => None,
    };
    pack_with(dir, wasm.as_deref(), &mut Vars::from_env())
}

/// Loads and packs the bundle in `dir`, `${VAR}`s read from `vars`.
pub(crate) fn pack_with(dir: &Path, wasm: Option<&Path>, vars: &mut Vars) -> Result<Packed> {
    let (bundle, bytes) = load_as(dir, wasm, vars, true)?;
    let bytes = bytes.map(Bytes::from).unwrap_or_default();
    Ok(Packed { bundle, bytes })
}

/// Unpacks `bytes`, which must hash to `expected_hash`, into the cache
/// under `cache_root` (reusing a cached copy that still checks out) and
/// loads it from there. Blocking.
pub fn unpack(bytes: &[u8], expected_hash: &str, cache_root: &Path) -> Result<Bundle> {
    check_hash(expected_hash)?;
    verify(bytes, expected_hash)?;
    let entries = entries::parse(bytes)?;
    std::fs::create_dir_all(cache_root).map_err(io(cache_root))?;
    if let Some(vars) = entries.vars {
        write_vars(cache_root, expected_hash, vars)?;
    }
    let target = cache_root.join(expected_hash);
    if target.is_dir() {
        match load_verified(&target, expected_hash, entries.vars) {
            Ok(bundle) => return Ok(bundle),
            Err(error) => {
                tracing::warn!(bundle.hash = expected_hash, %error, "cached bundle does not check out; replacing it");
                remove(&target);
            }
        }
    }
    let temp = temp_path(cache_root, expected_hash);
    write_new(&temp, &entries)?;
    if let Err(error) = std::fs::rename(&temp, &target) {
        remove(&temp);
        // Another process unpacking the same hash got there first.
        if !target.is_dir() {
            return Err(io(&target)(error));
        }
    }
    load_verified(&target, expected_hash, entries.vars)
        .inspect_err(|_| remove_cached(cache_root, expected_hash))
}

/// Unpacks `bytes`, which must hash to `expected_hash`, into `dir`, which
/// must not exist, and loads it from there with the pack's `${VAR}` values.
/// On failure `dir` is removed. Blocking.
pub fn unpack_to(bytes: &[u8], expected_hash: &str, dir: &Path) -> Result<Bundle> {
    check_hash(expected_hash)?;
    verify(bytes, expected_hash)?;
    let entries = entries::parse(bytes)?;
    write_new(dir, &entries)?;
    load_verified(dir, expected_hash, entries.vars).inspect_err(|_| remove(dir))
}

/// The cached bundle `hash` under `cache_root`, reloaded and re-hashed;
/// `None` when it is not cached. An error (such as
/// [`BundleError::HashMismatch`]) means the entry must not be used:
/// [`remove_cached`] it and fetch the pack again. Blocking.
pub fn load_cached(cache_root: &Path, hash: &str) -> Result<Option<Bundle>> {
    check_hash(hash)?;
    let dir = cache_root.join(hash);
    if !dir.is_dir() {
        return Ok(None);
    }
    let sidecar = vars_file(cache_root, hash);
    let vars = match std::fs::read(&sidecar) {
        Ok(vars) => Some(vars),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => return Err(io(&sidecar)(error)),
    };
    load_verified(&dir, hash, vars.as_deref()).map(Some)
}

/// Removes the cached bundle `hash` under `cache_root`, if any; best
/// effort.
pub fn remove_cached(cache_root: &Path, hash: &str) {
    if check_hash(hash).is_ok() {
        remove(&cache_root.join(hash));
        remove(&vars_file(cache_root, hash));
    }
}

/// The hash of a pack: the hash of the bundle it holds, if it is whole.
pub fn pack_hash(bytes: &[u8]) -> String {
    sha256_hex(bytes)
}

/// Whether `hash` looks like a bundle hash: 64 lowercase hex digits.
pub fn is_bundle_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn check_hash(hash: &str) -> Result<()> {
    match is_bundle_hash(hash) {
        true => Ok(()),
        false => Err(BundleError::BadHash {
            hash: hash.to_owned(),
        }),
    }
}

fn verify(bytes: &[u8], expected: &str) -> Result<()> {
    let actual = sha256_hex(bytes);
    match actual == expected {
        true => Ok(()),
        false => Err(BundleError::HashMismatch {
            expected: expected.to_owned(),
            actual,
        }),
    }
}

/// Writes the `${VAR}` values of a cached bundle beside it, atomically.
fn write_vars(cache_root: &Path, hash: &str, vars: &[u8]) -> Result<()> {
    let temp = temp_path(cache_root, hash);
    let sidecar = vars_file(cache_root, hash);
    std::fs::write(&temp, vars).map_err(io(&temp))?;
    std::fs::rename(&temp, &sidecar).map_err(|error| {
        remove(&temp);
        io(&sidecar)(error)
    })
}

fn vars_file(cache_root: &Path, hash: &str) -> std::path::PathBuf {
    cache_root.join(format!("{hash}.vars"))
}
