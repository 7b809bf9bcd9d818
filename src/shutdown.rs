//! A process-wide shutdown signal.

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

    /// Resolves once the signal has tripped.
    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.tx.subscribe();
        async move {
            // An error means the sender is gone, which also means: stop.
            let _ = rx.wait_for(|tripped| *tripped).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_before_and_after_the_trigger_resolve() {
        let s = Shutdown::new();
        let early = tokio::spawn(s.wait());
        s.trigger();
        early.await.unwrap();
        s.wait().await;
    }
}
