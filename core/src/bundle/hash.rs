//! The content hash that identifies a bundle, and the pack that carries it:
//! one byte stream, written to a hasher, to a buffer, or to both at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{BundleError, Result};

/// Where the bytes of one hashed file are.
pub(super) enum Source<'a> {
    /// Already read.
    Bytes(&'a [u8]),
    /// To be read.
    File(PathBuf),
}

/// Where the stream of entries goes.
pub(super) trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Both sinks get every byte.
impl<A: Sink, B: Sink> Sink for (A, B) {
    fn put(&mut self, bytes: &[u8]) {
        self.0.put(bytes);
        self.1.put(bytes);
    }
}

/// Writes one entry: `path \0 len \0 bytes`, `len` in decimal.
pub(super) fn put_entry(sink: &mut impl Sink, path: &str, bytes: &[u8]) {
    sink.put(path.as_bytes());
    sink.put(&[0]);
    sink.put(bytes.len().to_string().as_bytes());
    sink.put(&[0]);
    sink.put(bytes);
}

/// Hex SHA-256 of `bytes`.
pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The files of a bundle by their `/`-separated path relative to it.
#[derive(Default)]
pub(super) struct Contents<'a> {
    files: BTreeMap<String, Source<'a>>,
}

impl<'a> Contents<'a> {
    /// Adds a file; the first one given for a relative path wins.
    pub(super) fn add(&mut self, relative: String, source: Source<'a>) {
        self.files.entry(relative).or_insert(source);
    }

    /// Adds every file below `dir` (`relative` to the bundle). Symlinked
    /// files are read through; symlinked directories are not entered, so a
    /// link loop cannot hang the loader.
    pub(super) fn add_dir(&mut self, dir: &Path, relative: &str) -> Result<()> {
        self.add_dir_except(dir, relative, |_| false)
    }

    /// [`Contents::add_dir`], leaving out every file or directory whose
    /// name `skip` accepts.
    pub(super) fn add_dir_except(
        &mut self,
        dir: &Path,
        relative: &str,
        skip: fn(&str) -> bool,
    ) -> Result<()> {
        let io = |source| BundleError::Io {
            path: dir.to_path_buf(),
            source,
        };
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if skip(&name) {
                continue;
            }
            let relative = if relative.is_empty() {
                name
            } else {
                format!("{relative}/{name}")
            };
            let path = entry.path();
            let file_type = entry.file_type().map_err(io)?;
            if file_type.is_dir() {
                self.add_dir_except(&path, &relative, skip)?;
            } else if file_type.is_file() || path.is_file() {
                self.add(relative, Source::File(path));
            }
        }
        Ok(())
    }

    /// Hex SHA-256 over `path \0 len \0 bytes` of each file, sorted by
    /// path; `len` is decimal. The bundle's location plays no part.
    pub(super) fn sha256(&self) -> Result<String> {
        let mut hasher = Sha256::new();
        self.write(&mut hasher)?;
        Ok(hex::encode(hasher.finalize()))
    }

    /// The stream [`Contents::sha256`] hashes, and its hash, in one pass
    /// over the files.
    pub(super) fn pack(&self) -> Result<(String, Vec<u8>)> {
        let mut both = (Sha256::new(), Vec::new());
        self.write(&mut both)?;
        let (hasher, mut bytes) = both;
        // A tron keeps every pack for as long as it serves the bundle: not
        // the spare capacity the vector grew by (up to as much again).
        bytes.shrink_to_fit();
        Ok((hex::encode(hasher.finalize()), bytes))
    }

    /// Writes every entry, sorted by path, into `sink`.
    fn write(&self, sink: &mut impl Sink) -> Result<()> {
        for (relative, source) in &self.files {
            let read;
            let bytes = match source {
                Source::Bytes(bytes) => *bytes,
                Source::File(path) => {
                    read = std::fs::read(path).map_err(|source| BundleError::Io {
                        path: path.clone(),
                        source,
                    })?;
                    &read[..]
                }
            };
            put_entry(sink, relative, bytes);
        }
        Ok(())
    }
}
