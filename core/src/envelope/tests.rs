use bytes::Bytes;
use proptest::prelude::*;

use super::*;

fn request() -> RequestEnvelope {
    RequestEnvelope {
        version: VERSION.into(),
        id: "r1".into(),
        method: "GET".into(),
        scheme: "http".into(),
        host: "example.com".into(),
        path: "/hello/greet".into(),
        query: "name=Ada".into(),
        headers: vec![("accept".into(), "a".into()), ("accept".into(), "b".into())],
        body: Body::Empty,
        reply_to: Some("reply.g1".into()),
        deadline_ms: 1_700_000_000_000,
        trace: None,
        bundle: None,
        remote_addr: None,
        describe: None,
    }
}

fn arb_body() -> impl Strategy<Value = Body> {
    prop_oneof![
        Just(Body::Empty),
        any::<Vec<u8>>()
            .prop_filter("non-empty", |b| !b.is_empty())
            .prop_map(|b| Body::Binary(Bytes::from(b))),
        "\\PC+".prop_map(Body::Text),
        (any::<i64>(), "\\PC*").prop_map(|(n, s)| Body::json_value(
            &serde_json::json!({"n": n, "s": s, "a": [1, null]})
        )),
    ]
}

proptest! {
    #[test]
    fn request_round_trips(
        method in "[A-Z]{3,7}",
        path in "/[a-z0-9/%._-]{0,40}",
        query in "[a-z0-9=&%]{0,30}",
        headers in proptest::collection::vec(("[a-z-]{1,12}", "\\PC{0,20}"), 0..6),
        body in arb_body(),
        deadline in any::<u64>(),
        reply in proptest::option::of("[a-z.0-9]{1,20}"),
    ) {
        let env = RequestEnvelope { method, path, query, headers, body, deadline_ms: deadline, reply_to: reply, ..request() };
        prop_assert_eq!(RequestEnvelope::decode(&env.encode()).unwrap(), env);
    }

    #[test]
    fn the_bound_on_a_response_s_length_holds(
        status in 100u16..600,
        body in arb_body(),
        headers in proptest::collection::vec(("[a-z-]{1,12}", "[\\x00-\\x1f\"\\\\a\\PC]{0,20}"), 0..6),
        id in "[\\x00-\\x7f]{0,40}",
    ) {
        let mut resp = ResponseEnvelope::new(id, status);
        resp.body = body;
        resp.headers = headers;
        resp.bundle = Some("abc".into());
        resp.timings.run_us = u64::MAX;
        resp.timings.queued_us = u64::MAX;
        prop_assert!(resp.encoded_len_bound() >= resp.encode().len());
    }

    #[test]
    fn response_round_trips(status in 100u16..600, body in arb_body(), run in any::<u64>()) {
        let mut resp = ResponseEnvelope::new("id", status);
        resp.body = body;
        resp.bundle = Some("abc".into());
        resp.timings.run_us = run;
        prop_assert_eq!(ResponseEnvelope::decode(&resp.encode()).unwrap(), resp);
    }
}

#[test]
fn bodies_state_their_encoding() {
    let json = Body::from_bytes(
        Bytes::from_static(br#"{"a":1}"#),
        Some("application/json; charset=utf-8"),
    );
    assert_eq!(json.encoding(), "json");
    let text = Body::from_bytes(Bytes::from_static(b"hi"), Some("text/plain"));
    assert_eq!(text.encoding(), "text");
    let bin = Body::from_bytes(Bytes::from_static(&[0, 159, 146, 150]), Some("text/plain"));
    assert_eq!(bin.encoding(), "base64");
    let broken_json = Body::from_bytes(Bytes::from_static(b"{nope"), Some("application/json"));
    assert_eq!(
        broken_json.as_bytes(),
        b"{nope",
        "bad JSON is carried, not lost"
    );
    let mut env = request();
    env.body = json;
    let wire = String::from_utf8(env.encode()).unwrap();
    assert!(wire.contains(r#""body":{"json":{"a":1}}"#), "{wire}");
}

#[test]
fn unknown_fields_are_ignored() {
    let mut v: serde_json::Value = serde_json::from_slice(&request().encode()).unwrap();
    v["version"] = "1.7".into();
    v["future_field"] = serde_json::json!({"x": 1});
    let env = RequestEnvelope::decode(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(env.id, "r1");
}

#[test]
fn unknown_major_version_is_rejected_clearly() {
    let mut v: serde_json::Value = serde_json::from_slice(&request().encode()).unwrap();
    v["version"] = "2.0".into();
    let err = RequestEnvelope::decode(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(
        matches!(&err, EnvelopeError::UnsupportedVersion { found } if found == "2.0"),
        "{err}"
    );
    let reshaped = br#"{"version":"3.1","id":42}"#;
    let err = RequestEnvelope::decode(reshaped).unwrap_err();
    assert!(
        err.to_string()
            .contains("unsupported envelope version \"3.1\""),
        "{err}"
    );
}

#[test]
fn garbage_is_malformed() {
    assert!(matches!(
        RequestEnvelope::decode(b"not json"),
        Err(EnvelopeError::Malformed(_))
    ));
}

#[test]
fn error_responses_carry_the_request_id() {
    let resp = ResponseEnvelope::error("req-9", 404, "no route for example.com/nope");
    let body: serde_json::Value = serde_json::from_slice(resp.body.as_bytes()).unwrap();
    assert_eq!(body["request_id"], "req-9");
    assert_eq!(body["error"], "no route for example.com/nope");
    assert_eq!(resp.status, 404);
}

#[test]
fn a_far_deadline_is_clamped_when_read() {
    let now = 1_700_000_000_000;
    let mut poison = request();
    poison.deadline_ms = u64::MAX;
    let read = RequestEnvelope::decode_at(&poison.encode(), now).unwrap();
    assert_eq!(read.deadline_ms, now + MAX_TIMEOUT.as_millis() as u64);
    // An ordinary deadline is left as it is.
    let mut fair = request();
    fair.deadline_ms = now + 30_000;
    let read = RequestEnvelope::decode_at(&fair.encode(), now).unwrap();
    assert_eq!(read.deadline_ms, now + 30_000);
}

#[test]
fn an_envelope_carried_as_itself_is_taken_as_it_is() {
    let now = 1_700_000_000_000;
    let mut sent = request();
    sent.deadline_ms = now + 30_000;
    let sent = Arc::new(sent);
    let payload = Payload::Local(Arc::clone(&sent) as _);
    let read = RequestEnvelope::from_payload(payload, now).unwrap();
    assert!(Arc::ptr_eq(&read, &sent), "copied or decoded");
    // The same envelope as bytes reads the same.
    let bytes = Payload::Bytes(Bytes::from(sent.encode()));
    assert_eq!(*RequestEnvelope::from_payload(bytes, now).unwrap(), *sent);
    // Another type carried as itself is read from its bytes.
    let reply = Payload::Local(Arc::new(ResponseEnvelope::new("r1", 200)));
    assert!(RequestEnvelope::from_payload(reply, now).is_err());
}

#[test]
fn a_far_deadline_carried_as_itself_is_clamped_too() {
    let now = 1_700_000_000_000;
    let mut poison = request();
    poison.deadline_ms = u64::MAX;
    let read = RequestEnvelope::from_payload(Payload::Local(Arc::new(poison)), now).unwrap();
    assert_eq!(read.deadline_ms, now + MAX_TIMEOUT.as_millis() as u64);
}

#[test]
fn a_reply_carried_as_itself_is_taken_without_a_copy_when_alone() {
    let mut reply = ResponseEnvelope::new("r1", 201);
    reply.body = Body::Text("made".into());
    let sent = Arc::new(reply.clone());
    let read = ResponseEnvelope::from_payload(Payload::Local(sent)).unwrap();
    assert_eq!(read, reply);
    let bytes = Payload::Bytes(Bytes::from(reply.encode()));
    assert_eq!(ResponseEnvelope::from_payload(bytes).unwrap(), reply);
}
