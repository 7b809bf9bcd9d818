//! What a typed reading of the document would refuse, refused at load:
//! a schema's unknown `type`, a keyword its dialect does not define (where
//! the dialect defines the set: Swagger 2.0 and OpenAPI 3.0; JSON Schema
//! 2020-12 under OpenAPI 3.1 allows others), a `$ref` to another file
//! (which this loader cannot follow, so the schema would accept anything),
//! and a parameter without a schema. Each error names the JSON pointer of
//! the place and, where the text shows it, its line. Vendor extensions
//! (`x-...`) are allowed everywhere.
//!
//! Before this check, a typo such as `type: nmber` loaded, and the
//! validation of that parameter was silently off.

use serde_json::{Map, Value};

use super::refs::{SCHEMA_LISTS, SCHEMA_MAPS, SUBSCHEMA};
use super::swagger2::SCHEMA_FIELDS;

/// Which rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Swagger2,
    OpenApi30,
    OpenApi31,
}

/// The keywords of a Swagger 2.0 Schema Object beyond those a non-body
/// parameter shares with it ([`SCHEMA_FIELDS`]).
const SWAGGER2_SCHEMA_ONLY: &[&str] = &[
    "$ref",
    "title",
    "description",
    "maxProperties",
    "minProperties",
    "required",
    "allOf",
    "properties",
    "additionalProperties",
    "discriminator",
    "readOnly",
    "xml",
    "externalDocs",
    "example",
];

/// The keywords an OpenAPI 3.0 Schema Object adds to Swagger 2.0's.
const OPENAPI30_EXTRA: &[&str] = &[
    "oneOf",
    "anyOf",
    "not",
    "nullable",
    "writeOnly",
    "deprecated",
];

/// Swagger 2.0's types for schemas; `file` only for a form parameter.
const SWAGGER2_TYPES: &[&str] = &["string", "number", "integer", "boolean", "array", "object"];
/// JSON Schema 2020-12 adds `null`.
const OPENAPI31_TYPES: &[&str] = &[
    "string", "number", "integer", "boolean", "array", "object", "null",
];

/// One problem: where (a JSON pointer) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Problem {
    pub pointer: String,
    pub message: String,
}

/// Every problem of `doc`.
pub(super) fn check(doc: &Value, dialect: Dialect) -> Vec<Problem> {
    let mut check = Check {
        dialect,
        problems: Vec::new(),
    };
    check.document(doc);
    check.problems
}

/// The most problems one load error lists.
const MAX_LISTED: usize = 10;

/// The problems, written as the load error: one per line, `line N:
/// /pointer: what` (the line when `text` shows where the pointer is), in
/// the order of the text.
pub(super) fn errors(doc: &Value, dialect: Dialect, text: &str) -> Result<(), String> {
    let mut located: Vec<(Option<usize>, Problem)> = check(doc, dialect)
        .into_iter()
        .map(|problem| (line_of(text, &problem.pointer), problem))
        .collect();
    if located.is_empty() {
        return Ok(());
    }
    located.sort_by_key(|(line, _)| line.unwrap_or(usize::MAX));
    let total = located.len();
    let mut lines: Vec<String> = located
        .into_iter()
        .take(MAX_LISTED)
        .map(|(line, problem)| {
            let pointer = display_pointer(&problem.pointer);
            match line {
                Some(line) => format!("line {line}: {pointer}: {}", problem.message),
                None => format!("{pointer}: {}", problem.message),
            }
        })
        .collect();
    if total > MAX_LISTED {
        lines.push(format!("and {} more", total - MAX_LISTED));
    }
    match lines.len() {
        1 => Err(lines.remove(0)),
        _ => Err(format!("{total} problems:\n  {}", lines.join("\n  "))),
    }
}

fn display_pointer(pointer: &str) -> String {
    match pointer {
        "" => "/".to_owned(),
        pointer => pointer.to_owned(),
    }
}

struct Check {
    dialect: Dialect,
    problems: Vec<Problem>,
}

impl Check {
    fn problem(&mut self, pointer: &str, message: String) {
        self.problems.push(Problem {
            pointer: pointer.to_owned(),
            message,
        });
    }

    fn document(&mut self, doc: &Value) {
        let shared = match self.dialect {
            Dialect::Swagger2 => {
                self.schema_map(doc.get("definitions"), "/definitions");
                "/parameters"
            }
            Dialect::OpenApi30 | Dialect::OpenApi31 => {
                if let Some(components) = doc.get("components") {
                    self.schema_map(components.get("schemas"), "/components/schemas");
                    if let Some(Value::Object(params)) = components.get("parameters") {
                        for (name, param) in params {
                            let at = format!("/components/parameters/{}", escape(name));
                            self.parameter(param, &at);
                        }
                    }
                    if let Some(Value::Object(bodies)) = components.get("requestBodies") {
                        for (name, body) in bodies {
                            let at = format!("/components/requestBodies/{}", escape(name));
                            self.content(body.get("content"), &format!("{at}/content"));
                        }
                    }
                    if let Some(Value::Object(responses)) = components.get("responses") {
                        for (name, response) in responses {
                            let at = format!("/components/responses/{}", escape(name));
                            self.response(response, &at);
                        }
                    }
                }
                ""
            }
        };
        if self.dialect == Dialect::Swagger2
            && let Some(Value::Object(params)) = doc.get("parameters")
        {
            for (name, param) in params {
                self.parameter(param, &format!("{shared}/{}", escape(name)));
            }
        }
        let Some(Value::Object(paths)) = doc.get("paths") else {
            return;
        };
        for (path, item) in paths {
            let at = format!("/paths/{}", escape(path));
            self.refs_local(item, &at);
            self.parameters(item.get("parameters"), &format!("{at}/parameters"));
            let Value::Object(methods) = item else {
                continue;
            };
            for (method, op) in methods {
                if !is_method(method) {
                    continue;
                }
                let at = format!("{at}/{method}");
                self.parameters(op.get("parameters"), &format!("{at}/parameters"));
                if let Some(body) = op.get("requestBody") {
                    self.refs_local(body, &format!("{at}/requestBody"));
                    self.content(body.get("content"), &format!("{at}/requestBody/content"));
                }
                if let Some(Value::Object(responses)) = op.get("responses") {
                    for (status, response) in responses {
                        self.response(response, &format!("{at}/responses/{}", escape(status)));
                    }
                }
            }
        }
    }

    fn parameters(&mut self, list: Option<&Value>, at: &str) {
        if let Some(Value::Array(list)) = list {
            for (i, param) in list.iter().enumerate() {
                self.parameter(param, &format!("{at}/{i}"));
            }
        }
    }

    fn parameter(&mut self, param: &Value, at: &str) {
        if self.refs_local(param, at) || !param.is_object() {
            return;
        }
        match self.dialect {
            Dialect::Swagger2 => match param.get("in").and_then(Value::as_str) {
                Some("body") => match param.get("schema") {
                    Some(schema) => self.schema(schema, &format!("{at}/schema")),
                    None => self.problem(at, "a body parameter without a `schema`".into()),
                },
                _ => {
                    if param.get("type").is_none() {
                        self.problem(at, "a parameter without a `type`".into());
                    } else {
                        self.simple_items(param, at, true);
                    }
                }
            },
            Dialect::OpenApi30 | Dialect::OpenApi31 => {
                match (param.get("schema"), param.get("content")) {
                    (Some(schema), _) => self.schema(schema, &format!("{at}/schema")),
                    (None, Some(content)) => self.content(Some(content), &format!("{at}/content")),
                    (None, None) => self.problem(
                        at,
                        "a parameter without a `schema` (or `content`): its values could not be checked"
                            .into(),
                    ),
                }
            }
        }
    }

    /// A Swagger 2.0 non-body parameter, or its `items`: `type` and the
    /// keywords of an Items Object.
    fn simple_items(&mut self, value: &Value, at: &str, top: bool) {
        if let Some(kind) = value.get("type") {
            let file_ok = top && value.get("in").and_then(Value::as_str) == Some("formData");
            match kind.as_str() {
                Some("file") if file_ok => {}
                Some(kind) if SWAGGER2_TYPES.contains(&kind) => {}
                _ => self.problem(&format!("{at}/type"), unknown_type(kind, self.types())),
            }
        }
        if let Some(items) = value.get("items") {
            self.simple_items(items, &format!("{at}/items"), false);
        }
    }

    fn content(&mut self, content: Option<&Value>, at: &str) {
        let Some(Value::Object(media)) = content else {
            return;
        };
        for (kind, media) in media {
            if let Some(schema) = media.get("schema") {
                self.schema(schema, &format!("{at}/{}/schema", escape(kind)));
            }
        }
    }

    fn response(&mut self, response: &Value, at: &str) {
        if self.refs_local(response, at) {
            return;
        }
        match self.dialect {
            Dialect::Swagger2 => {
                if let Some(schema) = response.get("schema") {
                    self.schema(schema, &format!("{at}/schema"));
                }
            }
            Dialect::OpenApi30 | Dialect::OpenApi31 => {
                self.content(response.get("content"), &format!("{at}/content"));
            }
        }
    }

    fn schema_map(&mut self, map: Option<&Value>, at: &str) {
        if let Some(Value::Object(map)) = map {
            for (name, schema) in map {
                self.schema(schema, &format!("{at}/{}", escape(name)));
            }
        }
    }

    fn types(&self) -> &'static [&'static str] {
        match self.dialect {
            Dialect::OpenApi31 => OPENAPI31_TYPES,
            Dialect::Swagger2 | Dialect::OpenApi30 => SWAGGER2_TYPES,
        }
    }

    /// A `$ref` that leaves this file: reported (true when `value` is a
    /// reference object at all, so that its siblings are not read as the
    /// object's own fields).
    fn refs_local(&mut self, value: &Value, at: &str) -> bool {
        let Some(reference) = value.get("$ref") else {
            return false;
        };
        match reference.as_str() {
            Some(reference) if reference.starts_with('#') => {}
            Some(reference) => self.problem(
                &format!("{at}/$ref"),
                format!(
                    "`$ref: {reference}` points into another file, which funcmesh does not read; \
                     move what it names into this file (under `components` or `definitions`) \
                     and refer to it with `#/...`"
                ),
            ),
            None => self.problem(&format!("{at}/$ref"), "`$ref` must be a string".into()),
        }
        true
    }

    fn schema(&mut self, schema: &Value, at: &str) {
        let Value::Object(map) = schema else {
            // `true` and `false` are schemas in 3.1; elsewhere the dialect
            // parsers say what they expect.
            return;
        };
        let is_ref = self.refs_local(schema, at);
        if is_ref && self.dialect != Dialect::OpenApi31 {
            // Siblings of a `$ref` are ignored before 3.1.
            return;
        }
        self.keywords(map, at);
        if let Some(kind) = map.get("type") {
            self.check_type(kind, &format!("{at}/type"));
        }
        for (key, value) in map {
            let here = format!("{at}/{}", escape(key));
            match (key.as_str(), value) {
                (k, Value::Array(list)) if SCHEMA_LISTS.contains(&k) || k == "items" => {
                    for (i, sub) in list.iter().enumerate() {
                        self.schema(sub, &format!("{here}/{i}"));
                    }
                }
                (k, Value::Object(named))
                    if SCHEMA_MAPS.contains(&k) || k == "$defs" || k == "definitions" =>
                {
                    for (name, sub) in named {
                        self.schema(sub, &format!("{here}/{}", escape(name)));
                    }
                }
                (k, sub) if SUBSCHEMA.contains(&k) => self.schema(sub, &here),
                _ => {}
            }
        }
    }

    fn check_type(&mut self, kind: &Value, at: &str) {
        let types = self.types();
        match (kind, self.dialect) {
            (Value::String(name), _) if types.contains(&name.as_str()) => {}
            (Value::Array(list), Dialect::OpenApi31) => {
                for (i, item) in list.iter().enumerate() {
                    if !item.as_str().is_some_and(|name| types.contains(&name)) {
                        self.problem(&format!("{at}/{i}"), unknown_type(item, types));
                    }
                }
            }
            (kind, _) => self.problem(at, unknown_type(kind, types)),
        }
    }

    fn keywords(&mut self, map: &Map<String, Value>, at: &str) {
        let extra: &[&str] = match self.dialect {
            // JSON Schema 2020-12 allows keywords of other vocabularies.
            Dialect::OpenApi31 => return,
            Dialect::Swagger2 => &[],
            Dialect::OpenApi30 => OPENAPI30_EXTRA,
        };
        for key in map.keys() {
            let known = key.starts_with("x-")
                || SCHEMA_FIELDS.contains(&key.as_str())
                || SWAGGER2_SCHEMA_ONLY.contains(&key.as_str())
                || extra.contains(&key.as_str());
            if !known {
                let dialect = match self.dialect {
                    Dialect::Swagger2 => "a Swagger 2.0",
                    _ => "an OpenAPI 3.0",
                };
                let swagger2 = SCHEMA_FIELDS.iter().chain(SWAGGER2_SCHEMA_ONLY);
                let hint = suggestion(key, swagger2.chain(extra))
                    .map(|near| format!(" (did you mean `{near}`?)"))
                    .unwrap_or_default();
                self.problem(
                    &format!("{at}/{}", escape(key)),
                    format!(
                        "`{key}` is not a keyword of {dialect} schema{hint}; a vendor extension starts with `x-`"
                    ),
                );
            }
        }
    }
}

fn unknown_type(kind: &Value, types: &[&str]) -> String {
    let shown = match kind {
        Value::String(name) => name.clone(),
        other => other.to_string(),
    };
    let hint = match kind.as_str() {
        Some(name) => suggestion(name, types.iter())
            .map(|near| format!("; did you mean `{near}`?"))
            .unwrap_or_default(),
        None => String::new(),
    };
    format!(
        "unknown type `{shown}` (one of {}){hint}",
        types
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The known word nearest `word` (at most two edits away), if any.
fn suggestion<'a>(word: &str, known: impl Iterator<Item = &'a &'a str>) -> Option<&'a str> {
    known
        .map(|k| (distance(word, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

fn is_method(key: &str) -> bool {
    matches!(
        key,
        "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace"
    )
}

/// A JSON pointer token (RFC 6901).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// The 1-based line of the place `pointer` names in `text`, found by
/// following its keys (and list items) down a YAML block layout or a
/// pretty-printed JSON text; `None` when the layout hides it (a flow
/// mapping on one line gives the line of its key instead).
pub(super) fn line_of(text: &str, pointer: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    // Where the search for the next token starts, the indentation the
    // current value's own keys are deeper than, and the line found so far.
    let mut start = 0usize;
    let mut parent_indent: isize = -1;
    let mut found: Option<usize> = None;
    for token in pointer.split('/').skip(1) {
        let token = unescape(token);
        if let Ok(index) = token.parse::<usize>()
            && let Some((n, indent)) = list_item(&lines, start, parent_indent, index)
        {
            // The item's first key is on its `- ` line, one deeper than it.
            start = n;
            parent_indent = indent - 1;
            found = Some(n);
            continue;
        }
        let mut hit = None;
        for (n, line) in lines.iter().enumerate().skip(start) {
            let indent = indentation(line) as isize;
            let body = line.trim_start().trim_start_matches("- ");
            if body.is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            if n > start && indent <= parent_indent {
                break;
            }
            if indent > parent_indent && is_key(body, &token) {
                hit = Some((n, indent));
                break;
            }
        }
        match hit {
            Some((n, indent)) => {
                start = n + 1;
                parent_indent = indent;
                found = Some(n);
            }
            // A flow mapping (`schema: {type: nmber}`): the key is on the
            // line found so far.
            None if found.is_some_and(|n| contains_key(lines[n], &token)) => {}
            None => return None,
        }
    }
    found.map(|n| n + 1)
}

/// The line and indentation of the `index`-th `- ` item of the list that
/// starts at line `start`, deeper than `parent_indent`.
fn list_item(
    lines: &[&str],
    start: usize,
    parent_indent: isize,
    index: usize,
) -> Option<(usize, isize)> {
    let mut seen = 0usize;
    let mut item_indent = None;
    for (n, line) in lines.iter().enumerate().skip(start) {
        let indent = indentation(line) as isize;
        let body = line.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        if indent <= parent_indent {
            return None;
        }
        if body.starts_with("- ") || body == "-" {
            match item_indent {
                None => item_indent = Some(indent),
                Some(i) if i != indent => continue,
                Some(_) => {}
            }
            if seen == index {
                return Some((n, indent));
            }
            seen += 1;
        }
    }
    None
}

/// Whether `line` holds `key:` somewhere (inside a flow mapping).
fn contains_key(line: &str, key: &str) -> bool {
    [
        format!("{key}:"),
        format!("\"{key}\":"),
        format!("'{key}':"),
    ]
    .iter()
    .any(|written| {
        line.match_indices(written.as_str())
            .any(|(i, _)| i == 0 || !line[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
    })
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '-']).len()
}

/// Whether `body` (a line without its indentation) starts with the key
/// `key`, bare or quoted.
fn is_key(body: &str, key: &str) -> bool {
    for quote in ["", "\"", "'"] {
        if let Some(rest) = body
            .strip_prefix(quote)
            .and_then(|rest| rest.strip_prefix(key))
            .and_then(|rest| rest.strip_prefix(quote))
            && rest.trim_start().starts_with(':')
        {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problems(doc: &Value, dialect: Dialect) -> Vec<String> {
        check(doc, dialect)
            .into_iter()
            .map(|p| format!("{}: {}", p.pointer, p.message))
            .collect()
    }

    #[test]
    fn an_unknown_type_is_named_with_its_place_and_the_nearest_type() {
        let doc = json!({"paths": {"/pets": {"get": {"parameters": [
            {"name": "limit", "in": "query", "schema": {"type": "nmber"}}
        ]}}}});
        let found = problems(&doc, Dialect::OpenApi30);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .starts_with("/paths/~1pets/get/parameters/0/schema/type: unknown type `nmber`"),
            "{found:?}"
        );
        assert!(found[0].ends_with("did you mean `number`?"), "{found:?}");
    }

    #[test]
    fn keywords_outside_the_dialect_are_refused_but_extensions_pass() {
        let doc = json!({"components": {"schemas": {"Pet": {
            "type": "object",
            "x-internal": true,
            "properties": {"name": {"type": "string", "maxLenght": 3}},
        }}}});
        let found = problems(&doc, Dialect::OpenApi30);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("/properties/name/maxLenght: `maxLenght` is not a keyword of an OpenAPI 3.0 schema (did you mean `maxLength`?)"), "{found:?}");
        // `nullable` is OpenAPI 3.0's, not Swagger 2.0's.
        let nullable = json!({"definitions": {"Pet": {"type": "string", "nullable": true}}});
        assert_eq!(problems(&nullable, Dialect::Swagger2).len(), 1);
        // 3.1 reads JSON Schema 2020-12, whose vocabularies may add keywords.
        let open = json!({"components": {"schemas": {"Pet": {"type": ["string", "null"], "$comment": "x"}}}});
        assert!(problems(&open, Dialect::OpenApi31).is_empty());
    }

    #[test]
    fn a_reference_into_another_file_and_a_parameter_without_a_schema_are_refused() {
        let doc = json!({"paths": {"/pets": {"post": {
            "parameters": [{"name": "q", "in": "query"}],
            "requestBody": {"content": {"application/json": {"schema": {"$ref": "common.yaml#/Pet"}}}},
        }}}});
        let found = problems(&doc, Dialect::OpenApi30);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].starts_with("/paths/~1pets/post/parameters/0: a parameter without a `schema`")
        );
        assert!(found[1].contains("points into another file"));
        let swagger = json!({"paths": {"/pets": {"get": {"parameters": [
            {"name": "q", "in": "query"},
            {"name": "f", "in": "formData", "type": "file"},
            {"name": "ids", "in": "query", "type": "array", "items": {"type": "strin"}},
        ]}}}});
        let found = problems(&swagger, Dialect::Swagger2);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[1].starts_with("/paths/~1pets/get/parameters/2/items/type"));
    }

    #[test]
    fn the_line_of_a_pointer_is_found_in_yaml_and_json() {
        let yaml = "openapi: 3.0.3
paths:
  /pets:
    get:
      parameters:
        - name: limit
          in: query
          schema:
            type: integer
        - name: tag
          in: query
          schema:
            type: strng
";
        assert_eq!(
            line_of(yaml, "/paths/~1pets/get/parameters/1/schema/type"),
            Some(13)
        );
        assert_eq!(line_of(yaml, "/paths/~1pets/get/parameters/0/in"), Some(7));
        assert_eq!(line_of(yaml, "/paths/~1nowhere"), None);
        let json =
            "{\n  \"definitions\": {\n    \"Pet\": {\n      \"type\": \"obect\"\n    }\n  }\n}\n";
        assert_eq!(line_of(json, "/definitions/Pet/type"), Some(4));
    }

    #[test]
    fn the_load_error_lists_each_problem_with_its_line_in_the_order_of_the_text() {
        let yaml = "paths:\n  /a:\n    get:\n      parameters:\n        - {name: a, in: query, schema: {type: nmber}}\n        - name: b\n          in: query\n";
        let doc: Value =
            serde_json::to_value(serde_yaml_ng::from_str::<serde_yaml_ng::Value>(yaml).unwrap())
                .unwrap();
        let error = errors(&doc, Dialect::OpenApi30, yaml).unwrap_err();
        assert_eq!(
            error,
            "2 problems:\n  \
             line 5: /paths/~1a/get/parameters/0/schema/type: unknown type `nmber` (one of `string`, `number`, `integer`, `boolean`, `array`, `object`); did you mean `number`?\n  \
             line 6: /paths/~1a/get/parameters/1: a parameter without a `schema` (or `content`): its values could not be checked"
        );
    }
}
