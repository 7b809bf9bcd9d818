//! Swagger 2.0 and OpenAPI 3 documents as a team saves them: whatever the
//! text, loading answers a spec or an error naming what is wrong. The first
//! byte picks the file name (and so YAML or JSON).
#![no_main]

use std::path::Path;

use funcmesh_core::bundle::parse_spec;
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 4] = [
    "openapi.yaml",
    "swagger.yaml",
    "openapi.json",
    "swagger.json",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let name = NAMES[usize::from(pick) % NAMES.len()];
    let _ = parse_spec(Path::new(name), text);
});
