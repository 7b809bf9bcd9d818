//! Local `$ref` resolution.
//!
//! Component references (parameters, request bodies, path items) are
//! followed to their target. Schemas are resolved deeply; a reference that
//! would recurse (a tree, a linked list) is left as `{"$ref": ...}` where it
//! recurs, which the request validator reads as "anything". References to
//! other files are left unresolved the same way.

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

/// How deep resolved references may nest inside one schema.
const MAX_DEPTH: usize = 32;
/// How many references one schema may expand; past it the rest stay
/// unresolved, so that a document of references that each fan out twice
/// cannot make loading exponential.
const MAX_EXPANSIONS: usize = 4096;

/// Keywords whose value is one schema (or, for `items`, a list of them).
pub(super) const SUBSCHEMA: &[&str] = &[
    "items",
    "additionalItems",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
];
/// Keywords whose value is a list of schemas.
pub(super) const SCHEMA_LISTS: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value maps names to schemas.
pub(super) const SCHEMA_MAPS: &[&str] = &["properties", "patternProperties", "dependentSchemas"];
/// Keywords that only annotate: a `$ref` beside only these needs no `allOf`.
const ANNOTATIONS: &[&str] = &[
    "$ref",
    "description",
    "summary",
    "title",
    "example",
    "examples",
    "deprecated",
    "$comment",
];

/// Resolves the local references of one document.
pub(crate) struct Refs<'a> {
    root: &'a Value,
    /// OpenAPI 3.1 (JSON Schema 2020-12): keywords beside a `$ref` apply too.
    siblings_apply: bool,
}

/// One schema's resolution: the references being expanded and the budget.
struct Walk {
    stack: Vec<String>,
    expansions: usize,
}

impl<'a> Refs<'a> {
    pub(crate) fn new(root: &'a Value, siblings_apply: bool) -> Self {
        Self {
            root,
            siblings_apply,
        }
    }

    /// Follows `value` while it is a `{"$ref": "#/..."}` object.
    pub(crate) fn follow(&self, mut value: &'a Value) -> Result<&'a Value, String> {
        let mut seen = Vec::new();
        while let Some(reference) = ref_of(value) {
            if seen.contains(&reference) {
                return Err(format!("`$ref` cycle through `{reference}`"));
            }
            value = self.target(reference)?.ok_or_else(|| {
                format!(
                    "`$ref: {reference}` is not local (only `#/...` references are supported here)"
                )
            })?;
            seen.push(reference);
        }
        Ok(value)
    }

    /// What the local `reference` points to, references there followed.
    pub(crate) fn follow_ref(&self, reference: &str) -> Result<&'a Value, String> {
        let target = self.target(reference)?.ok_or_else(|| {
            format!("`$ref: {reference}` is not local (only `#/...` references are supported here)")
        })?;
        self.follow(target)
    }

    /// `schema` with its local references replaced by their targets.
    pub(crate) fn schema(&self, schema: &Value) -> Result<Value, String> {
        let mut walk = Walk {
            stack: Vec::new(),
            expansions: 0,
        };
        let resolved = self.resolve(schema, &mut walk)?;
        if walk.expansions > MAX_EXPANSIONS {
            tracing::warn!(
                limit = MAX_EXPANSIONS,
                "schema expands too many `$ref`s; the rest are left unresolved"
            );
        }
        Ok(resolved)
    }

    fn resolve(&self, schema: &Value, walk: &mut Walk) -> Result<Value, String> {
        let Value::Object(map) = schema else {
            return Ok(schema.clone());
        };
        if let Some(reference) = ref_of(schema) {
            return self.expand(reference, map, walk);
        }
        let mut out = Map::new();
        for (key, value) in map {
            let value = match (key.as_str(), value) {
                (k, Value::Array(list)) if SCHEMA_LISTS.contains(&k) || k == "items" => {
                    Value::Array(
                        list.iter()
                            .map(|s| self.resolve(s, walk))
                            .collect::<Result<_, _>>()?,
                    )
                }
                (k, Value::Object(named)) if SCHEMA_MAPS.contains(&k) => {
                    let mut resolved = Map::new();
                    for (name, s) in named {
                        resolved.insert(name.clone(), self.resolve(s, walk)?);
                    }
                    Value::Object(resolved)
                }
                (k, v) if SUBSCHEMA.contains(&k) => self.resolve(v, walk)?,
                (_, v) => v.clone(),
            };
            out.insert(key.clone(), value);
        }
        Ok(Value::Object(out))
    }

    fn expand(
        &self,
        reference: &str,
        map: &Map<String, Value>,
        walk: &mut Walk,
    ) -> Result<Value, String> {
        let recursive = walk.stack.iter().any(|r| r == reference);
        walk.expansions += 1;
        if recursive || walk.stack.len() >= MAX_DEPTH || walk.expansions > MAX_EXPANSIONS {
            return Ok(Value::Object(map.clone()));
        }
        let Some(target) = self.target(reference)? else {
            return Ok(Value::Object(map.clone()));
        };
        walk.stack.push(reference.to_owned());
        let resolved = self.resolve(target, walk);
        walk.stack.pop();
        let resolved = resolved?;
        if !self.siblings_apply || map.keys().all(|k| ANNOTATIONS.contains(&k.as_str())) {
            return Ok(resolved);
        }
        // 2020-12: `{"$ref": X, "maxLength": 3}` means both X and maxLength.
        let mut rest = map.clone();
        rest.remove("$ref");
        let Value::Object(mut rest) = self.resolve(&Value::Object(rest), walk)? else {
            return Ok(resolved);
        };
        rest.insert("allOf".to_owned(), Value::Array(vec![resolved]));
        Ok(Value::Object(rest))
    }

    /// The target of a local reference, `None` for a reference to another
    /// file, an error for a local one that points nowhere.
    fn target(&self, reference: &str) -> Result<Option<&'a Value>, String> {
        let Some(pointer) = reference.strip_prefix('#') else {
            return Ok(None);
        };
        // URI fragments may percent-encode characters (`%7B` for `{`).
        self.root
            .pointer(&percent_decode_str(pointer).decode_utf8_lossy())
            .map(Some)
            .ok_or_else(|| format!("`$ref: {reference}` points to nothing in this file"))
    }
}

/// The `$ref` of a reference object.
fn ref_of(value: &Value) -> Option<&str> {
    value.get("$ref")?.as_str()
}
