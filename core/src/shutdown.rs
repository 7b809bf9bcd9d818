//! A process-wide shutdown signal, and the consumer loop that runs until it.

use funcmesh_bus::Backoff;
use std::pin::Pin;
use tokio::sync::watch;

/// Trips once; every [`Shutdown::wait`] future then resolves.
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: watch::Sender<bool>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A signal that has not tripped.
    pub fn new() -> Self {
        Self {
            tx: watch::Sender::new(false),
        }
    }

    /// Trips the signal.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Whether the signal has tripped.
    pub fn is_triggered(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves once the signal has tripped.
    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.tx.subscribe();
        async move {
            // An error means the sender is gone, which also means: stop.
            let _ = rx.wait_for(|tripped| *tripped).await;
        }
    }
}

/// Runs `serve` (a consumer loop handed the shutdown signal) until it
/// returns `Ok`: on shutdown, or when the bus closes. An error (a queue a
/// tron has not declared yet, say) is logged and the loop started again
/// after the bus's jittered backoff, so a process never stops consuming for
/// good.
pub async fn keep_serving<F, Fut>(what: &str, shutdown: Shutdown, mut serve: F)
where
    F: FnMut(Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
    Fut: Future<Output = funcmesh_bus::Result<()>>,
{
    let mut backoff = Backoff::default();
    loop {
        match serve(Box::pin(shutdown.wait())).await {
            Ok(()) => return,
            Err(error) => tracing::warn!(%error, "cannot consume {what} yet; retrying"),
        }
        tokio::select! {
            () = shutdown.wait() => return,
            () = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn waiters_before_and_after_the_trigger_resolve() {
        let s = Shutdown::new();
        let early = tokio::spawn(s.wait());
        assert!(!s.is_triggered());
        s.trigger();
        early.await.unwrap();
        s.wait().await;
        assert!(s.is_triggered());
    }

    #[tokio::test(start_paused = true)]
    async fn a_consumer_that_fails_is_started_again_until_it_serves() {
        let calls = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&calls);
        keep_serving("a queue", Shutdown::new(), move |_stop| {
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
        keep_serving("a queue", shutdown, |_stop| async {
            Err(funcmesh_bus::Error::UnknownQueue("q".into()))
        })
        .await;
    }
}
