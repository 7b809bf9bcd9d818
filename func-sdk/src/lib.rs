//! Write funcmesh Funcs in Rust.
//!
//! A Func bundle is a Swagger / OpenAPI description plus a `wasm32-wasip1`
//! module that exports one function per operation, named by its
//! `operationId`. With this crate a handler is a plain function from a
//! [`Request`] to anything that implements [`IntoResponse`], and
//! [`export!`] does the exporting:
//!
//! ```
//! use func_sdk::{Request, Response, Result, json};
//!
//! /// `GET /greet?name=Ada` → `{"greeting": "Hello, Ada!"}`
//! fn greet(req: Request) -> Response {
//!     let name = req.query("name").unwrap_or("World");
//!     Response::json(&json!({ "greeting": format!("Hello, {name}!") }))
//! }
//!
//! #[derive(serde::Deserialize)]
//! struct NewPet { name: String }
//!
//! /// `POST /pets`: a bad body is answered 400 `{"error": "..."}` by `?`.
//! fn create_pet(req: Request) -> Result<Response> {
//!     let pet: NewPet = req.json()?;
//!     Ok(Response::json(&json!({ "id": 1, "name": pet.name })).with_status(201))
//! }
//!
//! func_sdk::export! { greet, "createPet" => create_pet }
//!
//! // Natively, handlers are tested through the same ABI the runner uses.
//! use func_sdk::testing::call;
//! let resp = call(greet, Request::builder("GET", "/greet").query("name", "Ada").build());
//! assert_eq!(resp.body_json::<func_sdk::Value>()?, json!({ "greeting": "Hello, Ada!" }));
//!
//! let resp = call(create_pet, Request::builder("POST", "/pets").body("{").build());
//! assert_eq!(resp.status(), 400);
//! # Ok::<(), func_sdk::Error>(())
//! ```
//!
//! Build the crate as a `cdylib` for `wasm32-wasip1`
//! (`cargo build --release --target wasm32-wasip1`) and put the `.wasm` in
//! the bundle. The environment from the bundle manifest is the WASI
//! environment (`std::env::var`); a panic traps, and its message goes to
//! stderr, which the runner logs.
//!
//! # Modules
//! - [`Request`], [`Response`], [`IntoResponse`], [`Error`]: what handlers
//!   see and return.
//! - [`export!`]: the exported operations (wasm32 only; natively a check).
//! - [`testing`]: [`Request::builder`] and [`testing::call`] for native
//!   unit tests.
//! - [`abi`]: the byte layout between the runner and the module, shared with
//!   the host so both sides encode it the same way.

#![deny(missing_docs)]

pub mod abi;
mod error;
mod export;
mod request;
mod response;
pub mod testing;

#[doc(hidden)]
pub use export::__private;

pub use error::{Error, Result};
pub use request::Request;
pub use response::{IntoResponse, Response};
/// Re-exported for its traits (`func_sdk::serde::Deserialize` as a bound).
/// Deriving them needs `serde` (with its `derive` feature) among the
/// crate's own dependencies, as `funcmesh new rust` writes it: the derives
/// name the `serde` crate.
pub use serde;
/// Re-exported so that handlers can build JSON without their own dependency.
pub use serde_json::{self, Value, json};

#[cfg(test)]
mod tests;
