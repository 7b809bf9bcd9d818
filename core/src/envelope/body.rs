use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// A message body with its encoding.
///
/// JSON stays inline (validated, never re-parsed into a tree), text stays
/// inline, and any other bytes travel as base64.
#[derive(Debug, Clone, Default)]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// A JSON document, kept as its original text.
    Json(Box<RawValue>),
    /// UTF-8 text.
    Text(String),
    /// Other bytes.
    Binary(Bytes),
}

impl PartialEq for Body {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Body::Json(a), Body::Json(b)) => a.get() == b.get(),
            (Body::Text(a), Body::Text(b)) => a == b,
            (Body::Binary(a), Body::Binary(b)) => a == b,
            (Body::Empty, Body::Empty) => true,
            _ => false,
        }
    }
}

impl Body {
    /// Chooses the encoding for `bytes` sent with `content_type`: JSON when the
    /// type says JSON and the bytes parse, text when they are UTF-8 and the
    /// type is textual, base64 otherwise.
    pub fn from_bytes(bytes: Bytes, content_type: Option<&str>) -> Self {
        if bytes.is_empty() {
            return Body::Empty;
        }
        let mime = content_type
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let jsonish = mime == "application/json" || mime.ends_with("+json");
        let textual = jsonish
            || mime.starts_with("text/")
            || mime.ends_with("+xml")
            || matches!(
                mime.as_str(),
                "application/xml" | "application/x-www-form-urlencoded" | "application/javascript"
            );
        if !textual {
            return Body::Binary(bytes);
        }
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) if jsonish => match RawValue::from_string(text) {
                Ok(raw) => Body::Json(raw),
                Err(_) => Body::Binary(bytes),
            },
            Ok(text) => Body::Text(text),
            Err(_) => Body::Binary(bytes),
        }
    }

    /// A JSON body from a value.
    pub fn json_value(value: &serde_json::Value) -> Self {
        match serde_json::value::to_raw_value(value) {
            Ok(raw) => Body::Json(raw),
            Err(_) => Body::Empty,
        }
    }

    /// Whether there is no body.
    pub fn is_empty(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Json(_) => false,
            Body::Text(t) => t.is_empty(),
            Body::Binary(b) => b.is_empty(),
        }
    }

    /// The body's bytes, as the client sent them.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Body::Empty => &[],
            Body::Json(raw) => raw.get().as_bytes(),
            Body::Text(t) => t.as_bytes(),
            Body::Binary(b) => b,
        }
    }

    /// The body's bytes as an owned buffer.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Body::Binary(b) => b.clone(),
            other => Bytes::copy_from_slice(other.as_bytes()),
        }
    }

    /// The encoding's name as written on the wire.
    pub fn encoding(&self) -> &'static str {
        match self {
            Body::Empty => "empty",
            Body::Json(_) => "json",
            Body::Text(_) => "text",
            Body::Binary(_) => "base64",
        }
    }
}

impl Serialize for Body {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Body::Empty => serializer.serialize_none(),
            Body::Json(raw) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("json", raw)?;
                map.end()
            }
            Body::Text(text) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("text", text)?;
                map.end()
            }
            Body::Binary(bytes) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("base64", &BASE64.encode(bytes))?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_option(BodyVisitor)
    }
}

struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Body;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(r#"null or an object with one key: "json", "text" or "base64""#)
    }

    fn visit_none<E: de::Error>(self) -> Result<Body, E> {
        Ok(Body::Empty)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Body, E> {
        Ok(Body::Empty)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Body, D::Error> {
        d.deserialize_map(BodyVisitor)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Body, A::Error> {
        let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? else {
            return Ok(Body::Empty);
        };
        let body = match key.as_ref() {
            "json" => Body::Json(map.next_value::<Box<RawValue>>()?),
            "text" => Body::Text(map.next_value::<String>()?),
            "base64" => {
                let text = map.next_value::<std::borrow::Cow<'de, str>>()?;
                let bytes = BASE64
                    .decode(text.as_bytes())
                    .map_err(|e| de::Error::custom(format!("bad base64 body: {e}")))?;
                Body::Binary(Bytes::from(bytes))
            }
            other => {
                return Err(de::Error::unknown_variant(
                    other,
                    &["json", "text", "base64"],
                ));
            }
        };
        if map.next_key::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("a body names exactly one encoding"));
        }
        Ok(body)
    }
}
