//! The example bundles of `swagger-examples/` parse (their specs only).

use std::path::Path;

use serde_json::Value;

use crate::bundle::{SPEC_FILES, read_spec};

fn has_ref(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.contains_key("$ref") || map.values().any(has_ref),
        Value::Array(list) => list.iter().any(has_ref),
        _ => false,
    }
}

#[test]
fn example_specs_parse_with_every_ref_resolved() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../swagger-examples");
    for name in ["hello", "greeter-v2", "petstore"] {
        let dir = examples.join(name);
        let Some(file) = SPEC_FILES.iter().map(|f| dir.join(f)).find(|f| f.is_file()) else {
            eprintln!("skipped {name}: no API description in {}", dir.display());
            continue;
        };
        let spec = read_spec(&file).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !spec.operations.is_empty(),
            "{}: no operations",
            file.display()
        );
        for op in &spec.operations {
            let schemas = op
                .parameters
                .iter()
                .map(|p| &p.schema)
                .chain(op.body.iter().flat_map(|b| b.schemas()));
            for schema in schemas {
                assert!(
                    !has_ref(schema),
                    "{}: {} keeps a $ref: {schema}",
                    file.display(),
                    op.id
                );
            }
        }
    }
}
