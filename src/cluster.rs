//! The mesh as separate processes on a broker: `funcmesh tron`,
//! `funcmesh gateway` and `funcmesh runner`, any number of each.
//!
//! - `control`: what the processes tell each other on the bus's control
//!   topics: the trons' routing tables (which also assign the routes to the
//!   runners), the hello that asks for one now, and runner heartbeats.
//! - `policy`: the queues the mesh declares and their limits.
//! - `tron`: [`TronNode`] owns the bundle directory and the bundle store,
//!   declares the Func queues, announces the routes, dispatches the
//!   firehose and answers dead letters.
//! - `gateway`: [`GatewayNode`] serves HTTP, following the announced routes.
//! - `runner`: [`RunnerNode`] fetches the announced bundles by hash from a
//!   tron, verifies and caches them, consumes their Func queues and reports
//!   its statistics.
//! - `upload`: [`upload`], `funcmesh push`'s client of a tron's store.

pub mod control;
pub(crate) mod follow;
mod gateway;
mod policy;
mod runner;
mod tron;
mod upload;

pub use gateway::{GatewayNode, GatewayOptions};
pub use policy::QueuePolicy;
pub use runner::{RunnerNode, RunnerOptions};
pub use tron::{TronNode, TronOptions};
pub use upload::upload;

use std::sync::Arc;

use anyhow::Context as _;
use funcmesh_bus::Bus;

/// Opens the bus at `url`. A broker that is down is not an error: the
/// backends connect in the background and the processes wait for it.
pub async fn connect(url: &str) -> anyhow::Result<Arc<dyn Bus>> {
    let bus = funcmesh_bus::connect(url)
        .await
        .with_context(|| format!("opening the bus at {}", redact(url)))?;
    tracing::info!(bus = %redact(url), messaging.system = bus.system(), "bus opened");
    Ok(bus)
}

/// Runs `serve` (a consumer loop handed the shutdown signal) until it
/// returns `Ok`: on shutdown, or when the bus closes. An error (a queue a
/// tron has not declared yet, say) is logged and the loop started again
/// with exponential backoff, so a process never stops consuming for good.
pub(crate) async fn keep_serving<F, Fut>(
    what: &str,
    shutdown: crate::shutdown::Shutdown,
    mut serve: F,
) where
    F: FnMut(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
    Fut: Future<Output = funcmesh_bus::Result<()>>,
{
    let mut pause = std::time::Duration::from_millis(100);
    loop {
        match serve(Box::pin(shutdown.wait())).await {
            Ok(()) => return,
            Err(error) => tracing::warn!(%error, "cannot consume {what} yet; retrying"),
        }
        tokio::select! {
            () = shutdown.wait() => return,
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(std::time::Duration::from_secs(5));
    }
}

/// Locks `m`; the nodes' short critical sections leave nothing half-done
/// when they panic, so a poisoned lock is still safe to use.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `url` with its password masked, for logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use crate::shutdown::Shutdown;

    #[tokio::test(start_paused = true)]
    async fn a_consumer_that_fails_is_started_again_until_it_serves() {
        let calls = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&calls);
        super::keep_serving("a queue", Shutdown::new(), move |_stop| {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 | 1 => Err(funcmesh_bus::Error::UnknownQueue("q".into())),
                    _ => Ok(()),
                }
            }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_ends_the_retrying() {
        let shutdown = Shutdown::new();
        shutdown.trigger();
        super::keep_serving("a queue", shutdown, |_stop| async {
            Err(funcmesh_bus::Error::UnknownQueue("q".into()))
        })
        .await;
    }
    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(
            super::redact("amqp://guest:secret@h:5672/%2f"),
            "amqp://guest:***@h:5672/%2f"
        );
        assert_eq!(super::redact("inproc://x"), "inproc://x");
        assert_eq!(super::redact("amqp://h/v"), "amqp://h/v");
    }
}
