#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use funcmesh_testkit::eventually;

use super::*;

const WAIT: Duration = Duration::from_secs(10);

/// A stand-in runner: a shell that notes its pool and pid, and on SIGTERM
/// notes that it drained and exits (or, `stubborn`, ignores it).
fn command(dir: &Path, stubborn: bool) -> RunnerCommand {
    let log = dir.join("log");
    let on_term = match stubborn {
        true => "echo ignored >> \"$LOG\"".to_owned(),
        false => "echo drained $$ >> \"$LOG\"; exit 0".to_owned(),
    };
    let script = format!(
        "LOG='{}'; trap '{on_term}' TERM; echo started $$ $FUNCMESH_TEST_MARK \"$@\" >> \"$LOG\"; \
         while true; do sleep 0.05; done",
        log.display()
    );
    RunnerCommand {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script, "runner".into()],
        env: vec![("FUNCMESH_TEST_MARK".into(), "given".into())],
    }
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("log")).unwrap_or_default()
}

fn alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

async fn ready(local: &LocalProcesses, pool: &str) -> u32 {
    local.replicas(pool).await.unwrap().ready
}

#[tokio::test]
async fn a_pool_scales_up_and_down_and_its_runners_drain() {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalProcesses::new(command(dir.path(), false), WAIT);
    local.scale("batch", 2).await.unwrap();
    eventually(WAIT, "two runners started", || async {
        ready(&local, "batch").await == 2 && log(dir.path()).matches("started").count() == 2
    })
    .await;
    assert!(
        log(dir.path()).contains("given --pool batch"),
        "each runner is told its pool: {}",
        log(dir.path())
    );
    assert_eq!(
        local.replicas("batch").await.unwrap(),
        Replicas {
            desired: 2,
            ready: 2
        }
    );
    let pids = local.pids("batch");
    assert_eq!(pids.len(), 2);

    local.scale("batch", 1).await.unwrap();
    assert_eq!(local.replicas("batch").await.unwrap().desired, 1);
    eventually(WAIT, "the newest runner drained and exited", || async {
        !alive(pids[1]) && log(dir.path()).contains(&format!("drained {}", pids[1]))
    })
    .await;
    assert!(alive(pids[0]), "the oldest runner keeps serving");
    assert_eq!(local.replicas("other").await.unwrap(), Replicas::default());

    local.shutdown().await;
    assert!(!alive(pids[0]), "runners stop with the tron");
}

#[tokio::test]
async fn a_runner_killed_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalProcesses::new(command(dir.path(), false), WAIT);
    local.scale("default", 1).await.unwrap();
    eventually(WAIT, "a runner started", || async {
        ready(&local, "default").await == 1
    })
    .await;
    let first = local.pids("default")[0];
    // SAFETY: kills our own child.
    unsafe {
        libc::kill(first as libc::pid_t, libc::SIGKILL);
    }
    eventually(WAIT, "another runner in its place", || async {
        local
            .pids("default")
            .first()
            .is_some_and(|pid| *pid != first)
    })
    .await;
    assert_eq!(local.replicas("default").await.unwrap().desired, 1);
    local.shutdown().await;
}

#[tokio::test]
async fn a_runner_that_ignores_sigterm_is_killed_after_the_stop_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let local = LocalProcesses::new(command(dir.path(), true), Duration::from_millis(300));
    local.scale("default", 1).await.unwrap();
    eventually(WAIT, "a runner started", || async {
        ready(&local, "default").await == 1 && log(dir.path()).contains("started")
    })
    .await;
    let pid = local.pids("default")[0];
    local.scale("default", 0).await.unwrap();
    eventually(WAIT, "the stubborn runner killed", || async { !alive(pid) }).await;
    assert!(log(dir.path()).contains("ignored"), "it was asked first");
    local.shutdown().await;
}

#[tokio::test]
async fn a_command_that_cannot_start_is_retried_not_fatal() {
    let local = LocalProcesses::new(
        RunnerCommand {
            program: "/nonexistent/funcmesh".into(),
            args: vec![],
            env: vec![],
        },
        WAIT,
    );
    local.scale("default", 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await; // nothing can start: a time window
    assert_eq!(
        local.replicas("default").await.unwrap(),
        Replicas {
            desired: 1,
            ready: 0
        }
    );
    local.shutdown().await;
}
