//! `funcmesh push`: a bundle's pack uploaded to a tron's store.

use anyhow::Context as _;
use funcmesh_core::auth::MeshToken;
use funcmesh_core::bundle::Packed;
use funcmesh_core::tls::AdminConnector;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Uploads `packed` to the tron at `tron` (its admin URL, reached through
/// `connector`) as `name`; the
/// tron's JSON answer. The tron checks the pack against its hash and makes
/// the bundle live, or answers why not.
pub async fn upload(
    connector: &AdminConnector,
    tron: &str,
    name: &str,
    packed: &Packed,
    token: Option<&MeshToken>,
) -> anyhow::Result<String> {
    let url = format!("{}/bundles/{name}", tron.trim_end_matches('/'));
    let mut request = http::Request::put(&url);
    if let Some(token) = token {
        request = request.header(http::header::AUTHORIZATION, token.bearer());
    }
    let request = request
        .header(http::header::CONTENT_TYPE, "application/octet-stream")
        .header("x-bundle-hash", &packed.bundle.hash)
        .body(Full::new(packed.bytes.clone()))
        .with_context(|| format!("building the request to {url}"))?;
    let client = Client::builder(TokioExecutor::new()).build(connector.clone());
    let response = client
        .request(request)
        .await
        .with_context(|| format!("uploading to {url}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .with_context(|| format!("reading the answer of {url}"))?
        .to_bytes();
    let text = String::from_utf8_lossy(&body).into_owned();
    anyhow::ensure!(status.is_success(), "{url} answered {status}: {text}");
    Ok(text)
}
