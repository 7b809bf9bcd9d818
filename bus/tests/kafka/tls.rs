//! Kafka over TLS: a tansu broker of the test's own behind a TLS
//! terminator (socat, with OpenSSL) serving a certificate the test makes.
//! tansu 0.6.0 cannot serve TLS itself (its `--cert` and `--key` flags
//! exclude each other), so it listens in the clear on one port and
//! advertises the terminator's, where every client connection, the
//! bootstrap and those to the advertised broker, is TLS. The bus works
//! through it with the CA the URL names, refuses it with another CA or the
//! system's alone, and presents a client certificate where the terminator
//! asks for one.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use funcmesh_testkit::tls::TestPki;

use crate::common::namespace;
use crate::common::tls::{
    client_certificate_is_presented, never_connects, only_the_named_ca_is_trusted,
};

/// A process killed on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// tansu in memory, and socat in front of it speaking TLS.
struct TlsBroker {
    _tansu: Killed,
    _socat: Killed,
    addr: std::net::SocketAddr,
}

fn program(candidates: &[&str]) -> Option<String> {
    let home = std::env::var("HOME").unwrap_or_default();
    candidates
        .iter()
        .map(|c| c.replace('~', &home))
        .find(|p| Path::new(p).exists())
}

impl TlsBroker {
    /// `None` (the test skips) where tansu or socat is not installed.
    fn start(pki: &TestPki, verify_clients: bool) -> Option<Self> {
        let tansu = std::env::var("FUNCMESH_TANSU")
            .ok()
            .or_else(|| program(&["~/.cargo/bin/tansu", "/usr/local/bin/tansu"]));
        let socat = program(&["/usr/bin/socat"]);
        let (Some(tansu), Some(socat)) = (tansu, socat) else {
            assert!(
                !funcmesh_testkit::brokers_required(),
                "tansu and socat are needed (./scripts/test installs them)"
            );
            eprintln!("SKIPPED: tansu or socat is not installed");
            return None;
        };
        let (plain, addr) = (funcmesh_testkit::free_port(), funcmesh_testkit::free_port());
        let tansu = Killed(
            Command::new(tansu)
                .args(["broker", "--storage-engine", "memory://tansu/"])
                .arg("--listener-url")
                .arg(format!("tcp://{plain}"))
                .arg("--advertised-listener-url")
                .arg(format!("tcp://{addr}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let mut listen = format!(
            "OPENSSL-LISTEN:{},bind=127.0.0.1,reuseaddr,fork,cert={},key={}",
            addr.port(),
            pki.path("server.pem").display(),
            pki.path("server-key.pem").display(),
        );
        match verify_clients {
            true => listen.push_str(&format!(
                ",verify=1,cafile={}",
                pki.path("ca.pem").display()
            )),
            false => listen.push_str(",verify=0"),
        }
        let socat = Killed(
            Command::new(socat)
                .arg(listen)
                .arg(format!("TCP:{plain}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        for port in [plain, addr] {
            while std::net::TcpStream::connect(port).is_err() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "tansu or socat did not start"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Some(Self {
            _tansu: tansu,
            _socat: socat,
            addr,
        })
    }

    fn url(&self, params: &str) -> String {
        format!(
            "kafka://{}?namespace={}&partitions=1&{params}",
            self.addr,
            namespace()
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_broker_is_used_with_the_ca_the_url_names_and_no_other() {
    let pki = TestPki::new();
    let Some(broker) = TlsBroker::start(&pki, false) else {
        return;
    };
    // A CA that did not sign the broker's certificate, or the system's
    // alone: nothing is sent in the clear, and the bus never connects.
    only_the_named_ca_is_trusted(&pki, |params| broker.url(params), &broker.url("tls=true")).await;
    // And in the clear, the terminator hears no TLS and hangs up.
    never_connects(&broker.url("tls=false"), Duration::from_secs(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_verifies_clients_takes_the_certificate_the_url_names() {
    let pki = TestPki::new();
    let Some(broker) = TlsBroker::start(&pki, true) else {
        return;
    };
    client_certificate_is_presented(&pki, |params| broker.url(params)).await;
}

#[tokio::test]
async fn tls_files_are_checked_when_the_bus_opens() {
    let missing = "kafka://127.0.0.1:9?cacertfile=/nonexistent/ca.pem";
    let error = funcmesh_bus::connect(missing).await.err().unwrap();
    assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    let half = "kafka://127.0.0.1:9?certfile=/etc/hostname";
    let error = funcmesh_bus::connect(half).await.err().unwrap();
    assert!(
        error.to_string().contains("PEM") || error.to_string().contains("keyfile"),
        "{error}"
    );
}
