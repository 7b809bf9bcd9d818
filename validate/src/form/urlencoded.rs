//! `application/x-www-form-urlencoded` bodies, decoded strictly: unlike a
//! query string, where a stray `%` is kept as written, a body that does not
//! decode is refused, so the function never sees a form it cannot read.

use std::borrow::Cow;

use super::Fields;

/// The body's `name=value` pairs, in order, repeats kept; `+` is a space,
/// `name` alone is `("name", "")`, empty pieces (`a=1&&b=2`) are skipped.
/// An error says what is malformed and at which byte.
pub fn decode(body: &[u8]) -> Result<Fields<'_>, String> {
    let mut fields = Vec::new();
    let mut offset = 0;
    for piece in body.split(|b| *b == b'&') {
        if !piece.is_empty() {
            let (name, value, value_at) = match piece.iter().position(|b| *b == b'=') {
                Some(eq) => (&piece[..eq], &piece[eq + 1..], offset + eq + 1),
                None => (piece, &[][..], offset + piece.len()),
            };
            fields.push((unescape(name, offset)?, unescape(value, value_at)?));
        }
        offset += piece.len() + 1;
    }
    Ok(fields)
}

/// One name or value, `at` its offset in the body. Borrowed when nothing
/// is escaped.
fn unescape(raw: &[u8], at: usize) -> Result<Cow<'_, str>, String> {
    let not_utf8 = || format!("the text at byte {at} is not UTF-8 once decoded");
    if !raw.iter().any(|b| matches!(b, b'%' | b'+')) {
        return std::str::from_utf8(raw)
            .map(Cow::Borrowed)
            .map_err(|_| not_utf8());
    }
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let byte = raw
                    .get(i + 1..i + 3)
                    .and_then(|hex| Some(hex_digit(hex[0])? << 4 | hex_digit(hex[1])?))
                    .ok_or_else(|| {
                        format!("`%` at byte {} is not followed by two hex digits", at + i)
                    })?;
                bytes.push(byte);
                i += 2;
            }
            other => bytes.push(other),
        }
        i += 1;
    }
    String::from_utf8(bytes)
        .map(Cow::Owned)
        .map_err(|_| not_utf8())
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}
