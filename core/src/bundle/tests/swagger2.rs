use serde_json::json;

use super::spec;
use crate::bundle::ParamLocation;

const PETSTORE: &str = r##"
swagger: "2.0"
info: {title: Petstore, version: "1.0"}
host: Petstore.Example.com:8080
basePath: /v1/
consumes: [application/json]
paths:
  /pets:
    get:
      operationId: listPets
      parameters:
        - {name: limit, in: query, type: integer, format: int32, minimum: 1, maximum: 100, default: 20}
        - name: tags
          in: query
          type: array
          collectionFormat: csv
          items: {type: string, enum: [cat, dog]}
      responses: {"200": {description: ok}}
    post:
      operationId: createPet
      parameters:
        - {name: pet, in: body, required: true, schema: {$ref: "#/definitions/Pet"}}
      responses: {"201": {description: created}}
  /pets/{petId}:
    parameters:
      - {name: petId, in: path, required: true, type: string}
      - {name: X-Trace, in: header, type: string}
    get:
      operationId: showPetById
      parameters:
        - {name: X-Trace, in: header, required: true, type: string, pattern: "^[a-f0-9]+$"}
      responses: {"200": {description: ok}}
    put:
      operationId: uploadPhoto
      consumes: [multipart/form-data]
      parameters:
        - {name: photo, in: formData, type: file, required: true}
        - {name: caption, in: formData, type: string, maxLength: 80}
      responses: {"200": {description: ok}}
definitions:
  Pet:
    type: object
    required: [name]
    properties:
      name: {type: string, minLength: 1}
      tag: {type: string}
"##;

#[test]
fn host_loses_port_and_case_base_path_its_trailing_slash() {
    let spec = spec("swagger.yaml", PETSTORE);
    assert_eq!(spec.host.as_deref(), Some("petstore.example.com"));
    assert_eq!(spec.base_path, "/v1");
    let ids: Vec<(&str, &str, &str)> = spec
        .operations
        .iter()
        .map(|o| (o.method.as_str(), o.path.as_str(), o.id.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("GET", "/pets", "listPets"),
            ("POST", "/pets", "createPet"),
            ("GET", "/pets/{petId}", "showPetById"),
            ("PUT", "/pets/{petId}", "uploadPhoto"),
        ]
    );
}

#[test]
fn inline_parameter_fields_become_a_schema() {
    let spec = spec("swagger.yaml", PETSTORE);
    let list = &spec.operations[0];
    assert_eq!(list.parameters[0].location, ParamLocation::Query);
    assert!(!list.parameters[0].required);
    assert_eq!(
        list.parameters[0].schema,
        json!({"type": "integer", "format": "int32", "minimum": 1, "maximum": 100, "default": 20})
    );
    assert_eq!(
        list.parameters[1].schema,
        json!({"type": "array", "items": {"type": "string", "enum": ["cat", "dog"]}})
    );
    assert!(list.body.is_none());
}

#[test]
fn body_parameter_is_the_request_body_with_global_consumes() {
    let spec = spec("swagger.yaml", PETSTORE);
    let body = spec.operations[1].body.as_ref().unwrap();
    assert!(body.required);
    assert_eq!(body.content_types, ["application/json"]);
    assert_eq!(
        body.schema.as_ref().unwrap()["properties"]["name"],
        json!({"type": "string", "minLength": 1})
    );
    assert!(spec.operations[1].parameters.is_empty());
}

#[test]
fn path_level_parameters_merge_and_operation_level_wins() {
    let spec = spec("swagger.yaml", PETSTORE);
    let show = &spec.operations[2];
    let names: Vec<(&str, ParamLocation, bool)> = show
        .parameters
        .iter()
        .map(|p| (p.name.as_str(), p.location, p.required))
        .collect();
    assert_eq!(
        names,
        [
            ("petId", ParamLocation::Path, true),
            ("X-Trace", ParamLocation::Header, true)
        ]
    );
    assert_eq!(show.parameters[1].schema["pattern"], "^[a-f0-9]+$");
}

#[test]
fn form_data_parameters_become_a_form_body() {
    let spec = spec("swagger.yaml", PETSTORE);
    let upload = &spec.operations[3];
    let names: Vec<&str> = upload.parameters.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["petId", "X-Trace"],
        "formData fields are not parameters"
    );
    let body = upload.body.as_ref().unwrap();
    assert!(body.required);
    assert_eq!(body.content_types, ["multipart/form-data"]);
    let fields = json!({
        "type": "object",
        "required": ["photo"],
        "properties": {
            "photo": {"type": "string", "format": "binary"},
            "caption": {"type": "string", "maxLength": 80},
        },
    });
    assert_eq!(body.schema, None, "a form body is not JSON");
    assert_eq!(body.multipart_schema.as_ref(), Some(&fields));
    assert_eq!(body.urlencoded_schema.as_ref(), Some(&fields));
}

#[test]
fn no_host_means_any_host_and_root_base_path_is_empty() {
    let text = "swagger: '2.0'\ninfo: {title: t, version: '1'}\nbasePath: /\npaths:\n  /a:\n    post:\n      operationId: a\n      parameters: [{name: n, in: formData, type: string}]\n";
    let spec = spec("swagger.yml", text);
    assert_eq!(spec.host, None);
    assert_eq!(spec.base_path, "");
    let body = spec.operations[0].body.as_ref().unwrap();
    assert_eq!(body.content_types, ["application/x-www-form-urlencoded"]);
    assert!(!body.required);
}

#[test]
fn json_and_unquoted_version_are_read() {
    let text =
        r#"{"swagger": "2.0", "basePath": "api", "paths": {"/x": {"get": {"operationId": "x"}}}}"#;
    assert_eq!(spec("swagger.json", text).base_path, "/api");
    let yaml = "swagger: 2.0\nhost: '[::1]:8080'\npaths: {}\n";
    assert_eq!(spec("swagger.yaml", yaml).host.as_deref(), Some("[::1]"));
}
