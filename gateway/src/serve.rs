//! The HTTP server: HTTP/1.1 with keep-alive and h2c on one listener.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::gateway::Gateway;

/// After shutdown, connections get this long beyond the request timeout to
/// finish; a client still sending then is cut off.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// Serves `gateway` on `listener` until `shutdown` completes, then stops
/// accepting, lets every in-flight request be answered, and returns.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let local = listener
        .local_addr()
        .context("reading the listener's address")?;
    let header_timeout = gateway.config.header_timeout;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The timer enables hyper's header read timeout against slow clients;
    // it also closes a keep-alive connection idle for that long.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(20));
    let builder = Arc::new(builder);
    let cap = gateway.config.connection_cap();
    let connections = Arc::new(Semaphore::new(cap));
    let mut refused = Refusals::default();
    let graceful = GracefulShutdown::new();
    tracing::info!(server.address = %local, gateway.id = %gateway.config.id, "gateway listening");

    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            // Closed at once: a client told no right away can go elsewhere.
            refused.log(cap);
            drop(stream);
            continue;
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, client.address = %remote, "setting TCP_NODELAY failed");
        }
        let gateway = Arc::clone(&gateway);
        let service = service_fn(move |request| {
            let gateway = Arc::clone(&gateway);
            async move { Ok::<_, Infallible>(gateway.handle(request, Some(remote)).await) }
        });
        let (builder, watcher) = (Arc::clone(&builder), graceful.watcher());
        tokio::spawn(async move {
            let _permit = permit;
            // Before its first byte a connection is not HTTP yet (hyper
            // waits for it to tell HTTP/1 from HTTP/2, with no timeout of
            // its own): a client silent that long is let go.
            let mut first = [0u8; 1];
            match tokio::time::timeout(header_timeout, stream.peek(&mut first)).await {
                Ok(Ok(read)) if read > 0 => {}
                _ => return,
            }
            let connection = builder
                .serve_connection(TokioIo::new(stream), service)
                .into_owned();
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(error = &*error, client.address = %remote, "connection ended with an error");
            }
        });
    }

    drop(listener);
    let open = graceful.count();
    tracing::info!(server.address = %local, connections = open, "gateway shutting down; draining");
    let drain = gateway.config.timeout + DRAIN_GRACE;
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(server.address = %local, "connections still open after draining; closing them");
    }
    Ok(())
}

/// Connections closed at the cap, logged at most once a second.
#[derive(Default)]
struct Refusals {
    count: u64,
    last: Option<std::time::Instant>,
}

impl Refusals {
    fn log(&mut self, cap: usize) {
        self.count += 1;
        let now = std::time::Instant::now();
        if self
            .last
            .is_none_or(|last| now.duration_since(last) >= Duration::from_secs(1))
        {
            self.last = Some(now);
            tracing::warn!(
                max_connections = cap,
                refused_total = self.count,
                "connection closed: the gateway holds as many as it may"
            );
        }
    }
}
