//! Request-side keywords: `nullable` (OpenAPI 3.0), `x-nullable`
//! (Swagger 2.0) and `readOnly`.

use std::path::Path;

use funcmesh_core::bundle::parse_spec;
use serde_json::{Value, json};

use super::super::schema::Schema;
use super::super::*;
use super::request::{Req, b, problems};

type Problems = Vec<(String, String)>;

fn schema_problems(schema: Value, value: Value) -> Problems {
    Schema::compile(&schema).problems(&value)
}

fn one(path: &str, problem: &str) -> Problems {
    vec![(path.to_owned(), problem.to_owned())]
}

#[test]
fn nullable_and_x_nullable_admit_null() {
    let ok = Vec::new;
    let cases: Vec<(Value, Value, Problems)> = vec![
        (
            json!({"type": "string", "x-nullable": true}),
            json!(null),
            ok(),
        ),
        (
            json!({"type": "string", "nullable": true}),
            json!(null),
            ok(),
        ),
        (
            json!({"type": "string", "x-nullable": false}),
            json!(null),
            one("", "must be a string"),
        ),
        (
            json!({"type": "integer", "x-nullable": true}),
            json!("x"),
            one("", "must be an integer or null"),
        ),
        (
            json!({"nullable": true, "allOf": [{"type": "object", "required": ["id"]}]}),
            json!(null),
            ok(),
        ),
        (
            json!({"type": "string", "nullable": true, "enum": ["a"]}),
            json!(null),
            ok(),
        ),
        (
            json!({"type": "string", "nullable": true, "enum": ["a"]}),
            json!("b"),
            one("", r#"must be one of ["a"]"#),
        ),
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
fn read_only_properties_are_neither_required_nor_accepted() {
    let schema = json!({
        "type": "object",
        "required": ["id", "name"],
        "properties": {
            "id": {"type": "integer", "readOnly": true},
            "name": {"type": "string"},
            "owner": {"allOf": [{"properties": {"since": {"type": "string", "readOnly": true}}}]}
        }
    });
    assert_eq!(
        schema_problems(schema.clone(), json!({"name": "Rex"})),
        vec![]
    );
    assert_eq!(
        schema_problems(schema.clone(), json!({"id": 7, "name": "Rex"})),
        one("/id", "is read-only")
    );
    assert_eq!(
        schema_problems(schema, json!({"name": "Rex", "owner": {"since": "now"}})),
        one("/owner/since", "is read-only")
    );
}

const SWAGGER: &str = r#"
swagger: "2.0"
info: {title: t, version: "1"}
paths:
  /pets:
    post:
      operationId: createPet
      consumes: [application/json]
      parameters:
        - {name: pet, in: body, required: true, schema: {$ref: '#/definitions/Pet'}}
definitions:
  Pet:
    type: object
    required: [id, name, tag]
    properties:
      id: {type: integer, readOnly: true}
      name: {type: string}
      tag: {type: string, x-nullable: true}
"#;

#[test]
fn a_swagger_body_honours_x_nullable_and_read_only() {
    let spec = parse_spec(Path::new("swagger.yaml"), SWAGGER).unwrap();
    let v = Validator::new(&spec.operations[0]);
    let json = [("content-type", "application/json")];
    let req = |body: &str| Req::new(&[], "", &json, body);
    assert_eq!(
        problems(&v, &req(r#"{"name": "Rex", "tag": null}"#)),
        vec![]
    );
    assert_eq!(
        problems(&v, &req(r#"{"id": 1, "name": null, "tag": null}"#)),
        vec![b("/id", "is read-only"), b("/name", "must be a string")]
    );
}
