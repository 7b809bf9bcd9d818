//! `tls://` against a nats-server of the test's own, serving a certificate
//! the test makes: the bus works through it, refuses a server it was not
//! told to trust, and presents a client certificate where the server asks
//! for one.

use funcmesh_testkit::nats::NatsServer;
use funcmesh_testkit::tls::TestPki;

use crate::common::namespace;
use crate::common::tls::{client_certificate_is_presented, only_the_named_ca_is_trusted};

/// A nats-server with JetStream that speaks TLS only, killed on drop.
struct TlsServer(NatsServer);

impl TlsServer {
    /// `None` (the test skips) where nats-server is not installed.
    fn start(pki: &TestPki, verify_clients: bool) -> Option<Self> {
        NatsServer::start(|command| {
            command
                .arg("--tlscert")
                .arg(pki.path("server.pem"))
                .arg("--tlskey")
                .arg(pki.path("server-key.pem"));
            if verify_clients {
                command
                    .arg("--tlsverify")
                    .arg("--tlscacert")
                    .arg(pki.path("ca.pem"));
            }
        })
        .map(Self)
    }

    fn url(&self, params: &str) -> String {
        format!("tls://{}?namespace={}&{params}", self.0.addr(), namespace())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_server_is_used_with_the_ca_the_url_names_and_no_other() {
    let pki = TestPki::new();
    let Some(server) = TlsServer::start(&pki, false) else {
        return;
    };
    // A CA that did not sign the server's certificate, or the system's
    // alone: the connection is refused, nothing is sent in the clear.
    let system_only = format!("tls://{}", server.0.addr());
    only_the_named_ca_is_trusted(&pki, |params| server.url(params), &system_only).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_verifies_clients_takes_the_certificate_the_url_names() {
    let pki = TestPki::new();
    let Some(server) = TlsServer::start(&pki, true) else {
        return;
    };
    client_certificate_is_presented(&pki, |params| server.url(params)).await;
}
