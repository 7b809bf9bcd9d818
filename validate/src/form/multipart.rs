//! `multipart/form-data` bodies (RFC 7578 over RFC 2046), read strictly and
//! in one pass: each part is `--boundary CRLF headers CRLF CRLF content`,
//! the last boundary is followed by `--`. Lines end in CRLF. A preamble
//! before the first boundary and an epilogue after the last are ignored.
//!
//! Each part's content is taken as text (invalid UTF-8 replaced), so a file
//! is a string, as `type: string, format: binary` describes it.

use std::borrow::Cow;

use super::{Fields, params};

/// RFC 2046 caps a boundary at 70 characters.
const MAX_BOUNDARY: usize = 70;

/// The fields of a body whose `content-type` is `content_type`.
pub fn decode<'a>(content_type: &str, body: &'a [u8]) -> Result<Fields<'a>, String> {
    let boundary = boundary(content_type)?;
    // Every boundary but the very first at the start of the body follows a
    // line break, which belongs to the boundary rather than to the content.
    let delimiter = [&b"\r\n--"[..], boundary.as_bytes()].concat();
    let mut pos = if body.starts_with(&delimiter[2..]) {
        delimiter.len() - 2
    } else {
        find(body, &delimiter).ok_or("there is no opening boundary")? + delimiter.len()
    };
    let mut fields = Vec::new();
    loop {
        let number = fields.len() + 1;
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            return Ok(fields);
        }
        // Transport padding: blanks between a boundary and its line break.
        let padding = rest
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        if !rest[padding..].starts_with(b"\r\n") {
            return Err(format!(
                "the boundary before part {number} is not followed by a line break"
            ));
        }
        let start = pos + padding + 2;
        let len = find(&body[start..], &delimiter).ok_or_else(|| {
            format!(
                "part {number} is truncated: no boundary follows it (the closing one ends in `--`)"
            )
        })?;
        let part = &body[start..start + len];
        // No headers at all: the part opens with its blank line.
        let (headers, content) = match part.strip_prefix(b"\r\n") {
            Some(content) => (&[][..], content),
            None => find(part, b"\r\n\r\n")
                .map(|end| (&part[..end], &part[end + 4..]))
                .ok_or_else(|| format!("part {number} has no blank line after its headers"))?,
        };
        let name = field_name(headers).map_err(|e| format!("part {number}: {e}"))?;
        fields.push((Cow::Owned(name), String::from_utf8_lossy(content)));
        pos = start + len + delimiter.len();
    }
}

/// The `boundary` parameter of the content type, checked against RFC 2046.
fn boundary(content_type: &str) -> Result<String, String> {
    let (_, params) = params::split(content_type).map_err(|e| format!("its content-type: {e}"))?;
    let boundary = params
        .into_iter()
        .find(|(name, _)| name == "boundary")
        .map(|(_, value)| value)
        .ok_or("its content-type has no boundary")?;
    let bchar = |c: u8| c.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&c);
    if boundary.is_empty()
        || boundary.len() > MAX_BOUNDARY
        || boundary.ends_with(' ')
        || !boundary.bytes().all(bchar)
    {
        return Err(format!(
            "boundary `{boundary}` is not 1 to {MAX_BOUNDARY} letters, digits or '()+_,-./:=? (no trailing space)"
        ));
    }
    Ok(boundary)
}

/// The `name` of a part's `Content-Disposition: form-data; name="..."`.
fn field_name(headers: &[u8]) -> Result<String, String> {
    let headers = std::str::from_utf8(headers).map_err(|_| "its headers are not UTF-8")?;
    let mut disposition = None;
    for line in headers.split("\r\n") {
        let (name, value) = line
            .split_once(':')
            .filter(|(name, _)| !name.is_empty() && !name.starts_with([' ', '\t']))
            .ok_or_else(|| format!("`{line}` is not a header line"))?;
        if name.trim_end().eq_ignore_ascii_case("content-disposition") {
            disposition = Some(value);
        }
    }
    let disposition = disposition.ok_or("it has no Content-Disposition header")?;
    let (kind, params) =
        params::split(disposition).map_err(|e| format!("its Content-Disposition: {e}"))?;
    if !kind.eq_ignore_ascii_case("form-data") {
        return Err(format!(
            "its Content-Disposition is `{kind}`, not `form-data`"
        ));
    }
    params
        .into_iter()
        .find(|(name, _)| name == "name")
        .map(|(_, value)| value)
        .ok_or_else(|| "its Content-Disposition has no `name`".to_owned())
}

/// Where `needle` first occurs in `haystack`. Linear in practice: the
/// needles here start with a line break, which content holds rarely.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, tail) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = haystack.get(from..)?.iter().position(|b| *b == first) {
        let at = from + i;
        if haystack.get(at + 1..at + needle.len()) == Some(tail) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}
