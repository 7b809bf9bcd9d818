//! `funcmesh push`: a bundle's pack uploaded to a tron's store.

use anyhow::Context as _;
use funcmesh_core::auth::MeshToken;
use funcmesh_core::bundle::Packed;
use funcmesh_core::tls::AdminConnector;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The tron's answer to an upload: its status and its JSON body.
#[derive(Debug)]
pub struct Answer {
    /// The URL uploaded to.
    pub url: String,
    /// 201 when the bundle went live.
    pub status: http::StatusCode,
    /// `{"name", "hash", "uploaded"}`, or `{"error"}`.
    pub body: String,
}

impl Answer {
    /// The answer for people: the version live, or the tron's reason
    /// (which may span lines: a traceback), as written.
    pub fn describe(&self, name: &str) -> Result<String, String> {
        let json: Option<serde_json::Value> = serde_json::from_str(&self.body).ok();
        let field = |key: &str| {
            json.as_ref()
                .and_then(|json| json.get(key))
                .and_then(|value| value.as_str())
                .map(str::to_owned)
        };
        let tron = self.url.split("/bundles/").next().unwrap_or(&self.url);
        match self.status.is_success() {
            true => Ok(format!(
                "{name}: live on {tron}, bundle hash {}",
                field("hash").unwrap_or_else(|| self.body.clone())
            )),
            false => Err(format!(
                "{tron} refused {name} ({}):\n{}",
                self.status,
                field("error").unwrap_or_else(|| self.body.clone())
            )),
        }
    }
}

/// Uploads `packed` to the tron at `tron` (its admin URL, reached through
/// `connector`) as `name`, and returns the tron's answer. The tron checks
/// the pack against its hash and makes the bundle live, or answers why not.
pub async fn upload(
    connector: &AdminConnector,
    tron: &str,
    name: &str,
    packed: &Packed,
    token: Option<&MeshToken>,
) -> anyhow::Result<Answer> {
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
    Ok(Answer {
        url,
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            url: "http://tron:7070/bundles/words".into(),
            status: http::StatusCode::from_u16(status).unwrap_or_default(),
            body: body.into(),
        }
    }

    #[test]
    fn answers_read_as_sentences_with_the_reason_as_written() {
        let live = answer(201, r#"{"name":"words","hash":"ab12","uploaded":"ab12"}"#);
        assert_eq!(
            live.describe("words"),
            Ok("words: live on http://tron:7070, bundle hash ab12".into())
        );
        let refused = answer(
            422,
            r#"{"error":"importing failed:\nTraceback (most recent call last):\n  File \"a.py\""}"#,
        );
        assert_eq!(
            refused.describe("words"),
            Err("http://tron:7070 refused words (422 Unprocessable Entity):\nimporting failed:\nTraceback (most recent call last):\n  File \"a.py\"".into())
        );
        let odd = answer(502, "bad gateway");
        assert!(
            odd.describe("words")
                .unwrap_err()
                .ends_with("\nbad gateway")
        );
    }
}
