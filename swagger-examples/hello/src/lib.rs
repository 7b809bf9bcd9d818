//! `hello`: the smallest Func, and the one the benchmarks call.
//!
//! `GET /hello/greet?name=Ada` → `200 {"greeting":"Hello, Ada!"}`.

use func_sdk::{Request, Response, json};

func_sdk::export! { greet }

/// Greets `name`, or the World when it is absent. Kept to one allocation of
/// note (the JSON body) because every benchmark request runs it.
pub fn greet(req: Request) -> Response {
    let name = req.query("name").unwrap_or("World");
    Response::json(&json!({ "greeting": format!("Hello, {name}!") }))
}

#[cfg(test)]
mod tests {
    use func_sdk::testing::call;
    use func_sdk::{Request, Value, json};

    use super::greet;

    fn greeting(req: Request) -> Value {
        let resp = call(greet, req);
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.header_value("content-type"), Some("application/json"));
        resp.body_json().unwrap()
    }

    #[test]
    fn greets_by_name() {
        let req = Request::builder("GET", "/hello/greet")
            .query("name", "Ada")
            .build();
        assert_eq!(greeting(req), json!({ "greeting": "Hello, Ada!" }));
    }

    #[test]
    fn greets_the_world_by_default() {
        let req = Request::builder("GET", "/hello/greet").build();
        assert_eq!(greeting(req), json!({ "greeting": "Hello, World!" }));
    }

    #[test]
    fn names_are_escaped_not_injected() {
        let req = Request::builder("GET", "/hello/greet")
            .query("name", "\"}, \"x\": 1")
            .build();
        assert_eq!(
            greeting(req),
            json!({ "greeting": "Hello, \"}, \"x\": 1!" })
        );
    }
}
