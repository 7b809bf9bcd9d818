//! The keywords of scalars: `type`, number bounds and formats, string
//! lengths, patterns and formats.

use serde_json::{Map, Value};

use super::{Checker, format};

impl Checker<'_> {
    pub(super) fn check_number(&mut self, schema: &Map<String, Value>, value: &Value, path: &str) {
        let Some(n) = value.as_f64() else { return };
        let bound = |key: &str| {
            schema
                .get(key)
                .and_then(Value::as_f64)
                .map(|b| (b, &schema[key]))
        };
        let flag = |key: &str| schema.get(key).and_then(Value::as_bool).unwrap_or(false);
        if let Some((min, shown)) = bound("minimum") {
            if flag("exclusiveMinimum") && n <= min {
                self.report(path, format!("must be > {shown}"));
            } else if n < min {
                self.report(path, format!("must be >= {shown}"));
            }
        }
        if let Some((max, shown)) = bound("maximum") {
            if flag("exclusiveMaximum") && n >= max {
                self.report(path, format!("must be < {shown}"));
            } else if n > max {
                self.report(path, format!("must be <= {shown}"));
            }
        }
        // OpenAPI 3.1 / JSON Schema 2020-12 spell exclusive bounds as numbers.
        if let Some((min, shown)) = bound("exclusiveMinimum")
            && n <= min
        {
            self.report(path, format!("must be > {shown}"));
        }
        if let Some((max, shown)) = bound("exclusiveMaximum")
            && n >= max
        {
            self.report(path, format!("must be < {shown}"));
        }
        if let Some((step, shown)) = bound("multipleOf")
            && step > 0.0
            && ((n / step) - (n / step).round()).abs() > 1e-9
        {
            self.report(path, format!("must be a multiple of {shown}"));
        }
        match schema.get("format").and_then(Value::as_str) {
            Some("int32") if value.as_i64().is_none_or(|i| i32::try_from(i).is_err()) => {
                self.report(path, "must fit in a 32-bit signed integer (int32)");
            }
            Some("int64") if is_integer(value) && value.as_i64().is_none() => {
                self.report(path, "must fit in a 64-bit signed integer (int64)");
            }
            _ => {}
        }
    }

    pub(super) fn check_string(&mut self, schema: &Map<String, Value>, s: &str, path: &str) {
        let len = s.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && len < min
        {
            self.report(path, format!("must be at least {min} characters long"));
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && len > max
        {
            self.report(path, format!("must be at most {max} characters long"));
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
            && self.patterns.get(pattern).is_some_and(|re| !re.is_match(s))
        {
            self.report(path, format!("must match the pattern {pattern}"));
        }
        if let Some(format) = schema.get("format").and_then(Value::as_str)
            && let Some(expected) = format::mismatch(format, s)
        {
            self.report(path, format!("must be {expected}"));
        }
    }
}

/// Whether the schema admits `null` besides its type: OpenAPI 3.0's
/// `nullable` or Swagger 2.0's `x-nullable`.
pub(super) fn nullable(schema: &Map<String, Value>) -> bool {
    let flag = |key: &str| schema.get(key).and_then(Value::as_bool).unwrap_or(false);
    flag("nullable") || flag("x-nullable")
}

/// What the declared type wants, when `value` is not of it.
pub(super) fn type_mismatch(schema: &Map<String, Value>, value: &Value) -> Option<String> {
    let nullable = nullable(schema);
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return None,
    };
    if (value.is_null() && nullable) || types.iter().any(|t| has_type(t, value)) {
        return None;
    }
    let mut names: Vec<String> = types.iter().map(|t| article(t)).collect();
    if nullable {
        names.push("null".into());
    }
    Some(names.join(" or "))
}

fn has_type(ty: &str, value: &Value) -> bool {
    match ty {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "number" => value.is_number(),
        "integer" => is_integer(value),
        "string" => value.is_string(),
        _ => true,
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
