//! The executor and the runner against a real Rust guest: the `faults`
//! fixture bundle, built with func-sdk for wasm32-wasip1.

mod common;

use std::time::{Duration, Instant};

use func_sdk::abi::RequestMeta;
use funcmesh_runner::{CallError, GuestResponse};

fn meta(op: &str, method: &str, path: &str) -> RequestMeta {
    RequestMeta {
        request_id: format!("it-{op}"),
        operation_id: op.into(),
        method: method.into(),
        path: format!("/faults{path}"),
        base_path: "/faults".into(),
        ..RequestMeta::default()
    }
}

/// Calls `op` with a 5 s deadline (the manifest's own timeout is shorter).
fn call(meta: &RequestMeta, body: &[u8]) -> Option<Result<GuestResponse, CallError>> {
    let (executor, bundle) = common::executor()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    Some(common::block_on(executor.call(
        &bundle.hash,
        &meta.operation_id,
        meta,
        body,
        deadline,
    )))
}

fn header<'a>(resp: &'a GuestResponse, name: &str) -> Option<&'a str> {
    resp.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn echo_returns_the_body() {
    let mut m = meta("echo", "POST", "/echo");
    m.headers = vec![("content-type".into(), "text/plain".into())];
    let Some(result) = call(&m, b"hello \xff bytes") else {
        return;
    };
    let resp = result.unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(&resp.body[..], b"hello \xff bytes");
    assert_eq!(header(&resp, "content-type"), Some("text/plain"));
    assert_eq!(header(&resp, "x-echo-method"), Some("POST"));
}

#[test]
fn env_comes_from_the_manifest_only() {
    let mut m = meta("env", "GET", "/env");
    m.query = vec![("name".into(), "FAULTS_GREETING".into())];
    let Some(result) = call(&m, b"") else { return };
    assert_eq!(
        &result.unwrap().body[..],
        br#"{"value":"hello from the manifest"}"#
    );
    m.query = vec![("name".into(), "PATH".into())];
    let Some(result) = call(&m, b"") else { return };
    assert_eq!(&result.unwrap().body[..], br#"{"value":null}"#);
}

#[test]
fn status_is_passed_through_and_checked() {
    let mut m = meta("status", "GET", "/status/201");
    m.path_params.insert("code".into(), "201".into());
    let Some(result) = call(&m, b"") else { return };
    assert_eq!(result.unwrap().status, 201);
    m.path_params.insert("code".into(), "700".into());
    let Some(result) = call(&m, b"") else { return };
    assert!(
        matches!(result, Err(CallError::Malformed(ref why)) if why.contains("700")),
        "{result:?}"
    );
}

#[test]
fn binary_bytes_survive() {
    let Some(result) = call(&meta("binary", "GET", "/binary"), b"") else {
        return;
    };
    assert_eq!(
        result.unwrap().body.to_vec(),
        (0..=255).collect::<Vec<u8>>()
    );
}

#[test]
fn a_panic_is_a_trap_with_its_message() {
    let Some(result) = call(&meta("trap", "GET", "/trap"), b"") else {
        return;
    };
    let Err(CallError::Trap { trap, panic }) = result else {
        panic!("{result:?}")
    };
    assert!(trap.contains("unreachable"), "{trap}");
    assert_eq!(panic.as_deref(), Some("faults: trap requested"));
}

#[test]
fn spin_is_stopped_by_the_manifest_timeout() {
    let started = Instant::now();
    let Some(result) = call(&meta("spin", "GET", "/spin"), b"") else {
        return;
    };
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(CallError::Timeout { budget_ms }) if budget_ms <= 500),
        "{result:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(490) && elapsed < Duration::from_millis(1_500),
        "{elapsed:?}"
    );
}

#[test]
fn hog_hits_the_memory_limit() {
    let Some(result) = call(&meta("hog", "GET", "/hog"), b"") else {
        return;
    };
    let Some((_, bundle)) = common::executor() else {
        return;
    };
    assert_eq!(
        result,
        Err(CallError::MemoryLimit {
            limit_mb: bundle.manifest.memory_limit_mb
        })
    );
}

#[test]
fn a_spinning_call_does_not_hold_up_others() {
    let Some((executor, bundle)) = common::executor() else {
        return;
    };
    common::block_on(async {
        let deadline = Instant::now() + Duration::from_secs(5);
        let spin_meta = meta("spin", "GET", "/spin");
        let echo_meta = meta("echo", "POST", "/echo");
        // `join!` polls the spin first: it is in the guest, holding its
        // slot, before the echo is sent.
        let spin = async {
            let spun = executor
                .call(&bundle.hash, "spin", &spin_meta, b"", deadline)
                .await;
            (spun, Instant::now())
        };
        let echo = async {
            let started = Instant::now();
            let resp = executor
                .call(&bundle.hash, "echo", &echo_meta, b"x", deadline)
                .await;
            (resp, started.elapsed(), Instant::now())
        };
        let ((spun, spin_ended), (echoed, took, echo_ended)) = tokio::join!(spin, echo);
        assert!(matches!(spun, Err(CallError::Timeout { .. })), "{spun:?}");
        assert_eq!(echoed.unwrap().status, 200);
        assert!(took < Duration::from_millis(300), "echo waited {took:?}");
        assert!(
            echo_ended < spin_ended,
            "echo answered only once the spin ended"
        );
    });
}

#[test]
fn the_runner_serves_the_fixture() {
    use std::sync::Arc;

    use funcmesh_bus::inproc::InProcBus;
    use funcmesh_core::RequestEnvelope;
    use funcmesh_core::envelope::{Body, VERSION};
    use funcmesh_runner::{Runner, RunnerConfig};

    let Some((executor, bundle)) = common::executor() else {
        return;
    };
    let runner = Runner::new(
        Arc::new(InProcBus::new()),
        Arc::clone(executor),
        RunnerConfig::default(),
    );
    let envelope = |path: &str, query: &str| RequestEnvelope {
        version: VERSION.into(),
        id: "it-runner".into(),
        method: "GET".into(),
        scheme: "http".into(),
        host: "localhost".into(),
        path: path.into(),
        query: query.into(),
        headers: Vec::new(),
        body: Body::Empty,
        reply_to: None,
        deadline_ms: funcmesh_bus::now_ms() + 5_000,
        trace: None,
        bundle: Some(bundle.hash.clone()),
        remote_addr: None,
        describe: None,
    };
    common::block_on(async {
        let resp = runner
            .handle(&envelope("/faults/env", "name=FAULTS_GREETING"))
            .await;
        assert_eq!(resp.status, 200);
        assert_eq!(
            resp.body.as_bytes(),
            br#"{"value":"hello from the manifest"}"#
        );
        assert_eq!(resp.body.encoding(), "json");
        // `name` is required by openapi.yaml: the function never sees this one.
        let resp = runner.handle(&envelope("/faults/env", "")).await;
        assert_eq!(resp.status, 400);
        let body: serde_json::Value = serde_json::from_slice(resp.body.as_bytes()).unwrap();
        assert_eq!(
            body["details"],
            serde_json::json!([{"in": "query", "name": "name", "problem": "is required"}])
        );
        let resp = runner.handle(&envelope("/faults/status/abc", "")).await;
        assert_eq!(resp.status, 400);
        let resp = runner.handle(&envelope("/faults/trap", "")).await;
        assert_eq!(resp.status, 502);
        assert_eq!(runner.stats().failures.get("trap"), Some(&1));
    });
}
