#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU32, Ordering};

use super::*;
use crate::scale::adapter::{BoxFuture, Replicas};

/// An orchestrator whose API is down for the first `down` calls.
#[derive(Default)]
struct Flaky {
    down: u32,
    calls: AtomicU32,
    replicas: parking_lot::Mutex<u32>,
}

impl Orchestrator for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }

    fn replicas<'a>(&'a self, _pool: &'a str) -> BoxFuture<'a, Result<Replicas, ScaleError>> {
        Box::pin(async move {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            if call < self.down {
                return Err(ScaleError::Unreachable("connection refused".into()));
            }
            let desired = *self.replicas.lock();
            Ok(Replicas {
                desired,
                ready: desired,
            })
        })
    }

    fn scale<'a>(&'a self, _pool: &'a str, desired: u32) -> BoxFuture<'a, Result<(), ScaleError>> {
        Box::pin(async move {
            *self.replicas.lock() = desired;
            Ok(())
        })
    }
}

#[tokio::test]
async fn a_failing_orchestrator_is_asked_again_with_backoff() {
    let flaky = Arc::new(Flaky {
        down: 4,
        ..Flaky::default()
    });
    let pools = Pools::load(None, &["default:min=1,max=4,target=8".to_owned()]).unwrap();
    let orchestrator: Arc<dyn Orchestrator> = flaky.clone();
    let mut scaler = Scaler::new(orchestrator, pools, RuleConfig::default());
    let mut asked_at = Vec::new();
    for second in 1..=20u64 {
        let before = flaky.calls.load(Ordering::SeqCst);
        let input = PoolInput {
            depth: 0,
            beats: Vec::new(),
        };
        scaler.tick("default", second * 1_000, input).await;
        if flaky.calls.load(Ordering::SeqCst) > before {
            asked_at.push(second);
        }
    }
    // Down for 4 calls: asked at 1, then after 1, 2, 4 and 8 ticks; up
    // from the fifth call on, and asked every tick again.
    assert_eq!(&asked_at[..6], &[1, 2, 4, 8, 16, 17], "{asked_at:?}");
    let status = &scaler.status()["default"];
    assert_eq!(status.error, None);
    assert_eq!(status.current, 1, "raised to min once the API answered");
}
