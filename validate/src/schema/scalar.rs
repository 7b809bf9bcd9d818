//! The keywords of scalars, compiled: `type`, number bounds and formats,
//! string lengths, patterns and formats.

use regex::Regex;
use serde_json::{Map, Value};

use super::Checker;
use super::format::Format;

/// The `type` keyword: the types a value may have, and what a value of
/// none of them is told.
#[derive(Debug)]
pub(super) struct Types {
    /// One bit per JSON type (see [`bit`]).
    admitted: u8,
    pub(super) expected: String,
}

const NULL: u8 = 1;
const BOOLEAN: u8 = 1 << 1;
const OBJECT: u8 = 1 << 2;
const ARRAY: u8 = 1 << 3;
const NUMBER: u8 = 1 << 4;
const INTEGER: u8 = 1 << 5;
const STRING: u8 = 1 << 6;

/// The bit of type `name`; `None` for a name JSON Schema does not know,
/// which admits every value.
fn bit(name: &str) -> Option<u8> {
    Some(match name {
        "null" => NULL,
        "boolean" => BOOLEAN,
        "object" => OBJECT,
        "array" => ARRAY,
        "number" => NUMBER,
        "integer" => INTEGER,
        "string" => STRING,
        _ => return None,
    })
}

impl Types {
    /// The `type` of `schema`; `None` when it names none, or one that admits
    /// every value.
    pub(super) fn compile(schema: &Map<String, Value>, nullable: bool) -> Option<Types> {
        let names: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => return None,
        };
        let mut admitted = 0;
        for name in &names {
            admitted |= bit(name)?;
        }
        let mut shown: Vec<String> = names.iter().map(|t| article(t)).collect();
        if nullable {
            shown.push("null".into());
        }
        Some(Types {
            admitted,
            expected: format!("must be {}", shown.join(" or ")),
        })
    }

    /// Whether `value` is of one of the types. (A `null` that a nullable
    /// schema admits never gets here.)
    pub(super) fn admit(&self, value: &Value) -> bool {
        let of = match value {
            Value::Null => NULL,
            Value::Bool(_) => BOOLEAN,
            Value::Object(_) => OBJECT,
            Value::Array(_) => ARRAY,
            Value::String(_) => STRING,
            Value::Number(_) if is_integer(value) => NUMBER | INTEGER,
            Value::Number(_) => NUMBER,
        };
        self.admitted & of != 0
    }
}

fn article(ty: &str) -> String {
    match ty {
        "integer" | "object" | "array" => format!("an {ty}"),
        "null" => "null".into(),
        _ => format!("a {ty}"),
    }
}

/// Integers include numbers with no fraction (`2.0`), as JSON Schema says.
fn is_integer(value: &Value) -> bool {
    value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
}

/// A bound, and the bound as the schema writes it.
type Bound = (f64, String);

/// The keywords of numbers.
#[derive(Debug, Default)]
pub(super) struct NumberRules {
    /// `minimum`, and whether `exclusiveMinimum: true` (OpenAPI 3.0, Swagger
    /// 2.0) makes it exclusive.
    minimum: Option<(Bound, bool)>,
    maximum: Option<(Bound, bool)>,
    /// OpenAPI 3.1 / JSON Schema 2020-12 spell exclusive bounds as numbers.
    exclusive_minimum: Option<Bound>,
    exclusive_maximum: Option<Bound>,
    multiple_of: Option<Bound>,
    format: Option<IntFormat>,
}

/// The `format`s of integers that are checked.
#[derive(Debug, Clone, Copy)]
pub(super) enum IntFormat {
    Int32,
    Int64,
}

impl IntFormat {
    pub(super) fn named(name: &str) -> Option<IntFormat> {
        match name {
            "int32" => Some(IntFormat::Int32),
            "int64" => Some(IntFormat::Int64),
            _ => None,
        }
    }
}

impl NumberRules {
    pub(super) fn compile(schema: &Map<String, Value>) -> Option<NumberRules> {
        let bound = |key: &str| {
            let value = schema.get(key)?;
            Some((value.as_f64()?, value.to_string()))
        };
        let flag = |key: &str| schema.get(key).and_then(Value::as_bool).unwrap_or(false);
        let rules = NumberRules {
            minimum: bound("minimum").map(|b| (b, flag("exclusiveMinimum"))),
            maximum: bound("maximum").map(|b| (b, flag("exclusiveMaximum"))),
            exclusive_minimum: bound("exclusiveMinimum"),
            exclusive_maximum: bound("exclusiveMaximum"),
            multiple_of: bound("multipleOf").filter(|(step, _)| *step > 0.0),
            format: format_name(schema).and_then(IntFormat::named),
        };
        let checks = rules.minimum.is_some()
            || rules.maximum.is_some()
            || rules.exclusive_minimum.is_some()
            || rules.exclusive_maximum.is_some()
            || rules.multiple_of.is_some()
            || rules.format.is_some();
        checks.then_some(rules)
    }
}

/// The keywords of strings.
#[derive(Debug, Default)]
pub(super) struct StringRules {
    min_length: Option<u64>,
    max_length: Option<u64>,
    /// The pattern, and what a string that does not match is told.
    pattern: Option<(Regex, String)>,
    format: Option<Format>,
}

impl StringRules {
    pub(super) fn compile(schema: &Map<String, Value>) -> Option<StringRules> {
        let rules = StringRules {
            min_length: schema.get("minLength").and_then(Value::as_u64),
            max_length: schema.get("maxLength").and_then(Value::as_u64),
            pattern: pattern(schema),
            format: format_name(schema).and_then(Format::named),
        };
        let checks = rules.min_length.is_some()
            || rules.max_length.is_some()
            || rules.pattern.is_some()
            || rules.format.is_some();
        checks.then_some(rules)
    }
}

impl Checker {
    pub(super) fn check_number(&mut self, rules: &NumberRules, value: &Value, path: &str) {
        let Some(n) = value.as_f64() else { return };
        if let Some(((min, shown), exclusive)) = &rules.minimum {
            if *exclusive && n <= *min {
                self.report(path, format!("must be > {shown}"));
            } else if n < *min {
                self.report(path, format!("must be >= {shown}"));
            }
        }
        if let Some(((max, shown), exclusive)) = &rules.maximum {
            if *exclusive && n >= *max {
                self.report(path, format!("must be < {shown}"));
            } else if n > *max {
                self.report(path, format!("must be <= {shown}"));
            }
        }
        if let Some((min, shown)) = &rules.exclusive_minimum
            && n <= *min
        {
            self.report(path, format!("must be > {shown}"));
        }
        if let Some((max, shown)) = &rules.exclusive_maximum
            && n >= *max
        {
            self.report(path, format!("must be < {shown}"));
        }
        if let Some((step, shown)) = &rules.multiple_of
            && ((n / step) - (n / step).round()).abs() > 1e-9
        {
            self.report(path, format!("must be a multiple of {shown}"));
        }
        match rules.format {
            Some(IntFormat::Int32) if value.as_i64().is_none_or(|i| i32::try_from(i).is_err()) => {
                self.report(path, "must fit in a 32-bit signed integer (int32)");
            }
            Some(IntFormat::Int64) if is_integer(value) && value.as_i64().is_none() => {
                self.report(path, "must fit in a 64-bit signed integer (int64)");
            }
            _ => {}
        }
    }

    pub(super) fn check_string(&mut self, rules: &StringRules, s: &str, path: &str) {
        if rules.min_length.is_some() || rules.max_length.is_some() {
            let len = s.chars().count() as u64;
            if let Some(min) = rules.min_length
                && len < min
            {
                self.report(path, format!("must be at least {min} characters long"));
            }
            if let Some(max) = rules.max_length
                && len > max
            {
                self.report(path, format!("must be at most {max} characters long"));
            }
        }
        if let Some((pattern, problem)) = &rules.pattern
            && !pattern.is_match(s)
        {
            self.report(path, problem.as_str());
        }
        if let Some(format) = rules.format
            && let Some(expected) = format.mismatch(s)
        {
            self.report(path, format!("must be {expected}"));
        }
    }
}

/// The `format` keyword, of a string or a number.
fn format_name(schema: &Map<String, Value>) -> Option<&str> {
    schema.get("format").and_then(Value::as_str)
}

/// A `pattern`, compiled; `None` (logged) when it does not compile.
fn pattern(schema: &Map<String, Value>) -> Option<(Regex, String)> {
    let pattern = schema.get("pattern")?.as_str()?;
    let compiled = Regex::new(pattern)
        .inspect_err(|error| tracing::warn!(%pattern, %error, "schema pattern ignored"))
        .ok()?;
    Some((compiled, format!("must match the pattern {pattern}")))
}
