//! Every rejection names the file and says what is wrong.

use super::spec_error;

fn openapi(paths: &str) -> String {
    format!("openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\npaths:\n{paths}")
}

fn assert_rejected(name: &str, text: &str, expected: &[&str]) {
    let error = spec_error(name, text);
    assert!(
        error.starts_with(name),
        "error should start with the file name: {error}"
    );
    for part in expected {
        assert!(
            error.contains(part),
            "error should mention {part:?}: {error}"
        );
    }
}

#[test]
fn not_swagger_2_or_openapi_3() {
    assert_rejected(
        "openapi.yaml",
        "info: {title: t}\npaths: {}\n",
        &["no `swagger` or `openapi`"],
    );
    assert_rejected(
        "swagger.yaml",
        "swagger: '1.2'\n",
        &["unsupported `swagger: \"1.2\"`"],
    );
    assert_rejected(
        "openapi.yaml",
        "openapi: 3.2.0\n",
        &["unsupported `openapi: 3.2.0`"],
    );
    assert_rejected("openapi.yaml", "openapi: 2.0.0\n", &["unsupported"]);
    assert_rejected(
        "openapi.yaml",
        "openapi: 3.0\n",
        &["must be a string", "quote it"],
    );
    assert_rejected("openapi.json", "[1, 2]", &["not a mapping"]);
    assert_rejected(
        "openapi.yaml",
        "swagger: '2.0'\nopenapi: 3.0.0\n",
        &["both"],
    );
}

#[test]
fn operation_without_operation_id() {
    let text = openapi("  /pets:\n    get:\n      summary: list\n      responses: {}\n");
    assert_rejected("openapi.yaml", &text, &["GET /pets has no operationId"]);
}

#[test]
fn duplicate_operation_ids() {
    let text = openapi(
        "  /a:\n    get: {operationId: same, responses: {}}\n  /b:\n    post: {operationId: same, responses: {}}\n",
    );
    assert_rejected(
        "openapi.yaml",
        &text,
        &["operationId `same` is used twice", "GET /a", "POST /b"],
    );
}

#[test]
fn template_parameter_not_declared() {
    let text = openapi("  /pets/{petId}:\n    get: {operationId: show, responses: {}}\n");
    assert_rejected(
        "openapi.yaml",
        &text,
        &[
            "GET /pets/{petId}",
            "`petId` is in the template but not declared",
        ],
    );
}

#[test]
fn declared_path_parameter_not_in_template() {
    let text = openapi(
        "  /pets:\n    get:\n      operationId: list\n      responses: {}\n      parameters: [{name: id, in: path, required: true, schema: {type: string}}]\n",
    );
    assert_rejected(
        "openapi.yaml",
        &text,
        &["GET /pets", "`id` is declared but not in the template"],
    );
}

#[test]
fn path_parameter_must_be_required() {
    let text = "swagger: '2.0'\npaths:\n  /pets/{id}:\n    get:\n      operationId: show\n      parameters: [{name: id, in: path, type: string}]\n";
    assert_rejected(
        "swagger.yaml",
        text,
        &["GET /pets/{id}", "`id` must have `required: true`"],
    );
}

#[test]
fn unsupported_parameter_location() {
    let swagger = "swagger: '2.0'\npaths:\n  /a:\n    get:\n      operationId: a\n      parameters: [{name: c, in: cookie, type: string}]\n";
    assert_rejected(
        "swagger.yaml",
        swagger,
        &["GET /a", "parameter `c`", "unsupported `in: cookie`"],
    );
    let openapi = openapi(
        "  /a:\n    post:\n      operationId: a\n      responses: {}\n      parameters: [{name: b, in: body, schema: {}}]\n",
    );
    assert_rejected(
        "openapi.yaml",
        &openapi,
        &[
            "/paths/~1a/post/parameters/0",
            "unknown variant `body`, expected one of `query`, `header`, `path`, `cookie`",
        ],
    );
}

#[test]
fn bad_base_path() {
    for base in ["/api?v=1", "/api#top", "/a//b", "/{version}"] {
        let text = format!("swagger: '2.0'\nbasePath: '{base}'\npaths: {{}}\n");
        assert_rejected("swagger.yaml", &text, &[&format!("basePath `{base}`")]);
    }
    let text = "openapi: 3.1.0\nservers: [{url: 'https://x.example.com/v1?debug=1'}]\npaths: {}\n";
    assert_rejected(
        "openapi.yaml",
        text,
        &["servers[0]", "basePath `/v1?debug=1`"],
    );
    let text = "openapi: 3.1.0\nservers: [{url: '/{missing}'}]\npaths: {}\n";
    assert_rejected(
        "openapi.yaml",
        text,
        &["variable `missing` has no string `default`"],
    );
}

#[test]
fn equivalent_templates_with_one_method() {
    let text = openapi(
        "  /a/{x}:\n    get:\n      operationId: one\n      responses: {}\n      parameters: [{name: x, in: path, required: true, schema: {}}]\n  \
         /a/{y}:\n    get:\n      operationId: two\n      responses: {}\n      parameters: [{name: y, in: path, required: true, schema: {}}]\n    \
         post:\n      operationId: three\n      responses: {}\n      parameters: [{name: y, in: path, required: true, schema: {}}]\n",
    );
    assert_rejected(
        "openapi.yaml",
        &text,
        &["GET /a/{x} and GET /a/{y} match the same requests"],
    );
}

#[test]
fn malformed_templates_and_paths() {
    let text = openapi("  /a/{x:\n    get: {operationId: a, responses: {}}\n");
    assert_rejected("openapi.yaml", &text, &["unbalanced braces"]);
    let text = openapi("  pets:\n    get: {operationId: a, responses: {}}\n");
    assert_rejected("openapi.yaml", &text, &["path `pets` must start with `/`"]);
    let text = openapi("  /pets:\n    GET: {operationId: a, responses: {}}\n");
    assert_rejected("openapi.yaml", &text, &["unknown key `GET`", "lower case"]);
}

#[test]
fn parameter_declared_twice_and_two_bodies() {
    let text = openapi(
        "  /a:\n    get:\n      operationId: a\n      responses: {}\n      parameters: [{name: q, in: query, schema: {}}, {name: q, in: query, schema: {}}]\n",
    );
    assert_rejected("openapi.yaml", &text, &["GET /a", "`q` is declared twice"]);
    let text = "swagger: '2.0'\npaths:\n  /a:\n    post:\n      operationId: a\n      parameters:\n        - {name: b, in: body, schema: {}}\n        - {name: f, in: formData, type: string}\n";
    assert_rejected("swagger.yaml", text, &["POST /a", "exclude each other"]);
}

#[test]
fn yaml_syntax_error_reports_line_and_column() {
    let text = "openapi: 3.0.3\ninfo:\n  title: t\n  version: '1'\npaths:\n  /a:\n get: {}\n";
    let result = crate::bundle::parse_spec(std::path::Path::new("openapi.yaml"), text);
    assert!(matches!(
        result,
        Err(crate::bundle::BundleError::Syntax { .. })
    ));
    let error = spec_error("openapi.yaml", text);
    assert!(
        error.starts_with("openapi.yaml: line 7 column 2: "),
        "{error}"
    );
    assert!(
        !error.contains(" at line 7 column 2"),
        "location given once: {error}"
    );

    // serde_yaml_ng places a duplicate key at the start of its mapping.
    let error = spec_error("openapi.yaml", "info: {}\npaths:\n  /a: {}\n  /a: {}\n");
    assert!(
        error.starts_with("openapi.yaml: line 3 column 3: paths: duplicate entry with key \"/a\""),
        "{error}"
    );

    let error = spec_error(
        "swagger.json",
        "{\n  \"swagger\": \"2.0\",\n  \"paths\": {,}\n}",
    );
    assert!(
        error.starts_with("swagger.json: line 3 column 13: "),
        "{error}"
    );
}
