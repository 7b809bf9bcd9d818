//! `{{name}}`: a funcmesh Func.
//!
//! `openapi.yaml` describes the endpoints; each `operationId` names a
//! handler exported below. `funcmesh dev .` builds this crate to
//! WebAssembly, serves it, and serves the new version on every save;
//! `cargo test` runs the tests at the bottom natively.

use func_sdk::{Request, Response, Result, json};
use serde::Deserialize;

func_sdk::export! { hello, "createItem" => create_item }

/// `GET /{{name}}/hello?name=Ada` answers `{"greeting": "Hello, Ada!"}`.
/// The greeting word is `GREETING` from `funcmesh.toml`'s `[env]`.
pub fn hello(req: Request) -> Response {
    let word = std::env::var("GREETING").unwrap_or_else(|_| "Hello".to_owned());
    let name = req.query("name").unwrap_or("World");
    Response::json(&json!({ "greeting": format!("{word}, {name}!") }))
}

/// The body of `POST /{{name}}/items`. The gateway has already checked it
/// against `NewItem` in the spec, and answered 400 if it did not match.
#[derive(Deserialize)]
struct NewItem {
    name: String,
    #[serde(default = "one")]
    quantity: u32,
}

fn one() -> u32 {
    1
}

/// `POST /{{name}}/items` answers 201 with the item and its id.
pub fn create_item(req: Request) -> Result<Response> {
    let item: NewItem = req.json()?;
    let id = format!("{}-{}", req.request_id(), item.quantity);
    Ok(Response::json(&json!({
        "id": id,
        "name": item.name,
        "quantity": item.quantity,
    }))
    .with_status(201))
}

#[cfg(test)]
mod tests {
    use func_sdk::testing::call;
    use func_sdk::{Request, Value, json};

    use super::{create_item, hello};

    #[test]
    fn hello_greets_by_name() {
        let req = Request::builder("GET", "/hello").query("name", "Ada").build();
        let resp = call(hello, req);
        assert_eq!(resp.status(), 200);
        let body: Value = resp.body_json().unwrap();
        assert_eq!(body["greeting"], "Hello, Ada!");
    }

    #[test]
    fn create_item_answers_201_with_the_item() {
        let req = Request::builder("POST", "/items")
            .json_body(&json!({ "name": "pen", "quantity": 3 }))
            .build();
        let resp = call(create_item, req);
        assert_eq!(resp.status(), 201);
        let body: Value = resp.body_json().unwrap();
        assert_eq!(body["name"], "pen");
        assert_eq!(body["quantity"], 3);
    }

    #[test]
    fn quantity_defaults_to_one() {
        let req = Request::builder("POST", "/items")
            .json_body(&json!({ "name": "pen" }))
            .build();
        let body: Value = call(create_item, req).body_json().unwrap();
        assert_eq!(body["quantity"], 1);
    }
}
