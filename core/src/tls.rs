//! TLS for the tron's admin listener and its clients (`funcmesh push`, the
//! runners' bundle downloads), through rustls on ring.
//!
//! The listener serves a PEM certificate chain and key it reads when it
//! starts. A client reaches `https://` admin URLs, checking the server's
//! certificate against the system's certificates and, when given, the PEM
//! certificates of one more file (a private CA); `http://` URLs stay plain.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use hyper_util::client::legacy::connect::HttpConnector;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The connector of admin clients: `https://` through rustls, `http://`
/// plain.
pub type AdminConnector = hyper_rustls::HttpsConnector<HttpConnector>;

/// Makes ring the process's crypto provider unless one is set already, so
/// that rustls never has to guess (it panics when two are compiled in).
fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The admin listener's TLS: the certificate chain in `cert` and its key in
/// `key` (PKCS #8, PKCS #1 or SEC1, PEM), offering HTTP/2 and HTTP/1.1.
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let chain = certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading a private key from {}", key.display()))?;
    install_provider();
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .with_context(|| format!("the certificate {} and its key", cert.display()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Where an admin client finds the certificates it trusts besides the
/// system's: `--admin-ca FILE` or `FUNCMESH_ADMIN_CA`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminTrust {
    /// A PEM file of CA certificates.
    pub ca: Option<PathBuf>,
}

impl AdminTrust {
    /// The connector for admin URLs under this trust. Fails when the CA
    /// file cannot be read or holds no certificate.
    pub fn connector(&self) -> anyhow::Result<AdminConnector> {
        let extra = match &self.ca {
            Some(ca) => {
                let found = certificates(ca)?;
                let mut check = rustls::RootCertStore::empty();
                let (added, _) = check.add_parsable_certificates(found.iter().cloned());
                anyhow::ensure!(added > 0, "{} holds no usable CA certificate", ca.display());
                found
            }
            None => Vec::new(),
        };
        Ok(connector(extra))
    }
}

/// The connector that trusts the system's certificates only: read from
/// the system once per process, however many fetch configurations ask.
pub fn system_connector() -> AdminConnector {
    static SYSTEM: std::sync::OnceLock<AdminConnector> = std::sync::OnceLock::new();
    SYSTEM.get_or_init(|| connector(Vec::new())).clone()
}

fn connector(extra: Vec<CertificateDer<'static>>) -> AdminConnector {
    let mut roots = rustls::RootCertStore::empty();
    // A system certificate that rustls cannot read is skipped, as
    // browsers do; the given CA file was checked by the caller.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    roots.add_parsable_certificates(extra);
    install_provider();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http)
}

/// The PEM certificates in `path`; at least one.
fn certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .with_context(|| format!("reading PEM certificates from {}", path.display()))?;
    anyhow::ensure!(
        !chain.is_empty(),
        "{} holds no PEM certificate",
        path.display()
    );
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_empty_files_are_refused_with_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let err = server_config(&empty, &empty).unwrap_err();
        assert!(format!("{err:#}").contains("empty.pem"), "{err:#}");
        let trust = AdminTrust {
            ca: Some(dir.path().join("missing.pem")),
        };
        let err = trust.connector().err().unwrap();
        assert!(format!("{err:#}").contains("missing.pem"), "{err:#}");
        assert!(AdminTrust::default().connector().is_ok());
    }
}
