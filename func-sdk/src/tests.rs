//! Handler-level tests: everything goes through `testing::call`, so through
//! the ABI encoding in both directions.

use serde::Deserialize;

use crate::testing::{call, try_call};
use crate::{Error, IntoResponse, Request, Response, Result, Value, json};

fn echo_meta(req: Request) -> Value {
    json!({
        "method": req.method(),
        "path": req.path(),
        "base_path": req.base_path(),
        "request_id": req.request_id(),
        "operation_id": req.operation_id(),
        "id": req.param("id"),
        "tags": req.query_all("tag").collect::<Vec<_>>(),
        "first_tag": req.query("tag"),
        "accept": req.header("ACCEPT"),
        "headers": req.headers(),
    })
}

#[test]
fn request_accessors_see_what_the_builder_set() {
    let req = Request::builder("get", "/v2/things/7")
        .base_path("/v2")
        .operation_id("getThing")
        .request_id("r-42")
        .param("id", "7")
        .query("tag", "a")
        .query("tag", "b")
        .header("Accept", "text/plain")
        .header("X-Multi", "1")
        .header("x-multi", "2")
        .build();
    let body: Value = call(echo_meta, req).body_json().unwrap();
    assert_eq!(
        body,
        json!({
            "method": "GET", "path": "/v2/things/7", "base_path": "/v2",
            "request_id": "r-42", "operation_id": "getThing", "id": "7",
            "tags": ["a", "b"], "first_tag": "a", "accept": "text/plain",
            "headers": [["accept", "text/plain"], ["x-multi", "1"], ["x-multi", "2"]],
        })
    );
}

#[derive(Debug, Deserialize, PartialEq)]
struct Pet {
    name: String,
}

fn create(req: Request) -> Result<Response> {
    let pet: Pet = req.json()?;
    let limit = req.query_as::<u8>("limit")?.unwrap_or(10);
    Ok(Response::json(&json!({ "name": pet.name, "limit": limit })).with_status(201))
}

#[test]
fn json_body_and_typed_query_parse() {
    let req = Request::builder("POST", "/pets")
        .json_body(&json!({"name": "Rex"}))
        .query("limit", "5");
    let resp = call(create, req.build());
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.header_value("Content-Type"), Some("application/json"));
    assert_eq!(
        resp.body_json::<Value>().unwrap(),
        json!({"name": "Rex", "limit": 5})
    );
}

#[test]
fn bad_input_is_a_400_with_a_json_error() {
    for req in [
        Request::builder("POST", "/pets").body("{not json"),
        Request::builder("POST", "/pets").json_body(&json!({"nom": "Rex"})),
        Request::builder("POST", "/pets")
            .json_body(&json!({"name": "Rex"}))
            .query("limit", "x"),
    ] {
        let resp = call(create, req.build());
        assert_eq!(resp.status(), 400);
        let error = resp.body_json::<Value>().unwrap()["error"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(!error.is_empty());
    }
}

#[test]
fn param_as_names_the_missing_or_bad_parameter() {
    let get = |req: Request| req.param_as::<u64>("petId").map(|id| json!({ "id": id }));
    let missing = call(get, Request::builder("GET", "/pets/").build());
    assert_eq!(missing.status(), 400);
    assert!(
        missing
            .body_text()
            .unwrap()
            .contains("missing path parameter `petId`")
    );
    let bad = call(
        get,
        Request::builder("GET", "/pets/x")
            .param("petId", "x")
            .build(),
    );
    assert!(
        bad.body_text()
            .unwrap()
            .contains("`petId` has an invalid value `x`")
    );
    let good = call(
        get,
        Request::builder("GET", "/pets/9")
            .param("petId", "9")
            .build(),
    );
    assert_eq!(good.body_json::<Value>().unwrap(), json!({"id": 9}));
}

#[test]
fn text_rejects_non_utf8_bodies() {
    let upper = |req: Request| req.text().map(str::to_uppercase);
    let resp = call(
        upper,
        Request::builder("POST", "/").body(vec![0xff, 0xfe]).build(),
    );
    assert_eq!(resp.status(), 400);
    let resp = call(upper, Request::builder("POST", "/").body("abc").build());
    assert_eq!((resp.status(), resp.body_text().unwrap()), (200, "ABC"));
}

#[test]
fn into_response_sets_status_and_content_type() {
    let cases: Vec<(Response, u16, Option<&str>, &[u8])> = vec![
        (
            "hi".into_response(),
            200,
            Some("text/plain; charset=utf-8"),
            b"hi",
        ),
        (
            String::from("s").into_response(),
            200,
            Some("text/plain; charset=utf-8"),
            b"s",
        ),
        (
            json!([1]).into_response(),
            200,
            Some("application/json"),
            b"[1]",
        ),
        (
            vec![0u8, 1].into_response(),
            200,
            Some("application/octet-stream"),
            &[0, 1],
        ),
        (
            Error::not_found("no pet").into_response(),
            404,
            Some("application/json"),
            br#"{"error":"no pet"}"#,
        ),
        (
            Ok::<_, Error>("ok").into_response(),
            200,
            Some("text/plain; charset=utf-8"),
            b"ok",
        ),
        (
            Err::<Response, _>("plain err").into_response(),
            200,
            Some("text/plain; charset=utf-8"),
            b"plain err",
        ),
        (Response::no_content(), 204, None, b""),
    ];
    for (resp, status, content_type, body) in cases {
        let resp = call(|_: Request| resp, Request::builder("GET", "/").build());
        assert_eq!(resp.status(), status);
        assert_eq!(resp.header_value("content-type"), content_type);
        assert_eq!(resp.body_bytes(), body);
    }
}

#[test]
fn headers_repeat_and_set_header_replaces() {
    let resp = Response::text("x")
        .header("x-a", "1")
        .header("x-a", "2")
        .set_header("Content-Type", "text/csv");
    let resp = call(|_: Request| resp, Request::builder("GET", "/").build());
    assert_eq!(
        resp.headers(),
        [
            ("x-a".into(), "1".into()),
            ("x-a".into(), "2".into()),
            ("Content-Type".into(), "text/csv".into())
        ]
    );
}

#[test]
fn unserializable_json_is_a_500() {
    let map = std::collections::HashMap::from([((1, 2), "tuple keys are not JSON")]);
    let resp = call(
        |_: Request| Response::json(&map),
        Request::builder("GET", "/").build(),
    );
    assert_eq!(resp.status(), 500);
}

#[test]
fn a_status_the_host_rejects_fails_the_round_trip() {
    let err = try_call(
        |_: Request| Response::new(700),
        Request::builder("GET", "/").build(),
    )
    .unwrap_err();
    assert!(matches!(err, crate::abi::AbiError::StatusOutOfRange(700)));
}

#[test]
fn an_undecodable_input_is_answered_500_not_trapped() {
    let output = crate::__private::respond(
        crate::abi::decode_input(&[1, 0]).map(|_| unreachable!()),
        echo_meta,
    );
    let (meta, body) = crate::abi::decode_output(&output).unwrap();
    assert_eq!(meta.status, 500);
    assert!(String::from_utf8_lossy(body).contains("cannot read its input"));
}

#[test]
fn the_fallback_output_decodes_as_a_500() {
    let (meta, body) = crate::abi::decode_output(crate::__private::FALLBACK_OUTPUT).unwrap();
    assert_eq!((meta.status, meta.headers.len(), body.len()), (500, 0, 0));
}
