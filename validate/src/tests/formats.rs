//! String formats: `date-time`, `date`, `uuid`, `email`, `uri` are
//! checked in bodies and parameters; other formats are annotations.

use funcmesh_core::bundle::ParamLocation::{Path, Query};
use serde_json::{Value, json};

use super::super::schema::Schema;
use super::super::*;
use super::request::{Req, b, p, problems};
use crate::testing::{body, op, param};

fn passes(format: &str, value: &str) -> bool {
    let schema = json!({"type": "string", "format": format});
    Schema::compile(&schema).problems(&json!(value)).is_empty()
}

#[test]
fn each_format_accepts_and_refuses() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "date-time",
            &[
                "2024-05-01T12:00:00Z",
                "2024-05-01t12:00:00.123456z",
                "2024-02-29T23:59:59+01:30",
                "1990-12-31T23:59:60Z",
                "1990-12-31T15:59:60-08:00",
            ],
            &[
                "2024-05-01",
                "2024-05-01T12:00:00",
                "2024-05-01 12:00:00Z",
                "2024-05-01T24:00:00Z",
                "2024-05-01T12:60:00Z",
                "2024-05-01T12:00:00.Z",
                "2024-05-01T12:00:00+0100",
                "2023-02-29T12:00:00Z",
                "2024-05-01T12:00:60Z",
                "2024-05-01T12:00:00Z ",
                "２０２４-05-01T12:00:00Z",
            ],
        ),
        (
            "date",
            &["2024-05-01", "2000-02-29", "0001-01-01"],
            &[
                "2024-5-1",
                "2024-13-01",
                "2024-04-31",
                "1900-02-29",
                "2024-05-01T00:00:00Z",
                "20240501",
            ],
        ),
        (
            "uuid",
            &[
                "123e4567-e89b-12d3-a456-426614174000",
                "00000000-0000-0000-0000-000000000000",
                "ABCDEF00-1234-5678-9ABC-DEF012345678",
            ],
            &[
                "123e4567e89b12d3a456426614174000",
                "123e4567-e89b-12d3-a456-42661417400g",
                "{123e4567-e89b-12d3-a456-426614174000}",
                "123e4567-e89b-12d3-a456-4266141740000",
            ],
        ),
        (
            "email",
            &[
                "a@example.com",
                "first.last+tag@sub.example.co",
                "user@localhost",
                "jos\u{e9}@b\u{fc}cher.de",
            ],
            &[
                "plain",
                "a@b@c.com",
                "@example.com",
                "a@",
                "a b@example.com",
                ".a@example.com",
                "a..b@example.com",
                "a@-example.com",
                "a@example..com",
                "\"quoted\"@example.com",
                "a@[192.0.2.1]",
            ],
        ),
        (
            "uri",
            &[
                "https://example.com/a?b=c#d",
                "urn:isbn:0451450523",
                "mailto:a@example.com",
                "http://[::1]:8080/x%20y",
                "tag:example.com,2024:x",
            ],
            &[
                "/relative/path",
                "example.com",
                "1http://x",
                "http://exa mple.com",
                "http://example.com/%zz",
                "http://example.com/#a#b",
                "http://example.com/\u{e9}",
                ":nothing",
            ],
        ),
    ];
    for (format, good, bad) in cases {
        for value in *good {
            assert!(passes(format, value), "{value:?} should be a {format}");
        }
        for value in *bad {
            assert!(!passes(format, value), "{value:?} should not be a {format}");
        }
    }
}

#[test]
fn unknown_formats_and_non_strings_are_not_checked() {
    for format in ["binary", "byte", "password", "hostname", "made-up"] {
        assert!(passes(format, "not checked at all"), "{format}");
    }
    let schema = Schema::compile(&json!({"format": "date"}));
    assert_eq!(schema.problems(&json!(20240501)), Vec::new());
}

#[test]
fn formats_are_checked_in_bodies_and_parameters() {
    let mut op = op("getEvent", "POST", "/events/{id}");
    op.parameters = vec![
        param(
            "id",
            Path,
            true,
            json!({"type": "string", "format": "uuid"}),
        ),
        param(
            "since",
            Query,
            false,
            json!({"type": "string", "format": "date-time"}),
        ),
    ];
    let schema: Value = json!({
        "type": "object",
        "properties": {
            "contact": {"type": "string", "format": "email"},
            "links": {"type": "array", "items": {"type": "string", "format": "uri"}}
        }
    });
    op.body = Some(body(false, &["application/json"], Some(schema)));
    let v = Validator::new(&op);
    let json = [("content-type", "application/json")];
    let id = "123e4567-e89b-12d3-a456-426614174000";
    let good = Req::new(
        &[("id", id)],
        "since=2024-05-01T12:00:00%2B02:00",
        &json,
        r#"{"contact": "a@example.com", "links": ["https://example.com"]}"#,
    );
    assert_eq!(problems(&v, &good), vec![]);
    let bad = Req::new(
        &[("id", "42")],
        "since=yesterday",
        &json,
        r#"{"contact": "nobody", "links": ["https://example.com", "/relative"]}"#,
    );
    assert_eq!(
        problems(&v, &bad),
        vec![
            p("path", "id", "must be a UUID (8-4-4-4-12 hex digits)"),
            p(
                "query",
                "since",
                "must be an RFC 3339 date-time (2024-05-01T12:00:00Z)"
            ),
            b("/contact", "must be an email address"),
            b("/links/1", "must be an absolute URI with a scheme"),
        ]
    );
}
