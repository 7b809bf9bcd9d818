//! Executor tests on hand-written WAT modules that follow the guest ABI.

use std::time::{Duration, Instant};

use func_sdk::abi::{self, RequestMeta};
use funcmesh_core::bundle::{DirGrant, Manifest};
use funcmesh_testkit::eventually;

use super::*;
use crate::test_support::{OPS, bundle, guest, op};

fn config() -> ExecutorConfig {
    ExecutorConfig {
        concurrency: 4,
        max_memory_mb: 64,
        epoch_tick_ms: 2,
        ..ExecutorConfig::default()
    }
}

fn manifest() -> Manifest {
    Manifest {
        timeout_ms: 5_000,
        memory_limit_mb: 4,
        ..Manifest::default()
    }
}

async fn installed(manifest: Manifest) -> (Executor, String) {
    let executor = Executor::new(config()).unwrap();
    let ops = OPS
        .iter()
        .map(|id| op(id, "GET", &format!("/{id}")))
        .collect();
    let b = bundle("h1", "", ops, guest(1).as_bytes(), manifest);
    executor.install(b).await.unwrap();
    (executor, "h1".to_owned())
}

fn meta(op: &str) -> RequestMeta {
    RequestMeta {
        request_id: "r1".into(),
        operation_id: op.into(),
        method: "GET".into(),
        path: format!("/{op}"),
        ..RequestMeta::default()
    }
}

fn soon(ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(ms)
}

#[tokio::test]
async fn calls_an_operation() {
    let (executor, hash) = installed(manifest()).await;
    let resp = executor
        .call(&hash, "ok", &meta("ok"), b"", soon(5_000))
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.headers,
        [("content-type".to_owned(), "text/plain".to_owned())]
    );
    assert_eq!(&resp.body[..], b"hello");
    let resp = executor
        .call(&hash, "echo", &meta("echo"), b"\x00binary\xff", soon(5_000))
        .await
        .unwrap();
    assert_eq!(&resp.body[..], b"\x00binary\xff");
}

#[tokio::test]
async fn a_trap_fails_only_its_call() {
    let (executor, hash) = installed(manifest()).await;
    let err = executor
        .call(&hash, "trap", &meta("trap"), b"", soon(5_000))
        .await
        .unwrap_err();
    let CallError::Trap { trap, panic } = &err else {
        panic!("{err:?}")
    };
    assert!(trap.contains("unreachable"), "{trap}");
    assert_eq!(*panic, None);
    assert_eq!(err.status(), 502);
    assert!(
        executor
            .call(&hash, "ok", &meta("ok"), b"", soon(5_000))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_panic_message_comes_from_stderr() {
    let (executor, hash) = installed(manifest()).await;
    let err = executor
        .call(&hash, "panic", &meta("panic"), b"", soon(5_000))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        CallError::Trap {
            trap: "wasm trap: wasm `unreachable` instruction executed".into(),
            panic: Some("boom".into())
        }
    );
    assert_eq!(
        err.client_message(true),
        "function trapped: wasm trap: wasm `unreachable` instruction executed (boom)"
    );
    assert_eq!(
        err.client_message(false),
        "function trapped: wasm trap: wasm `unreachable` instruction executed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_is_stopped_at_the_deadline_while_others_run() {
    let (executor, hash) = installed(manifest()).await;
    let started = Instant::now();
    let spin_meta = meta("spin");
    let spin = executor.call(&hash, "spin", &spin_meta, b"", soon(300));
    let others = async {
        eventually(Duration::from_secs(5), "the loop holds a slot", || async {
            executor.shares.in_use() > 0
        })
        .await;
        let t = Instant::now();
        let resp = executor
            .call(&hash, "ok", &meta("ok"), b"", soon(5_000))
            .await;
        (resp, t.elapsed())
    };
    let (spun, (ok, ok_took)) = tokio::join!(spin, others);
    let elapsed = started.elapsed();
    assert!(
        matches!(spun, Err(CallError::Timeout { budget_ms }) if budget_ms <= 300),
        "{spun:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(290),
        "stopped early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(600),
        "stopped late: {elapsed:?}"
    );
    assert_eq!(ok.unwrap().status, 200);
    assert!(
        ok_took < Duration::from_millis(200),
        "the other call waited {ok_took:?}"
    );
}

/// An executor of `concurrency` slots with bundles `h1`, `h2`, ... of
/// the test guest, each with `manifest`.
async fn several(concurrency: usize, bundles: usize, manifest: Manifest) -> Executor {
    let executor = Executor::new(ExecutorConfig {
        concurrency,
        ..config()
    })
    .unwrap();
    for n in 1..=bundles {
        let ops = OPS
            .iter()
            .map(|id| op(id, "GET", &format!("/{id}")))
            .collect();
        let b = bundle(
            &format!("h{n}"),
            "",
            ops,
            guest(1).as_bytes(),
            manifest.clone(),
        );
        executor.install(b).await.unwrap();
    }
    executor
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_bundle_leaves_another_its_floor() {
    let executor = several(4, 2, manifest()).await;
    let spin_meta = meta("spin");
    // Eight loops on h1: it borrows three of the four slots, the rest wait.
    let spins =
        futures_join_all((0..8).map(|_| executor.call("h1", "spin", &spin_meta, b"", soon(600))));
    let other = async {
        eventually(
            Duration::from_secs(5),
            "the loops hold their slots",
            || async { executor.shares.in_use() == 3 },
        )
        .await;
        let mut took = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let resp = executor
                .call("h2", "ok", &meta("ok"), b"", soon(5_000))
                .await;
            took.push((resp.map(|r| r.status), t.elapsed()));
        }
        took
    };
    let (spun, answered) = tokio::join!(spins, other);
    assert!(
        spun.iter()
            .all(|r| matches!(r, Err(CallError::Timeout { .. } | CallError::NoSlot { .. }))),
        "{spun:?}"
    );
    for (status, took) in answered {
        assert_eq!(status, Ok(200));
        assert!(took < Duration::from_millis(200), "h2 waited {took:?}");
    }
}

/// Polls every future to completion, concurrently.
async fn futures_join_all<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut set: Vec<_> = futures.map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, out) in set.iter_mut().zip(done.iter_mut()) {
            if out.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *out = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeout_counts_from_the_slot() {
    let executor = several(
        1,
        1,
        Manifest {
            timeout_ms: 200,
            ..manifest()
        },
    )
    .await;
    let started = Instant::now();
    let spin_meta = meta("spin");
    let first = executor.call("h1", "spin", &spin_meta, b"", soon(5_000));
    let second = async {
        eventually(Duration::from_secs(5), "the first loop runs", || async {
            executor.shares.in_use() == 1
        })
        .await;
        let result = executor
            .call("h1", "spin", &spin_meta, b"", soon(5_000))
            .await;
        (result, started.elapsed())
    };
    let (first, (second, ended)) = tokio::join!(first, second);
    assert!(matches!(first, Err(CallError::Timeout { .. })), "{first:?}");
    // The second waited about 200 ms for the slot, then ran its own 200 ms.
    assert!(
        matches!(second, Err(CallError::Timeout { budget_ms }) if budget_ms >= 190),
        "{second:?}"
    );
    assert!(ended >= Duration::from_millis(390), "stopped at {ended:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_that_passes_in_the_queue_is_a_504_without_running() {
    let executor = several(1, 1, manifest()).await;
    let spin_meta = meta("spin");
    let spin = executor.call("h1", "spin", &spin_meta, b"", soon(600));
    let queued = async {
        eventually(Duration::from_secs(5), "the loop runs", || async {
            executor.shares.in_use() == 1
        })
        .await;
        let t = Instant::now();
        let result = executor.call("h1", "ok", &meta("ok"), b"", soon(100)).await;
        (result, t.elapsed())
    };
    let (_, (result, took)) = tokio::join!(spin, queued);
    let err = result.unwrap_err();
    assert!(
        matches!(err, CallError::NoSlot { waited_ms } if waited_ms >= 90),
        "{err:?}"
    );
    assert_eq!(err.status(), 504);
    assert!(err.to_string().contains("deadline"), "{err}");
    assert!(took < Duration::from_millis(400), "answered after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retiring_a_bundle_frees_its_floor_for_the_others() {
    let executor = several(4, 2, manifest()).await;
    executor.retire("h2");
    let err = executor
        .call("h2", "ok", &meta("ok"), b"", soon(1_000))
        .await
        .unwrap_err();
    assert_eq!(err, CallError::UnknownBundle("h2".into()));
    // With h2 installed, h1 could borrow 3 of the 4 slots; now all 4.
    let spin_meta = meta("spin");
    let spins =
        futures_join_all((0..4).map(|_| executor.call("h1", "spin", &spin_meta, b"", soon(400))));
    let watch = eventually(Duration::from_secs(5), "h1 runs on every slot", || async {
        executor.shares.in_use() == 4
    });
    let (spun, ()) = tokio::join!(spins, watch);
    assert!(
        spun.iter()
            .all(|r| matches!(r, Err(CallError::Timeout { .. }))),
        "{spun:?}"
    );
}

#[tokio::test]
async fn the_manifest_timeout_caps_the_deadline() {
    let (executor, hash) = installed(Manifest {
        timeout_ms: 100,
        ..manifest()
    })
    .await;
    let started = Instant::now();
    let err = executor
        .call(&hash, "spin", &meta("spin"), b"", soon(10_000))
        .await
        .unwrap_err();
    assert!(
        matches!(err, CallError::Timeout { budget_ms } if budget_ms <= 100),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_millis(1_000));
    assert_eq!(
        err.to_string(),
        format!("function exceeded its {} ms deadline", err_budget(&err))
    );
}

fn err_budget(err: &CallError) -> u64 {
    match err {
        CallError::Timeout { budget_ms } => *budget_ms,
        _ => 0,
    }
}

#[tokio::test]
async fn growing_memory_past_the_limit_is_a_memory_error() {
    let (executor, hash) = installed(manifest()).await;
    let err = executor
        .call(&hash, "hog", &meta("hog"), b"", soon(5_000))
        .await
        .unwrap_err();
    assert_eq!(err, CallError::MemoryLimit { limit_mb: 4 });
    assert_eq!(
        err.to_string(),
        "function exceeded its memory limit of 4 MiB"
    );
    assert!(
        executor
            .call(&hash, "ok", &meta("ok"), b"", soon(5_000))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn malformed_outputs() {
    let (executor, hash) = installed(manifest()).await;
    for op in ["bad_ptr", "bad_json"] {
        let err = executor
            .call(&hash, op, &meta(op), b"", soon(5_000))
            .await
            .unwrap_err();
        assert!(matches!(err, CallError::Malformed(_)), "{op}: {err:?}");
        assert_eq!(
            err.client_message(false),
            "function returned a malformed response"
        );
    }
}

#[tokio::test]
async fn proc_exit_is_reported() {
    let (executor, hash) = installed(manifest()).await;
    let err = executor
        .call(&hash, "exit", &meta("exit"), b"", soon(5_000))
        .await
        .unwrap_err();
    assert_eq!(err, CallError::Exit(3));
}

#[tokio::test]
async fn unknown_bundle_and_operation() {
    let (executor, hash) = installed(manifest()).await;
    let err = executor
        .call("nope", "ok", &meta("ok"), b"", soon(1_000))
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.to_string()),
        (503, "bundle nope not available on this runner".to_owned())
    );
    let err = executor
        .call(&hash, "missing", &meta("missing"), b"", soon(1_000))
        .await
        .unwrap_err();
    assert_eq!(err, CallError::UnknownOperation("missing".into()));
    executor.retire(&hash);
    let err = executor
        .call(&hash, "ok", &meta("ok"), b"", soon(1_000))
        .await
        .unwrap_err();
    assert_eq!(err, CallError::UnknownBundle(hash));
}

#[tokio::test]
async fn a_passed_deadline_is_a_timeout_without_running() {
    let (executor, hash) = installed(manifest()).await;
    let err = executor
        .call(&hash, "ok", &meta("ok"), b"", Instant::now())
        .await
        .unwrap_err();
    assert_eq!(err, CallError::Timeout { budget_ms: 0 });
}

fn with_dir(host: &str) -> Manifest {
    let mut manifest = manifest();
    manifest.wasi.dirs.push(DirGrant {
        host: host.into(),
        guest: "/data".into(),
        writable: false,
    });
    manifest
}

async fn install_error(wasm: &str, ops: &[&str], manifest: Manifest) -> String {
    let executor = Executor::new(config()).unwrap();
    let ops = ops.iter().map(|id| op(id, "GET", "/x")).collect();
    let err = executor
        .install(bundle("bad", "", ops, wasm.as_bytes(), manifest))
        .await
        .unwrap_err();
    assert!(!executor.is_installed("bad"));
    err.to_string()
}

#[tokio::test]
async fn install_refuses_what_cannot_run() {
    let (v1, v2) = (guest(1), guest(2));
    let cases = [
        (
            "not wasm",
            &["ok"][..],
            manifest(),
            "the module does not compile",
        ),
        (
            "(module (memory (export \"memory\") 1))",
            &["ok"][..],
            manifest(),
            "missing export `funcmesh_alloc`",
        ),
        (
            v1.as_str(),
            &["ok", "listPets"][..],
            manifest(),
            "missing export `listPets`",
        ),
        (
            v1.as_str(),
            &["funcmesh_alloc"][..],
            manifest(),
            "export `funcmesh_alloc` is (i32) -> (i32), expected (i32, i32) -> (i64)",
        ),
        (
            v2.as_str(),
            &["ok"][..],
            manifest(),
            "speaks funcmesh ABI version 2",
        ),
        (
            v1.as_str(),
            &["ok"][..],
            Manifest {
                memory_limit_mb: 65,
                ..manifest()
            },
            "exceeds this runner's maximum of 64 MiB",
        ),
        (
            v1.as_str(),
            &["ok"][..],
            with_dir("../outside"),
            "\"../outside\" is not a directory inside the bundle",
        ),
        (
            v1.as_str(),
            &["ok"][..],
            with_dir("missing"),
            "\"missing\" is not a directory inside the bundle",
        ),
        (
            r#"(module (import "env" "host" (func)) (memory (export "memory") 1)
                (func (export "funcmesh_alloc") (param i32) (result i32) (i32.const 0)))"#,
            &[][..],
            manifest(),
            "cannot be linked",
        ),
    ];
    for (wasm, ops, manifest, want) in cases {
        let got = install_error(wasm, ops, manifest).await;
        assert!(got.contains(want), "wanted {want:?} in {got:?}");
    }
}

#[tokio::test]
async fn install_is_idempotent_and_reuses_modules() {
    let (executor, hash) = installed(manifest()).await;
    let again = executor.bundle(&hash).unwrap();
    executor.install(again).await.unwrap();
    let ops = OPS
        .iter()
        .map(|id| op(id, "GET", &format!("/{id}")))
        .collect();
    executor
        .install(bundle("h2", "", ops, guest(1).as_bytes(), manifest()))
        .await
        .unwrap();
    let first = executor.installed.read()[&hash].module.clone();
    let second = executor.installed.read()["h2"].module.clone();
    assert!(wasmtime::Module::same(&first, &second));
    assert!(
        executor
            .call("h2", "ok", &meta("ok"), b"", soon(5_000))
            .await
            .is_ok()
    );
}

/// A guest that reads `hello.txt` from its first preopen (`read`) or tries
/// to create it for writing (`write`, which answers 200 only when refused).
fn file_guest() -> String {
    let prefix = func_sdk::abi::encode_output(
        &func_sdk::abi::ResponseMeta {
            status: 200,
            headers: Vec::new(),
        },
        b"",
    )
    .unwrap();
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "hello.txt")
  (data (i32.const 1024) "{prefix}")
  (func (export "funcmesh_alloc") (param i32) (result i32) (i32.const 8192))
  (func (export "read") (param i32 i32) (result i64)
    (if (call $path_open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 9)
          (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 200))
      (then unreachable))
    (i32.store (i32.const 300) (i32.const {body_at}))
    (i32.store (i32.const 304) (i32.const 1000))
    (if (call $fd_read (i32.load (i32.const 200)) (i32.const 300) (i32.const 1) (i32.const 400))
      (then unreachable))
    (i64.or (i64.shl (i64.const 1024) (i64.const 32))
      (i64.extend_i32_u (i32.add (i32.const {prefix_len}) (i32.load (i32.const 400))))))
  (func (export "write") (param i32 i32) (result i64)
    (if (i32.eqz (call $path_open (i32.const 3) (i32.const 0) (i32.const 100) (i32.const 9)
          (i32.const 1) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 200)))
      (then unreachable))
    (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const {prefix_len})))
)"#,
        prefix = crate::test_support::wat_bytes(&prefix),
        prefix_len = prefix.len(),
        body_at = 1024 + prefix.len(),
    )
}

#[tokio::test]
async fn granted_directories_are_read_only_unless_writable() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("data")).unwrap();
    std::fs::write(tmp.path().join("data/hello.txt"), "hi from a file").unwrap();
    let ops = vec![op("read", "GET", "/read"), op("write", "GET", "/write")];
    let mut b = (*bundle("files", "", ops, file_guest().as_bytes(), with_dir("data"))).clone();
    b.dir = tmp.path().to_path_buf();
    let executor = Executor::new(config()).unwrap();
    executor.install(Arc::new(b)).await.unwrap();
    let resp = executor
        .call("files", "read", &meta("read"), b"", soon(5_000))
        .await
        .unwrap();
    assert_eq!(&resp.body[..], b"hi from a file");
    let resp = executor
        .call("files", "write", &meta("write"), b"", soon(5_000))
        .await;
    assert_eq!(
        resp.map(|r| r.status),
        Ok(200),
        "a read-only grant allowed a write"
    );

    // The same guest may write where the grant says so (it traps on success).
    let mut writable = (*executor.bundle("files").unwrap()).clone();
    writable.hash = "files-rw".into();
    writable.manifest.wasi.dirs[0].writable = true;
    executor.install(Arc::new(writable)).await.unwrap();
    let err = executor
        .call("files-rw", "write", &meta("write"), b"", soon(5_000))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Trap { .. }), "{err:?}");
}

#[tokio::test]
async fn without_a_grant_there_is_no_filesystem() {
    let ops = vec![op("read", "GET", "/read")];
    let executor = Executor::new(config()).unwrap();
    executor
        .install(bundle("nofs", "", ops, file_guest().as_bytes(), manifest()))
        .await
        .unwrap();
    let err = executor
        .call("nofs", "read", &meta("read"), b"", soon(5_000))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Trap { .. }), "{err:?}");
}

#[test]
#[ignore = "a measurement: cargo test -p funcmesh-runner --release --lib breakdown -- --ignored --nocapture"]
fn breakdown() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (executor, hash) = rt.block_on(installed(manifest()));
    let installed = executor.installed.read()[&hash].clone();
    let operation = installed.exports.operations["ok"];
    let input = abi::encode_input(&meta("ok"), b"").unwrap();
    let call = instance::Call {
        installed: Arc::clone(&installed),
        operation,
        input,
        deadline: Instant::now() + std::time::Duration::from_secs(3600),
        budget_ms: 1_000,
        capture_bytes: 64 << 10,
    };
    let n = 20_000;
    let time = |what: &str, f: &mut dyn FnMut()| {
        for _ in 0..n / 10 {
            f();
        }
        let started = Instant::now();
        for _ in 0..n {
            f();
        }
        println!("{what:<28} {:?}", started.elapsed() / n);
    };
    let _guard = rt.enter();
    time("WasiCtxBuilder + build_p1", &mut || {
        drop(wasmtime_wasi::WasiCtxBuilder::new().build_p1())
    });
    time("instance::run (whole call)", &mut || {
        assert!(
            rt.block_on(instance::run(&executor.engine, &call))
                .result
                .is_ok()
        )
    });
    time("Executor::call via the pool", &mut || {
        rt.block_on(executor.call(&hash, "ok", &meta("ok"), b"", soon(5_000)))
            .unwrap();
    });
    time("spawn_blocking round trip", &mut || {
        rt.block_on(tokio::task::spawn_blocking(|| ())).unwrap()
    });
}
