//! A TCP proxy in front of a shared server, to lose connections without
//! touching the server (which other tests are using).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::task::AbortHandle;

/// Forwards every connection it accepts to one server.
pub struct Proxy {
    addr: SocketAddr,
    pipes: Arc<Mutex<Vec<AbortHandle>>>,
    refusing: Arc<AtomicBool>,
    accepted: Arc<AtomicUsize>,
    accept: AbortHandle,
}

impl Proxy {
    /// A proxy on a free port of 127.0.0.1 in front of `server`.
    pub async fn start(server: &'static str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let pipes: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let refusing = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicUsize::new(0));
        let accept = tokio::spawn({
            let pipes = Arc::clone(&pipes);
            let refusing = Arc::clone(&refusing);
            let accepted = Arc::clone(&accepted);
            async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        return;
                    };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    if refusing.load(Ordering::SeqCst) {
                        drop(inbound);
                        continue;
                    }
                    let pipe = tokio::spawn(async move {
                        let Ok(mut outbound) = tokio::net::TcpStream::connect(server).await else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    });
                    let mut pipes = pipes.lock().unwrap();
                    pipes.retain(|pipe| !pipe.is_finished());
                    pipes.push(pipe.abort_handle());
                }
            }
        })
        .abort_handle();
        Self {
            addr,
            pipes,
            refusing,
            accepted,
            accept,
        }
    }

    /// Where the proxy listens (`127.0.0.1:port`).
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// How many connections it has accepted (refused ones included): a
    /// client that lost its connection shows it has noticed by connecting
    /// again.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Closes every connection through the proxy; returns how many.
    pub fn cut(&self) -> usize {
        let mut pipes = self.pipes.lock().unwrap();
        let live = pipes.iter().filter(|pipe| !pipe.is_finished()).count();
        for pipe in pipes.drain(..) {
            pipe.abort();
        }
        live
    }

    /// While set, new connections are closed at once: the server looks down.
    pub fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
