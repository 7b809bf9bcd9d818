//! What a replay is sent to: a running gateway, or a bundle directory
//! served for the replay's length by a mesh in this process.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use funcmesh_core::bundle;

use super::Error;
use crate::dev::{DevMesh, DevOptions};

/// `--against`: a gateway's URL or a bundle directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `http://host:port`, with an optional path prefix.
    Url(String),
    /// One bundle, or a directory of bundles as `funcmesh dev` takes.
    Bundles(PathBuf),
}

impl Target {
    /// Reads `--against`: a URL when it has a scheme, else a directory.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |reason: &str| Error::Target(format!("{text}: {reason}"));
        if let Some(rest) = text.strip_prefix("http://") {
            let authority = rest.split('/').next().unwrap_or("");
            if authority.is_empty() || authority.parse::<http::uri::Authority>().is_err() {
                return Err(bad("not a host:port"));
            }
            return Ok(Self::Url(text.trim_end_matches('/').to_owned()));
        }
        if text.contains("://") {
            return Err(bad(
                "only plain http:// gateways (or a bundle directory) can be replayed against",
            ));
        }
        let dir = PathBuf::from(text);
        if !dir.is_dir() {
            return Err(bad("neither an http:// URL nor a directory"));
        }
        Ok(Self::Bundles(dir))
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Url(url) => f.write_str(url),
            Self::Bundles(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// A target ready to take requests.
#[derive(Debug)]
pub struct Live {
    /// Where requests go.
    pub base: String,
    /// The mesh serving a bundle directory, stopped by [`Live::stop`].
    pub mesh: Option<Arc<DevMesh>>,
}

impl Live {
    /// Starts what `target` needs: nothing for a URL; for a directory, a
    /// mesh on 127.0.0.1 with every bundle live, or an error naming each
    /// bundle that failed to load.
    pub async fn start(
        target: &Target,
        timeout: Duration,
        python: &funcmesh_runner::PythonConfig,
    ) -> Result<Self, Error> {
        let dir = match target {
            Target::Url(url) => {
                return Ok(Self {
                    base: url.clone(),
                    mesh: None,
                });
            }
            Target::Bundles(dir) => dir,
        };
        let found = bundle::find_bundles(dir);
        if found.is_empty() {
            return Err(Error::Target(format!(
                "{}: no bundle here (a bundle is a directory with a swagger.yaml or openapi.yaml)",
                dir.display()
            )));
        }
        let mut options = DevOptions::new(dir).timeout(timeout);
        // Answers as a production mesh gives them: no tracebacks in 502s.
        options.dev_mode = false;
        options.python = python.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::Start(format!("binding 127.0.0.1:0: {e}")))?;
        // The mesh loads every bundle before it returns.
        let mesh = DevMesh::start(options, listener)
            .await
            .map_err(|e| Error::Start(format!("{e:#}")))?;
        let failed = not_loaded(&mesh, &found).await;
        if !failed.is_empty() {
            let _ = mesh.shutdown().await;
            return Err(Error::Bundles(failed));
        }
        Ok(Self {
            base: crate::dev::describe(mesh.local_addr()),
            mesh: Some(mesh),
        })
    }

    /// The full content hash of the live bundle whose short hash is `short`.
    pub fn bundle_hash(&self, short: &str) -> Option<String> {
        let mesh = self.mesh.as_ref()?;
        let bundles = mesh.registry().bundles();
        bundles
            .iter()
            .find(|b| b.short_hash() == short)
            .map(|b| b.hash.clone())
    }

    /// Stops the in-process mesh, if any, answering what is in flight.
    pub async fn stop(self) {
        if let Some(mesh) = self.mesh
            && let Err(error) = mesh.shutdown().await
        {
            tracing::warn!(error = %format!("{error:#}"), "stopping the replay's mesh");
        }
    }
}

/// The bundles of `found` that are not live, each with why: the mesh logs a
/// failed load and goes on, so the load is tried again for its error.
async fn not_loaded(mesh: &DevMesh, found: &[PathBuf]) -> Vec<(PathBuf, String)> {
    let mut failed = Vec::new();
    for dir in found {
        if mesh.registry().get(dir).is_some() {
            continue;
        }
        if let Err(error) = mesh.load(dir).await {
            failed.push((dir.clone(), format!("{error:#}")));
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_directories_are_told_apart() {
        assert_eq!(
            Target::parse("http://127.0.0.1:8080/").ok(),
            Some(Target::Url("http://127.0.0.1:8080".into()))
        );
        assert!(matches!(Target::parse("."), Ok(Target::Bundles(_))));
        for bad in [
            "https://example.com",
            "http://",
            "http://bad host/",
            "/no/such/dir",
        ] {
            let error = Target::parse(bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(error.contains(bad), "{bad}: {error:?}");
        }
    }
}
