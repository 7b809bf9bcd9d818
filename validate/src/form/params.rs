//! Header values with parameters, as `content-type` and
//! `content-disposition` write them: `form-data; name="a"; filename="b.txt"`.

/// Parameters as `(name, value)` pairs, in order.
pub type Params = Vec<(String, String)>;

/// The leading value (trimmed) and the parameters, each name lower case and
/// each value with its quotes and backslash escapes removed. A value may be
/// a quoted string holding `;`. An error says what is malformed.
pub fn split(header: &str) -> Result<(&str, Params), String> {
    let (value, mut rest) = header.split_once(';').unwrap_or((header, ""));
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok((value.trim(), params));
        }
        let (name, after) = rest
            .split_once('=')
            .ok_or_else(|| format!("parameter `{}` has no `=`", rest.trim_end()))?;
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(is_token) {
            return Err(format!("`{name}` is not a parameter name"));
        }
        let after = after.trim_start();
        let (param_value, after) = match after.strip_prefix('"') {
            Some(quoted) => unquote(quoted)
                .ok_or_else(|| format!("the quoted value of `{name}` is not closed"))?,
            None => {
                let end = after.find(';').unwrap_or(after.len());
                (after[..end].trim_end().to_owned(), &after[end..])
            }
        };
        params.push((name.to_ascii_lowercase(), param_value));
        let after = after.trim_start();
        rest = match after.strip_prefix(';') {
            Some(next) => next,
            None if after.is_empty() => after,
            None => return Err(format!("unexpected `{after}` after parameter `{name}`")),
        };
    }
}

/// The text of a quoted string up to its closing quote (the opening one
/// already taken), and what follows it; `None` when it is not closed.
fn unquote(quoted: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &quoted[i + 1..])),
            '\\' => out.push(chars.next()?.1),
            c => out.push(c),
        }
    }
    None
}

/// RFC 9110 `tchar`.
fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(params: &[(&str, &str)]) -> Params {
        params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn values_and_parameters() {
        let cases = [
            ("form-data", ("form-data", owned(&[]))),
            (
                r#"form-data; name="a"; filename="x;y \"z\".txt""#,
                (
                    "form-data",
                    owned(&[("name", "a"), ("filename", r#"x;y "z".txt"#)]),
                ),
            ),
            (
                "multipart/form-data; Boundary=abc ;charset=utf-8;",
                (
                    "multipart/form-data",
                    owned(&[("boundary", "abc"), ("charset", "utf-8")]),
                ),
            ),
        ];
        for (header, want) in cases {
            assert_eq!(split(header), Ok(want), "{header}");
        }
    }

    #[test]
    fn malformed_parameters() {
        let cases = [
            ("form-data; name", "parameter `name` has no `=`"),
            (
                r#"form-data; name="a"#,
                "the quoted value of `name` is not closed",
            ),
            (
                r#"form-data; name="a" b"#,
                "unexpected `b` after parameter `name`",
            ),
            ("form-data; n@me=a", "`n@me` is not a parameter name"),
        ];
        for (header, want) in cases {
            assert_eq!(split(header), Err(want.to_owned()), "{header}");
        }
    }
}
