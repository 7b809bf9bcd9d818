//! Small pieces of HTTP the runner reads requests with: percent-decoding,
//! query strings, cookies and media types. Decoding is the
//! `percent-encoding` and `form_urlencoded` crates'.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

/// Percent-decodes one path segment. A malformed escape stays as written,
/// and bytes that do not form UTF-8 become U+FFFD, so decoding never fails.
/// `%2F` becomes `/`: a path parameter may hold one, since the path was
/// split into segments first.
pub fn percent_decode(segment: &str) -> Cow<'_, str> {
    // Most segments escape nothing; the crate would check them for UTF-8
    // once more before answering so.
    if !segment.contains('%') {
        return Cow::Borrowed(segment);
    }
    percent_decode_str(segment).decode_utf8_lossy()
}

/// Splits a raw query string into decoded pairs, in order, repeats kept.
/// `a` alone is `("a", "")`; empty pieces (`a=1&&b=2`) are skipped; `+` is
/// a space, as in HTML forms.
pub fn parse_query(raw: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw.as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
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
pub fn mime_essence(content_type: &str) -> Cow<'_, str> {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(essence.to_ascii_lowercase())
    } else {
        Cow::Borrowed(essence)
    }
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
            ("plain", "plain"),
            ("a%20b", "a b"),
            ("a+b", "a+b"),
            ("caf%C3%A9", "café"),
            ("100%", "100%"),
            ("%zz", "%zz"),
            ("%4", "%4"),
            ("%+1", "%+1"),
            ("%2Fslash", "/slash"),
            ("%2fslash", "/slash"),
            ("%FF", "\u{FFFD}"),
        ];
        for (input, want) in cases {
            assert_eq!(percent_decode(input), want, "{input}");
        }
        assert!(matches!(percent_decode("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn query_pairs_keep_order_and_repeats() {
        let pairs = parse_query("tag=a&tag=b%20c&flag&&q=x+y&e=a=b&%FF=%2B");
        let want = [
            ("tag", "a"),
            ("tag", "b c"),
            ("flag", ""),
            ("q", "x y"),
            ("e", "a=b"),
            ("\u{FFFD}", "+"),
        ];
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
