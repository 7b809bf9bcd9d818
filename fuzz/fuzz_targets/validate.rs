//! A request checked against the operations of a spec, as the runner
//! checks it before a function sees it: whatever the schemas and whatever
//! the request, every check answers `Ok` or a rejection whose answer
//! encodes. The input is five parts split by `0xFF` bytes: the spec
//! (YAML), the path parameters' values (`/`-separated, in the order the
//! operation declares them), the query string, the header lines
//! (`name: value`) and the body.
#![no_main]

use std::collections::BTreeMap;
use std::path::Path;

use funcmesh_core::bundle::{ParamLocation, parse_spec};
use funcmesh_validate::{RequestParts, Validator, http};
use libfuzzer_sys::fuzz_target;

/// Operations checked per input: a spec can declare thousands.
const MAX_OPERATIONS: usize = 16;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(5, |&b| b == 0xFF);
    let (Some(spec), Some(path), Some(query), Some(headers)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let body = parts.next().unwrap_or_default();
    let Ok(text) = std::str::from_utf8(spec) else {
        return;
    };
    let Ok(spec) = parse_spec(Path::new("openapi.yaml"), text) else {
        return;
    };
    let path = String::from_utf8_lossy(path);
    let query = http::parse_query(&String::from_utf8_lossy(query));
    let headers: Vec<(String, String)> = String::from_utf8_lossy(headers)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    for op in spec.operations.iter().take(MAX_OPERATIONS) {
        let names = op
            .parameters
            .iter()
            .filter(|p| p.location == ParamLocation::Path)
            .map(|p| p.name.clone());
        let path_params: BTreeMap<String, String> = names
            .zip(
                path.split('/')
                    .map(|v| http::percent_decode(v).into_owned()),
            )
            .collect();
        let request = RequestParts {
            path_params: &path_params,
            query: &query,
            headers: &headers,
            body,
        };
        if let Err(rejection) = Validator::new(op).check(&request) {
            let answer = rejection.to_response("fuzz");
            assert!((400..500).contains(&answer.status), "{}", answer.status);
        }
    }
});
