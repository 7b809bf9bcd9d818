//! Reading a pack: the entries of the hash stream, checked strictly.

use std::collections::{BTreeMap, HashSet};

use super::super::load::VARS_KEY;
use super::super::{BundleError, Result};

/// The most digits a length may have (`u64::MAX` has 20).
const MAX_LEN_DIGITS: usize = 20;

/// One file of a pack.
pub(super) struct Entry<'a> {
    /// `/`-separated, relative, checked to stay inside the bundle.
    pub(super) path: &'a str,
    /// Its contents.
    pub(super) bytes: &'a [u8],
}

/// The entries of a pack: its files, and the `${VAR}` values it was
/// loaded with.
pub(super) struct Entries<'a> {
    /// The files, sorted by path.
    pub(super) files: Vec<Entry<'a>>,
    /// The `\0vars` entry: `NAME=value\n` lines for routing variables,
    /// `NAME\n` for those whose values the unpacking process supplies.
    pub(super) vars: Option<&'a [u8]>,
}

/// Splits `bytes` into entries. Paths must be sorted and unique, lengths
/// in canonical decimal, and nothing may follow the last entry: the one
/// stream that hashes to the bundle's hash.
pub(super) fn parse(bytes: &[u8]) -> Result<Entries<'_>> {
    let mut reader = Reader { bytes, at: 0 };
    let mut entries = Entries {
        files: Vec::new(),
        vars: None,
    };
    let mut previous: Option<&str> = None;
    while reader.at < bytes.len() {
        let start = reader.at;
        let path = reader.path()?;
        let len = reader.len()?;
        let contents = reader.take(len)?;
        if previous.is_some_and(|p| p >= path) {
            return Err(error(
                start,
                format!("`{}` is out of order", path.escape_debug()),
            ));
        }
        previous = Some(path);
        if path == VARS_KEY {
            entries.vars = Some(contents);
        } else {
            check_path(path).map_err(|message| error(start, message))?;
            entries.files.push(Entry {
                path,
                bytes: contents,
            });
        }
    }
    check_nesting(&entries.files)?;
    Ok(entries)
}

/// The values of a `\0vars` entry, by name (a name without a value is
/// left to the environment).
pub(super) fn vars(text: Option<&[u8]>) -> BTreeMap<String, String> {
    let text = text.map(String::from_utf8_lossy).unwrap_or_default();
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// A path the loader could have written: relative, `/`-separated, no
/// empty, `.` or `..` segment, no backslash.
fn check_path(path: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("path `{}` {why}", path.escape_debug()));
    if path.starts_with('/') {
        return bad("is absolute");
    }
    if path.contains('\\') {
        return bad("holds a backslash");
    }
    if path.contains('\0') {
        return bad("holds a NUL byte");
    }
    for segment in path.split('/') {
        match segment {
            "" => return bad("has an empty segment"),
            "." | ".." => return bad("has a `.` or `..` segment"),
            _ => {}
        }
    }
    Ok(())
}

/// No file path is also a directory of another.
fn check_nesting(files: &[Entry<'_>]) -> Result<()> {
    let paths: HashSet<&str> = files.iter().map(|f| f.path).collect();
    for file in files {
        let mut parents = file.path.match_indices('/').map(|(i, _)| &file.path[..i]);
        if let Some(parent) = parents.find(|p| paths.contains(p)) {
            return Err(error(
                0,
                format!(
                    "`{parent}` is both a file and the directory of `{}`",
                    file.path
                ),
            ));
        }
    }
    Ok(())
}

fn error(offset: usize, message: String) -> BundleError {
    BundleError::Pack { offset, message }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// The bytes up to the next NUL, which is consumed.
    fn field(&mut self, what: &str) -> Result<&'a [u8]> {
        let rest = &self.bytes[self.at..];
        let end = rest
            .iter()
            .position(|b| *b == 0)
            .ok_or_else(|| error(self.at, format!("truncated: {what} is not ended by NUL")))?;
        self.at += end + 1;
        Ok(&rest[..end])
    }

    /// An entry's path; the `\0vars` entry starts with its NUL.
    fn path(&mut self) -> Result<&'a str> {
        let start = self.at;
        let mut raw = self.field("a path")?;
        if raw.is_empty() {
            let name = self.field("a special entry's name")?;
            if name != &VARS_KEY.as_bytes()[1..] {
                return Err(error(
                    start,
                    "empty path or unknown special entry".to_owned(),
                ));
            }
            raw = &self.bytes[start..start + VARS_KEY.len()];
        }
        std::str::from_utf8(raw).map_err(|_| error(start, "path is not UTF-8".to_owned()))
    }

    /// An entry's length, in canonical decimal.
    fn len(&mut self) -> Result<usize> {
        let start = self.at;
        let digits = self.field("a length")?;
        let canonical = !digits.is_empty()
            && digits.len() <= MAX_LEN_DIGITS
            && digits.iter().all(u8::is_ascii_digit)
            && (digits[0] != b'0' || digits.len() == 1);
        let bad = || error(start, format!("bad length `{}`", digits.escape_ascii()));
        if !canonical {
            return Err(bad());
        }
        std::str::from_utf8(digits)
            .ok()
            .and_then(|d| d.parse().ok())
            .ok_or_else(bad)
    }

    /// The next `len` bytes.
    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        let left = self.bytes.len() - self.at;
        if len > left {
            return Err(error(
                self.at,
                format!("truncated: an entry of {len} bytes has only {left} left"),
            ));
        }
        let taken = &self.bytes[self.at..self.at + len];
        self.at += len;
        Ok(taken)
    }
}
