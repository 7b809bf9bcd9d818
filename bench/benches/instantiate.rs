//! One WebAssembly instantiate + call of the `hello` example, as the runner
//! does it for every request: a fresh store and WASI context, a fresh
//! instance from the pool, the ABI encode, the call, the decode.
//!
//! `cargo bench -p funcmesh-bench --bench instantiate`
//!
//! `Executor::call` runs the instance as a fiber on the calling task, as the
//! runner does; a current-thread runtime keeps the measurement free of
//! thread hand-offs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use func_sdk::abi::RequestMeta;
use funcmesh_runner::{Executor, ExecutorConfig};

fn hello_bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../swagger-examples/hello");
    let bundle =
        Arc::new(funcmesh_core::bundle::load_any(&dir).expect("building swagger-examples/hello"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let executor = Executor::new(ExecutorConfig::default()).unwrap();
    rt.block_on(executor.install(Arc::clone(&bundle))).unwrap();
    let meta = RequestMeta {
        request_id: "bench".into(),
        operation_id: "greet".into(),
        method: "GET".into(),
        path: "/hello/greet".into(),
        base_path: "/hello".into(),
        query: vec![("name".into(), "Ada".into())],
        ..RequestMeta::default()
    };
    let far = || Instant::now() + Duration::from_secs(60);
    let first = rt
        .block_on(executor.call(&bundle.hash, "greet", &meta, b"", far()))
        .unwrap();
    assert_eq!(first.body.as_ref(), br#"{"greeting":"Hello, Ada!"}"#);

    let mut group = c.benchmark_group("hello");
    group.bench_function("instantiate_call", |b| {
        b.iter(|| {
            rt.block_on(executor.call(&bundle.hash, "greet", &meta, b"", far()))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    targets = hello_bench
}
criterion_main!(benches);
