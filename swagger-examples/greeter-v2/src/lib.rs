//! `greeter-v2`: a Swagger 2.0 bundle routed by host and basePath, whose
//! greeting comes from the manifest's `[env]` table.
//!
//! - `GET /v2/hello/{name}` (`sayHello`) → `{"greeting": "Bonjour, Ada!"}`
//! - `GET /v2/health` (`health`) → `{"status": "ok"}`

use func_sdk::{Request, Response, Result, Value, json};

func_sdk::export! {
    "sayHello" => say_hello,
    health,
}

/// The greeting word when the manifest sets no `GREETING`.
const DEFAULT_GREETING: &str = "Hello";

/// Greets the `name` path parameter with `$GREETING`.
pub fn say_hello(req: Request) -> Result<Response> {
    let name = req.param("name").unwrap_or_default();
    if name.is_empty() {
        return Err(func_sdk::Error::bad_request("`name` must not be empty"));
    }
    let word = std::env::var("GREETING").unwrap_or_else(|_| DEFAULT_GREETING.to_owned());
    Ok(Response::json(&greeting(&word, name)))
}

/// Answers that the Func is up.
pub fn health(_req: Request) -> Value {
    json!({ "status": "ok" })
}

fn greeting(word: &str, name: &str) -> Value {
    json!({ "greeting": format!("{word}, {name}!") })
}

#[cfg(test)]
mod tests {
    use func_sdk::testing::call;
    use func_sdk::{Request, Value, json};

    use super::*;

    fn hello(name: &str) -> func_sdk::Response {
        let path = format!("/v2/hello/{name}");
        call(
            say_hello,
            Request::builder("GET", &path)
                .base_path("/v2")
                .param("name", name)
                .build(),
        )
    }

    // Tests do not set GREETING (the process environment is not changed at
    // run time), so they see whatever the test process has, normally nothing.
    #[test]
    fn greets_with_the_environment_greeting_or_hello() {
        let word = std::env::var("GREETING").unwrap_or_else(|_| "Hello".into());
        let resp = hello("Ada");
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.body_json::<Value>().unwrap(),
            json!({ "greeting": format!("{word}, Ada!") })
        );
    }

    #[test]
    fn the_greeting_word_is_used_verbatim() {
        assert_eq!(
            greeting("Bonjour", "Ada"),
            json!({ "greeting": "Bonjour, Ada!" })
        );
    }

    #[test]
    fn an_empty_name_is_a_400() {
        assert_eq!(hello("").status(), 400);
    }

    #[test]
    fn health_is_ok() {
        let resp = call(health, Request::builder("GET", "/v2/health").build());
        assert_eq!(
            resp.body_json::<Value>().unwrap(),
            json!({ "status": "ok" })
        );
    }
}
