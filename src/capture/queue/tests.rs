use funcmesh_bus::inproc::InProcBus;
use funcmesh_bus::{Message, QueueSpec};
use funcmesh_core::capture::read_records;
use funcmesh_core::capture::redact::MASK;
use funcmesh_core::envelope::{Body, VERSION};
use funcmesh_core::routing::RouteTable;

use super::*;
use funcmesh_core::control::{HELLO_TOPIC, ROUTES_TOPIC, RoutesAnnouncement};

const QUEUE: &str = "funcmesh.func.00112233aabbccdd";

fn route(name: &str, queue: &str) -> Route {
    Route {
        host: None,
        base_path: format!("/{name}"),
        queue: queue.into(),
        bundle: "b1".into(),
        name: name.into(),
        pool: "default".into(),
    }
}

fn request(id: &str) -> RequestEnvelope {
    RequestEnvelope {
        version: VERSION.to_owned(),
        id: id.to_owned(),
        method: "GET".into(),
        scheme: "http".into(),
        host: "localhost".into(),
        path: "/hello/greet".into(),
        query: "name=Ada".into(),
        headers: vec![
            ("authorization".into(), "Bearer s3cret".into()),
            ("x-api-key".into(), "s3cret".into()),
            ("accept".into(), "*/*".into()),
        ],
        body: Body::Empty,
        reply_to: Some("funcmesh.reply.g1".into()),
        deadline_ms: 1,
        trace: None,
        bundle: Some("abc123".into()),
        remote_addr: None,
        describe: None,
    }
}

/// A tron that answers every hello with one table.
async fn announce_on_hello(bus: Arc<dyn Bus>, routes: Vec<Route>) {
    let mut hellos = bus.listen(HELLO_TOPIC).await.unwrap();
    tokio::spawn(async move {
        while let Some(Ok(_)) = hellos.next().await {
            let announcement = RoutesAnnouncement {
                log_levels: Default::default(),
                tron: "t1".into(),
                store: None,
                table: RouteTable::new(1, routes.clone()),
                capture: Default::default(),
            };
            let _ = bus
                .broadcast(ROUTES_TOPIC, control::encode(&announcement))
                .await;
        }
    });
}

#[test]
fn a_func_is_found_by_name_and_a_queue_by_its_name() {
    let routes = [route("hello", QUEUE), route("words", "funcmesh.func.ff")];
    let hello = Target {
        route: "hello".into(),
        queue: QUEUE.into(),
    };
    assert_eq!(find(&routes, "hello"), Some(hello.clone()));
    assert_eq!(find(&routes, QUEUE), Some(hello));
    assert_eq!(find(&routes, "nobody"), None);
    let unknown = find(&[], "funcmesh.func.77").unwrap();
    assert_eq!(
        (unknown.route.as_str(), unknown.queue.as_str()),
        ("funcmesh.func.77", "funcmesh.func.77")
    );
}

#[tokio::test]
async fn resolve_reads_the_announced_table() {
    let bus: Arc<dyn Bus> = Arc::new(InProcBus::new());
    announce_on_hello(Arc::clone(&bus), vec![route("hello", QUEUE)]).await;
    let target = resolve(Arc::clone(&bus), "hello", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(target.queue, QUEUE);
    let err = resolve(bus, "nobody", Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("known: hello"), "{err:#}");
}

#[tokio::test(start_paused = true)]
async fn without_a_tron_only_a_queue_name_resolves() {
    let bus: Arc<dyn Bus> = Arc::new(InProcBus::new());
    let err = resolve(Arc::clone(&bus), "hello", Duration::from_secs(3))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("no tron announced"), "{err:#}");
    let target = resolve(bus, QUEUE, Duration::from_secs(30)).await.unwrap();
    assert_eq!(target.route, QUEUE);
}

#[tokio::test]
async fn copies_are_written_redacted_and_non_envelopes_skipped() {
    let bus = InProcBus::new();
    bus.declare(&QueueSpec::work(QUEUE)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hello.jsonl");
    let target = Target {
        route: "hello".into(),
        queue: QUEUE.into(),
    };
    let capture = QueueCapture::start(&bus, target, &out, Redaction::with(["x-api-key"]))
        .await
        .unwrap();
    bus.publish(QUEUE, Message::new(request("r1").encode()))
        .await
        .unwrap();
    bus.publish(QUEUE, Message::new("not an envelope"))
        .await
        .unwrap();
    bus.publish(QUEUE, Message::new(request("r2").encode()))
        .await
        .unwrap();
    let limits = Limits {
        count: Some(2),
        duration: None,
    };
    let captured = capture.run(limits, std::future::pending()).await.unwrap();
    assert_eq!(
        captured,
        Captured {
            records: 2,
            skipped: 1
        }
    );

    let records: Vec<CaptureRecord> = read_records(&out).unwrap().map(Result::unwrap).collect();
    let ids: Vec<&str> = records.iter().map(|r| r.request.id.as_str()).collect();
    assert_eq!(ids, ["r1", "r2"]);
    let first = &records[0];
    assert_eq!(
        (first.route.as_str(), first.source.as_str()),
        ("hello", "queue")
    );
    assert_eq!(first.bundle.as_deref(), Some("abc123"));
    assert!(first.response.is_none());
    let header = |name: &str| {
        first
            .request
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("authorization"), Some(MASK));
    assert_eq!(header("x-api-key"), Some(MASK));
    assert_eq!(header("accept"), Some("*/*"));
    // Nothing was taken from the runners' queue.
    assert_eq!(bus.depth(QUEUE).await.unwrap().ready, 3);
}

#[tokio::test(start_paused = true)]
async fn a_capture_stops_after_its_time_or_its_signal() {
    let bus = InProcBus::new();
    bus.declare(&QueueSpec::work(QUEUE)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("q.jsonl");
    let target = Target {
        route: "hello".into(),
        queue: QUEUE.into(),
    };
    let limits = Limits {
        count: None,
        duration: Some(Duration::from_secs(5)),
    };
    let capture = QueueCapture::start(&bus, target.clone(), &out, Redaction::default())
        .await
        .unwrap();
    bus.publish(QUEUE, Message::new(request("r1").encode()))
        .await
        .unwrap();
    let captured = capture.run(limits, std::future::pending()).await.unwrap();
    assert_eq!(captured.records, 1);

    let capture = QueueCapture::start(&bus, target, &out, Redaction::default())
        .await
        .unwrap();
    let captured = capture
        .run(Limits::default(), std::future::ready(()))
        .await
        .unwrap();
    assert_eq!(captured.records, 0);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "",
        "the file starts empty"
    );
}
