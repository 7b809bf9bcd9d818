//! One request, one trace: a gateway, a tron and a runner, each its own
//! process on RabbitMQ, export their spans over OTLP/HTTP to a receiver
//! here, which decodes the protobuf (the `opentelemetry-proto`
//! definitions); the spans of one request share one trace and hang from
//! each other across the three processes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::cluster::{Cluster, RABBITMQ};
use funcmesh_testkit::eventually;
use http_body_util::{BodyExt as _, Full};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use prost::Message as _;

/// A span as received, with the service that sent it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    trace: String,
    id: String,
    parent: String,
    attributes: HashMap<String, String>,
}

/// An OTLP/HTTP receiver: every span of every export request, decoded.
struct Receiver {
    addr: SocketAddr,
    spans: Arc<Mutex<Vec<Received>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (kept, asked) = (Arc::clone(&spans), Arc::clone(&requests));
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (kept, asked) = (Arc::clone(&kept), Arc::clone(&asked));
                let service = hyper::service::service_fn(move |request| {
                    let (kept, asked) = (Arc::clone(&kept), Arc::clone(&asked));
                    async move { Ok::<_, hyper::Error>(receive(request, &kept, &asked).await) }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                );
            }
        });
        Self {
            addr,
            spans,
            requests,
        }
    }

    /// The spans of trace `trace` received so far.
    fn trace(&self, trace: &str) -> Vec<Received> {
        let spans = self.spans.lock().unwrap();
        spans.iter().filter(|s| s.trace == trace).cloned().collect()
    }
}

async fn receive(
    request: hyper::Request<hyper::body::Incoming>,
    kept: &Mutex<Vec<Received>>,
    asked: &Mutex<Vec<String>>,
) -> hyper::Response<Full<Bytes>> {
    let content_type = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    asked.lock().unwrap().push(format!(
        "{} {} {content_type}",
        request.method(),
        request.uri().path()
    ));
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let Ok(export) = ExportTraceServiceRequest::decode(body) else {
        return hyper::Response::builder()
            .status(400)
            .body(Full::default())
            .unwrap();
    };
    for resource in export.resource_spans {
        let attributes = resource.resource.map(|r| r.attributes).unwrap_or_default();
        let service = strings(&attributes)
            .remove("service.name")
            .unwrap_or_default();
        for scope in resource.scope_spans {
            for span in scope.spans {
                kept.lock().unwrap().push(Received {
                    service: service.clone(),
                    name: span.name,
                    trace: hex(&span.trace_id),
                    id: hex(&span.span_id),
                    parent: hex(&span.parent_span_id),
                    attributes: strings(&span.attributes),
                });
            }
        }
    }
    hyper::Response::builder()
        .header("content-type", "application/x-protobuf")
        .body(Full::default())
        .unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Attribute values as text (strings as they are, numbers written out).
fn strings(attributes: &[KeyValue]) -> HashMap<String, String> {
    attributes
        .iter()
        .filter_map(|kv| {
            let value = match kv.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(s) => s.clone(),
                any_value::Value::IntValue(i) => i.to_string(),
                any_value::Value::BoolValue(b) => b.to_string(),
                other => format!("{other:?}"),
            };
            Some((kv.key.clone(), value))
        })
        .collect()
}

/// The one span named `name` among `spans`.
fn one<'a>(spans: &'a [Received], name: &str) -> &'a Received {
    let named: Vec<&Received> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(named.len(), 1, "one {name} in {spans:#?}");
    named[0]
}

/// The spans a WebAssembly request through the firehose opens, by process.
const WASM_SPANS: [(&str, &str); 8] = [
    ("gateway.request", "funcmesh-gateway"),
    ("tron.queue_wait", "funcmesh-tron"),
    ("tron.dispatch", "funcmesh-tron"),
    ("runner.queue_wait", "funcmesh-runner"),
    ("runner.delivery", "funcmesh-runner"),
    ("runner.execute", "funcmesh-runner"),
    ("runner.instantiate", "funcmesh-runner"),
    ("runner.call", "funcmesh-runner"),
];

/// Checks the links of one request's trace, whose gateway span has
/// `parent` as its parent ("" for a trace the gateway started); returns
/// the spans by name.
fn check_links<'a>(spans: &'a [Received], parent: &str) -> HashMap<&'a str, &'a Received> {
    let by_name: HashMap<&str, &Received> = spans.iter().map(|s| (s.name.as_str(), s)).collect();
    let parent_of = |child: &str, parent: &str| {
        assert_eq!(
            one(spans, child).parent,
            one(spans, parent).id,
            "{child}'s parent is {parent}: {spans:#?}"
        );
    };
    assert_eq!(one(spans, "gateway.request").parent, parent, "{spans:#?}");
    parent_of("tron.queue_wait", "gateway.request");
    parent_of("tron.dispatch", "gateway.request");
    parent_of("runner.queue_wait", "tron.dispatch");
    parent_of("runner.delivery", "tron.dispatch");
    parent_of("runner.execute", "runner.delivery");
    parent_of("runner.call", "runner.execute");
    by_name
}

#[test]
fn one_request_is_one_trace_across_three_processes() {
    let receiver = common::block_on(Receiver::start());
    let cluster = Cluster::new(RABBITMQ);
    let endpoint = format!("http://{}", receiver.addr);
    for name in ["gateway", "tron", "runner1"] {
        cluster.set_env(name, "OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint);
        cluster.set_env(name, "OTEL_BSP_SCHEDULE_DELAY", "100");
    }
    // Through the firehose, so that the tron dispatches every request.
    cluster.set_env("gateway", "FUNCMESH_NO_DIRECT_ROUTING", "true");
    common::block_on_showing_logs(&cluster, async {
        cluster.start_all(1).await;

        // The client's trace is continued.
        let client_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let client_span = "00f067aa0ba902b7";
        let resp = common::call_at(cluster.gateway, "GET", "/hello/greet?name=trace")
            .header(
                "traceparent",
                &format!("00-{client_trace}-{client_span}-01"),
            )
            .send()
            .await;
        assert_eq!(resp.status, 200);
        let request_id = resp.header("x-request-id").unwrap().to_owned();
        let all_there = || async { receiver.trace(client_trace).len() >= WASM_SPANS.len() };
        eventually(Duration::from_secs(10), "the request's spans", all_there).await;
        // Late spans would show here as duplicates.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let spans = receiver.trace(client_trace);
        assert_eq!(spans.len(), WASM_SPANS.len(), "{spans:#?}");
        for (name, service) in WASM_SPANS {
            assert_eq!(one(&spans, name).service, service, "{spans:#?}");
        }
        let by_name = check_links(&spans, client_span);
        assert_eq!(
            by_name["runner.instantiate"].parent,
            by_name["runner.execute"].id
        );
        let gateway = by_name["gateway.request"];
        assert_eq!(gateway.attributes["request_id"], request_id, "{gateway:?}");
        assert_eq!(gateway.attributes["http.response.status_code"], "200");
        assert_eq!(by_name["tron.dispatch"].attributes["func"], "hello");
        assert_eq!(by_name["runner.execute"].attributes["func"], "hello");
        for span in &spans {
            assert_eq!(
                span.attributes
                    .get("request_id")
                    .map_or(&request_id, |id| id),
                &request_id
            );
        }

        // Without a client's trace, the gateway starts one; a Python Func
        // has a call and no instantiation.
        let resp = common::call_at(cluster.gateway, "GET", "/words/mouse")
            .send()
            .await;
        assert_eq!(resp.status, 200, "{:?}", resp.body);
        let request_id = resp.header("x-request-id").unwrap().to_owned();
        let started = || async {
            let spans = receiver.spans.lock().unwrap();
            spans
                .iter()
                .find(|s| {
                    s.name == "gateway.request"
                        && s.attributes.get("request_id") == Some(&request_id)
                })
                .map(|s| s.trace.clone())
        };
        let trace = funcmesh_testkit::eventually_some(
            Duration::from_secs(10),
            "the Python request's trace",
            started,
        )
        .await;
        let complete = || async { receiver.trace(&trace).len() >= WASM_SPANS.len() - 1 };
        eventually(
            Duration::from_secs(10),
            "the Python request's spans",
            complete,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let spans = receiver.trace(&trace);
        assert_eq!(spans.len(), WASM_SPANS.len() - 1, "{spans:#?}");
        assert!(
            spans.iter().all(|s| s.name != "runner.instantiate"),
            "{spans:#?}"
        );
        check_links(&spans, "");

        let requests = receiver.requests.lock().unwrap().clone();
        assert!(
            requests
                .iter()
                .all(|r| r == "POST /v1/traces application/x-protobuf"),
            "{requests:?}"
        );
    });
}
