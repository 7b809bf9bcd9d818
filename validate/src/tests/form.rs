//! Form bodies: urlencoded and multipart, from OpenAPI 3 `requestBody`
//! and from Swagger 2.0 `in: formData` parameters.

use std::path::Path;

use funcmesh_core::bundle::parse_spec;

use super::super::*;
use super::request::{Found, Req, b, problems};
use crate::testing::{body, op};

const URLENCODED: &str = "application/x-www-form-urlencoded";

fn validator(file: &str, text: &str) -> Validator {
    let spec = parse_spec(Path::new(file), text).unwrap();
    Validator::new(&spec.operations[0])
}

const OPENAPI: &str = r#"
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /pets:
    post:
      operationId: createPet
      responses: {'201': {description: created}}
      requestBody:
        required: true
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              required: [name]
              additionalProperties: false
              properties:
                name: {type: string, minLength: 1}
                age: {type: integer, minimum: 0}
                tags: {type: array, items: {type: string, enum: [a, b]}}
                vaccinated: {type: boolean}
                born: {type: string, format: date}
          multipart/form-data:
            schema: {$ref: '#/components/schemas/Upload'}
components:
  schemas:
    Upload:
      type: object
      required: [name, photo]
      properties:
        name: {type: string}
        age: {type: integer}
        photo: {type: string, format: binary}
"#;

fn form(body: &str) -> Req {
    Req::new(&[], "", &[("content-type", URLENCODED)], body)
}

fn check(v: &Validator, cases: Vec<(Req, Vec<Found>)>) {
    for (req, want) in cases {
        assert_eq!(
            problems(v, &req),
            want,
            "{}",
            String::from_utf8_lossy(&req.body)
        );
    }
}

#[test]
fn urlencoded_fields_are_coerced_and_checked() {
    let v = validator("openapi.yaml", OPENAPI);
    check(
        &v,
        vec![
            (
                form("name=Rex&age=3&tags=a&tags=b&vaccinated=TRUE&born=2020-02-29"),
                vec![],
            ),
            (form("name=Rex+the+%F0%9F%90%95&tags=a,b"), vec![]),
            (
                form("age=x"),
                vec![b("/age", "must be an integer"), b("/name", "is required")],
            ),
            (
                form("name=&age=-1&tags=c&vaccinated=yes&extra=1"),
                vec![
                    b("/vaccinated", "must be true or false"),
                    b("/age", "must be >= 0"),
                    b("/extra", "is not allowed"),
                    b("/name", "must be at least 1 characters long"),
                    b("/tags/0", r#"must be one of ["a", "b"]"#),
                ],
            ),
            (
                form("name=Rex&born=2021-02-29"),
                vec![b("/born", "must be an RFC 3339 full-date (2024-05-01)")],
            ),
            (
                form("name=Rex&age=3&age=-4"),
                vec![b("/age", "is given 2 times; it takes one value")],
            ),
        ],
    );
}

#[test]
fn malformed_urlencoded_forms_are_refused() {
    let v = validator("openapi.yaml", OPENAPI);
    let bad = |detail: &str| vec![b("", &format!("is not a valid urlencoded form: {detail}"))];
    check(
        &v,
        vec![
            (
                form("name=Rex&age=%zz"),
                bad("`%` at byte 13 is not followed by two hex digits"),
            ),
            (
                form("name=Rex%2"),
                bad("`%` at byte 8 is not followed by two hex digits"),
            ),
            (
                form("name=%FF"),
                bad("the text at byte 5 is not UTF-8 once decoded"),
            ),
        ],
    );
}

/// A multipart body of `(headers, content)` parts.
fn multipart(boundary: &str, parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (headers, content) in parts {
        out.extend_from_slice(format!("--{boundary}\r\n{headers}\r\n\r\n").as_bytes());
        out.extend_from_slice(content);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

fn multipart_req(content_type: &str, body: Vec<u8>) -> Req {
    let mut req = Req::new(&[], "", &[("content-type", content_type)], "");
    req.body = body;
    req
}

const NAME: &str = r#"Content-Disposition: form-data; name="name""#;
const AGE: &str = r#"content-disposition: form-data; name="age""#;
const PHOTO: &str = "Content-Disposition: form-data; name=\"photo\"; filename=\"a;b.png\"\r\nContent-Type: image/png";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\xff\r\n--not-the-boundary";

#[test]
fn multipart_fields_are_coerced_and_checked() {
    let v = validator("openapi.yaml", OPENAPI);
    let ct = "multipart/form-data; boundary=\"XyZ 1\"";
    let valid = multipart("XyZ 1", &[(NAME, b"Rex"), (AGE, b"3"), (PHOTO, PNG)]);
    let mut with_preamble = b"ignored preamble\r\n".to_vec();
    with_preamble.extend_from_slice(&valid);
    with_preamble.extend_from_slice(b"ignored epilogue");
    check(
        &v,
        vec![
            (multipart_req(ct, valid), vec![]),
            (multipart_req(ct, with_preamble), vec![]),
            (
                multipart_req(ct, multipart("XyZ 1", &[(AGE, b"three"), (PHOTO, PNG)])),
                vec![b("/age", "must be an integer"), b("/name", "is required")],
            ),
        ],
    );
}

#[test]
fn malformed_multipart_forms_are_refused() {
    let v = validator("openapi.yaml", OPENAPI);
    let ct = "multipart/form-data; boundary=b0";
    let bad = |detail: &str| vec![b("", &format!("is not a valid multipart form: {detail}"))];
    let valid = multipart("b0", &[(NAME, b"Rex"), (PHOTO, PNG)]);
    let truncated = valid[..valid.len() - 8].to_vec();
    check(
        &v,
        vec![
            (
                multipart_req("multipart/form-data", valid.clone()),
                bad("its content-type has no boundary"),
            ),
            (
                multipart_req(ct, truncated),
                bad("part 2 is truncated: no boundary follows it (the closing one ends in `--`)"),
            ),
            (
                multipart_req(ct, b"name=Rex".to_vec()),
                bad("there is no opening boundary"),
            ),
            (
                multipart_req(
                    ct,
                    multipart("b0", &[("Content-Disposition: form-data", b"x")]),
                ),
                bad("part 1: its Content-Disposition has no `name`"),
            ),
            (
                multipart_req(ct, multipart("b0", &[("Content-Type: text/plain", b"x")])),
                bad("part 1: it has no Content-Disposition header"),
            ),
            (
                multipart_req(
                    ct,
                    b"--b0\r\nContent-Disposition: form-data; name=\"a\"\r\nx\r\n--b0--".to_vec(),
                ),
                bad("part 1 has no blank line after its headers"),
            ),
            (
                multipart_req(ct, multipart("b0", &[(&format!("{NAME}\r\nx"), b"Rex")])),
                bad("part 1: `x` is not a header line"),
            ),
            (
                multipart_req(ct, b"--b0 junk\r\n".to_vec()),
                bad("the boundary before part 1 is not followed by a line break"),
            ),
            (
                multipart_req("multipart/form-data; boundary=\"a\u{e9}\"", valid),
                bad(
                    "boundary `a\u{e9}` is not 1 to 70 letters, digits or '()+_,-./:=? (no trailing space)",
                ),
            ),
        ],
    );
}

const SWAGGER: &str = r#"
swagger: "2.0"
info: {title: t, version: "1"}
paths:
  /upload:
    post:
      operationId: upload
      consumes: [multipart/form-data, application/x-www-form-urlencoded]
      parameters:
        - {name: caption, in: formData, type: string, maxLength: 5}
        - {name: count, in: formData, type: integer, required: true}
        - {name: file, in: formData, type: file}
"#;

#[test]
fn swagger_form_data_parameters_are_checked() {
    let v = validator("swagger.yaml", SWAGGER);
    let ct = "multipart/form-data; boundary=zz";
    let count = r#"Content-Disposition: form-data; name="count""#;
    let file = r#"Content-Disposition: form-data; name="file"; filename="f.bin""#;
    check(
        &v,
        vec![
            (form("count=2&caption=hi"), vec![]),
            (form("count=two"), vec![b("/count", "must be an integer")]),
            (
                form("caption=toolong&count=1"),
                vec![b("/caption", "must be at most 5 characters long")],
            ),
            (
                multipart_req(ct, multipart("zz", &[(count, b"1"), (file, PNG)])),
                vec![],
            ),
            (
                multipart_req(ct, multipart("zz", &[(file, PNG)])),
                vec![b("/count", "is required")],
            ),
        ],
    );
}

#[test]
fn a_form_media_type_without_a_schema_still_passes_as_bytes() {
    let mut op = op("post", "POST", "/raw");
    op.body = Some(body(true, &[URLENCODED, "multipart/form-data"], None));
    let v = Validator::new(&op);
    assert_eq!(problems(&v, &form("%zz")), vec![]);
    let no_boundary = multipart_req("multipart/form-data", b"anything".to_vec());
    assert_eq!(problems(&v, &no_boundary), vec![]);
}
