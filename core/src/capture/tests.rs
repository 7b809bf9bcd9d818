use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::redact::MASK;
use super::*;
use crate::envelope::{Body, RequestEnvelope, ResponseEnvelope, VERSION};

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
            ("cookie".into(), "session=s3cret".into()),
            ("x-api-key".into(), "s3cret".into()),
            ("accept".into(), "*/*".into()),
        ],
        body: Body::Empty,
        reply_to: Some("funcmesh.reply.g1".into()),
        deadline_ms: 1,
        trace: None,
        bundle: None,
        remote_addr: None,
        describe: None,
    }
}

fn exchange(route: &str, id: &str) -> Exchange {
    let mut response = ResponseEnvelope::new(id, 200);
    response.headers = vec![("set-cookie".into(), "session=s3cret".into())];
    response.body = Body::Text("hi".into());
    Exchange {
        route: route.to_owned(),
        bundle: Some("abc".into()),
        source: "gateway",
        request: ExchangeRequest::Encoded(Bytes::from(request(id).encode())),
        response: Some(response),
        timings: CaptureTimings {
            total_us: 10,
            queued_us: 2,
            run_us: 5,
        },
        at_ms: 42,
    }
}

fn records(path: &std::path::Path) -> Vec<CaptureRecord> {
    read_records(path).unwrap().map(Result::unwrap).collect()
}

#[test]
fn a_record_round_trips_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = WriterConfig::new(dir.path());
    config.redaction.add("X-API-Key");
    let writer = CaptureWriter::start(config).unwrap();
    writer.offer(exchange("hello", "r1"));
    writer.flush();
    let text = fs::read_to_string(dir.path().join("hello.jsonl")).unwrap();
    assert!(
        !text.contains("s3cret"),
        "a secret reached the file: {text}"
    );
    let got = records(&dir.path().join("hello.jsonl"));
    assert_eq!(got.len(), 1);
    let record = &got[0];
    assert_eq!(record.route, "hello");
    assert_eq!(record.source, "gateway");
    assert_eq!(record.bundle.as_deref(), Some("abc"));
    assert_eq!(record.request.query, "name=Ada");
    assert_eq!(record.request.header("authorization"), Some(MASK));
    assert_eq!(record.request.header("x-api-key"), Some(MASK));
    assert_eq!(record.request.header("accept"), Some("*/*"));
    let response = record.response.as_ref().unwrap();
    assert_eq!(response.headers[0], ("set-cookie".into(), MASK.into()));
    assert_eq!(response.body, Body::Text("hi".into()));
    assert_eq!(record.timings.run_us, 5);
    assert_eq!(writer.stats().written, 1);
}

#[test]
fn files_rotate_by_size_and_keep_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let line_len = {
        let probe = tempfile::tempdir().unwrap();
        let writer = CaptureWriter::start(WriterConfig::new(probe.path())).unwrap();
        writer.offer(exchange("f", "r00"));
        writer.flush();
        fs::metadata(probe.path().join("f.jsonl")).unwrap().len()
    };
    let mut config = WriterConfig::new(dir.path());
    config.max_file_bytes = line_len * 3;
    config.max_files = 3;
    let writer = CaptureWriter::start(config).unwrap();
    for n in 0..20 {
        writer.offer(exchange("f", &format!("r{n:02}")));
    }
    writer.flush();
    let mut names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["f.1.jsonl", "f.2.jsonl", "f.jsonl"]);
    let ids = |file: &str| -> Vec<String> {
        records(&dir.path().join(file))
            .into_iter()
            .map(|r| r.request.id)
            .collect()
    };
    assert_eq!(ids("f.jsonl"), ["r18", "r19"]);
    assert_eq!(ids("f.1.jsonl"), ["r15", "r16", "r17"]);
    assert_eq!(ids("f.2.jsonl"), ["r12", "r13", "r14"]);
    for file in &names {
        assert!(fs::metadata(dir.path().join(file)).unwrap().len() <= line_len * 3);
    }
    assert_eq!(writer.stats().rotations, 6);
}

#[test]
fn a_writer_that_falls_behind_drops_and_counts_never_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = WriterConfig::new(dir.path());
    config.queue = 1;
    let writer = CaptureWriter::start(config).unwrap();
    let offered = 20_000;
    let started = std::time::Instant::now();
    for n in 0..offered {
        writer.offer(exchange("busy", &format!("r{n}")));
    }
    let offering = started.elapsed();
    writer.flush();
    let stats = writer.stats();
    assert_eq!(stats.written + stats.dropped + stats.failed, offered);
    assert!(stats.dropped > 0, "{stats:?}");
    assert_eq!(
        records(&dir.path().join("busy.jsonl")).len() as u64,
        stats.written
    );
    // Not a timing assertion on the machine: a blocked offer would take as
    // long as writing every record, which the count above rules out anyway.
    assert!(offering < std::time::Duration::from_secs(30));
}

#[test]
fn an_undecodable_request_is_counted_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let writer = CaptureWriter::start(WriterConfig::new(dir.path())).unwrap();
    let mut bad = exchange("x", "r1");
    bad.request = ExchangeRequest::Encoded(Bytes::from_static(b"not json"));
    writer.offer(bad);
    writer.offer(exchange("x", "r2"));
    writer.flush();
    let stats = writer.stats();
    assert_eq!((stats.written, stats.failed), (1, 1));
}

#[test]
fn file_names_come_from_func_names_safely() {
    assert_eq!(writer::stem_for_tests("words-py"), "words-py");
    assert_eq!(writer::stem_for_tests("../etc/passwd"), "_etc_passwd");
    assert_eq!(writer::stem_for_tests(""), "_");
}

#[test]
fn sampling_follows_the_rate_and_the_rules_switch_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let capture = Capture::new(CaptureWriter::start(WriterConfig::new(dir.path())).unwrap());
    assert!(!capture.sample("hello"), "no rule captures nothing");
    capture
        .set_rules(CaptureRules::default().with(RouteRule {
            route: "hello".into(),
            rate: 0.1,
        }))
        .unwrap();
    let n = 100_000;
    let hits = (0..n).filter(|_| capture.sample("hello")).count();
    let share = hits as f64 / n as f64;
    assert!((0.09..0.11).contains(&share), "sampled {share}");
    assert!(!capture.sample("other"));
    capture
        .set_rules(CaptureRules::default().with(RouteRule {
            route: "*".into(),
            rate: 1.0,
        }))
        .unwrap();
    assert!((0..1000).all(|_| capture.sample("other")));
    capture.set_rules(CaptureRules::default()).unwrap();
    assert!(!capture.sample("other"));
}

#[test]
fn rules_are_checked() {
    assert_eq!(
        CaptureRules::parse_rule("hello=0.25").unwrap(),
        RouteRule {
            route: "hello".into(),
            rate: 0.25
        }
    );
    assert_eq!(CaptureRules::parse_rule("hello").unwrap().rate, 1.0);
    assert!(CaptureRules::parse_rule("hello=2").is_err());
    assert!(CaptureRules::parse_rule("hello=x").is_err());
    assert!(CaptureRules::parse_rule("=0.5").is_err());
    let off = Capture::off();
    let on = CaptureRules::default().with(RouteRule {
        route: "*".into(),
        rate: 1.0,
    });
    assert!(
        off.set_rules(on)
            .unwrap_err()
            .contains("no capture directory")
    );
    assert!(off.set_rules(CaptureRules::default()).is_ok());
}

/// The capture file of Func `c` that a writer in `dir` makes of one
/// exchange, and its text (one line, with its newline).
fn one_record_file(dir: &Path) -> (PathBuf, String) {
    let path = dir.join("c.jsonl");
    let writer = CaptureWriter::start(WriterConfig::new(dir)).unwrap();
    writer.offer(exchange("c", "r1"));
    writer.flush();
    let text = fs::read_to_string(&path).unwrap();
    (path, text)
}

#[test]
fn malformed_lines_name_their_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let (path, good) = one_record_file(dir.path());
    fs::write(&path, format!("{good}\n{{\"version\":\"1.0\"}}\n{good}")).unwrap();
    let got: Vec<_> = read_records(&path).unwrap().collect();
    assert_eq!(got.len(), 3);
    assert!(got[0].is_ok() && got[2].is_ok());
    let error = got[1].as_ref().unwrap_err().to_string();
    assert!(error.contains("c.jsonl:3"), "{error}");
    let future = good.replacen("\"version\":\"1.0\"", "\"version\":\"2.0\"", 1);
    assert!(
        CaptureRecord::decode(future.trim())
            .unwrap_err()
            .contains("unsupported")
    );
}

#[test]
fn a_last_line_still_being_written_is_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let (path, good) = one_record_file(dir.path());
    // As a reader sees a file while a gateway appends: the next record
    // cut where its bytes so far end.
    let half = &good[..good.len() / 2];
    fs::write(&path, format!("{good}{half}")).unwrap();
    let got: Vec<_> = read_records(&path).unwrap().collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].is_ok());
    // Once its newline is there, a line that does not parse is an error.
    fs::write(&path, format!("{good}{half}\n")).unwrap();
    let got: Vec<_> = read_records(&path).unwrap().collect();
    assert_eq!(got.len(), 2);
    assert!(
        got[1]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("c.jsonl:2")
    );
    // A whole last record without its newline is read.
    fs::write(&path, format!("{good}{}", good.trim_end())).unwrap();
    assert!(read_records(&path).unwrap().all(|r| r.is_ok()));
    assert_eq!(read_records(&path).unwrap().count(), 2);
}

#[test]
fn an_envelope_without_masked_headers_is_written_as_published() {
    let redaction = Redaction::default();
    let mut plain = request("p1");
    plain.headers.retain(|(name, _)| !redaction.covers(name));
    let encoded = plain.encode();
    let matcher = redaction.matcher().unwrap();
    assert!(!matcher.is_match(&encoded[..]));
    assert!(matcher.is_match(&request("p2").encode()[..]));
    assert!(matcher.is_match(br#"{"headers":[["Cookie","x"]]}"#));
    assert!(!matcher.is_match(br#"{"body":{"text":"cookies"}}"#));

    let dir = tempfile::tempdir().unwrap();
    let writer = CaptureWriter::start(WriterConfig::new(dir.path())).unwrap();
    let mut as_published = exchange("plain", "p1");
    as_published.request = ExchangeRequest::Encoded(Bytes::from(encoded));
    writer.offer(as_published);
    writer.flush();
    let got = records(&dir.path().join("plain.jsonl"));
    assert_eq!(got[0].request, plain);
}
