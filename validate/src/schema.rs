//! The JSON Schema subset that request bodies and parameters are checked
//! against: the keywords OpenAPI 3.0/3.1 and Swagger 2.0 descriptions use.
//!
//! Every problem is recorded with a JSON pointer to the value, and the walk
//! goes on so that the client learns everything wrong at once. A value of
//! the wrong type is not checked further, to spare cascades. A schema that
//! still holds a `$ref` (one the loader could not resolve) accepts anything.
//!
//! Request rules: `nullable: true` (OpenAPI 3.0) and `x-nullable: true`
//! (Swagger 2.0) let `null` through; a `readOnly` property is never
//! required and never accepted.
//!
//! Measured against the `jsonschema` crate (`benches/against_jsonschema.rs`,
//! figures in bench/README.md): it checks a body in about a third of this
//! walk's time, because this walk looks each keyword up in the schema at
//! every value where jsonschema compiles the schema once; the problems
//! found and their pointers are the same but for `additionalProperties`,
//! which jsonschema reports at the object. This checker stays for now: the
//! rules above, and the parameters' coercion from text, are not
//! jsonschema's, and the 400s clients read would change.

use serde_json::{Map, Value};

use super::Patterns;

mod format;
mod scalar;

use scalar::{nullable, type_mismatch};

/// The most problems reported for one request.
pub const MAX_PROBLEMS: usize = 32;

/// Walks a value against a schema, collecting `(pointer, problem)` pairs.
pub struct Checker<'a> {
    patterns: &'a Patterns,
    /// What was found wrong.
    pub problems: Vec<(String, String)>,
}

impl<'a> Checker<'a> {
    /// A checker that looks up `pattern`s in `patterns`.
    pub fn new(patterns: &'a Patterns) -> Self {
        Self {
            patterns,
            problems: Vec::new(),
        }
    }

    fn report(&mut self, path: &str, problem: impl Into<String>) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push((path.to_owned(), problem.into()));
        }
    }

    /// Whether `value` satisfies `schema`, without recording anything.
    fn passes(&self, schema: &Value, value: &Value) -> bool {
        let mut sub = Checker::new(self.patterns);
        sub.check(schema, value, &mut String::new());
        sub.problems.is_empty()
    }

    /// Checks `value` at `path` against `schema`.
    pub fn check(&mut self, schema: &Value, value: &Value, path: &mut String) {
        let schema = match schema {
            Value::Object(s) => s,
            Value::Bool(false) => return self.report(path, "is not allowed"),
            _ => return,
        };
        // A nullable schema stands for "this, or null": a null passes whatever
        // else it says, as `nullable: true` beside `allOf: [$ref]` intends.
        if schema.contains_key("$ref") || (value.is_null() && nullable(schema)) {
            return;
        }
        if let Some(expected) = type_mismatch(schema, value) {
            return self.report(path, format!("must be {expected}"));
        }
        if let Some(Value::Array(allowed)) = schema.get("enum")
            && !allowed.iter().any(|a| json_eq(a, value))
        {
            self.report(path, format!("must be one of {}", list(allowed)));
        }
        if let Some(expected) = schema.get("const")
            && !json_eq(expected, value)
        {
            self.report(path, format!("must be {expected}"));
        }
        match value {
            Value::Number(_) => self.check_number(schema, value, path),
            Value::String(s) => self.check_string(schema, s, path),
            Value::Array(items) => self.check_array(schema, items, path),
            Value::Object(map) => self.check_object(schema, map, path),
            Value::Null | Value::Bool(_) => {}
        }
        self.check_combinators(schema, value, path);
    }

    fn check_array(&mut self, schema: &Map<String, Value>, items: &[Value], path: &mut String) {
        let count = items.len() as u64;
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && count < min
        {
            self.report(path, format!("must have at least {min} items"));
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && count > max
        {
            self.report(path, format!("must have at most {max} items"));
        }
        if schema.get("uniqueItems") == Some(&Value::Bool(true))
            && items
                .iter()
                .enumerate()
                .any(|(i, a)| items[..i].iter().any(|b| json_eq(a, b)))
        {
            self.report(path, "must not contain duplicate items");
        }
        let item_schema = |i: usize| match (schema.get("prefixItems"), schema.get("items")) {
            (Some(Value::Array(tuple)), rest) => tuple.get(i).or(rest),
            (_, Some(Value::Array(tuple))) => tuple.get(i),
            (_, items) => items,
        };
        for (i, item) in items.iter().enumerate() {
            if let Some(sub) = item_schema(i) {
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                self.check(sub, item, path);
                path.truncate(len);
            }
        }
    }

    fn check_object(
        &mut self,
        schema: &Map<String, Value>,
        map: &Map<String, Value>,
        path: &mut String,
    ) {
        let properties = schema.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(required)) = schema.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                let read_only = properties.and_then(|p| p.get(name)).is_some_and(read_only);
                if !map.contains_key(name) && !read_only {
                    self.report(&child(path, name), "is required");
                }
            }
        }
        let count = map.len() as u64;
        if let Some(min) = schema.get("minProperties").and_then(Value::as_u64)
            && count < min
        {
            self.report(path, format!("must have at least {min} properties"));
        }
        if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
            && count > max
        {
            self.report(path, format!("must have at most {max} properties"));
        }
        let additional = schema.get("additionalProperties");
        for (key, value) in map {
            let len = path.len();
            push_key(path, key);
            match (properties.and_then(|p| p.get(key)), additional) {
                (Some(sub), _) if read_only(sub) => self.report(path, "is read-only"),
                (Some(sub), _) => self.check(sub, value, path),
                (None, Some(Value::Bool(false))) => self.report(path, "is not allowed"),
                (None, Some(sub @ Value::Object(_))) => self.check(sub, value, path),
                (None, _) => {}
            }
            path.truncate(len);
        }
    }

    fn check_combinators(&mut self, schema: &Map<String, Value>, value: &Value, path: &mut String) {
        if let Some(Value::Array(all)) = schema.get("allOf") {
            for sub in all {
                self.check(sub, value, path);
            }
        }
        if let Some(Value::Array(any)) = schema.get("anyOf")
            && !any.iter().any(|sub| self.passes(sub, value))
        {
            self.report(path, "must match at least one schema in anyOf");
        }
        if let Some(Value::Array(one)) = schema.get("oneOf") {
            match one.iter().filter(|sub| self.passes(sub, value)).count() {
                1 => {}
                0 => self.report(
                    path,
                    "must match exactly one schema in oneOf (matches none)",
                ),
                n => self.report(
                    path,
                    format!("must match exactly one schema in oneOf (matches {n})"),
                ),
            }
        }
        if let Some(not) = schema.get("not")
            && self.passes(not, value)
        {
            self.report(path, "must not match the schema in not");
        }
    }
}
/// JSON equality where `1` equals `1.0`.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// A read-only property is set by the server, never sent by the client.
fn read_only(property: &Value) -> bool {
    property.get("readOnly").and_then(Value::as_bool) == Some(true)
}

fn list(values: &[Value]) -> String {
    let shown: Vec<String> = values.iter().take(10).map(Value::to_string).collect();
    let more = if values.len() > 10 { ", ..." } else { "" };
    format!("[{}{more}]", shown.join(", "))
}

fn push_key(path: &mut String, key: &str) {
    path.push('/');
    for c in key.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

/// `path` with `key` appended as a JSON pointer segment.
pub fn child(path: &str, key: &str) -> String {
    let mut p = path.to_owned();
    push_key(&mut p, key);
    p
}
