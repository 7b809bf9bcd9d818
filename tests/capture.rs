//! Capture on the embedded mesh: rules switched while it serves, sampling,
//! redaction, and the exchange written as the client saw it. The gateway
//! routes through the firehose here, so the Func is found from the pushed
//! table; the cluster tests capture on the direct path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use common::{block_on, root};
use funcmesh::dev::{DevMesh, DevOptions};
use funcmesh_core::capture::{CaptureRecord, CaptureRules, RouteRule, WriterConfig, read_records};

struct Captured {
    mesh: Arc<DevMesh>,
    dir: tempfile::TempDir,
}

/// One mesh for the binary, capturing into its own directory, with no rule
/// in force at start. Tests use Funcs of their own so that they do not see
/// each other's records.
fn captured() -> &'static Captured {
    static MESH: OnceLock<Captured> = OnceLock::new();
    MESH.get_or_init(|| {
        block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let mut options = DevOptions::new(root().join("swagger-examples"));
            options.gateway.direct_routing = false;
            let mut writer = WriterConfig::new(dir.path());
            writer.redaction.add("X-Api-Key");
            options.capture = Some(writer);
            common::with_python(&mut options);
            let mesh = common::start(options).await;
            mesh.load(&root().join("tests/fixtures/faults"))
                .await
                .unwrap();
            Captured { mesh, dir }
        })
    })
}

/// The rules are the gateway's, one set for every test: tests that change
/// them take turns.
fn turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let turn = TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Started outside the test's own runtime call.
    captured();
    turn
}

fn call(method: &str, path: &str) -> common::Call {
    common::call_at(captured().mesh.local_addr(), method, path)
}

fn set(rules: &[(&str, f64)]) {
    let rules = rules
        .iter()
        .fold(CaptureRules::default(), |rules, (route, rate)| {
            rules.with(RouteRule {
                route: (*route).to_owned(),
                rate: *rate,
            })
        });
    captured()
        .mesh
        .gateway()
        .capture()
        .set_rules(rules)
        .unwrap();
}

/// Every record written so far for `func`.
fn records(func: &str) -> Vec<CaptureRecord> {
    let capture = captured().mesh.gateway().capture();
    capture.flush();
    let path = captured().dir.path().join(format!("{func}.jsonl"));
    if !Path::new(&path).exists() {
        return Vec::new();
    }
    read_records(&path).unwrap().map(Result::unwrap).collect()
}

fn ids(func: &str) -> Vec<String> {
    records(func).into_iter().map(|r| r.request.id).collect()
}

#[test]
fn capture_follows_its_rules_while_the_mesh_serves() {
    let _turn = turn();
    block_on(async {
        let send = |id: String| async move {
            let resp = call("GET", "/petstore/pets/1")
                .header("x-request-id", &id)
                .send()
                .await;
            assert_eq!(resp.status, 200);
        };
        send("before-1".into()).await;
        set(&[("petstore", 1.0)]);
        for n in 0..5 {
            send(format!("during-{n}")).await;
        }
        set(&[]);
        send("after-1".into()).await;
        assert_eq!(
            ids("petstore"),
            ["during-0", "during-1", "during-2", "during-3", "during-4"]
        );
    });
}

#[test]
fn a_record_holds_the_request_and_the_answer_the_client_got_with_secrets_masked() {
    let _turn = turn();
    block_on(async {
        set(&[("hello", 1.0)]);
        let resp = call("GET", "/hello/greet?name=Ada")
            .header("authorization", "Bearer topsecret")
            .header("cookie", "session=topsecret")
            .header("x-api-key", "topsecret")
            .header("x-request-id", "masked-1")
            .send()
            .await;
        set(&[]);
        assert_eq!(resp.status, 200);
        let record = records("hello")
            .into_iter()
            .find(|r| r.request.id == "masked-1")
            .unwrap();
        let text = std::fs::read_to_string(captured().dir.path().join("hello.jsonl")).unwrap();
        assert!(!text.contains("topsecret"), "a secret reached the file");
        assert_eq!(record.source, "gateway");
        assert_eq!(record.request.method, "GET");
        assert_eq!(record.request.path, "/hello/greet");
        assert_eq!(record.request.query, "name=Ada");
        assert_eq!(record.request.header("authorization"), Some("[redacted]"));
        assert_eq!(record.request.header("x-api-key"), Some("[redacted]"));
        let answer = record.response.unwrap();
        assert_eq!(answer.status, 200);
        let body: serde_json::Value = match &answer.body {
            funcmesh_core::Body::Json(raw) => serde_json::from_str(raw.get()).unwrap(),
            other => panic!("the JSON answer was written as {other:?}"),
        };
        assert_eq!(body, resp.json());
        let header = |name: &str| {
            answer
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("x-request-id"), Some("masked-1"));
        assert_eq!(
            header("x-funcmesh-bundle"),
            resp.header("x-funcmesh-bundle")
        );
        let bundle = record.bundle.unwrap();
        assert!(bundle.starts_with(resp.header("x-funcmesh-bundle").unwrap()));
        assert!(record.timings.total_us >= record.timings.run_us);
        assert!(record.timings.run_us > 0);
    });
}

#[test]
fn sampling_captures_close_to_its_rate() {
    let _turn = turn();
    block_on(async {
        set(&[("greeter-v2", 0.25)]);
        let sent = 1200;
        let mut answered = 0;
        let mut calls = futures::stream::iter(0..sent)
            .map(|n| {
                call("GET", "/v2/hello/x")
                    .host("greeter.example.com")
                    .header("x-request-id", &format!("sample-{n}"))
                    .send()
            })
            .buffer_unordered(32);
        while let Some(resp) = calls.next().await {
            assert_eq!(resp.status, 200);
            answered += 1;
        }
        set(&[]);
        assert_eq!(answered, sent);
        let captured = records("greeter-v2").len();
        // 300 expected; the binomial's standard deviation is 15.
        assert!(
            (225..=375).contains(&captured),
            "{captured} of {sent} captured at rate 0.25"
        );
        assert_eq!(captured_stats().dropped, 0);
    });
}

#[test]
fn error_answers_are_captured_as_the_client_saw_them() {
    let _turn = turn();
    block_on(async {
        set(&[("faults", 1.0)]);
        let trap = call("GET", "/faults/trap")
            .header("x-request-id", "fault-trap")
            .send()
            .await;
        let missing = call("GET", "/faults/nothing-here")
            .header("x-request-id", "fault-404")
            .send()
            .await;
        set(&[]);
        assert_eq!((trap.status, missing.status), (502, 404));
        let got: Vec<(String, u16)> = records("faults")
            .into_iter()
            .map(|r| (r.request.id, r.response.unwrap().status))
            .collect();
        assert_eq!(
            got,
            [
                ("fault-trap".to_owned(), 502),
                ("fault-404".to_owned(), 404)
            ]
        );
    });
}

#[test]
fn rules_for_a_func_that_does_not_exist_capture_nothing_and_cost_nothing() {
    let _turn = turn();
    block_on(async {
        set(&[("no-such-func", 1.0)]);
        let resp = call("GET", "/hello/greet?name=x")
            .header("x-request-id", "unrouted-rule")
            .send()
            .await;
        set(&[]);
        assert_eq!(resp.status, 200);
        assert!(!ids("hello").contains(&"unrouted-rule".to_owned()));
        assert!(!captured().dir.path().join("no-such-func.jsonl").exists());
    });
}

fn captured_stats() -> funcmesh_core::capture::CaptureStats {
    captured().mesh.gateway().capture().stats()
}

use futures::StreamExt as _;

#[test]
fn a_capture_directory_that_cannot_be_made_is_a_clear_error_at_start() {
    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let mut options = DevOptions::new(root().join("swagger-examples"));
    options.capture = Some(WriterConfig::new(file.join("captures")));
    let started = block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        DevMesh::start(options, listener).await
    });
    let error = format!("{:#}", started.unwrap_err());
    assert!(
        error.contains("opening the capture directory") && error.contains("not-a-dir"),
        "{error}"
    );
}

#[test]
fn capture_rules_without_a_capture_directory_are_refused_at_start() {
    let mut options = DevOptions::new(root().join("swagger-examples"));
    options.capture_rules = CaptureRules::default().with(RouteRule {
        route: "hello".into(),
        rate: 1.0,
    });
    let started = block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        DevMesh::start(options, listener).await
    });
    let error = format!("{:#}", started.unwrap_err());
    assert!(error.contains("--capture-dir"), "{error}");
}
