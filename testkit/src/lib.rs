//! What the workspace's test suites share.
//!
//! Tests wait on state, not on time: [`eventually`] polls a condition until
//! it holds or a timeout passes, and fails the test with what it waited for.
//! A fixed sleep stays only where a test is about time itself (a deadline,
//! a debounce window, a stabilisation period).
#![deny(missing_docs)]

use std::time::Duration;

pub mod docker;
pub mod kube;
pub mod nats;
pub mod tls;

/// Whether a missing broker, API server or container engine fails a test
/// instead of skipping it: `FUNCMESH_REQUIRE_BROKERS` set to anything but
/// empty or `0` (CI sets it).
pub fn brokers_required() -> bool {
    std::env::var("FUNCMESH_REQUIRE_BROKERS").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// A port free right now on 127.0.0.1.
pub fn free_port() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// How often [`eventually`] checks its condition.
pub const POLL: Duration = Duration::from_millis(20);

/// Waits until `condition` returns `true`, checking every [`POLL`]; panics
/// naming `what` if it still does not after `timeout`. The condition is
/// checked once more at the timeout, so a slow machine that gets there late
/// still passes.
pub async fn eventually<F, Fut>(timeout: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    if !try_eventually(timeout, &mut condition).await {
        panic!("not true within {timeout:?}: {what}");
    }
}

/// Like [`eventually`], but says whether the condition came true instead
/// of panicking.
pub async fn try_eventually<F, Fut>(timeout: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until `value` returns `Some`, checking every [`POLL`], and returns
/// it; panics naming `what` if it is still `None` after `timeout`.
pub async fn eventually_some<T, F, Fut>(timeout: Duration, what: &str, mut value: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(found) = value().await {
            return found;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("nothing within {timeout:?}: {what}");
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_condition_that_comes_true_ends_the_wait() {
        let calls = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&calls);
        eventually(Duration::from_secs(1), "the third call", move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move { n >= 2 }
        })
        .await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "not true within 1s: never")]
    async fn a_condition_that_never_comes_true_fails_naming_it() {
        eventually(Duration::from_secs(1), "never", || async { false }).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_value_is_returned_once_present() {
        let calls = Arc::new(AtomicU32::new(0));
        let counted = Arc::clone(&calls);
        let got = eventually_some(Duration::from_secs(1), "a value", move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move { (n == 4).then_some(n) }
        })
        .await;
        assert_eq!(got, 4);
        assert!(!try_eventually(Duration::from_millis(100), || async { false }).await);
    }
}
