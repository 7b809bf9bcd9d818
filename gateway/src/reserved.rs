//! The gateway's own endpoints, reserved on every host: `GET /__health`;
//! when the gateway is told to expose it, `GET /__routes` (the routing
//! table in use); and when told to expose them, `GET /__openapi` (the
//! bundles whose API descriptions are served) and `GET /__openapi/NAME`
//! (one of them, answered by a runner of that Func). Unexposed, they are
//! routed like any other path.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Body as HttpBody;

use crate::ResponseBody;
use crate::capture::Slot;
use crate::error::BoxError;
use crate::gateway::Gateway;
use crate::outbound;

/// One of the reserved endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reserved {
    Health,
    Routes,
}

/// The path prefix of the API descriptions.
const OPENAPI: &str = "/__openapi";

/// The reserved endpoint `request` is for, if any.
pub(crate) fn reserved<B>(request: &Request<B>) -> Option<Reserved> {
    match request.uri().path() {
        "/__health" => Some(Reserved::Health),
        "/__routes" => Some(Reserved::Routes),
        _ => None,
    }
}

/// Whether `request` is for `/__openapi` or below it.
pub(crate) fn is_openapi<B>(request: &Request<B>) -> bool {
    let path = request.uri().path();
    path == OPENAPI || path.starts_with("/__openapi/")
}

impl Gateway {
    pub(crate) fn reserved(
        &self,
        endpoint: Reserved,
        method: &Method,
        id: &str,
    ) -> Response<ResponseBody> {
        if let Some(refused) = only_get(method, id) {
            return refused;
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

    /// `GET /__openapi`: the bundles whose descriptions are served; `GET
    /// /__openapi/NAME`: that bundle's, from a runner of its Func (the
    /// version that answers its calls), with the route it was given.
    pub(crate) async fn openapi<B>(
        &self,
        request: Request<B>,
        remote: Option<SocketAddr>,
        id: String,
    ) -> Response<ResponseBody>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        if let Some(refused) = only_get(request.method(), &id) {
            return refused;
        }
        let path = request.uri().path();
        let name = path
            .strip_prefix(OPENAPI)
            .unwrap_or("")
            .trim_start_matches('/');
        if name.is_empty() {
            let table = self.routes.borrow().clone();
            let mut listed: Vec<_> = table
                .routes
                .iter()
                .map(|route| {
                    serde_json::json!({
                        "name": route.name,
                        "url": format!("{OPENAPI}/{}", route.name),
                        "host": route.host,
                        "base_path": route.base_path,
                        "bundle": route.bundle,
                    })
                })
                .collect();
            listed.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            return outbound::json(StatusCode::OK, &listed, Some(&id));
        }
        let name = name.to_owned();
        if self.routes.borrow().named(&name).is_none() {
            let message = format!("no bundle named {name} is served (GET {OPENAPI} lists them)");
            return outbound::json_error(StatusCode::NOT_FOUND, &message, &id);
        }
        let mut unused = Slot::default();
        self.proxied(request, remote, id, &mut unused, Some(&name))
            .await
    }
}

/// 405 for a method other than GET or HEAD.
fn only_get(method: &Method, id: &str) -> Option<Response<ResponseBody>> {
    if method == Method::GET || method == Method::HEAD {
        return None;
    }
    let mut response = outbound::json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "only GET is allowed here",
        id,
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    Some(response)
}
