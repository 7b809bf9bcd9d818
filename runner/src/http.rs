//! Small pieces of HTTP the runner reads requests with: percent-decoding,
//! query strings, cookies and media types.

use std::borrow::Cow;

/// Percent-decodes `input`; with `plus_is_space` (query strings) `+` is a
/// space too. A malformed escape stays as written, and bytes that do not form
/// UTF-8 become U+FFFD, so decoding never fails.
pub fn percent_decode(input: &str, plus_is_space: bool) -> Cow<'_, str> {
    let needs = input
        .bytes()
        .any(|b| b == b'%' || (plus_is_space && b == b'+'));
    if !needs {
        return Cow::Borrowed(input);
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => match (
                bytes.get(i + 1).and_then(hex),
                bytes.get(i + 2).and_then(hex),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).map(|d| d as u8)
}

/// Splits a raw query string into decoded pairs, in order, repeats kept.
/// `a` alone is `("a", "")`; empty pieces (`a=1&&b=2`) are skipped.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
            (
                percent_decode(k, true).into_owned(),
                percent_decode(v, true).into_owned(),
            )
        })
        .collect()
}

/// The cookies of every `cookie` header, as name/value pairs.
pub fn cookies(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|c| c.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
        .collect()
}

/// The media type without parameters, lower case: `application/json` for
/// `Application/JSON; charset=utf-8`.
pub fn mime_essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether a media type is JSON (`application/json` or `+json`).
pub fn is_json(essence: &str) -> bool {
    essence == "application/json" || essence.ends_with("+json")
}

/// Whether `essence` is accepted by a declared media range such as
/// `application/json`, `application/*` or `*/*`.
pub fn mime_matches(range: &str, essence: &str) -> bool {
    let range = mime_essence(range);
    match range.split_once('/') {
        Some(("*", "*")) => true,
        Some((kind, "*")) => essence.split_once('/').is_some_and(|(k, _)| k == kind),
        _ => range == essence,
    }
}

/// The first value of a header, matching the name case-insensitively.
pub use func_sdk::abi::first_header as header;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        let cases = [
            ("plain", false, "plain"),
            ("a%20b", false, "a b"),
            ("a+b", false, "a+b"),
            ("a+b", true, "a b"),
            ("caf%C3%A9", false, "café"),
            ("100%", false, "100%"),
            ("%zz", false, "%zz"),
            ("%2Fslash", false, "/slash"),
            ("%FF", false, "\u{FFFD}"),
        ];
        for (input, plus, want) in cases {
            assert_eq!(percent_decode(input, plus), want, "{input}");
        }
    }

    #[test]
    fn query_pairs_keep_order_and_repeats() {
        let pairs = parse_query("tag=a&tag=b%20c&flag&&q=x+y");
        let want = [("tag", "a"), ("tag", "b c"), ("flag", ""), ("q", "x y")];
        let got: Vec<_> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(got, want);
        assert!(parse_query("").is_empty());
    }

    #[test]
    fn cookies_from_all_headers() {
        let headers = vec![
            ("cookie".to_owned(), "a=1; b=\"two\"".to_owned()),
            ("Cookie".to_owned(), "c=3".to_owned()),
        ];
        assert_eq!(cookies(&headers), [("a", "1"), ("b", "two"), ("c", "3")]);
    }

    #[test]
    fn media_types() {
        assert_eq!(
            mime_essence("Application/JSON; charset=utf-8"),
            "application/json"
        );
        assert!(is_json("application/problem+json"));
        assert!(!is_json("text/plain"));
        assert!(mime_matches("application/*", "application/json"));
        assert!(mime_matches("*/*", "image/png"));
        assert!(mime_matches(
            "application/json; charset=utf-8",
            "application/json"
        ));
        assert!(!mime_matches("application/json", "text/json"));
    }
}
