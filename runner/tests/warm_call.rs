//! What one `Executor::call` on a warm module costs, end to end (permits,
//! blocking-pool hand-off, fresh store + WASI context, instantiate, call,
//! decode). A measurement, not a check:
//!
//! `cargo test -p funcmesh-runner --release --test warm_call -- --ignored --nocapture`

#![allow(
    clippy::unwrap_used,
    reason = "a measurement: a failure is a failed run"
)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use func_sdk::abi::{self, RequestMeta, ResponseMeta};
use funcmesh_core::bundle::{Bundle, Code, Manifest, Operation};
use funcmesh_runner::{Executor, ExecutorConfig};

/// The smallest ABI v1 guest: one page, one operation answering "hello".
fn tiny() -> Arc<Bundle> {
    let out = abi::encode_output(
        &ResponseMeta {
            status: 200,
            headers: Vec::new(),
        },
        b"hello",
    )
    .unwrap();
    let data: String = out.iter().map(|b| format!("\\{b:02x}")).collect();
    let wat = format!(
        r#"(module (memory (export "memory") 1) (data (i32.const 1024) "{data}")
            (func (export "funcmesh_alloc") (param i32) (result i32) (i32.const 4096))
            (func (export "ok") (param i32 i32) (result i64)
              (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const {len}))))"#,
        len = out.len()
    );
    Arc::new(Bundle {
        hash: "tiny".into(),
        name: "tiny".into(),
        dir: PathBuf::from("."),
        spec_file: PathBuf::from("openapi.yaml"),
        host: None,
        base_path: String::new(),
        operations: vec![Operation {
            id: "ok".into(),
            method: "GET".into(),
            path: "/".into(),
            parameters: Vec::new(),
            body: None,
        }],
        manifest: Manifest::default(),
        code: Code::Wasm {
            path: "tiny.wat".into(),
            bytes: Arc::from(wat.as_bytes()),
        },
    })
}

fn measure(executor: &Executor, bundle: &Bundle, op: &str, body: &[u8], calls: u32) -> Duration {
    let meta = RequestMeta {
        request_id: "m".into(),
        operation_id: op.into(),
        method: "GET".into(),
        ..RequestMeta::default()
    };
    common::block_on(async {
        let deadline = Instant::now() + Duration::from_secs(600);
        for _ in 0..calls / 10 {
            executor
                .call(&bundle.hash, op, &meta, body, deadline)
                .await
                .unwrap();
        }
        let started = Instant::now();
        for _ in 0..calls {
            executor
                .call(&bundle.hash, op, &meta, body, deadline)
                .await
                .unwrap();
        }
        started.elapsed() / calls
    })
}

#[test]
#[ignore = "a measurement: run it in release with --ignored --nocapture"]
fn warm_call_cost() {
    let faults = common::faults();
    for keep in [0, 2 << 20] {
        let config = ExecutorConfig {
            concurrency: 4,
            max_memory_mb: 128,
            keep_resident_bytes: keep,
            ..ExecutorConfig::default()
        };
        let executor = Executor::new(config).unwrap();
        let tiny = tiny();
        common::block_on(executor.install(Arc::clone(&tiny))).unwrap();
        let per_call = measure(&executor, &tiny, "ok", b"", 20_000);
        println!("keep_resident {keep:>8} B: tiny WAT `ok`      {per_call:?} per call");
        if let Some(faults) = &faults {
            common::block_on(executor.install(Arc::clone(faults))).unwrap();
            let per_call = measure(&executor, faults, "binary", b"", 5_000);
            println!("keep_resident {keep:>8} B: faults `binary`    {per_call:?} per call");
            let per_call = measure(&executor, faults, "echo", &[7; 1024], 5_000);
            println!("keep_resident {keep:>8} B: faults `echo` 1KiB {per_call:?} per call");
        }
    }
}
