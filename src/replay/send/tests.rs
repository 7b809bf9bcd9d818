#![allow(clippy::unwrap_used)]

use super::*;

fn envelope() -> RequestEnvelope {
    RequestEnvelope {
        version: "1.0".into(),
        id: "req-1".into(),
        method: "POST".into(),
        scheme: "http".into(),
        host: "words.example".into(),
        path: "/words/batch".into(),
        query: "x=1&y=%20".into(),
        headers: [
            ("content-type", "application/json"),
            ("authorization", MASK),
            ("connection", "keep-alive"),
            ("content-length", "99"),
            ("host", "old:8080"),
            ("x-request-id", "other"),
            ("accept", "application/json"),
            ("x-team", "a"),
            ("prefer", "respond-async, wait=5"),
        ]
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect(),
        body: Body::from_bytes(
            Bytes::from_static(br#"{"words":["ox"]}"#),
            Some("application/json"),
        ),
        reply_to: None,
        deadline_ms: 0,
        trace: None,
        bundle: None,
        remote_addr: None,
        describe: None,
    }
}

fn sender(extra: &[(&str, &str)]) -> Sender {
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    Sender::new("http://127.0.0.1:9/", &extra, Duration::from_secs(1), 1).unwrap()
}

fn values(request: &http::Request<Full<Bytes>>, name: &str) -> Vec<String> {
    request
        .headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_request_is_rebuilt_as_captured_for_the_captured_host() {
    let request = sender(&[]).build(&envelope(), true).unwrap();
    assert_eq!(request.method(), "POST");
    assert_eq!(request.uri(), "http://127.0.0.1:9/words/batch?x=1&y=%20");
    assert_eq!(values(&request, "host"), ["words.example"]);
    assert_eq!(values(&request, "x-request-id"), ["req-1"]);
    assert_eq!(values(&request, "content-type"), ["application/json"]);
    assert_eq!(values(&request, "accept"), ["application/json"]);
    assert_eq!(values(&request, "prefer"), ["respond-async, wait=5"]);
    for dropped in ["authorization", "connection", "content-length"] {
        assert!(
            values(&request, dropped).is_empty(),
            "{dropped} is not sent"
        );
    }
}

#[test]
fn extra_headers_replace_captured_ones_and_fill_in_masked_ones() {
    let request = sender(&[("Authorization", "Bearer real"), ("x-team", "b")])
        .build(&envelope(), true)
        .unwrap();
    assert_eq!(values(&request, "authorization"), ["Bearer real"]);
    assert_eq!(values(&request, "x-team"), ["b"]);
}

#[test]
fn a_request_without_a_captured_answer_is_sent_for_an_answer() {
    let request = sender(&[]).build(&envelope(), false).unwrap();
    assert_eq!(values(&request, "prefer"), ["wait=5"]);
    let mut only_async = envelope();
    only_async.headers.retain(|(n, _)| n != "prefer");
    only_async
        .headers
        .push(("prefer".into(), "respond-async".into()));
    let request = sender(&[]).build(&only_async, false).unwrap();
    assert!(values(&request, "prefer").is_empty());
}

#[test]
fn the_body_bytes_are_sent_decoded() {
    let mut binary = envelope();
    binary.body = Body::Binary(Bytes::from_static(&[0, 159, 146, 150]));
    let request = sender(&[]).build(&binary, true).unwrap();
    assert_eq!(
        hyper::body::Body::size_hint(request.body()).exact(),
        Some(4)
    );
}

#[test]
fn a_bad_extra_header_is_refused_up_front() {
    let extra = vec![("bad name".to_owned(), "v".to_owned())];
    let error = Sender::new("http://127.0.0.1:9", &extra, Duration::from_secs(1), 1).unwrap_err();
    assert!(error.to_string().contains("--header bad name"), "{error}");
}

#[tokio::test]
async fn a_closed_port_is_an_error_naming_the_refusal() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let record = CaptureRecord {
        version: "1.0".into(),
        captured_at_ms: 0,
        route: "words-py".into(),
        bundle: None,
        source: "gateway".into(),
        request: envelope(),
        response: None,
        timings: Default::default(),
    };
    let sender = Sender::new(&format!("http://{addr}"), &[], Duration::from_secs(5), 1).unwrap();
    let error = sender.send(&record).await.unwrap_err().to_string();
    assert!(error.to_lowercase().contains("refused"), "{error}");
}
