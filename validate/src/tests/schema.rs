//! The JSON Schema subset, keyword by keyword.

use serde_json::{Value, json};

use super::super::schema::{MAX_PROBLEMS, Schema};

type Problems = Vec<(String, String)>;

fn schema_problems(schema: Value, value: Value) -> Vec<(String, String)> {
    Schema::compile(&schema).problems(&value)
}

fn one(path: &str, problem: &str) -> Vec<(String, String)> {
    vec![(path.to_owned(), problem.to_owned())]
}

#[test]
fn schema_keywords() {
    let ok = Vec::new;
    let cases: Vec<(Value, Value, Problems)> = vec![
        (json!({"type": "string"}), json!("x"), ok()),
        (
            json!({"type": "string"}),
            json!(1),
            one("", "must be a string"),
        ),
        (json!({"type": "integer"}), json!(2.0), ok()),
        (
            json!({"type": "integer"}),
            json!(2.5),
            one("", "must be an integer"),
        ),
        (
            json!({"type": "string", "nullable": true}),
            json!(null),
            ok(),
        ),
        (
            json!({"type": "string"}),
            json!(null),
            one("", "must be a string"),
        ),
        (json!({"type": ["string", "null"]}), json!(null), ok()),
        (
            json!({"type": ["string", "integer"]}),
            json!(true),
            one("", "must be a string or an integer"),
        ),
        (
            json!({"enum": ["a", "b"]}),
            json!("c"),
            one("", r#"must be one of ["a", "b"]"#),
        ),
        (json!({"enum": [1, 2]}), json!(2.0), ok()),
        (json!({"const": 3}), json!(4), one("", "must be 3")),
        (json!({"minimum": 1}), json!(0), one("", "must be >= 1")),
        (json!({"minimum": 1}), json!(1), ok()),
        (
            json!({"minimum": 1, "exclusiveMinimum": true}),
            json!(1),
            one("", "must be > 1"),
        ),
        (
            json!({"exclusiveMinimum": 1}),
            json!(1),
            one("", "must be > 1"),
        ),
        (
            json!({"maximum": 100}),
            json!(101),
            one("", "must be <= 100"),
        ),
        (
            json!({"maximum": 100, "exclusiveMaximum": true}),
            json!(100),
            one("", "must be < 100"),
        ),
        (
            json!({"exclusiveMaximum": 1.5}),
            json!(1.5),
            one("", "must be < 1.5"),
        ),
        (json!({"multipleOf": 0.5}), json!(1.5), ok()),
        (
            json!({"multipleOf": 3}),
            json!(7),
            one("", "must be a multiple of 3"),
        ),
        (
            json!({"type": "integer", "format": "int32"}),
            json!(2147483648_i64),
            one("", "must fit in a 32-bit signed integer (int32)"),
        ),
        (
            json!({"type": "integer", "format": "int32"}),
            json!(-2147483648_i64),
            ok(),
        ),
        (
            json!({"type": "integer", "format": "int64"}),
            json!(u64::MAX),
            one("", "must fit in a 64-bit signed integer (int64)"),
        ),
        (
            json!({"minLength": 2}),
            json!("é"),
            one("", "must be at least 2 characters long"),
        ),
        (json!({"maxLength": 2}), json!("éé"), ok()),
        (
            json!({"maxLength": 2}),
            json!("abc"),
            one("", "must be at most 2 characters long"),
        ),
        (json!({"pattern": "^[a-z]+$"}), json!("abc"), ok()),
        (
            json!({"pattern": "^[a-z]+$"}),
            json!("ab1"),
            one("", "must match the pattern ^[a-z]+$"),
        ),
        (json!({"pattern": "b"}), json!("abc"), ok()),
        (json!({"pattern": "(unclosed"}), json!("anything"), ok()),
        // Unicode classes, as ECMA-262 patterns write them.
        (json!({"pattern": "^\\p{Lu}"}), json!("Été"), ok()),
        (
            json!({"pattern": "^\\p{Lu}"}),
            json!("été"),
            one("", "must match the pattern ^\\p{Lu}"),
        ),
        (
            json!({"minItems": 1}),
            json!([]),
            one("", "must have at least 1 items"),
        ),
        (
            json!({"maxItems": 1}),
            json!([1, 2]),
            one("", "must have at most 1 items"),
        ),
        (
            json!({"uniqueItems": true}),
            json!([1, 1.0]),
            one("", "must not contain duplicate items"),
        ),
        (
            json!({"items": {"type": "integer"}}),
            json!([1, "x", 3]),
            one("/1", "must be an integer"),
        ),
        (
            json!({"items": [{"type": "integer"}, {"type": "string"}]}),
            json!([1, 2]),
            one("/1", "must be a string"),
        ),
        (
            json!({"required": ["name"]}),
            json!({}),
            one("/name", "is required"),
        ),
        (
            json!({"required": ["id"], "properties": {"id": {"type": "integer", "readOnly": true}}}),
            json!({}),
            ok(),
        ),
        (
            json!({"properties": {"a": {"type": "integer"}}}),
            json!({"a": "x"}),
            one("/a", "must be an integer"),
        ),
        (
            json!({"properties": {"a/b": {"type": "integer"}}}),
            json!({"a/b": "x"}),
            one("/a~1b", "must be an integer"),
        ),
        (
            json!({"additionalProperties": false, "properties": {"a": {}}}),
            json!({"a": 1, "b": 2}),
            one("/b", "is not allowed"),
        ),
        (
            json!({"additionalProperties": {"type": "string"}}),
            json!({"b": 2}),
            one("/b", "must be a string"),
        ),
        (
            json!({"minProperties": 1}),
            json!({}),
            one("", "must have at least 1 properties"),
        ),
        (
            json!({"allOf": [{"minimum": 1}, {"maximum": 3}]}),
            json!(5),
            one("", "must be <= 3"),
        ),
        (
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
            json!(1),
            ok(),
        ),
        (
            json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}),
            json!(true),
            one("", "must match at least one schema in anyOf"),
        ),
        (
            json!({"oneOf": [{"type": "integer"}, {"minimum": 0}]}),
            json!(-1),
            ok(),
        ),
        (
            json!({"oneOf": [{"type": "integer"}, {"minimum": 0}]}),
            json!(1),
            one("", "must match exactly one schema in oneOf (matches 2)"),
        ),
        (
            json!({"oneOf": [{"type": "string"}]}),
            json!(1),
            one("", "must match exactly one schema in oneOf (matches none)"),
        ),
        (
            json!({"not": {"type": "string"}}),
            json!("x"),
            one("", "must not match the schema in not"),
        ),
        (
            json!({"$ref": "#/components/schemas/Missing"}),
            json!(42),
            ok(),
        ),
        (
            json!({"properties": {"pet": {"$ref": "#/nowhere"}}}),
            json!({"pet": 1}),
            ok(),
        ),
        (json!(true), json!(1), ok()),
        (json!(false), json!(1), one("", "is not allowed")),
        (json!({}), json!({"anything": [1]}), ok()),
    ];
    for (schema, value, want) in cases {
        assert_eq!(
            schema_problems(schema.clone(), value.clone()),
            want,
            "{value} against {schema}"
        );
    }
}

#[test]
fn nested_problems_are_all_reported_with_pointers() {
    let schema = json!({
        "type": "object",
        "required": ["name", "tags"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "age": {"type": "integer", "minimum": 0},
            "tags": {"type": "array", "items": {"type": "object", "required": ["id"]}}
        }
    });
    let got = schema_problems(schema, json!({"age": -1, "tags": [{"id": 1}, {}]}));
    let want = vec![
        ("/name".to_owned(), "is required".to_owned()),
        ("/age".to_owned(), "must be >= 0".to_owned()),
        ("/tags/1/id".to_owned(), "is required".to_owned()),
    ];
    assert_eq!(got, want);
}

#[test]
fn problems_are_capped() {
    let schema = json!({"items": {"type": "string"}});
    let value = Value::Array((0..100).map(Value::from).collect());
    assert_eq!(schema_problems(schema, value).len(), MAX_PROBLEMS);
}
