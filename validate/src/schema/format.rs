//! The string `format`s a request is checked for: `date-time`, `date`,
//! `uuid`, `email` and `uri`. Any other format is an annotation, as JSON
//! Schema says, and accepts every string.
//!
//! Hand-written byte walks rather than patterns: they run for every string
//! of every request that declares a format.

/// A string format that is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    DateTime,
    Date,
    Uuid,
    Email,
    Uri,
}

impl Format {
    /// The format `name` names; `None` for one that is not checked.
    pub fn named(name: &str) -> Option<Format> {
        Some(match name {
            "date-time" => Format::DateTime,
            "date" => Format::Date,
            "uuid" => Format::Uuid,
            "email" => Format::Email,
            "uri" => Format::Uri,
            _ => return None,
        })
    }

    /// What `s` should have been when it is not of this format.
    pub fn mismatch(self, s: &str) -> Option<&'static str> {
        let (ok, expected) = match self {
            Format::DateTime => (date_time(s), "an RFC 3339 date-time (2024-05-01T12:00:00Z)"),
            Format::Date => (date(s.as_bytes()), "an RFC 3339 full-date (2024-05-01)"),
            Format::Uuid => (uuid(s), "a UUID (8-4-4-4-12 hex digits)"),
            Format::Email => (email(s), "an email address"),
            Format::Uri => (uri(s), "an absolute URI with a scheme"),
        };
        (!ok).then_some(expected)
    }
}

/// The number written by `digits`, all ASCII digits.
fn number(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
}

/// `YYYY-MM-DD`, a day that exists (29 February only in leap years).
fn date(b: &[u8]) -> bool {
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *b else {
        return false;
    };
    let (Some(year), Some(month), Some(day)) = (
        number(&[y0, y1, y2, y3]),
        number(&[m0, m1]),
        number(&[d0, d1]),
    ) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// `full-date "T" HH:MM:SS[.frac] (Z | ±HH:MM)`; `T` and `Z` in either
/// case. A leap second (`:60`) only at 23:59 UTC.
fn date_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 || !date(&b[..10]) || !matches!(b[10], b'T' | b't') {
        return false;
    }
    let (Some(hour), Some(minute), Some(second)) =
        (number(&b[11..13]), number(&b[14..16]), number(&b[17..19]))
    else {
        return false;
    };
    if b[13] != b':' || b[16] != b':' || hour > 23 || minute > 59 || second > 60 {
        return false;
    }
    let mut rest = &b[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        rest = &fraction[digits..];
    }
    let offset: i64 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h0, h1, b':', m0, m1] => {
            let (Some(h), Some(m)) = (number(&[*h0, *h1]), number(&[*m0, *m1])) else {
                return false;
            };
            if h > 23 || m > 59 {
                return false;
            }
            let minutes = i64::from(h * 60 + m);
            if *sign == b'-' { -minutes } else { minutes }
        }
        _ => return false,
    };
    let utc_minute = (i64::from(hour * 60 + minute) - offset).rem_euclid(24 * 60);
    second < 60 || utc_minute == 23 * 60 + 59
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex digits in either case; any
/// version or variant.
fn uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A pragmatic address: `local@domain`, one `@`, nothing blank or a
/// control. The local part (at most 64 bytes) is what may go unquoted in
/// RFC 5322, and has no leading, trailing or doubled dot; quoted local
/// parts are refused. The domain is one or more labels (letters, digits,
/// hyphens, any non-ASCII letter for international names) joined by dots,
/// so `user@localhost` passes; address literals (`[192.0.2.1]`) do not.
fn email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_char =
        |c: char| !c.is_whitespace() && !c.is_control() && !"()<>[]:;@\\,\"".contains(c);
    let local_ok = (1..=64).contains(&local.len())
        && local.chars().all(local_char)
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c == '-' || c.is_alphanumeric())
    };
    s.len() <= 254 && local_ok && domain.split('.').all(label_ok)
}

/// RFC 3986 `scheme ":" rest`: a scheme of a letter then letters, digits,
/// `+`, `-` or `.`; the rest of URI characters only (no spaces, no
/// non-ASCII), `%` always followed by two hex digits, at most one `#`.
fn uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme
        .as_bytes()
        .first()
        .is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
    if !scheme_ok || rest.bytes().filter(|c| *c == b'#').count() > 1 {
        return false;
    }
    let b = rest.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !hex(i + 1) || !hex(i + 2) {
                return false;
            }
            i += 3;
            continue;
        }
        let allowed = c.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&c);
        if !allowed {
            return false;
        }
        i += 1;
    }
    true
}
