//! The gateway's own endpoints, reserved on every host: `GET /__health` and,
//! when the gateway is told to expose it, `GET /__routes` (the routing
//! table in use). Unexposed, `/__routes` is routed like any other path.

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};

use crate::ResponseBody;
use crate::gateway::Gateway;
use crate::outbound;

/// One of the reserved endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reserved {
    Health,
    Routes,
}

/// The reserved endpoint `request` is for, if any.
pub(crate) fn reserved<B>(request: &Request<B>) -> Option<Reserved> {
    match request.uri().path() {
        "/__health" => Some(Reserved::Health),
        "/__routes" => Some(Reserved::Routes),
        _ => None,
    }
}

impl Gateway {
    pub(crate) fn reserved(
        &self,
        endpoint: Reserved,
        method: &Method,
        id: &str,
    ) -> Response<ResponseBody> {
        if method != Method::GET && method != Method::HEAD {
            let mut response = outbound::json_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "only GET is allowed here",
                id,
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        match endpoint {
            Reserved::Health => {
                let body = Bytes::from_static(br#"{"status":"ok"}"#);
                outbound::json_bytes(StatusCode::OK, body, Some(id))
            }
            Reserved::Routes => {
                // Clone the `Arc` so that the watch channel's lock is not held while serializing.
                let table = self.routes.borrow().clone();
                outbound::json(StatusCode::OK, &*table, Some(id))
            }
        }
    }
}
