//! The admin listener: bundles in and out, status, health.
//!
//! - `GET /bundles/{sha256}`: the pack of a stored bundle (see
//!   [`funcmesh_core::bundle::unpack`]), which runners fetch, check and
//!   cache.
//! - `GET /bundles`: what is stored, as JSON.
//! - `PUT /bundles/{name}`: a pack to unpack into the bundles directory as
//!   `{name}/`, replacing the previous version; it goes live through
//!   [`AdminState::on_upload`].
//! - `GET /status`: what [`AdminState::status`] says.
//! - `GET /health`: 200 while the process serves.
//!
//! Every route but `/health` requires the mesh token as a bearer token
//! (`Authorization: Bearer TOKEN`, see [`funcmesh_core::auth`]) unless the
//! tron was started without one on purpose (`--no-auth`); a request
//! without it is answered 401 before its body is read.

mod reply;
mod serve;
mod swap;
mod upload;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use funcmesh_core::auth::MeshToken;
use funcmesh_core::bundle::is_bundle_hash;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;

use crate::store::BundleStore;

pub use serve::serve;

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Makes the bundle just unpacked into a directory live, returning the hash
/// it serves under (the tron's own `${VAR}` values apply, so it may differ
/// from the uploaded pack's).
pub type UploadHook =
    Arc<dyn Fn(PathBuf) -> BoxFuture<'static, anyhow::Result<String>> + Send + Sync>;

/// The JSON of `GET /status`.
pub type StatusFn = Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

/// The largest upload accepted by default: 256 MiB.
pub const DEFAULT_MAX_UPLOAD: usize = 256 << 20;

/// What the admin listener serves and where uploads go.
#[derive(Clone)]
pub struct AdminState {
    /// The packs served to runners.
    pub store: Arc<BundleStore>,
    /// The watched directory uploads are unpacked into.
    pub bundles_dir: PathBuf,
    /// The largest upload body accepted, in bytes (413 beyond).
    pub max_upload: usize,
    /// Makes an uploaded bundle live; its error is answered 422 and the
    /// previous version is put back.
    pub on_upload: UploadHook,
    /// Fills `GET /status`.
    pub status: StatusFn,
    /// The bearer token every route but `/health` requires; `None` leaves
    /// them open (`--no-auth`).
    pub token: Option<MeshToken>,
}

impl std::fmt::Debug for AdminState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminState")
            .field("store", &self.store)
            .field("bundles_dir", &self.bundles_dir)
            .field("max_upload", &self.max_upload)
            .field("authenticated", &self.token.is_some())
            .finish_non_exhaustive()
    }
}

/// The state shared by every connection.
struct Admin {
    state: AdminState,
    /// One upload at a time: each swaps directories and reloads.
    uploads: tokio::sync::Mutex<()>,
}

type Reply = Response<Full<Bytes>>;

impl Admin {
    async fn handle(&self, request: Request<Incoming>) -> Reply {
        let path = request.uri().path().to_owned();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if let (&Method::GET, ["health"]) = (request.method(), &segments[..]) {
            return reply::json(StatusCode::OK, &serde_json::json!({"status": "ok"}));
        }
        if let Some(refused) = self.refuse_unauthenticated(&request) {
            return refused;
        }
        match (request.method(), &segments[..]) {
            (&Method::GET, ["status"]) => reply::json(StatusCode::OK, &(self.state.status)()),
            (&Method::GET, ["bundles"]) => reply::json(StatusCode::OK, &self.state.store.list()),
            (&Method::GET, ["bundles", hash]) => self.pack(hash),
            (&Method::PUT, ["bundles", name]) => {
                let name = (*name).to_owned();
                upload::upload(self, &name, request).await
            }
            (_, ["health" | "status" | "bundles"] | ["bundles", _]) => reply::error(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{} is not allowed on {path}", request.method()),
            ),
            _ => reply::error(
                StatusCode::NOT_FOUND,
                format!("no such admin resource: {path}"),
            ),
        }
    }

    /// A 401 for a request that does not carry the token, when one is
    /// required.
    fn refuse_unauthenticated(&self, request: &Request<Incoming>) -> Option<Reply> {
        let token = self.state.token.as_ref()?;
        let offered = request.headers().get(header::AUTHORIZATION);
        if offered.is_some_and(|value| token.accepts(value.as_bytes())) {
            return None;
        }
        let why = match offered {
            Some(_) => "the bearer token is not this mesh's",
            None => {
                "this admin API requires the mesh token: send `Authorization: Bearer TOKEN` (funcmesh's commands send FUNCMESH_TOKEN)"
            }
        };
        let mut reply = reply::error(StatusCode::UNAUTHORIZED, why);
        reply
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, reply::BEARER_CHALLENGE);
        Some(reply)
    }

    /// `GET /bundles/{hash}`.
    fn pack(&self, hash: &str) -> Reply {
        if !is_bundle_hash(hash) {
            return reply::error(
                StatusCode::BAD_REQUEST,
                format!("`{hash}` is not a bundle hash (64 lowercase hex digits)"),
            );
        }
        let Some(bytes) = self.state.store.get(hash) else {
            return reply::error(StatusCode::NOT_FOUND, format!("no bundle {hash} here"));
        };
        let mut response = Response::new(Full::new(bytes));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, reply::OCTET_STREAM);
        for (name, value) in [
            (header::ETAG, format!("\"{hash}\"")),
            (reply::BUNDLE_HASH, hash.to_owned()),
        ] {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests;
