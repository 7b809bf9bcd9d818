use serde_json::json;

use super::{spec, spec_error};

const OPENAPI: &str = r##"
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /nodes/{id}:
    parameters: [{$ref: "#/components/parameters/Id"}]
    put:
      operationId: putNode
      parameters: [{$ref: "#/components/parameters/Limit"}]
      requestBody: {$ref: "#/components/requestBodies/NodeBody"}
      responses: {"204": {description: stored}}
components:
  parameters:
    Id: {name: id, in: path, required: true, schema: {$ref: "#/components/schemas/Id"}}
    Limit: {$ref: "#/components/parameters/RealLimit"}
    RealLimit: {name: limit, in: query, schema: {type: integer}}
  requestBodies:
    NodeBody:
      required: true
      content: {application/json: {schema: {$ref: "#/components/schemas/Node"}}}
  schemas:
    Id: {type: string, pattern: "^n[0-9]+$"}
    Node:
      type: object
      properties:
        id: {$ref: "#/components/schemas/Id"}
        children: {type: array, items: {$ref: "#/components/schemas/Node"}}
        meta: {$ref: "#/components/schemas/Meta"}
      example: {$ref: "not a reference, just data"}
    Meta:
      allOf: [{$ref: "#/components/schemas/Id"}, {maxLength: 9}]
"##;

#[test]
fn component_parameters_and_bodies_are_followed_through_chains() {
    let spec = spec("openapi.yaml", OPENAPI);
    let op = &spec.operations[0];
    let names: Vec<&str> = op.parameters.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["id", "limit"]);
    assert_eq!(
        op.parameters[0].schema,
        json!({"type": "string", "pattern": "^n[0-9]+$"})
    );
    assert!(op.body.as_ref().unwrap().required);
}

#[test]
fn recursive_schema_is_expanded_once_and_the_cycle_kept_as_ref() {
    let spec = spec("openapi.yaml", OPENAPI);
    let schema = spec.operations[0]
        .body
        .as_ref()
        .unwrap()
        .schema
        .clone()
        .unwrap();
    assert_eq!(schema["properties"]["id"]["pattern"], "^n[0-9]+$");
    assert_eq!(
        schema["properties"]["children"]["items"],
        json!({"$ref": "#/components/schemas/Node"})
    );
    assert_eq!(schema["properties"]["meta"]["allOf"][0]["type"], "string");
    assert_eq!(
        schema["example"],
        json!({"$ref": "not a reference, just data"}),
        "data is not resolved"
    );
}

#[test]
fn swagger_definitions_and_parameters() {
    let text = r##"
swagger: "2.0"
paths:
  /a/{b}:
    get:
      operationId: getA
      parameters:
        - $ref: "#/parameters/B"
        - {name: body, in: body, schema: {$ref: "#/definitions/List"}}
parameters:
  B: {name: b, in: path, required: true, type: string}
definitions:
  List: {type: array, items: {$ref: "#/definitions/Item"}}
  Item: {type: object, additionalProperties: {$ref: "#/definitions/Item"}}
  Odd~Name/x: {type: integer}
"##;
    let spec = spec("swagger.yaml", text);
    let op = &spec.operations[0];
    assert_eq!(op.parameters[0].name, "b");
    let schema = op.body.as_ref().unwrap().schema.clone().unwrap();
    assert_eq!(schema["items"]["type"], "object");
    assert_eq!(
        schema["items"]["additionalProperties"],
        json!({"$ref": "#/definitions/Item"})
    );
}

#[test]
fn escaped_pointers_and_openapi_31_siblings() {
    let text = r##"
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /a:
    post:
      operationId: a
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                odd: {$ref: "#/$defs/Odd~0Name~1x"}
                short: {$ref: "#/$defs/Name", maxLength: 3, description: brief}
                named: {$ref: "#/$defs/Name", description: only an annotation}
                pct: {$ref: "#/$defs/With%20Space"}
                utf8: {$ref: "#/$defs/Caf%C3%A9%7Bx%7d"}
$defs:
  Odd~Name/x: {type: integer}
  Name: {type: string}
  With Space: {type: boolean}
  "Café{x}": {type: number}
"##;
    let spec = spec("openapi.yaml", text);
    let props = spec.operations[0]
        .body
        .as_ref()
        .unwrap()
        .schema
        .clone()
        .unwrap()["properties"]
        .clone();
    assert_eq!(props["odd"], json!({"type": "integer"}));
    assert_eq!(
        props["short"],
        json!({"allOf": [{"type": "string"}], "maxLength": 3, "description": "brief"})
    );
    assert_eq!(props["named"], json!({"type": "string"}));
    assert_eq!(props["pct"], json!({"type": "boolean"}));
    assert_eq!(props["utf8"], json!({"type": "number"}));
}

#[test]
fn a_reference_into_another_file_is_a_load_error_naming_its_line() {
    let text = "openapi: 3.0.3\npaths:\n  /a:\n    get:\n      operationId: a\n      \
                parameters:\n        - name: q\n          in: query\n          \
                schema: {$ref: \"common.yaml#/Q\"}\n";
    let error = spec_error("openapi.yaml", text);
    assert!(
        error.contains("line 9: /paths/~1a/get/parameters/0/schema/$ref: `$ref: common.yaml#/Q` points into another file"),
        "{error}"
    );
}

#[test]
fn dangling_and_cyclic_component_refs_are_errors() {
    let dangling = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      operationId: a\n      responses: {}\n      parameters: [{$ref: '#/components/parameters/Nope'}]\n";
    let error = spec_error("openapi.yaml", dangling);
    assert!(
        error.contains("openapi.yaml") && error.contains("#/components/parameters/Nope"),
        "{error}"
    );
    assert!(error.contains("GET /a"), "{error}");

    let cycle = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      operationId: a\n      responses: {}\n      parameters: [{$ref: '#/components/parameters/P'}]\ncomponents:\n  parameters:\n    P: {$ref: '#/components/parameters/Q'}\n    Q: {$ref: '#/components/parameters/P'}\n";
    let error = spec_error("openapi.yaml", cycle);
    assert!(
        error.contains("openapi.yaml") && error.contains("cycle"),
        "{error}"
    );

    let missing_schema = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      operationId: a\n      responses: {}\n      parameters: [{name: q, in: query, schema: {$ref: '#/components/schemas/Gone'}}]\n";
    let error = spec_error("openapi.yaml", missing_schema);
    assert!(
        error.contains("parameter `q`") && error.contains("points to nothing"),
        "{error}"
    );
}

#[test]
fn fan_out_is_bounded() {
    // Each level refers to the next twice: 2^40 expansions if unbounded.
    let mut defs = String::new();
    for level in 0..40 {
        let next = level + 1;
        defs.push_str(&format!("    L{level}: {{properties: {{a: {{$ref: '#/components/schemas/L{next}'}}, b: {{$ref: '#/components/schemas/L{next}'}}}}}}\n"));
    }
    defs.push_str("    L40: {type: string}\n");
    let text = format!(
        "openapi: 3.0.0\ninfo: {{title: t, version: '1'}}\npaths:\n  /a:\n    post:\n      operationId: a\n      responses: {{}}\n      requestBody: {{content: {{application/json: {{schema: {{$ref: '#/components/schemas/L0'}}}}}}}}\ncomponents:\n  schemas:\n{defs}"
    );
    let started = std::time::Instant::now();
    let spec = spec("openapi.yaml", &text);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let schema = spec.operations[0]
        .body
        .as_ref()
        .unwrap()
        .schema
        .clone()
        .unwrap();
    assert!(
        schema["properties"]["a"]["properties"].is_object(),
        "the first levels are resolved"
    );
}
