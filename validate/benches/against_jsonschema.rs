//! Request validation: funcmesh's own checker (`funcmesh-validate`)
//! against `jsonschema`, a maintained JSON Schema validator, on the same
//! request bodies and the same schemas as the loader resolves them. Each
//! check starts from the body's bytes (both parse the JSON, then check it)
//! and gathers every problem. The two run in alternating rounds, so that
//! whatever else the machine does falls on both; what is printed is the
//! median nanoseconds per check of each and their ratio, then what each
//! says of the invalid bodies.
//!
//! `cargo bench -p funcmesh-validate --bench against_jsonschema`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use funcmesh_core::bundle::{Operation, parse_spec, read_spec};
use funcmesh_validate::{Rejection, RequestParts, Validator};
use serde_json::Value;

/// An order of 40 lines: nested objects, an array, patterns, formats,
/// bounds, `additionalProperties: false`.
const ORDERS: &str = r#"
openapi: 3.0.3
info: {title: orders, version: '1'}
paths:
  /orders:
    post:
      operationId: createOrder
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Order'}
      responses: {'201': {description: created}}
components:
  schemas:
    Order:
      type: object
      additionalProperties: false
      required: [id, customer, lines]
      properties:
        id: {type: string, format: uuid}
        placed: {type: string, format: date-time}
        customer:
          type: object
          required: [email, name]
          properties:
            email: {type: string, format: email}
            name: {type: string, minLength: 1, maxLength: 80}
        lines:
          type: array
          minItems: 1
          maxItems: 100
          items: {$ref: '#/components/schemas/Line'}
    Line:
      type: object
      additionalProperties: false
      required: [sku, qty, price]
      properties:
        sku: {type: string, pattern: '^[A-Z]{3}-[0-9]{3}$'}
        qty: {type: integer, minimum: 1, maximum: 999}
        price: {type: number, exclusiveMinimum: true, minimum: 0}
        note: {type: string, maxLength: 140}
"#;

fn order(lines: usize, broken: bool) -> Vec<u8> {
    let line = |i: usize| {
        serde_json::json!({
            "sku": if broken && i == 3 { "abc-12".to_owned() } else { format!("ABC-{:03}", i % 1000) },
            "qty": if broken && i == 7 { 0 } else { 1 + i % 5 },
            "price": 9.99,
            "note": "leave at the door",
        })
    };
    let mut body = serde_json::json!({
        "id": "0195e1b2-7c3d-7a8e-9f10-1a2b3c4d5e6f",
        "placed": "2026-12-07T10:00:00Z",
        "customer": {"email": "ada@example.com", "name": "Ada"},
        "lines": (0..lines).map(line).collect::<Vec<_>>(),
    });
    if broken {
        body["customer"]["email"] = "not an address".into();
        body["coupon"] = "FREE".into();
    }
    serde_json::to_vec(&body).unwrap()
}

struct Case {
    name: &'static str,
    op: Operation,
    body: Vec<u8>,
}

fn operation(ops: Vec<Operation>, id: &str) -> Operation {
    ops.into_iter().find(|op| op.id == id).unwrap()
}

fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let petstore = read_spec(&root.join("swagger-examples/petstore/openapi.yaml")).unwrap();
    let create_pet = operation(petstore.operations, "createPet");
    let orders = parse_spec(Path::new("orders.yaml"), ORDERS).unwrap();
    let create_order = operation(orders.operations, "createOrder");
    vec![
        Case {
            name: "petstore pet, valid",
            op: create_pet.clone(),
            body: br#"{"name":"Rex","tag":"dog","age":3}"#.to_vec(),
        },
        Case {
            name: "petstore pet, 3 problems",
            op: create_pet,
            body: br#"{"name":"","tag":7,"age":-1}"#.to_vec(),
        },
        Case {
            name: "order of 40 lines, valid",
            op: create_order.clone(),
            body: order(40, false),
        },
        Case {
            name: "order of 40 lines, 4 problems",
            op: create_order,
            body: order(40, true),
        },
    ]
}

/// Today's checker: every problem, as the client's 400 lists them.
fn ours(validator: &Validator, body: &[u8]) -> Vec<String> {
    let path_params = BTreeMap::new();
    let headers = [("content-type".to_owned(), "application/json".to_owned())];
    let request = RequestParts {
        path_params: &path_params,
        query: &[],
        headers: &headers,
        body,
    };
    match validator.check(&request) {
        Ok(()) => Vec::new(),
        Err(Rejection::Invalid(problems)) => problems
            .into_iter()
            .map(|p| format!("{}: {}", p.path.unwrap_or_default(), p.problem))
            .collect(),
        Err(other) => vec![format!("{other:?}")],
    }
}

/// jsonschema (draft 4, the JSON Schema OpenAPI 3.0 builds on), formats
/// checked: the body parsed, then every error.
fn theirs(validator: &jsonschema::Validator, body: &[u8]) -> Vec<String> {
    let value: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(error) => return vec![error.to_string()],
    };
    validator
        .iter_errors(&value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The median of `samples`.
fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    const ROUNDS: usize = 21;
    const CALLS: usize = 2_000;
    println!(
        "{:<32} {:>12} {:>12} {:>8}",
        "case", "ours ns", "jsonschema ns", "ratio"
    );
    let mut said = Vec::new();
    for case in cases() {
        let schema = case
            .op
            .body
            .as_ref()
            .and_then(|b| b.schema.clone())
            .unwrap();
        let ours_validator = Validator::new(&case.op);
        let theirs_validator = jsonschema::draft4::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            // Alternate which goes first, too.
            for first in [round % 2 == 0, round % 2 != 0] {
                let started = Instant::now();
                for _ in 0..CALLS {
                    match first {
                        true => black_box(ours(&ours_validator, black_box(&case.body))),
                        false => black_box(theirs(&theirs_validator, black_box(&case.body))),
                    };
                }
                let ns = started.elapsed().as_nanos() as f64 / CALLS as f64;
                match first {
                    true => a.push(ns),
                    false => b.push(ns),
                }
            }
        }
        let (a, b) = (median(a), median(b));
        println!("{:<32} {a:>12.0} {b:>12.0} {:>8.2}", case.name, b / a);
        said.push((
            case.name,
            ours(&ours_validator, &case.body),
            theirs(&theirs_validator, &case.body),
        ));
    }
    println!("(ratio = jsonschema / ours: above 1, ours is faster)");
    for (name, ours, theirs) in said.into_iter().filter(|(_, o, _)| !o.is_empty()) {
        println!("\n{name}\n  ours:");
        ours.iter().for_each(|p| println!("    {p}"));
        println!("  jsonschema:");
        theirs.iter().for_each(|p| println!("    {p}"));
    }
}
