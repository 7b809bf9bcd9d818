//! The runner on the in-process bus, with the WAT guest of `test_support`.

use std::time::Duration;

use funcmesh_bus::inproc::InProcBus;
use funcmesh_bus::{QueueDepth, QueueSpec};
use funcmesh_core::ResponseEnvelope;
use funcmesh_core::bundle::{Manifest, ParamLocation};
use funcmesh_core::envelope::{Body, VERSION};
use funcmesh_testkit::eventually;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::*;
use crate::test_support::{OPS, bundle, guest, op, param};
use crate::wasm::ExecutorConfig;

const HASH: &str = "0123456789abcdef0123";

async fn runner(dev_mode: bool) -> (Runner, Arc<InProcBus>) {
    runner_with(RunnerConfig {
        concurrency: 4,
        dev_mode,
        ..RunnerConfig::default()
    })
    .await
}

async fn runner_with(runner_config: RunnerConfig) -> (Runner, Arc<InProcBus>) {
    let bus = Arc::new(InProcBus::new());
    runner_on(bus.clone(), bus, runner_config).await
}

/// A runner that publishes through `through`, a bus over `bus`.
async fn runner_on(
    through: Arc<dyn Bus>,
    bus: Arc<InProcBus>,
    runner_config: RunnerConfig,
) -> (Runner, Arc<InProcBus>) {
    let config = ExecutorConfig {
        concurrency: 4,
        max_memory_mb: 16,
        epoch_tick_ms: 2,
        ..ExecutorConfig::default()
    };
    let executor = Arc::new(Executor::new(config).unwrap());
    let runner = Runner::new(through, executor, runner_config);
    let mut ops: Vec<_> = OPS
        .iter()
        .map(|id| op(id, "GET", &format!("/{id}")))
        .collect();
    ops.push(op("echo", "POST", "/echo/{name}"));
    ops[1].method = "PUT".into();
    let last = ops.len() - 1;
    ops[last].parameters = vec![
        param(
            "name",
            ParamLocation::Path,
            true,
            json!({"type": "string", "maxLength": 5}),
        ),
        param(
            "limit",
            ParamLocation::Query,
            false,
            json!({"type": "integer", "maximum": 100}),
        ),
    ];
    ops[last].body = Some(crate::test_support::body(
        true,
        &["application/json"],
        Some(json!({"required": ["name"]})),
    ));
    let manifest = Manifest {
        timeout_ms: 2_000,
        memory_limit_mb: 4,
        ..Manifest::default()
    };
    runner
        .install(bundle(HASH, "/faults", ops, guest(1).as_bytes(), manifest))
        .await
        .unwrap();
    for queue in ["func", "reply"] {
        bus.declare(&QueueSpec::work(queue).dead_letter_after(3, "dead"))
            .await
            .unwrap();
    }
    bus.declare(&QueueSpec::work("dead")).await.unwrap();
    bus.declare(&QueueSpec::work("full").max_len(0))
        .await
        .unwrap();
    (runner, bus)
}

fn envelope(method: &str, path: &str, reply_to: Option<&str>) -> RequestEnvelope {
    RequestEnvelope {
        version: VERSION.into(),
        id: "req-1".into(),
        method: method.into(),
        scheme: "http".into(),
        host: "localhost".into(),
        path: path.into(),
        query: String::new(),
        headers: Vec::new(),
        body: Body::Empty,
        reply_to: reply_to.map(str::to_owned),
        deadline_ms: now_ms() + 5_000,
        trace: None,
        bundle: Some(HASH.into()),
        remote_addr: None,
        describe: None,
    }
}

/// Runs `serve` on "func" until the returned sender fires.
fn serve(
    runner: &Runner,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<funcmesh_bus::Result<()>>,
) {
    let (stop, stopped) = oneshot::channel::<()>();
    let runner = runner.clone();
    let task = tokio::spawn(async move {
        runner
            .serve("func", async {
                let _ = stopped.await;
            })
            .await
    });
    (stop, task)
}

async fn publish(bus: &InProcBus, envelope: &RequestEnvelope) {
    bus.publish("func", Message::new(envelope.encode()))
        .await
        .unwrap();
}

async fn next_reply(bus: &InProcBus) -> ResponseEnvelope {
    next_reply_on(bus, "reply").await
}

/// The next answer on reply queue `queue`, acked.
async fn next_reply_on(bus: &InProcBus, queue: &str) -> ResponseEnvelope {
    let mut consumer = bus.consume(queue, ConsumeOptions::default()).await.unwrap();
    let delivery = tokio::time::timeout(Duration::from_secs(5), consumer.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let resp = ResponseEnvelope::decode(&delivery.bytes()).unwrap();
    delivery.ack().await.unwrap();
    resp
}

/// How long a test waits for the runner to get somewhere.
const WAIT: Duration = Duration::from_secs(5);

/// Waits until the Func queue is empty, its last delivery acked.
async fn acked(bus: &InProcBus) {
    eventually(WAIT, "the ack", || async {
        depth(bus, "func").await == QueueDepth::default()
    })
    .await;
}

async fn depth(bus: &InProcBus, queue: &str) -> QueueDepth {
    bus.depth(queue).await.unwrap()
}

fn json_body(resp: &ResponseEnvelope) -> Value {
    serde_json::from_slice(resp.body.as_bytes()).unwrap()
}

#[tokio::test]
async fn a_request_is_answered_on_its_reply_queue_then_acked() {
    let (runner, bus) = runner(false).await;
    let (stop, task) = serve(&runner);
    publish(&bus, &envelope("GET", "/faults/ok", Some("reply"))).await;
    let resp = next_reply(&bus).await;
    assert_eq!((resp.id.as_str(), resp.status), ("req-1", 200));
    assert_eq!(resp.body, Body::Text("hello".into()));
    assert_eq!(resp.bundle.as_deref(), Some(HASH));
    assert!(resp.timings.run_us > 0);
    acked(&bus).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    let stats = runner.stats();
    assert_eq!((stats.requests, stats.answered, stats.in_flight), (1, 1, 0));
}

#[tokio::test]
async fn a_reply_nobody_takes_is_tried_until_the_deadline_then_dropped() {
    for reply_to in ["nowhere", "full"] {
        let (runner, bus) = runner(false).await;
        let (stop, task) = serve(&runner);
        let mut request = envelope("GET", "/faults/ok", Some(reply_to));
        request.deadline_ms = now_ms() + 600;
        publish(&bus, &request).await;
        // Run once, its answer held and tried again until the deadline,
        // then acked: not run again, not dead-lettered.
        eventually(WAIT, "the give-up", || async {
            runner.stats().publish_failures == 1
        })
        .await;
        acked(&bus).await;
        assert!(now_ms() >= request.deadline_ms, "{reply_to}: gave up early");
        stop.send(()).unwrap();
        task.await.unwrap().unwrap();
        let stats = runner.stats();
        assert_eq!((stats.requests, stats.answered), (1, 1), "{reply_to}");
        assert_eq!(depth(&bus, "dead").await.ready, 0, "{reply_to}");
    }
}

#[tokio::test]
async fn a_reply_queue_declared_late_gets_the_answer() {
    // As after a broker restart: the runner has its answer before the
    // gateway has declared its reply queue again.
    let (runner, bus) = runner(false).await;
    let (stop, task) = serve(&runner);
    publish(&bus, &envelope("GET", "/faults/ok", Some("late"))).await;
    eventually(WAIT, "the run", || async { runner.stats().answered == 1 }).await;
    // A time window, not a wait: the queue comes back well after the
    // answer's first try, and the runner must hold the answer across it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    bus.declare(&QueueSpec::work("late")).await.unwrap();
    let resp = next_reply_on(&bus, "late").await;
    assert_eq!((resp.id.as_str(), resp.status), ("req-1", 200));
    acked(&bus).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    let stats = runner.stats();
    assert_eq!((stats.requests, stats.publish_failures), (1, 0));
}

#[tokio::test]
async fn fire_and_forget_runs_and_acks() {
    let (runner, bus) = runner(false).await;
    let (stop, task) = serve(&runner);
    publish(&bus, &envelope("GET", "/faults/ok", None)).await;
    eventually(WAIT, "the run", || async { runner.stats().answered == 1 }).await;
    acked(&bus).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(depth(&bus, "reply").await.ready, 0);
}

#[tokio::test]
async fn an_expired_request_is_skipped() {
    let (runner, bus) = runner(false).await;
    let (stop, task) = serve(&runner);
    let mut expired = envelope("GET", "/faults/ok", Some("reply"));
    expired.deadline_ms = now_ms() - 1;
    publish(&bus, &expired).await;
    eventually(WAIT, "the skip", || async { runner.stats().expired == 1 }).await;
    acked(&bus).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(
        (runner.stats().requests, depth(&bus, "reply").await.ready),
        (0, 0)
    );
}

#[tokio::test]
async fn a_malformed_envelope_is_dead_lettered_at_once() {
    let (runner, bus) = runner(false).await;
    let (stop, task) = serve(&runner);
    bus.publish("func", Message::new(&b"{not an envelope"[..]))
        .await
        .unwrap();
    eventually(WAIT, "the dead letter", || async {
        depth(&bus, "dead").await.ready == 1
    })
    .await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(runner.stats().malformed_envelopes, 1);
}

#[tokio::test]
async fn shutdown_waits_for_requests_in_flight() {
    let (runner, bus) = runner(false).await;
    let (stop, task) = serve(&runner);
    let mut spin = envelope("GET", "/faults/spin", Some("reply"));
    spin.deadline_ms = now_ms() + 300;
    publish(&bus, &spin).await;
    eventually(WAIT, "the pick-up", || async {
        runner.stats().in_flight == 1
    })
    .await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    // `serve` returned only once the call had run to its deadline (the
    // epoch tick that stops it may come a little early), however late the
    // pick-up was on a busy machine.
    let returned = now_ms();
    assert!(
        returned + 20 >= spin.deadline_ms,
        "returned {} ms before the deadline of the call in flight",
        spin.deadline_ms - returned
    );
    // Settled before `serve` returned: answered 504 and acked. (The reply
    // itself expired with the request's deadline, as nobody waits for it.)
    assert_eq!(runner.stats().failures.get("timeout"), Some(&1));
    assert_eq!(depth(&bus, "func").await, QueueDepth::default());
}

#[tokio::test]
async fn answers_for_requests_the_function_never_sees() {
    let (runner, _bus) = runner(false).await;
    let no_path = runner
        .handle(&envelope("GET", "/faults/nothing", None))
        .await;
    assert_eq!(no_path.status, 404);
    assert_eq!(
        json_body(&no_path),
        json!({"error": "no operation matches GET /faults/nothing", "request_id": "req-1"})
    );
    let wrong = runner
        .handle(&envelope("DELETE", "/faults/echo", None))
        .await;
    assert_eq!(wrong.status, 405);
    assert!(wrong.headers.contains(&("allow".into(), "PUT".into())));
    let mut unknown = envelope("GET", "/faults/ok", None);
    unknown.bundle = Some("feedface".into());
    let unknown = runner.handle(&unknown).await;
    assert_eq!(unknown.status, 503);
    assert_eq!(
        json_body(&unknown)["error"],
        "bundle feedface not available on this runner"
    );
    let stats = runner.stats();
    assert_eq!(stats.failures.get("not_found"), Some(&1));
    assert_eq!(stats.failures.get("method_not_allowed"), Some(&1));
    assert_eq!(stats.failures.get("unavailable"), Some(&1));
}

#[tokio::test]
async fn invalid_requests_get_400_with_every_problem() {
    let (runner, _bus) = runner(false).await;
    let mut bad = envelope("POST", "/faults/echo/toolongname", None);
    bad.query = "limit=101".into();
    bad.headers = vec![("content-type".into(), "application/json".into())];
    bad.body = Body::from_bytes(bytes::Bytes::from_static(b"{}"), Some("application/json"));
    let resp = runner.handle(&bad).await;
    assert_eq!(resp.status, 400);
    assert_eq!(
        json_body(&resp),
        json!({"error": "invalid request", "request_id": "req-1", "details": [
            {"in": "path", "name": "name", "problem": "must be at most 5 characters long"},
            {"in": "query", "name": "limit", "problem": "must be <= 100"},
            {"in": "body", "path": "/name", "problem": "is required"},
        ]})
    );
    bad.headers = vec![("content-type".into(), "text/plain".into())];
    assert_eq!(runner.handle(&bad).await.status, 415);
}

#[tokio::test]
async fn a_valid_request_reaches_the_function() {
    let (runner, _bus) = runner(false).await;
    let mut good = envelope("POST", "/faults/echo/rex", None);
    good.headers = vec![("content-type".into(), "application/json".into())];
    good.body = Body::from_bytes(
        bytes::Bytes::from_static(br#"{"name":"Rex"}"#),
        Some("application/json"),
    );
    let resp = runner.handle(&good).await;
    assert_eq!(resp.status, 200);
    // The WAT echo sets no content-type, so the bytes travel as binary.
    assert_eq!(resp.body.as_bytes(), br#"{"name":"Rex"}"#);
}

#[tokio::test]
async fn guest_faults_become_502_and_504() {
    let (runner, _bus) = runner(false).await;
    let cases = [
        (
            "/faults/trap",
            502,
            "function trapped: wasm trap: wasm `unreachable` instruction executed",
        ),
        (
            "/faults/panic",
            502,
            "function trapped: wasm trap: wasm `unreachable` instruction executed",
        ),
        (
            "/faults/hog",
            502,
            "function exceeded its memory limit of 4 MiB",
        ),
        (
            "/faults/bad_json",
            502,
            "function returned a malformed response",
        ),
    ];
    for (path, status, message) in cases {
        let resp = runner.handle(&envelope("GET", path, None)).await;
        assert_eq!(
            (resp.status, json_body(&resp)["error"].as_str().unwrap()),
            (status, message),
            "{path}"
        );
        assert_eq!(resp.bundle.as_deref(), Some(HASH));
    }
    let mut spin = envelope("GET", "/faults/spin", None);
    spin.deadline_ms = now_ms() + 100;
    let resp = runner.handle(&spin).await;
    assert_eq!(resp.status, 504);
    assert!(
        json_body(&resp)["error"]
            .as_str()
            .unwrap()
            .starts_with("function exceeded its ")
    );
    let stats = runner.stats();
    assert_eq!(stats.failures.get("trap"), Some(&2));
    assert_eq!(stats.failures.get("timeout"), Some(&1));
    // The runner keeps serving.
    assert_eq!(
        runner
            .handle(&envelope("GET", "/faults/ok", None))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn dev_mode_shows_the_panic_message() {
    let (runner, _bus) = runner(true).await;
    let resp = runner.handle(&envelope("GET", "/faults/panic", None)).await;
    let message = json_body(&resp)["error"].as_str().unwrap().to_owned();
    assert_eq!(
        message,
        "function trapped: wasm trap: wasm `unreachable` instruction executed (boom)"
    );
}

#[tokio::test]
async fn without_a_bundle_hash_the_base_path_decides() {
    let (runner, _bus) = runner(false).await;
    let mut direct = envelope("GET", "/faults/ok", None);
    direct.bundle = None;
    assert_eq!(runner.handle(&direct).await.status, 200);
    direct.path = "/elsewhere/ok".into();
    assert_eq!(runner.handle(&direct).await.status, 503);
}

#[tokio::test]
async fn retired_bundles_are_unavailable() {
    let (runner, _bus) = runner(false).await;
    runner.retire(HASH);
    assert_eq!(
        runner
            .handle(&envelope("GET", "/faults/ok", None))
            .await
            .status,
        503
    );
}

/// Gives back one bundle, counting the calls.
struct OneBundle {
    bundle: Arc<Bundle>,
    calls: std::sync::atomic::AtomicUsize,
}

impl BundleSource for OneBundle {
    fn bundle(
        &self,
        hash: &str,
    ) -> Pin<Box<dyn Future<Output = Result<Arc<Bundle>, SourceError>> + Send + '_>> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let found = (hash == self.bundle.hash).then(|| Arc::clone(&self.bundle));
        Box::pin(async move {
            // A slow fetch, not a wait: the other requests come meanwhile.
            tokio::time::sleep(Duration::from_millis(20)).await;
            found.ok_or_else(|| "no such bundle".into())
        })
    }
}

#[tokio::test]
async fn a_missing_bundle_is_fetched_once_from_the_source() {
    let (runner, _bus) = runner(false).await;
    let fresh = bundle(
        "feedfacefeedface",
        "/faults",
        vec![op("ok", "GET", "/ok")],
        guest(1).as_bytes(),
        Manifest {
            memory_limit_mb: 4,
            ..Manifest::default()
        },
    );
    let source = Arc::new(OneBundle {
        bundle: fresh,
        calls: Default::default(),
    });
    runner.set_source(source.clone());
    let mut request = envelope("GET", "/faults/ok", None);
    request.bundle = Some("feedfacefeedface".into());
    let answers = statuses_of(&runner, &request, 8).await;
    assert!(answers.iter().all(|status| *status == 200), "{answers:?}");
    assert_eq!(source.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert!(runner.has("feedfacefeedface"));

    request.bundle = Some("0000000000000000".into());
    assert_eq!(runner.handle(&request).await.status, 503);
}

async fn statuses_of(runner: &Runner, request: &RequestEnvelope, n: usize) -> Vec<u16> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (runner, request) = (runner.clone(), request.clone());
        tasks.spawn(async move { runner.handle(&request).await.status });
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.unwrap());
    }
    statuses
}

#[tokio::test]
async fn an_answer_too_large_to_send_back_is_a_502_at_once() {
    let (runner, bus) = runner_with(RunnerConfig {
        concurrency: 4,
        max_response_bytes: 4096,
        ..RunnerConfig::default()
    })
    .await;
    let (stop, task) = serve(&runner);
    let mut big = envelope("POST", "/faults/echo/rex", Some("reply"));
    big.headers = vec![("content-type".into(), "application/json".into())];
    let body = json!({"name": "Rex", "pad": "x".repeat(10_000)}).to_string();
    big.body = Body::from_bytes(bytes::Bytes::from(body), Some("application/json"));
    let started = std::time::Instant::now();
    publish(&bus, &big).await;
    let resp = next_reply(&bus).await;
    assert_eq!(resp.status, 502);
    let error = json_body(&resp)["error"].as_str().unwrap().to_owned();
    assert!(error.contains("more than the 4096"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2), "answered late");
    acked(&bus).await;
    let stats = runner.stats();
    assert_eq!(stats.failures.get("response_too_large"), Some(&1));
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_poison_deadline_holds_nothing() {
    let (runner, bus) = runner(false).await;
    let (stop, task) = serve(&runner);
    let mut poison = envelope("GET", "/faults/ok", Some("reply"));
    poison.deadline_ms = u64::MAX;
    publish(&bus, &poison).await;
    let resp = next_reply(&bus).await;
    assert_eq!(resp.status, 200);
    acked(&bus).await;
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

/// The in-process bus, except that the broker refuses, for good, every
/// message larger than `limit` bytes.
struct Refusing {
    bus: Arc<InProcBus>,
    limit: usize,
    refused: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl Bus for Refusing {
    fn system(&self) -> &'static str {
        self.bus.system()
    }
    async fn declare(&self, spec: &QueueSpec) -> funcmesh_bus::Result<()> {
        self.bus.declare(spec).await
    }
    async fn publish(&self, queue: &str, message: Message) -> funcmesh_bus::Result<()> {
        if message.bytes().len() > self.limit {
            self.refused
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return Err(funcmesh_bus::Error::Refused(format!(
                "message size {} is larger than {}",
                message.bytes().len(),
                self.limit
            )));
        }
        self.bus.publish(queue, message).await
    }
    async fn consume(
        &self,
        queue: &str,
        options: ConsumeOptions,
    ) -> funcmesh_bus::Result<funcmesh_bus::Consumer> {
        self.bus.consume(queue, options).await
    }
    async fn depth(&self, queue: &str) -> funcmesh_bus::Result<QueueDepth> {
        self.bus.depth(queue).await
    }
    async fn broadcast(&self, topic: &str, body: bytes::Bytes) -> funcmesh_bus::Result<()> {
        self.bus.broadcast(topic, body).await
    }
    async fn listen(&self, topic: &str) -> funcmesh_bus::Result<funcmesh_bus::Consumer> {
        self.bus.listen(topic).await
    }
    async fn tap(&self, queue: &str) -> funcmesh_bus::Result<funcmesh_bus::Consumer> {
        self.bus.tap(queue).await
    }
}

/// A broker that refuses an answer for good (RabbitMQ's 406 for a message
/// over its `max_message_size`, say) is not asked again until the
/// deadline: the client hears 502 at once and the slot is free.
#[tokio::test]
async fn an_answer_the_broker_refuses_is_a_502_at_once() {
    let bus = Arc::new(InProcBus::new());
    let refusing = Arc::new(Refusing {
        bus: bus.clone(),
        limit: 4096,
        refused: std::sync::atomic::AtomicUsize::new(0),
    });
    let (runner, bus) = runner_on(refusing.clone(), bus, RunnerConfig::default()).await;
    let (stop, task) = serve(&runner);
    let mut big = envelope("POST", "/faults/echo/rex", Some("reply"));
    big.headers = vec![("content-type".into(), "application/json".into())];
    let body = json!({"name": "Rex", "pad": "x".repeat(10_000)}).to_string();
    big.body = Body::from_bytes(bytes::Bytes::from(body), Some("application/json"));
    big.deadline_ms = now_ms() + 60_000;
    let started = std::time::Instant::now();
    publish(&bus, &big).await;
    let resp = next_reply(&bus).await;
    assert_eq!(resp.status, 502);
    let error = json_body(&resp)["error"].as_str().unwrap().to_owned();
    assert!(error.contains("could not be sent back"), "{error}");
    assert!(error.contains("larger than 4096"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2), "answered late");
    acked(&bus).await;
    assert_eq!(
        refused_count(&refusing),
        1,
        "the refused answer was sent again"
    );
    // The slot is free: the next request is served.
    publish(&bus, &envelope("GET", "/faults/ok", Some("reply"))).await;
    assert_eq!(next_reply(&bus).await.status, 200);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}

fn refused_count(bus: &Refusing) -> usize {
    bus.refused.load(std::sync::atomic::Ordering::SeqCst)
}
