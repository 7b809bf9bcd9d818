//! Turning parameter strings into the JSON values their schemas describe,
//! so that `"10"` can be checked against `maximum: 100`.

use serde_json::{Number, Value};

/// The primary declared type: `type: integer`, or the first non-null entry
/// of `type: [integer, "null"]`.
pub fn declared_type(schema: &Value) -> Option<&str> {
    match schema.get("type")? {
        Value::String(t) => Some(t),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

/// Coerces the raw values of one parameter (several when the key repeats).
/// An array comes from repeated keys, or from one comma-separated value. A
/// scalar given more than once is refused: which of its values a function
/// reads would otherwise differ from the one that was checked.
pub fn coerce(raw: &[&str], schema: &Value) -> Result<Value, String> {
    if declared_type(schema) == Some("array") {
        let parts: Vec<&str> = match raw {
            [""] => Vec::new(),
            [one] => one.split(',').collect(),
            many => many.to_vec(),
        };
        let items = schema.get("items").unwrap_or(&Value::Null);
        return parts
            .iter()
            .enumerate()
            .map(|(i, part)| scalar(part, items).map_err(|p| format!("item {i} {p}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    match raw {
        [] => scalar("", schema),
        [one] => scalar(one, schema),
        many => Err(format!("is given {} times; it takes one value", many.len())),
    }
}

/// Coerces one string to the schema's scalar type.
pub fn scalar(raw: &str, schema: &Value) -> Result<Value, String> {
    match declared_type(schema) {
        Some("integer") => integer(raw).ok_or_else(|| "must be an integer".to_owned()),
        Some("number") => integer(raw)
            .or_else(|| {
                raw.trim()
                    .parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
            })
            .ok_or_else(|| "must be a number".to_owned()),
        Some("boolean") => match raw.to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err("must be true or false".to_owned()),
        },
        Some("object") => match serde_json::from_str::<Value>(raw) {
            Ok(v @ Value::Object(_)) => Ok(v),
            _ => Err("must be a JSON object".to_owned()),
        },
        _ => Ok(Value::String(raw.to_owned())),
    }
}

fn integer(raw: &str) -> Option<Value> {
    let raw = raw.trim();
    raw.parse::<i64>()
        .map(Value::from)
        .or_else(|_| raw.parse::<u64>().map(Value::from))
        .ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn table() {
        let cases: Vec<(&[&str], Value, Result<Value, &str>)> = vec![
            (&["10"], json!({"type": "integer"}), Ok(json!(10))),
            (&["-3"], json!({"type": "integer"}), Ok(json!(-3))),
            (
                &["18446744073709551615"],
                json!({"type": "integer"}),
                Ok(json!(u64::MAX)),
            ),
            (
                &["1.5"],
                json!({"type": "integer"}),
                Err("must be an integer"),
            ),
            (
                &["ten"],
                json!({"type": "integer"}),
                Err("must be an integer"),
            ),
            (&[""], json!({"type": "integer"}), Err("must be an integer")),
            (&["1.5"], json!({"type": "number"}), Ok(json!(1.5))),
            (&["7"], json!({"type": "number"}), Ok(json!(7))),
            (&["NaN"], json!({"type": "number"}), Err("must be a number")),
            (&["TRUE"], json!({"type": "boolean"}), Ok(json!(true))),
            (
                &["yes"],
                json!({"type": "boolean"}),
                Err("must be true or false"),
            ),
            (&["x"], json!({"type": "string"}), Ok(json!("x"))),
            (&["x"], json!({}), Ok(json!("x"))),
            (&["5"], json!({"type": ["integer", "null"]}), Ok(json!(5))),
            (
                &["1,2,3"],
                json!({"type": "array", "items": {"type": "integer"}}),
                Ok(json!([1, 2, 3])),
            ),
            (
                &["1", "2"],
                json!({"type": "array", "items": {"type": "integer"}}),
                Ok(json!([1, 2])),
            ),
            (
                &[""],
                json!({"type": "array", "items": {"type": "integer"}}),
                Ok(json!([])),
            ),
            (
                &["1,x"],
                json!({"type": "array", "items": {"type": "integer"}}),
                Err("item 1 must be an integer"),
            ),
            (&["a,b"], json!({"type": "array"}), Ok(json!(["a", "b"]))),
            (
                &["{\"a\":1}"],
                json!({"type": "object"}),
                Ok(json!({"a": 1})),
            ),
            (
                &["[1]"],
                json!({"type": "object"}),
                Err("must be a JSON object"),
            ),
            (
                &["first", "second"],
                json!({"type": "string"}),
                Err("is given 2 times; it takes one value"),
            ),
            (
                &["1", "1", "1"],
                json!({"type": "integer"}),
                Err("is given 3 times; it takes one value"),
            ),
        ];
        for (raw, schema, want) in cases {
            assert_eq!(
                coerce(raw, &schema),
                want.map_err(str::to_owned),
                "{raw:?} as {schema}"
            );
        }
    }
}
