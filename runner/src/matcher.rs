//! Which operation of a bundle a request is for.
//!
//! A [`Router`] is built once per bundle version. Matching strips the
//! bundle's base path at a segment boundary (`/api` never matches `/apiary`),
//! then compares the rest segment by segment with each path template. When
//! several templates fit, the one with a literal at the first position where
//! they differ wins, so `/pets/mine` beats `/pets/{id}`. A trailing slash is
//! tolerated. The method is chosen after the path: a path that exists without
//! the method is a 405 that lists what is allowed.

use std::collections::BTreeMap;

use funcmesh_core::bundle::Operation;

use crate::http::percent_decode;

/// The outcome of matching a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// The operation at this index of the bundle's operations, with the
    /// path parameters, percent-decoded.
    Found {
        /// Index into `Bundle::operations`.
        index: usize,
        /// Path parameters by name.
        params: BTreeMap<String, String>,
    },
    /// No template fits the path: 404.
    NoPath,
    /// A template fits but not for this method: 405 with these in `Allow`.
    WrongMethod {
        /// The methods the path serves, sorted.
        allow: Vec<String>,
    },
}

/// The compiled paths of one bundle version.
#[derive(Debug, Clone)]
pub struct Router {
    base_path: String,
    paths: Vec<PathRoute>,
}

#[derive(Debug, Clone)]
struct PathRoute {
    segments: Vec<Segment>,
    /// Upper-case method and the operation's index.
    methods: Vec<(String, usize)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
    /// Literal text and parameters in one segment, e.g. `{name}.json`.
    Mixed(Vec<Piece>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Param(String),
}

impl Segment {
    fn parse(raw: &str) -> Segment {
        let pieces = pieces(raw);
        match pieces.as_slice() {
            [Piece::Param(name)] => Segment::Param(name.clone()),
            [Piece::Literal(text)] => Segment::Literal(text.clone()),
            [] => Segment::Literal(String::new()),
            _ => Segment::Mixed(pieces),
        }
    }

    /// Literals are more specific than mixed segments, which are more
    /// specific than a bare parameter.
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 2,
            Segment::Mixed(_) => 1,
            Segment::Param(_) => 0,
        }
    }

    fn matches<'s>(&'s self, text: &'s str, caps: &mut Vec<(&'s str, &'s str)>) -> bool {
        match self {
            Segment::Literal(lit) => lit == text,
            Segment::Param(name) if !text.is_empty() => {
                caps.push((name, text));
                true
            }
            Segment::Param(_) => false,
            Segment::Mixed(pieces) => match_pieces(pieces, text, caps),
        }
    }
}

fn pieces(raw: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = raw;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        if open > 0 {
            out.push(Piece::Literal(rest[..open].to_owned()));
        }
        out.push(Piece::Param(rest[open + 1..close].to_owned()));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Literal(rest.to_owned()));
    }
    out
}

/// Matches literal pieces exactly; a parameter takes the shortest non-empty
/// text before the next literal, or the rest of the segment when last.
fn match_pieces<'s>(
    pieces: &'s [Piece],
    mut text: &'s str,
    caps: &mut Vec<(&'s str, &'s str)>,
) -> bool {
    for (i, piece) in pieces.iter().enumerate() {
        match piece {
            Piece::Literal(lit) => match text.strip_prefix(lit.as_str()) {
                Some(rest) => text = rest,
                None => return false,
            },
            Piece::Param(name) => {
                let end = match pieces.get(i + 1) {
                    None => text.len(),
                    Some(Piece::Literal(next)) => {
                        // Skip one character so that the parameter is never empty.
                        let first = text.chars().next().map_or(0, char::len_utf8);
                        match text[first..].find(next.as_str()) {
                            Some(at) => first + at,
                            None => return false,
                        }
                    }
                    // Two adjacent parameters cannot be told apart.
                    Some(Piece::Param(_)) => return false,
                };
                if end == 0 {
                    return false;
                }
                caps.push((name, &text[..end]));
                text = &text[end..];
            }
        }
    }
    text.is_empty()
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    trimmed.split('/').filter(move |_| !trimmed.is_empty())
}

impl Router {
    /// Compiles the templates of `operations` served under `base_path`.
    pub fn new(base_path: &str, operations: &[Operation]) -> Router {
        let mut paths: Vec<(String, PathRoute)> = Vec::new();
        for (index, op) in operations.iter().enumerate() {
            let method = op.method.to_ascii_uppercase();
            match paths.iter_mut().find(|(p, _)| *p == op.path) {
                Some((_, route)) => route.methods.push((method, index)),
                None => {
                    let segments = split(&op.path).map(Segment::parse).collect();
                    paths.push((
                        op.path.clone(),
                        PathRoute {
                            segments,
                            methods: vec![(method, index)],
                        },
                    ));
                }
            }
        }
        let base_path = base_path.trim_end_matches('/').to_owned();
        Router {
            base_path,
            paths: paths.into_iter().map(|(_, r)| r).collect(),
        }
    }

    /// Matches `method` and a percent-encoded `path` (no query string).
    pub fn find(&self, method: &str, path: &str) -> Match {
        let Some(rest) = self.strip_base(path) else {
            return Match::NoPath;
        };
        let segments: Vec<_> = split(rest).map(percent_decode).collect();
        let mut best: Option<&PathRoute> = None;
        let mut caps = Vec::new();
        for route in &self.paths {
            caps.clear();
            let fits = route.segments.len() == segments.len()
                && route
                    .segments
                    .iter()
                    .zip(&segments)
                    .all(|(seg, text)| seg.matches(text, &mut caps));
            if fits && best.is_none_or(|b| more_specific(route, b)) {
                best = Some(route);
            }
        }
        let Some(route) = best else {
            return Match::NoPath;
        };
        match route
            .methods
            .iter()
            .find(|(m, _)| m.eq_ignore_ascii_case(method))
        {
            Some(&(_, index)) => {
                caps.clear();
                route
                    .segments
                    .iter()
                    .zip(&segments)
                    .all(|(seg, text)| seg.matches(text, &mut caps));
                let params = caps
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect();
                Match::Found { index, params }
            }
            None => {
                let mut allow: Vec<String> = route.methods.iter().map(|(m, _)| m.clone()).collect();
                allow.sort();
                allow.dedup();
                Match::WrongMethod { allow }
            }
        }
    }

    fn strip_base<'p>(&self, path: &'p str) -> Option<&'p str> {
        let rest = path.strip_prefix(self.base_path.as_str())?;
        (rest.is_empty() || rest.starts_with('/')).then_some(rest)
    }
}

fn more_specific(a: &PathRoute, b: &PathRoute) -> bool {
    a.segments
        .iter()
        .map(Segment::rank)
        .cmp(b.segments.iter().map(Segment::rank))
        .is_gt()
}

#[cfg(test)]
mod tests;
