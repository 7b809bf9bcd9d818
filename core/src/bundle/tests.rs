//! Tests of bundle loading, with bundles written to temporary directories
//! and modules made by [`wasm_module`].

mod build;
mod examples;
mod hash;
mod load;
mod manifest;
mod openapi3;
mod pack;
mod python;
mod refs;
mod served;
mod swagger2;
mod unpack;
mod validation;
mod vars;
mod wasm;

use std::path::{Path, PathBuf};

use super::{ApiSpec, parse_spec};

/// A minimal valid core module exporting `funcs` as `(i32, i32) -> i64`
/// functions whose bodies are `unreachable`, plus `memory` if asked.
pub(crate) fn wasm_module(funcs: &[&str], memory: bool) -> Vec<u8> {
    let mut out = b"\0asm\x01\0\0\0".to_vec();
    section(&mut out, 1, &[0x01, 0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7e]);
    let mut functions = leb(funcs.len());
    functions.extend(std::iter::repeat_n(0, funcs.len()));
    section(&mut out, 3, &functions);
    if memory {
        section(&mut out, 5, &[0x01, 0x00, 0x01]);
    }
    let mut exports = leb(funcs.len() + usize::from(memory));
    for (index, name) in funcs.iter().enumerate() {
        exports.extend(leb(name.len()));
        exports.extend(name.as_bytes());
        exports.push(0x00);
        exports.extend(leb(index));
    }
    if memory {
        exports.extend(b"\x06memory\x02\x00");
    }
    section(&mut out, 7, &exports);
    let mut code = leb(funcs.len());
    for _ in funcs {
        // size 3: no locals, `unreachable`, `end`
        code.extend([0x03, 0x00, 0x00, 0x0b]);
    }
    section(&mut out, 10, &code);
    out
}

/// A module that serves `ops` under the funcmesh guest ABI.
pub(crate) fn guest_module(ops: &[&str]) -> Vec<u8> {
    let mut funcs = vec!["funcmesh_alloc"];
    funcs.extend(ops);
    wasm_module(&funcs, true)
}

pub(crate) fn section(out: &mut Vec<u8>, id: u8, contents: &[u8]) {
    out.push(id);
    out.extend(leb(contents.len()));
    out.extend(contents);
}

pub(crate) fn leb(mut value: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Parses `text` as if read from a file called `name`.
pub(crate) fn spec(name: &str, text: &str) -> ApiSpec {
    match parse_spec(Path::new(name), text) {
        Ok(spec) => spec,
        Err(error) => panic!("{name} should parse: {error}"),
    }
}

/// The error for `text` read from `name`, displayed.
pub(crate) fn spec_error(name: &str, text: &str) -> String {
    match parse_spec(Path::new(name), text) {
        Ok(spec) => panic!("{name} should be rejected, got {spec:?}"),
        Err(error) => error.to_string(),
    }
}

/// A temporary bundle directory.
pub(crate) struct Dir(pub tempfile::TempDir);

impl Dir {
    pub(crate) fn new() -> Self {
        Self(tempfile::tempdir().expect("tempdir"))
    }

    pub(crate) fn path(&self) -> &Path {
        self.0.path()
    }

    /// Writes `contents` at `relative`, creating directories.
    pub(crate) fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dirs");
        }
        std::fs::write(&path, contents).expect("write");
        path
    }
}

/// `openapi.yaml` with one `GET /pets` operation named `op`.
pub(crate) fn one_op_spec(op: &str) -> String {
    format!(
        "openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\nservers: [{{url: /pets-api}}]\n\
         paths:\n  /pets:\n    get:\n      operationId: {op}\n      responses: {{'200': {{description: ok}}}}\n"
    )
}
