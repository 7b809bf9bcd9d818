//! Certificates that tests make for their TLS servers: a CA of their own,
//! a server certificate for `localhost` and `127.0.0.1`, and a client
//! certificate, written as PEM files in a temporary directory.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// A CA and what it signed, as files.
#[derive(Debug)]
pub struct TestPki {
    dir: tempfile::TempDir,
}

impl TestPki {
    /// A fresh CA, with a server certificate and a client certificate
    /// signed by it, and a second CA that signed nothing of this server's
    /// (for clients that must be refused).
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
        let (ca, ca_pem) = authority("funcmesh test CA");
        write(dir.path(), "ca.pem", &ca_pem);
        let (_, other_pem) = authority("another CA");
        write(dir.path(), "other-ca.pem", &other_pem);
        let mut server =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .unwrap_or_else(|e| panic!("server certificate parameters: {e}"));
        server
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        sign(dir.path(), "server", &server, &ca);
        let mut client = CertificateParams::new(Vec::<String>::new())
            .unwrap_or_else(|e| panic!("client certificate parameters: {e}"));
        client
            .distinguished_name
            .push(DnType::CommonName, "funcmesh-client");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        sign(dir.path(), "client", &client, &ca);
        Self { dir }
    }

    /// A file of the set: `ca.pem`, `other-ca.pem`, `server.pem`,
    /// `server-key.pem`, `client.pem`, `client-key.pem`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}

fn authority(name: &str) -> (Issuer<'static, KeyPair>, String) {
    let key = KeyPair::generate().unwrap_or_else(|e| panic!("a CA key: {e}"));
    let mut params = CertificateParams::new(Vec::<String>::new())
        .unwrap_or_else(|e| panic!("CA parameters: {e}"));
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params
        .self_signed(&key)
        .unwrap_or_else(|e| panic!("a CA certificate: {e}"));
    (Issuer::new(params, key), cert.pem())
}

fn sign(dir: &Path, name: &str, params: &CertificateParams, ca: &Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap_or_else(|e| panic!("a {name} key: {e}"));
    let cert = params
        .signed_by(&key, ca)
        .unwrap_or_else(|e| panic!("a {name} certificate: {e}"));
    write(dir, &format!("{name}.pem"), &cert.pem());
    write(dir, &format!("{name}-key.pem"), &key.serialize_pem());
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("writing {name}: {e}"));
}
