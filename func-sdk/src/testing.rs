//! Calling handlers natively in unit tests, through the real ABI encoding.
//!
//! ```
//! use func_sdk::{Request, testing};
//!
//! fn whoami(req: Request) -> String {
//!     format!("{} {}", req.method(), req.param("id").unwrap_or("?"))
//! }
//!
//! let req = Request::builder("GET", "/users/7").param("id", "7").build();
//! let resp = testing::call(whoami, req);
//! assert_eq!(resp.body_text().unwrap(), "GET 7");
//! ```

use std::borrow::Cow;

use serde::Serialize;

use crate::abi::{self, AbiError, RequestMeta};
use crate::export::__private;
use crate::{IntoResponse, Request, Response};

impl Request {
    /// Starts a request for a test: `Request::builder("GET", "/greet")`.
    pub fn builder(method: &str, path: &str) -> RequestBuilder {
        RequestBuilder {
            meta: RequestMeta {
                request_id: "test-request".into(),
                method: method.to_ascii_uppercase(),
                path: path.into(),
                ..RequestMeta::default()
            },
            body: Vec::new(),
        }
    }
}

/// Builds a [`Request`] for a test; see [`Request::builder`].
#[derive(Debug, Clone)]
pub struct RequestBuilder {
    meta: RequestMeta,
    body: Vec<u8>,
}

impl RequestBuilder {
    /// Adds a query pair; repeats are kept.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.meta.query.push((name.into(), value.into()));
        self
    }

    /// Adds a header, its name lower-cased as the host does.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.meta
            .headers
            .push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Sets a path template parameter.
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.meta.path_params.insert(name.into(), value.into());
        self
    }

    /// Sets the raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and `content-type: application/json`.
    ///
    /// # Panics
    /// If `value` cannot be serialized, which is a bug in the test.
    pub fn json_body<T: Serialize + ?Sized>(self, value: &T) -> Self {
        let body = match serde_json::to_vec(value) {
            Ok(body) => body,
            Err(e) => panic!("test request body is not serializable: {e}"),
        };
        self.header("content-type", "application/json").body(body)
    }

    /// Sets the basePath (default: empty).
    pub fn base_path(mut self, base_path: &str) -> Self {
        self.meta.base_path = base_path.into();
        self
    }

    /// Sets the operationId (default: empty).
    pub fn operation_id(mut self, operation_id: &str) -> Self {
        self.meta.operation_id = operation_id.into();
        self
    }

    /// Sets the request id (default: `test-request`).
    pub fn request_id(mut self, request_id: &str) -> Self {
        self.meta.request_id = request_id.into();
        self
    }

    /// The request.
    pub fn build(self) -> Request {
        Request::from_parts(self.meta, Cow::Owned(self.body))
    }
}

/// Calls a handler as the runner would: the request is encoded and decoded
/// with the ABI, and so is the response.
///
/// # Panics
/// If the response does not survive the ABI, for instance a status outside
/// 100..=599, which the host would answer 502. Use [`try_call`] to test that.
pub fn call<R: IntoResponse>(handler: impl FnOnce(Request) -> R, request: Request) -> Response {
    match try_call(handler, request) {
        Ok(response) => response,
        Err(e) => panic!("the handler's response does not cross the funcmesh ABI: {e}"),
    }
}

/// Like [`call`], but answers the host's decoding error instead of
/// panicking.
pub fn try_call<R: IntoResponse>(
    handler: impl FnOnce(Request) -> R,
    request: Request,
) -> Result<Response, AbiError> {
    let input = abi::encode_input(request.meta(), request.body())?;
    let decoded = abi::decode_input(&input)
        .map(|(meta, body)| Request::from_parts(meta, Cow::Owned(body.to_vec())));
    let output = __private::respond(decoded, handler);
    let (meta, body) = abi::decode_output(&output)?;
    Ok(Response {
        meta,
        body: body.to_vec(),
    })
}
