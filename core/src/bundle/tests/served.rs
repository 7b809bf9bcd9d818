//! The document the gateway serves for a bundle: the author's, with the
//! route it was given.

use super::Dir;
use crate::bundle::{load_dir, served_document};

fn python_bundle(spec_file: &str, spec: &str) -> Dir {
    let dir = Dir::new();
    dir.write(spec_file, spec);
    dir.write("pets/__init__.py", "");
    dir.write("pets/api.py", "def list_pets(request):\n    return []\n");
    dir
}

const OPENAPI: &str = "openapi: 3.0.3
info: {title: pets, version: '1'}
servers:
  - url: ${PETS_BASE:-/pets}
paths:
  /list:
    get:
      operationId: pets.api.list_pets
      description: Lists pets.
      responses: {'200': {description: ok}}
";

#[test]
fn openapi_3_names_the_route_in_servers_and_keeps_the_rest() {
    let dir = python_bundle("openapi.yaml", OPENAPI);
    let bundle = load_dir(dir.path()).unwrap();
    let doc = served_document(&bundle, "http").unwrap();
    assert_eq!(doc["servers"], serde_json::json!([{ "url": "/pets" }]));
    assert_eq!(doc["paths"]["/list"]["get"]["description"], "Lists pets.");
    assert_eq!(doc["x-funcmesh-bundle"], bundle.hash.as_str());
}

#[test]
fn an_exact_host_makes_the_server_url_absolute() {
    let spec = OPENAPI.replace("${PETS_BASE:-/pets}", "https://api.example.com:8443/v1");
    let dir = python_bundle("openapi.yaml", &spec);
    let bundle = load_dir(dir.path()).unwrap();
    let doc = served_document(&bundle, "https").unwrap();
    assert_eq!(doc["servers"][0]["url"], "https://api.example.com/v1");
}

#[test]
fn swagger_2_names_the_route_in_host_base_path_and_schemes() {
    let spec = "swagger: '2.0'
info: {title: pets, version: '1'}
host: pets.example.com
basePath: /pets
paths:
  /list:
    get:
      operationId: pets.api.list_pets
      responses: {'200': {description: ok}}
";
    let dir = python_bundle("swagger.yaml", spec);
    let bundle = load_dir(dir.path()).unwrap();
    let doc = served_document(&bundle, "http").unwrap();
    assert_eq!(doc["host"], "pets.example.com");
    assert_eq!(doc["basePath"], "/pets");
    assert_eq!(doc["schemes"], serde_json::json!(["http"]));
    assert!(doc.get("servers").is_none());
}
