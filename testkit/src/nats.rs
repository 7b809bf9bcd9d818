//! A nats-server of a test's own: JetStream on, a free port on 127.0.0.1,
//! a store in a temporary directory, its log kept for the failure message,
//! killed on drop.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running nats-server.
pub struct NatsServer {
    child: Child,
    addr: SocketAddr,
    store: tempfile::TempDir,
}

impl NatsServer {
    /// Starts one with the arguments (and environment) `configure` adds,
    /// and waits until it takes connections. `None`, and the test skips,
    /// where nats-server is not installed and brokers are not required
    /// ([`crate::brokers_required`]); panics with the server's log when it
    /// does not start within 10 s.
    pub fn start(configure: impl FnOnce(&mut Command)) -> Option<Self> {
        let program = ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        let Some(program) = program else {
            assert!(!crate::brokers_required(), "nats-server is not installed");
            eprintln!("SKIPPED: nats-server is not installed");
            return None;
        };
        let addr = crate::free_port();
        let store = tempfile::tempdir().unwrap_or_else(|e| panic!("no temporary directory: {e}"));
        let log = std::fs::File::create(store.path().join("server.log"))
            .unwrap_or_else(|e| panic!("cannot create the server's log: {e}"));
        let mut command = Command::new(program);
        command
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &addr.port().to_string(),
                "-js",
                "-sd",
            ])
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(log);
        configure(&mut command);
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let server = Self { child, addr, store };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not start: {}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.store.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
