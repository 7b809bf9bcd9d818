//! Whole requests: parameters from every location, bodies, rejections.

use std::collections::BTreeMap;

use funcmesh_core::bundle::ParamLocation::{Cookie, Header, Path, Query};
use serde_json::{Value, json};

use super::super::*;
use crate::testing::{body, op, param};

fn list_pets() -> Validator {
    let mut op = op("listPets", "GET", "/pets/{petId}");
    op.parameters = vec![
        param(
            "petId",
            Path,
            true,
            json!({"type": "integer", "format": "int32", "minimum": 1}),
        ),
        param(
            "limit",
            Query,
            false,
            json!({"type": "integer", "maximum": 100}),
        ),
        param(
            "tags",
            Query,
            false,
            json!({"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}),
        ),
        param(
            "sort",
            Query,
            true,
            json!({"type": "string", "enum": ["asc", "desc"]}),
        ),
        param(
            "X-Trace",
            Header,
            false,
            json!({"type": "string", "pattern": "^[0-9a-f]+$"}),
        ),
        param(
            "session",
            Cookie,
            false,
            json!({"type": "string", "minLength": 4}),
        ),
    ];
    Validator::new(&op)
}

pub(super) struct Req {
    path: BTreeMap<String, String>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Req {
    pub(super) fn new(
        path: &[(&str, &str)],
        query: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Req {
        let own = |kv: &[(&str, &str)]| {
            kv.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>()
        };
        Req {
            path: own(path).into_iter().collect(),
            query: crate::http::parse_query(query),
            headers: own(headers),
            body: body.as_bytes().to_vec(),
        }
    }

    pub(super) fn parts(&self) -> RequestParts<'_> {
        RequestParts {
            path_params: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
        }
    }
}

pub(super) type Found = (String, Option<String>, Option<String>, String);

pub(super) fn problems(v: &Validator, req: &Req) -> Vec<Found> {
    match v.check(&req.parts()) {
        Ok(()) => Vec::new(),
        Err(Rejection::Invalid(ps)) => ps
            .into_iter()
            .map(|p| (p.location.to_owned(), p.name, p.path, p.problem))
            .collect(),
        Err(other) => panic!("unexpected {other:?}"),
    }
}

pub(super) fn p(location: &str, name: &str, problem: &str) -> Found {
    (
        location.to_owned(),
        Some(name.to_owned()),
        None,
        problem.to_owned(),
    )
}

#[test]
fn parameters() {
    let v = list_pets();
    let cases = vec![
        (Req::new(&[("petId", "7")], "sort=asc", &[], ""), vec![]),
        (
            Req::new(
                &[("petId", "7")],
                "sort=asc&limit=100&tags=a,b",
                &[("x-trace", "ab12")],
                "",
            ),
            vec![],
        ),
        (
            Req::new(
                &[("petId", "7")],
                "sort=asc&tags=a&tags=b",
                &[("cookie", "session=abcd")],
                "",
            ),
            vec![],
        ),
        (
            Req::new(&[("petId", "7")], "", &[], ""),
            vec![p("query", "sort", "is required")],
        ),
        (
            Req::new(&[("petId", "0")], "sort=asc", &[], ""),
            vec![p("path", "petId", "must be >= 1")],
        ),
        (
            Req::new(&[("petId", "4294967296")], "sort=asc", &[], ""),
            vec![p(
                "path",
                "petId",
                "must fit in a 32-bit signed integer (int32)",
            )],
        ),
        (
            Req::new(&[("petId", "x")], "sort=asc", &[], ""),
            vec![p("path", "petId", "must be an integer")],
        ),
        (
            Req::new(&[("petId", "7")], "sort=up&limit=101", &[], ""),
            vec![
                p("query", "limit", "must be <= 100"),
                p("query", "sort", r#"must be one of ["asc", "desc"]"#),
            ],
        ),
        (
            Req::new(&[("petId", "7")], "sort=asc&tags=a,c", &[], ""),
            vec![(
                "query".to_owned(),
                Some("tags".to_owned()),
                Some("/1".to_owned()),
                r#"must be one of ["a", "b"]"#.to_owned(),
            )],
        ),
        (
            Req::new(&[("petId", "7")], "sort=asc", &[("X-Trace", "XYZ")], ""),
            vec![p("header", "X-Trace", "must match the pattern ^[0-9a-f]+$")],
        ),
        (
            Req::new(
                &[("petId", "7")],
                "sort=asc",
                &[("cookie", "a=1; session=ab")],
                "",
            ),
            vec![p("cookie", "session", "must be at least 4 characters long")],
        ),
        // A scalar given twice: the checked value and the one a function
        // reads could differ (parameter pollution), so neither is taken.
        (
            Req::new(&[("petId", "7")], "sort=asc&limit=5&limit=500", &[], ""),
            vec![p("query", "limit", "is given 2 times; it takes one value")],
        ),
        (
            Req::new(
                &[("petId", "7")],
                "sort=asc",
                &[("x-trace", "ab"), ("X-Trace", "cd")],
                "",
            ),
            vec![p(
                "header",
                "X-Trace",
                "is given 2 times; it takes one value",
            )],
        ),
    ];
    for (req, want) in cases {
        assert_eq!(problems(&v, &req), want, "query {:?}", req.query);
    }
}

fn create_pet(required: bool) -> Validator {
    let mut op = op("createPet", "POST", "/pets");
    let schema = json!({
        "type": "object",
        "required": ["name"],
        "additionalProperties": false,
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}}
    });
    op.body = Some(body(required, &["application/json"], Some(schema)));
    Validator::new(&op)
}

pub(super) fn b(path: &str, problem: &str) -> Found {
    (
        "body".to_owned(),
        None,
        Some(path.to_owned()),
        problem.to_owned(),
    )
}

#[test]
fn bodies() {
    let v = create_pet(true);
    let json = [("content-type", "application/json; charset=utf-8")];
    let cases = vec![
        (Req::new(&[], "", &json, r#"{"name":"Rex"}"#), vec![]),
        (Req::new(&[], "", &json, ""), vec![b("", "is required")]),
        (
            Req::new(&[], "", &json, "{}"),
            vec![b("/name", "is required")],
        ),
        (
            Req::new(&[], "", &json, r#"{"name":1,"age":-1,"x":0}"#),
            vec![
                b("/age", "must be >= 0"),
                b("/name", "must be a string"),
                b("/x", "is not allowed"),
            ],
        ),
        (
            Req::new(&[], "", &json, "{\n  \"name\": }"),
            vec![b(
                "",
                "is not valid JSON: expected value at line 2 column 11",
            )],
        ),
    ];
    for (req, want) in cases {
        assert_eq!(
            problems(&v, &req),
            want,
            "{}",
            String::from_utf8_lossy(&req.body)
        );
    }
    let optional = create_pet(false);
    assert_eq!(problems(&optional, &Req::new(&[], "", &[], "")), vec![]);
}

#[test]
fn body_media_type_must_be_declared() {
    let v = create_pet(true);
    let text = Req::new(&[], "", &[("content-type", "text/plain")], "hi");
    let want = Rejection::UnsupportedMediaType {
        found: Some("text/plain".into()),
        expected: vec!["application/json".into()],
    };
    assert_eq!(v.check(&text.parts()), Err(want));
    let none = Req::new(&[], "", &[], "{}");
    assert!(matches!(
        v.check(&none.parts()),
        Err(Rejection::UnsupportedMediaType { found: None, .. })
    ));
}

#[test]
fn non_json_bodies_pass_as_bytes() {
    let mut op = op("upload", "PUT", "/blob");
    op.body = Some(body(true, &["application/octet-stream", "image/*"], None));
    let v = Validator::new(&op);
    let png = Req::new(&[], "", &[("content-type", "image/png")], "\u{89}PNG");
    assert_eq!(v.check(&png.parts()), Ok(()));
}

#[test]
fn rejections_become_json_answers() {
    let invalid = Rejection::Invalid(vec![Problem {
        location: "query",
        name: Some("limit".into()),
        path: None,
        problem: "must be <= 100".into(),
    }]);
    let resp = invalid.to_response("req-1");
    assert_eq!(resp.status, 400);
    let body: Value = serde_json::from_slice(resp.body.as_bytes()).unwrap();
    assert_eq!(
        body,
        json!({"error": "invalid request", "request_id": "req-1",
               "details": [{"in": "query", "name": "limit", "problem": "must be <= 100"}]})
    );
    let unsupported = Rejection::UnsupportedMediaType {
        found: None,
        expected: vec!["application/json".into()],
    };
    let resp = unsupported.to_response("req-2");
    assert_eq!(resp.status, 415);
    let body: Value = serde_json::from_slice(resp.body.as_bytes()).unwrap();
    assert_eq!(
        body["error"],
        "no content-type is not accepted; expected one of: application/json"
    );
}
