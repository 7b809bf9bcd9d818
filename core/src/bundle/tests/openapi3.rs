use serde_json::json;

use super::spec;
use crate::bundle::ParamLocation;

fn with_servers(version: &str, servers: &str) -> String {
    format!(
        "openapi: {version}\ninfo: {{title: t, version: '1'}}\n{servers}\n\
         paths:\n  /hello:\n    get:\n      operationId: hello\n      responses: {{'200': {{description: ok}}}}\n"
    )
}

#[test]
fn server_url_gives_host_and_base_path() {
    let cases = [
        ("servers: [{url: /api/v1/}]", None, "/api/v1"),
        (
            "servers: [{url: 'https://API.example.com:8443/v2'}, {url: /ignored}]",
            Some("api.example.com"),
            "/v2",
        ),
        (
            "servers: [{url: 'http://example.com'}]",
            Some("example.com"),
            "",
        ),
        (
            "servers: [{url: '//user@cdn.example.com/assets'}]",
            Some("cdn.example.com"),
            "/assets",
        ),
        ("servers: [{url: /}]", None, ""),
        ("servers: []", None, ""),
        ("", None, ""),
    ];
    for version in ["3.0.3", "3.1.0"] {
        for (servers, host, base) in cases {
            let spec = spec("openapi.yaml", &with_servers(version, servers));
            assert_eq!(
                (spec.host.as_deref(), spec.base_path.as_str()),
                (host, base),
                "{version} {servers}"
            );
        }
    }
}

#[test]
fn server_variables_take_their_defaults() {
    let servers = r#"servers:
  - url: "{scheme}://{tenant}.example.com:{port}/{basePath}"
    variables:
      scheme: {default: https, enum: [http, https]}
      tenant: {default: acme}
      port: {default: "443"}
      basePath: {default: v3}"#;
    let spec = spec("openapi.yaml", &with_servers("3.1.0", servers));
    assert_eq!(spec.host.as_deref(), Some("acme.example.com"));
    assert_eq!(spec.base_path, "/v3");
}

const PETS: &str = r#"
openapi: 3.0.3
info: {title: Pets, version: "1"}
paths:
  /pets/{petId}:
    parameters:
      - {name: petId, in: path, required: true, schema: {type: integer, minimum: 1}}
    patch:
      operationId: updatePet
      parameters:
        - {name: session, in: cookie, schema: {type: string}}
        - name: filter
          in: query
          content:
            application/json:
              schema: {type: object}
      requestBody:
        required: true
        content:
          application/merge-patch+json:
            schema: {type: object, properties: {name: {type: string}}}
          text/plain: {}
      responses: {"200": {description: ok}}
    delete:
      operationId: deletePet
      responses: {"204": {description: gone}}
"#;

#[test]
fn parameters_take_their_schema_or_content_schema() {
    let spec = spec("openapi.yaml", PETS);
    let update = spec
        .operations
        .iter()
        .find(|o| o.id == "updatePet")
        .unwrap();
    assert_eq!(update.method, "PATCH");
    let params: Vec<(&str, ParamLocation, bool)> = update
        .parameters
        .iter()
        .map(|p| (p.name.as_str(), p.location, p.required))
        .collect();
    assert_eq!(
        params,
        [
            ("petId", ParamLocation::Path, true),
            ("session", ParamLocation::Cookie, false),
            ("filter", ParamLocation::Query, false)
        ]
    );
    assert_eq!(
        update.parameters[0].schema,
        json!({"type": "integer", "minimum": 1})
    );
    assert_eq!(update.parameters[2].schema, json!({"type": "object"}));
}

#[test]
fn request_body_lists_media_types_and_keeps_the_json_schema() {
    let spec = spec("openapi.yaml", PETS);
    let update = spec
        .operations
        .iter()
        .find(|o| o.id == "updatePet")
        .unwrap();
    let body = update.body.as_ref().unwrap();
    assert!(body.required);
    assert_eq!(
        body.content_types,
        ["application/merge-patch+json", "text/plain"]
    );
    assert_eq!(
        body.schema.as_ref().unwrap()["properties"]["name"]["type"],
        "string"
    );
    let delete = spec
        .operations
        .iter()
        .find(|o| o.id == "deletePet")
        .unwrap();
    assert!(delete.body.is_none());
    assert_eq!(delete.parameters.len(), 1, "the path-level petId");
}

#[test]
fn application_json_wins_over_other_json_types_and_forms_keep_their_own() {
    let text = r#"
openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /a:
    post:
      operationId: a
      requestBody:
        content:
          application/problem+json: {schema: {type: string}}
          application/json; charset=utf-8: {schema: {type: integer}}
  /b:
    post:
      operationId: b
      requestBody:
        content:
          application/x-www-form-urlencoded: {schema: {type: object, required: [n]}}
          multipart/form-data; charset=utf-8: {schema: {$ref: '#/components/schemas/Upload'}}
  /c:
    post:
      operationId: c
      requestBody:
        content:
          application/x-www-form-urlencoded: {schema: {type: string}}
components:
  schemas:
    Upload: {properties: {file: {type: string, format: binary}}}
"#;
    let spec = spec("openapi.yml", text);
    let a = spec.operations[0].body.as_ref().unwrap();
    assert_eq!(a.schema, Some(json!({"type": "integer"})));
    assert!(!a.required);
    let b = spec.operations[1].body.as_ref().unwrap();
    assert_eq!(b.content_types.len(), 2);
    assert_eq!(b.schema, None, "a form body is not JSON");
    assert_eq!(
        b.urlencoded_schema,
        Some(json!({"type": "object", "required": ["n"]}))
    );
    assert_eq!(
        b.multipart_schema,
        Some(json!({"properties": {"file": {"type": "string", "format": "binary"}}}))
    );
    let c = spec.operations[2].body.as_ref().unwrap();
    assert_eq!(
        c.urlencoded_schema, None,
        "only an object's schema describes a form's fields"
    );
}

#[test]
fn json_spec_and_trace_method() {
    let text = r#"{"openapi": "3.1.1", "info": {"title": "t", "version": "1"},
        "paths": {"/t": {"trace": {"operationId": "traceIt"}, "summary": "s", "x-internal": true}},
        "webhooks": {}}"#;
    let spec = spec("openapi.json", text);
    assert_eq!(
        (
            spec.operations[0].method.as_str(),
            spec.operations[0].id.as_str()
        ),
        ("TRACE", "traceIt")
    );
}

#[test]
fn an_openapi_30_document_the_typed_model_does_not_hold_is_refused_at_its_place() {
    let missing = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /pets:\n    get:\n      operationId: list\n";
    let error = super::spec_error("openapi.yaml", missing);
    assert!(
        error.contains("line 5: /paths/~1pets/get: missing field `responses`"),
        "{error}"
    );
    let no_info = "openapi: 3.0.3\npaths: {}\n";
    let error = super::spec_error("openapi.yaml", no_info);
    assert!(error.contains("missing field `info`"), "{error}");

    let wrong_type = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /pets:\n    get:\n      \
                      operationId: list\n      responses: {}\n      parameters:\n        \
                      - {name: limit, in: query, required: yes, schema: {type: integer}}\n";
    let error = super::spec_error("openapi.yaml", wrong_type);
    assert!(
        error.contains("line 9: /paths/~1pets/get/parameters/0")
            && error.contains("expected a boolean"),
        "{error}"
    );

    let bad_bound = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    \
                     Item:\n      type: object\n      properties:\n        qty: {type: integer, minimum: '3'}\n";
    let error = super::spec_error("openapi.yaml", bad_bound);
    assert!(
        error.contains("line 9: /components/schemas/Item/properties/qty"),
        "{error}"
    );
    assert!(error.contains("expected a JSON number"), "{error}");

    // OpenAPI 3.1 is read from its JSON: the same document loads there.
    let spec = spec("openapi.yaml", &missing.replace("3.0.3", "3.1.0"));
    assert_eq!(spec.operations[0].id, "list");
}

#[test]
fn the_typed_reading_keeps_what_the_validator_needs() {
    let text = r#"
openapi: 3.0.3
info: {title: t, version: '1'}
servers: [{url: '{scheme}://api.example.com/{v}', variables: {scheme: {default: https}, v: {default: v2}}}]
paths:
  /items/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: integer, format: int64, minimum: 1}}
    post:
      operationId: putItem
      parameters:
        - {name: dry, in: query, schema: {type: boolean}}
        - {name: x-trace, in: header, content: {text/plain: {schema: {type: string, maxLength: 8}}}}
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              additionalProperties: false
              required: [name]
              properties:
                name: {type: string, nullable: true, pattern: '^[a-z]+$'}
                price: {type: number, exclusiveMinimum: true, minimum: 0}
                tags: {type: array, items: {$ref: '#/components/schemas/Tag'}, maxItems: 3}
          application/x-www-form-urlencoded:
            schema: {$ref: '#/components/schemas/Form'}
      responses: {'204': {description: stored}}
components:
  schemas:
    Tag: {type: string, enum: [a, b]}
    Form: {type: object, properties: {name: {type: string}}}
"#;
    let spec = spec("openapi.yaml", text);
    assert_eq!(spec.host.as_deref(), Some("api.example.com"));
    assert_eq!(spec.base_path, "/v2");
    let op = &spec.operations[0];
    assert_eq!((op.id.as_str(), op.method.as_str()), ("putItem", "POST"));
    let names: Vec<_> = op
        .parameters
        .iter()
        .map(|p| (p.name.as_str(), p.location))
        .collect();
    assert_eq!(
        names,
        [
            ("id", ParamLocation::Path),
            ("dry", ParamLocation::Query),
            ("x-trace", ParamLocation::Header)
        ]
    );
    assert_eq!(op.parameters[0].schema["minimum"], 1);
    assert_eq!(op.parameters[2].schema["maxLength"], 8);
    let body = op.body.as_ref().unwrap();
    assert!(body.required);
    assert_eq!(
        body.content_types,
        ["application/json", "application/x-www-form-urlencoded"]
    );
    let schema = body.schema.as_ref().unwrap();
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["properties"]["name"]["nullable"], true);
    assert_eq!(schema["properties"]["price"]["exclusiveMinimum"], true);
    assert_eq!(
        schema["properties"]["tags"]["items"],
        json!({"type": "string", "enum": ["a", "b"]})
    );
    assert_eq!(
        body.urlencoded_schema.as_ref().unwrap()["properties"]["name"]["type"],
        "string"
    );
}
