//! `${VAR}`s in the routing fields and the manifest's `[env]`, read through
//! an injected lookup (tests never change the process environment).

use std::path::Path;

use super::{Dir, guest_module, one_op_spec};
use crate::bundle::load::load;
use crate::bundle::{Bundle, Vars, parse_spec_with};

fn env(pairs: &'static [(&'static str, &'static str)]) -> Vars {
    Vars::with_lookup(move |name| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })
}

const SWAGGER: &str = "swagger: '2.0'\ninfo: {title: t, version: '1'}\nhost: '${API_HOST:-localhost:8080}'\n\
    basePath: '/${STAGE}/pets'\npaths:\n  /pets:\n    get:\n      operationId: listPets\n      responses: {'200': {description: ok}}\n";

const OPENAPI: &str = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n\
    servers: [{url: 'https://${API_HOST}${BASE:-/api}'}, {url: 'http://${OTHER:-x}/'}]\npaths: {}\n";

#[test]
fn swagger_host_and_base_path_are_filled() {
    let spec = parse_spec_with(
        Path::new("swagger.yaml"),
        SWAGGER,
        &mut env(&[("STAGE", "prod")]),
    )
    .unwrap();
    assert_eq!(spec.host.as_deref(), Some("localhost"));
    assert_eq!(spec.base_path, "/prod/pets");
    let mut vars = env(&[("STAGE", "dev"), ("API_HOST", "Pets.Example.com")]);
    let spec = parse_spec_with(Path::new("swagger.yaml"), SWAGGER, &mut vars).unwrap();
    assert_eq!(spec.host.as_deref(), Some("pets.example.com"));
    assert_eq!(spec.base_path, "/dev/pets");
}

#[test]
fn openapi_server_urls_are_filled() {
    let mut vars = env(&[("API_HOST", "api.example.com")]);
    let spec = parse_spec_with(Path::new("openapi.yaml"), OPENAPI, &mut vars).unwrap();
    assert_eq!(spec.host.as_deref(), Some("api.example.com"));
    assert_eq!(spec.base_path, "/api");
    assert_eq!(
        vars.used().keys().collect::<Vec<_>>(),
        ["API_HOST", "BASE", "OTHER"]
    );
}

#[test]
fn an_unset_variable_names_the_file_the_field_and_the_variable() {
    let error = parse_spec_with(Path::new("swagger.yaml"), SWAGGER, &mut env(&[]))
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("swagger.yaml: `basePath`: "), "{error}");
    assert!(error.contains("`STAGE` is not set"), "{error}");
    let error = parse_spec_with(Path::new("openapi.yaml"), OPENAPI, &mut env(&[]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("servers[0].url"), "{error}");
    assert!(error.contains("`API_HOST`"), "{error}");
}

#[test]
fn other_fields_are_left_alone() {
    let text = SWAGGER.replace("info: {title: t,", "info: {title: '${NOT_READ}',");
    let mut vars = env(&[("STAGE", "prod")]);
    parse_spec_with(Path::new("swagger.yaml"), &text, &mut vars).unwrap();
    assert!(!vars.used().contains_key("NOT_READ"));
}

fn bundle(manifest: &str) -> Dir {
    let dir = Dir::new();
    dir.write(
        "openapi.yaml",
        one_op_spec("listPets").replace("{url: /pets-api}", "{url: '/${STAGE:-dev}/pets-api'}"),
    );
    dir.write("pets.wasm", guest_module(&["listPets"]));
    dir.write("funcmesh.toml", manifest);
    dir
}

fn load_in(
    dir: &Dir,
    vars: &'static [(&'static str, &'static str)],
) -> crate::bundle::Result<Bundle> {
    load(dir.path(), None, &mut env(vars))
}

#[test]
fn manifest_env_values_are_filled() {
    let dir = bundle("[env]\nDB = \"postgres://${DB_HOST}/pets\"\nPLAIN = \"a $$ b\"\n");
    let bundle = load_in(&dir, &[("DB_HOST", "db.internal")]).unwrap();
    assert_eq!(bundle.manifest.env["DB"], "postgres://db.internal/pets");
    assert_eq!(bundle.manifest.env["PLAIN"], "a $ b");
    assert_eq!(bundle.base_path, "/dev/pets-api");

    let error = load_in(&dir, &[]).unwrap_err().to_string();
    assert!(error.contains("funcmesh.toml: [env] DB: "), "{error}");
    assert!(error.contains("`DB_HOST` is not set"), "{error}");
}

#[test]
fn another_route_is_another_version_another_secret_is_not() {
    let dir = bundle("[env]\nDB = \"${DB_HOST:-localhost}\"\n");
    let dev = load_in(&dir, &[]).unwrap().hash;
    assert_eq!(dev, load_in(&dir, &[]).unwrap().hash, "stable");
    let prod = load_in(&dir, &[("DB_HOST", "db.internal")]).unwrap().hash;
    assert_eq!(
        dev, prod,
        "an [env] value is configuration the hash must not reveal"
    );
    let staging = load_in(&dir, &[("STAGE", "staging")]).unwrap().hash;
    assert_ne!(dev, staging, "the base path differs");
    assert_eq!(
        load_in(&dir, &[("UNRELATED", "x")]).unwrap().hash,
        dev,
        "variables the bundle does not use play no part"
    );
}

#[test]
fn block_style_yaml_needs_no_quotes() {
    let text = "swagger: '2.0'\ninfo: {title: t, version: '1'}\nhost: ${API_HOST:-api.example.com}\n\
        basePath: /${STAGE:-v1}/pets\npaths: {}\n";
    let spec = parse_spec_with(Path::new("swagger.yaml"), text, &mut env(&[])).unwrap();
    assert_eq!(spec.host.as_deref(), Some("api.example.com"));
    assert_eq!(spec.base_path, "/v1/pets");
}
