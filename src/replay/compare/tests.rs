#![allow(clippy::unwrap_used)]

use bytes::Bytes;

use super::*;

fn answer(status: u16, content_type: &str, body: &str) -> ResponseEnvelope {
    let mut resp = ResponseEnvelope::new("r1", status);
    resp.headers
        .push(("content-type".into(), content_type.into()));
    resp.body = Body::from_bytes(Bytes::copy_from_slice(body.as_bytes()), Some(content_type));
    resp
}

#[test]
fn equal_answers_with_reordered_json_are_the_same() {
    let captured = answer(200, "application/json", r#"{"a":1,"b":[true]}"#);
    let replayed = answer(200, "application/json", r#"{ "b": [true], "a": 1.0 }"#);
    assert!(compare(&captured, &replayed, &CompareRules::default()).is_empty());
}

#[test]
fn status_headers_and_body_are_all_reported() {
    let captured = answer(200, "application/json", r#"{"plural":"oxen"}"#);
    let replayed = answer(500, "text/plain", "boom");
    let difference = compare(&captured, &replayed, &CompareRules::default());
    assert_eq!(
        difference.status,
        Some(StatusChange {
            captured: 200,
            replayed: 500
        })
    );
    assert_eq!(difference.headers.len(), 1);
    assert_eq!(difference.headers[0].name, "content-type");
    let Some(BodyDiff::Text(text)) = difference.body else {
        panic!("JSON against text is a text diff: {:?}", difference.body);
    };
    assert_eq!(text.lines, [r#"- {"plural":"oxen"}"#, "+ boom"]);
}

#[test]
fn binary_bodies_compare_by_bytes() {
    let captured = answer(200, "image/png", "\u{1}PNG-a");
    let replayed = answer(200, "image/png", "\u{1}PNG-bb");
    let Some(BodyDiff::Binary(diff)) = compare(&captured, &replayed, &CompareRules::default()).body
    else {
        panic!("a binary diff");
    };
    assert_eq!(
        (diff.captured_len, diff.replayed_len, diff.first_difference),
        (6, 7, 5)
    );
}

#[test]
fn the_root_ignore_path_leaves_out_any_body() {
    let rules = CompareRules {
        ignored_paths: vec![JsonPath::parse("$").unwrap()],
        ..CompareRules::default()
    };
    let difference = compare(
        &answer(200, "text/plain", "a"),
        &answer(200, "text/plain", "b"),
        &rules,
    );
    assert!(difference.is_empty());
}
