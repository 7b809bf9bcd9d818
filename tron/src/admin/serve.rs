//! The admin HTTP server: HTTP/1.1 and h2c on one listener, or HTTP/1.1 and
//! HTTP/2 over TLS when it is given a certificate.

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

use super::{Admin, AdminState};

/// How long a client gets to finish its TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// How long in-flight requests (an upload being unpacked and loaded, a pack
/// being sent) get to finish after shutdown.
const DRAIN: Duration = Duration::from_secs(30);

/// Serves the admin routes on `listener` (over TLS when `tls` is given)
/// until `shutdown` completes, then stops accepting, lets in-flight
/// requests finish, and returns.
pub async fn serve(
    listener: TcpListener,
    state: AdminState,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let local = listener
        .local_addr()
        .context("reading the admin listener's address")?;
    let admin = Arc::new(Admin {
        state,
        uploads: tokio::sync::Mutex::new(()),
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let tls = tls.map(tokio_rustls::TlsAcceptor::from);
    tracing::info!(server.address = %local, tls = tls.is_some(), "tron admin listening");

    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(%error, "accepting an admin connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let admin = Arc::clone(&admin);
        let service = service_fn(move |request| {
            let admin = Arc::clone(&admin);
            async move { Ok::<_, Infallible>(admin.handle(request).await) }
        });
        let Some(tls) = &tls else {
            let connection = builder
                .serve_connection(TokioIo::new(stream), service)
                .into_owned();
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(error = &*error, client.address = %remote, "admin connection ended with an error");
                }
            });
            continue;
        };
        // The handshake runs in the connection's task, so that a slow
        // client holds up no one; a connection still shaking hands when
        // shutdown comes is dropped with the task.
        let (tls, builder) = (tls.clone(), builder.clone());
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(HANDSHAKE, tls.accept(stream)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(error)) => {
                    tracing::debug!(%error, client.address = %remote, "admin TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(client.address = %remote, "admin TLS handshake timed out");
                    return;
                }
            };
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(error = &*error, client.address = %remote, "admin connection ended with an error");
            }
        });
    }

    drop(listener);
    tracing::info!(server.address = %local, connections = graceful.count(), "tron admin shutting down; draining");
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(server.address = %local, "admin connections still open after draining; closing them");
    }
    Ok(())
}
