//! Capture files read back, each record with the file and line it came
//! from; unreadable files and lines become failures, and reading goes on.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};

use funcmesh_core::capture::{CaptureRecord, RecordError};

use super::Error;
use super::report::{Failure, Origin};

/// A record and where it was read.
#[derive(Debug, Clone)]
pub struct Located {
    /// The file, as given.
    pub file: String,
    /// The line, from 1.
    pub line: usize,
    /// The record.
    pub record: CaptureRecord,
}

impl Located {
    /// Where it came from, for the report.
    pub fn origin(&self) -> Origin {
        let request = &self.record.request;
        let path = match request.query.is_empty() {
            true => request.path.clone(),
            false => format!("{}?{}", request.path, request.query),
        };
        Origin {
            file: self.file.clone(),
            line: self.line,
            request_id: Some(request.id.clone()),
            method: Some(request.method.clone()),
            path: Some(path),
        }
    }
}

/// Every record of `files`, in order, and every file or line that could
/// not be read.
pub fn read_all(files: &[PathBuf]) -> (Vec<Located>, Vec<Failure>) {
    let mut records = Vec::new();
    let mut failures = Vec::new();
    for path in files {
        let name = path.display().to_string();
        let fail = |line, message: String| Failure {
            origin: Origin {
                file: name.clone(),
                line,
                request_id: None,
                method: None,
                path: None,
            },
            message,
        };
        let file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(error) => {
                failures.push(fail(0, format!("cannot read {name}: {error}")));
                continue;
            }
        };
        for (index, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line_no = index + 1;
            match line {
                Err(error) => {
                    failures.push(fail(
                        line_no,
                        format!("cannot read {name}:{line_no}: {error}"),
                    ));
                    break;
                }
                Ok(text) if text.trim().is_empty() => {}
                Ok(text) => match CaptureRecord::decode(&text) {
                    Ok(record) => records.push(Located {
                        file: name.clone(),
                        line: line_no,
                        record,
                    }),
                    // Worded as every reader of capture files words it.
                    Err(message) => failures.push(fail(
                        line_no,
                        RecordError::Malformed {
                            path: name.clone(),
                            line: line_no,
                            message,
                        }
                        .to_string(),
                    )),
                },
            }
        }
    }
    (records, failures)
}

/// Writes `records` as a capture file at `path`, one JSON line each.
pub fn write_all(path: &Path, records: &[CaptureRecord]) -> Result<(), Error> {
    let fail = |source| Error::Save {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::create(path).map_err(fail)?;
    let mut out = std::io::BufWriter::new(file);
    for record in records {
        out.write_all(&record.encode()).map_err(fail)?;
        out.write_all(b"\n").map_err(fail)?;
    }
    out.flush().map_err(fail)
}
