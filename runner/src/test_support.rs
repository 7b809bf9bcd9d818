//! Builders for hand-made bundles in unit tests.

use std::path::PathBuf;
use std::sync::Arc;

use func_sdk::abi::{self, ResponseMeta};
use funcmesh_core::bundle::{Bundle, Code, Manifest, Operation};
pub use funcmesh_validate::testing::{body, op, param};

/// A bundle around `wasm` (binary or WAT text) with these operations.
pub fn bundle(
    hash: &str,
    base_path: &str,
    operations: Vec<Operation>,
    wasm: &[u8],
    manifest: Manifest,
) -> Arc<Bundle> {
    Arc::new(Bundle {
        hash: hash.into(),
        name: "test".into(),
        dir: PathBuf::from("."),
        spec_file: PathBuf::from("openapi.yaml"),
        host: None,
        base_path: base_path.into(),
        operations,
        manifest,
        code: Code::Wasm {
            path: PathBuf::from("test.wasm"),
            bytes: Arc::from(wasm),
        },
    })
}

/// The operations of [`guest`].
pub const OPS: [&str; 9] = [
    "ok", "echo", "trap", "spin", "hog", "bad_ptr", "bad_json", "exit", "panic",
];

/// Escapes bytes for a WAT data string.
pub fn wat_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

/// A guest with a bump allocator and these operations:
/// `ok` (200 text "hello"), `echo` (200, the request body back), `trap`,
/// `spin`, `hog`, `bad_ptr`, `bad_json`, `exit`, `panic` (writes a Rust-style
/// panic to stderr, then traps).
pub fn guest(abi_version: i32) -> String {
    let ok = abi::encode_output(
        &ResponseMeta {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
        },
        b"hello",
    )
    .unwrap();
    let echo_prefix = abi::encode_output(
        &ResponseMeta {
            status: 200,
            headers: Vec::new(),
        },
        b"",
    )
    .unwrap();
    let panic =
        b"thread '<unnamed>' panicked at src/lib.rs:1:1:\nboom\nnote: run with RUST_BACKTRACE=1\n";
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 1024) "{ok}")
  (data (i32.const 2048) "{echo}")
  (data (i32.const 3072) "{panic}")
  (data (i32.const 3000) "\00\0c\00\00\{panic_len:02x}\00\00\00")
  (data (i32.const 3008) "\00\00\00\00\00\00\00\00")
  (func (export "funcmesh_abi_version") (result i32) (i32.const {abi_version}))
  (func $alloc (export "funcmesh_alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $len)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.div_u (local.get $len) (i32.const 65536)) (i32.const 1))))))
    (local.get $ptr))
  (func (export "ok") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const {ok_len})))
  (func (export "echo") (param $ptr i32) (param $len i32) (result i64)
    (local $meta i32) (local $body i32) (local $body_len i32) (local $out i32)
    (local.set $meta (i32.load (local.get $ptr)))
    (local.set $body (i32.add (i32.add (local.get $ptr) (i32.const 4)) (local.get $meta)))
    (local.set $body_len (i32.sub (i32.sub (local.get $len) (i32.const 4)) (local.get $meta)))
    (local.set $out (call $alloc (i32.add (i32.const {echo_len}) (local.get $body_len))))
    (memory.copy (local.get $out) (i32.const 2048) (i32.const {echo_len}))
    (memory.copy (i32.add (local.get $out) (i32.const {echo_len})) (local.get $body) (local.get $body_len))
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
      (i64.extend_i32_u (i32.add (i32.const {echo_len}) (local.get $body_len)))))
  (func (export "trap") (param i32 i32) (result i64) unreachable)
  (func (export "spin") (param i32 i32) (result i64) (loop (br 0)) unreachable)
  (func (export "hog") (param i32 i32) (result i64)
    (loop (drop (memory.grow (i32.const 16))) (br 0)) unreachable)
  (func (export "bad_ptr") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 0xffff0000) (i64.const 32)) (i64.const 100)))
  (func (export "bad_json") (param i32 i32) (result i64)
    (i32.store (i32.const 3500) (i32.const 3))
    (i32.store (i32.const 3504) (i32.const 0x636261))
    (i64.or (i64.shl (i64.const 3500) (i64.const 32)) (i64.const 7)))
  (func (export "exit") (param i32 i32) (result i64) (call $proc_exit (i32.const 3)) unreachable)
  (func (export "panic") (param i32 i32) (result i64)
    (drop (call $fd_write (i32.const 2) (i32.const 3000) (i32.const 1) (i32.const 3008)))
    unreachable)
)"#,
        ok = wat_bytes(&ok),
        ok_len = ok.len(),
        echo = wat_bytes(&echo_prefix),
        echo_len = echo_prefix.len(),
        panic = wat_bytes(panic),
        panic_len = panic.len(),
    )
}
