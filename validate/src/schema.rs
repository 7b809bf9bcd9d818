//! The JSON Schema subset that request bodies and parameters are checked
//! against: the keywords OpenAPI 3.0/3.1 and Swagger 2.0 descriptions use.
//!
//! A schema is compiled once, when its bundle is installed ([`Schema`]:
//! every keyword read and every `pattern` compiled then), and each request
//! walks the compiled form. Every problem is recorded with a JSON pointer
//! to the value, and the walk goes on so that the client learns everything
//! wrong at once. A value of the wrong type is not checked further, to
//! spare cascades. A schema that still holds a `$ref` (one the loader could
//! not resolve) accepts anything.
//!
//! Request rules: `nullable: true` (OpenAPI 3.0) and `x-nullable: true`
//! (Swagger 2.0) let `null` through; a `readOnly` property is never
//! required and never accepted.
//!
//! Measured against the `jsonschema` crate, which compiles its schemas
//! too (`benches/against_jsonschema.rs`, figures in bench/README.md):
//! the problems found and their pointers are the same but for
//! `additionalProperties`, which jsonschema reports at the object. This
//! checker stays: the rules above, and the parameters' coercion from text,
//! are not jsonschema's, and the 400s clients read would change.

use std::fmt::Write as _;

use serde_json::{Map, Value};

mod format;
mod scalar;

use scalar::{NumberRules, StringRules, Types};

/// The most problems reported for one request.
pub const MAX_PROBLEMS: usize = 32;

/// A schema compiled for checking.
#[derive(Debug)]
pub enum Schema {
    /// Accepts anything: `true`, anything but an object, or an object that
    /// still holds a `$ref`.
    Any,
    /// `false`: accepts nothing.
    Nothing,
    /// An object's keywords.
    Rules(Box<Rules>),
}

/// The keywords of one schema object, read.
#[derive(Debug, Default)]
pub struct Rules {
    /// `nullable` or `x-nullable`: `null` passes whatever else is said.
    nullable: bool,
    types: Option<Types>,
    /// `enum`: the values, and what a value of none of them is told.
    one_of_values: Option<(Vec<Value>, String)>,
    /// `const`: the value, and what another value is told.
    constant: Option<(Value, String)>,
    number: Option<Box<NumberRules>>,
    string: Option<Box<StringRules>>,
    array: Option<Box<ArrayRules>>,
    object: Option<Box<ObjectRules>>,
    all_of: Vec<Schema>,
    any_of: Option<Vec<Schema>>,
    one_of: Option<Vec<Schema>>,
    not: Option<Schema>,
}

#[derive(Debug, Default)]
struct ArrayRules {
    min_items: Option<u64>,
    max_items: Option<u64>,
    unique: bool,
    /// The schemas of the first items (`prefixItems`, or `items` as a
    /// list), then of the rest.
    prefix: Vec<Schema>,
    rest: Option<Schema>,
}

#[derive(Debug, Default)]
struct ObjectRules {
    /// The names a value must have: `required` less the read-only ones.
    required: Vec<String>,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
    /// `properties`, sorted by name.
    properties: Vec<(String, Property)>,
    additional: Additional,
}

#[derive(Debug)]
enum Property {
    /// Set by the server, never sent by the client.
    ReadOnly,
    Checked(Schema),
}

#[derive(Debug, Default)]
enum Additional {
    #[default]
    Any,
    Refused,
    Checked(Schema),
}

impl Schema {
    /// Compiles `schema`. A `pattern` that does not compile accepts
    /// anything, and is logged.
    pub fn compile(schema: &Value) -> Schema {
        let map = match schema {
            Value::Object(map) => map,
            Value::Bool(false) => return Schema::Nothing,
            _ => return Schema::Any,
        };
        if map.contains_key("$ref") {
            return Schema::Any;
        }
        let flag = |key: &str| map.get(key).and_then(Value::as_bool).unwrap_or(false);
        let nullable = flag("nullable") || flag("x-nullable");
        let list = |key: &str| match map.get(key) {
            Some(Value::Array(all)) => Some(all.iter().map(Schema::compile).collect::<Vec<_>>()),
            _ => None,
        };
        let rules = Rules {
            nullable,
            types: Types::compile(map, nullable),
            one_of_values: match map.get("enum") {
                Some(Value::Array(allowed)) => Some((
                    allowed.clone(),
                    format!("must be one of {}", shown_list(allowed)),
                )),
                _ => None,
            },
            constant: map
                .get("const")
                .map(|c| (c.clone(), format!("must be {c}"))),
            number: NumberRules::compile(map).map(Box::new),
            string: StringRules::compile(map).map(Box::new),
            array: ArrayRules::compile(map).map(Box::new),
            object: ObjectRules::compile(map).map(Box::new),
            all_of: list("allOf").unwrap_or_default(),
            any_of: list("anyOf"),
            one_of: list("oneOf"),
            not: map.get("not").map(Schema::compile),
        };
        Schema::Rules(Box::new(rules))
    }

    /// What is wrong with `value`, as `(pointer, problem)` pairs.
    pub fn problems(&self, value: &Value) -> Vec<(String, String)> {
        let mut checker = Checker::default();
        checker.check(self, value, &mut String::new());
        checker.problems
    }
}

impl ArrayRules {
    fn compile(map: &Map<String, Value>) -> Option<ArrayRules> {
        let (prefix, rest) = match (map.get("prefixItems"), map.get("items")) {
            (Some(Value::Array(tuple)), rest) => (tuple.as_slice(), rest),
            (_, Some(Value::Array(tuple))) => (tuple.as_slice(), None),
            (_, items) => (&[][..], items),
        };
        let rules = ArrayRules {
            min_items: map.get("minItems").and_then(Value::as_u64),
            max_items: map.get("maxItems").and_then(Value::as_u64),
            unique: map.get("uniqueItems") == Some(&Value::Bool(true)),
            prefix: prefix.iter().map(Schema::compile).collect(),
            rest: rest.map(Schema::compile),
        };
        let checks = rules.min_items.is_some()
            || rules.max_items.is_some()
            || rules.unique
            || !rules.prefix.is_empty()
            || rules.rest.is_some();
        checks.then_some(rules)
    }
}

impl ObjectRules {
    fn compile(map: &Map<String, Value>) -> Option<ObjectRules> {
        let declared = map.get("properties").and_then(Value::as_object);
        let mut properties: Vec<(String, Property)> = declared
            .into_iter()
            .flatten()
            .map(|(name, schema)| {
                let property = if read_only(schema) {
                    Property::ReadOnly
                } else {
                    Property::Checked(Schema::compile(schema))
                };
                (name.clone(), property)
            })
            .collect();
        properties.sort_by(|a, b| a.0.cmp(&b.0));
        let required = match map.get("required") {
            Some(Value::Array(required)) => required
                .iter()
                .filter_map(Value::as_str)
                .filter(|name| !declared.and_then(|p| p.get(*name)).is_some_and(read_only))
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        let additional = match map.get("additionalProperties") {
            Some(Value::Bool(false)) => Additional::Refused,
            Some(schema @ Value::Object(_)) => Additional::Checked(Schema::compile(schema)),
            _ => Additional::Any,
        };
        let rules = ObjectRules {
            required,
            min_properties: map.get("minProperties").and_then(Value::as_u64),
            max_properties: map.get("maxProperties").and_then(Value::as_u64),
            properties,
            additional,
        };
        let checks = !rules.required.is_empty()
            || rules.min_properties.is_some()
            || rules.max_properties.is_some()
            || !rules.properties.is_empty()
            || !matches!(rules.additional, Additional::Any);
        checks.then_some(rules)
    }

    fn property(&self, name: &str) -> Option<&Property> {
        self.properties
            .binary_search_by(|(key, _)| key.as_str().cmp(name))
            .ok()
            .map(|at| &self.properties[at].1)
    }
}

/// Walks a value against a compiled schema, collecting `(pointer, problem)`
/// pairs.
#[derive(Debug, Default)]
struct Checker {
    problems: Vec<(String, String)>,
}

impl Checker {
    fn report(&mut self, path: &str, problem: impl Into<String>) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push((path.to_owned(), problem.into()));
        }
    }

    /// Whether `value` satisfies `schema`, without recording anything.
    fn passes(schema: &Schema, value: &Value) -> bool {
        schema.problems(value).is_empty()
    }

    /// Checks `value` at `path` against `schema`.
    fn check(&mut self, schema: &Schema, value: &Value, path: &mut String) {
        let rules = match schema {
            Schema::Any => return,
            Schema::Nothing => return self.report(path, "is not allowed"),
            Schema::Rules(rules) => rules,
        };
        // A nullable schema stands for "this, or null": a null passes whatever
        // else it says, as `nullable: true` beside `allOf: [$ref]` intends.
        if value.is_null() && rules.nullable {
            return;
        }
        if let Some(types) = &rules.types
            && !types.admit(value)
        {
            return self.report(path, types.expected.as_str());
        }
        if let Some((allowed, problem)) = &rules.one_of_values
            && !allowed.iter().any(|a| json_eq(a, value))
        {
            self.report(path, problem.as_str());
        }
        if let Some((expected, problem)) = &rules.constant
            && !json_eq(expected, value)
        {
            self.report(path, problem.as_str());
        }
        match value {
            Value::Number(_) => {
                if let Some(number) = &rules.number {
                    self.check_number(number, value, path);
                }
            }
            Value::String(s) => {
                if let Some(string) = &rules.string {
                    self.check_string(string, s, path);
                }
            }
            Value::Array(items) => {
                if let Some(array) = &rules.array {
                    self.check_array(array, items, path);
                }
            }
            Value::Object(map) => {
                if let Some(object) = &rules.object {
                    self.check_object(object, map, path);
                }
            }
            Value::Null | Value::Bool(_) => {}
        }
        self.check_combinators(rules, value, path);
    }

    fn check_array(&mut self, rules: &ArrayRules, items: &[Value], path: &mut String) {
        let count = items.len() as u64;
        if let Some(min) = rules.min_items
            && count < min
        {
            self.report(path, format!("must have at least {min} items"));
        }
        if let Some(max) = rules.max_items
            && count > max
        {
            self.report(path, format!("must have at most {max} items"));
        }
        if rules.unique
            && items
                .iter()
                .enumerate()
                .any(|(i, a)| items[..i].iter().any(|b| json_eq(a, b)))
        {
            self.report(path, "must not contain duplicate items");
        }
        for (i, item) in items.iter().enumerate() {
            if let Some(sub) = rules.prefix.get(i).or(rules.rest.as_ref()) {
                let len = path.len();
                let _ = write!(path, "/{i}");
                self.check(sub, item, path);
                path.truncate(len);
            }
        }
    }

    fn check_object(&mut self, rules: &ObjectRules, map: &Map<String, Value>, path: &mut String) {
        for name in &rules.required {
            if !map.contains_key(name) {
                self.report(&child(path, name), "is required");
            }
        }
        let count = map.len() as u64;
        if let Some(min) = rules.min_properties
            && count < min
        {
            self.report(path, format!("must have at least {min} properties"));
        }
        if let Some(max) = rules.max_properties
            && count > max
        {
            self.report(path, format!("must have at most {max} properties"));
        }
        for (key, value) in map {
            let sub = match (rules.property(key), &rules.additional) {
                (Some(Property::Checked(sub)), _) | (None, Additional::Checked(sub)) => sub,
                (None, Additional::Any) => continue,
                (Some(Property::ReadOnly), _) => {
                    self.report(&child(path, key), "is read-only");
                    continue;
                }
                (None, Additional::Refused) => {
                    self.report(&child(path, key), "is not allowed");
                    continue;
                }
            };
            let len = path.len();
            push_key(path, key);
            self.check(sub, value, path);
            path.truncate(len);
        }
    }

    fn check_combinators(&mut self, rules: &Rules, value: &Value, path: &mut String) {
        for sub in &rules.all_of {
            self.check(sub, value, path);
        }
        if let Some(any) = &rules.any_of
            && !any.iter().any(|sub| Self::passes(sub, value))
        {
            self.report(path, "must match at least one schema in anyOf");
        }
        if let Some(one) = &rules.one_of {
            match one.iter().filter(|sub| Self::passes(sub, value)).count() {
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
        if let Some(not) = &rules.not
            && Self::passes(not, value)
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

fn shown_list(values: &[Value]) -> String {
    let shown: Vec<String> = values.iter().take(10).map(Value::to_string).collect();
    let more = if values.len() > 10 { ", ..." } else { "" };
    format!("[{}{more}]", shown.join(", "))
}

fn push_key(path: &mut String, key: &str) {
    path.push('/');
    if !key.contains(['~', '/']) {
        return path.push_str(key);
    }
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
