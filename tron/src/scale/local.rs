//! The local-process orchestrator (`--scaler local`): a pool's runners are
//! child processes of the tron, on its host.
//!
//! Each replica is a slot supervised by its own task: it starts the runner
//! command with `--pool NAME`, starts it again (after the bus's jittered
//! backoff) when it exits on its own, and on scale-down sends it SIGTERM,
//! which makes a runner drain (stop taking work, answer what it holds,
//! acknowledge, exit), and SIGKILL only if it has not exited within the
//! stop timeout. Children die with the tron: the kernel sends them SIGTERM
//! when it exits (`PR_SET_PDEATHSIG`), however it exits.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use funcmesh_bus::Backoff;
use funcmesh_core::shutdown::Shutdown;
use parking_lot::Mutex;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use super::adapter::{BoxFuture, Orchestrator, Replicas, ScaleError};

/// How a runner is started; `--pool NAME` is added.
#[derive(Clone)]
pub struct RunnerCommand {
    /// The program (the `funcmesh` binary).
    pub program: PathBuf,
    /// Its arguments, e.g. `runner --log info`.
    pub args: Vec<String>,
    /// Its environment besides the tron's own, e.g. `FUNCMESH_BUS` (a
    /// broker password in the environment is not on the command line that
    /// every local user can read).
    pub env: Vec<(String, String)>,
}

impl std::fmt::Debug for RunnerCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The environment carries secrets: only its names are shown.
        let names: Vec<&str> = self.env.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("RunnerCommand")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env", &names)
            .finish()
    }
}

/// A runner that ran at least this long before it exited is started again
/// at once; one that exits sooner backs off.
const HEALTHY_RUN: Duration = Duration::from_secs(10);

/// Runner processes on this host.
pub struct LocalProcesses {
    command: RunnerCommand,
    stop_timeout: Duration,
    pools: Mutex<HashMap<String, Vec<Slot>>>,
    /// Slots told to stop, still draining.
    stopping: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for LocalProcesses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalProcesses")
            .field("command", &self.command)
            .finish_non_exhaustive()
    }
}

struct Slot {
    stop: Shutdown,
    state: Arc<SlotState>,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct SlotState {
    running: AtomicBool,
    pid: AtomicU32,
}

impl LocalProcesses {
    /// Starts runners with `command`; a runner told to stop that has not
    /// exited within `stop_timeout` is killed.
    pub fn new(command: RunnerCommand, stop_timeout: Duration) -> Self {
        Self {
            command,
            stop_timeout,
            pools: Mutex::default(),
            stopping: Mutex::default(),
        }
    }

    /// The process ids of a pool's running runners, oldest first.
    pub fn pids(&self, pool: &str) -> Vec<u32> {
        let pools = self.pools.lock();
        pools
            .get(pool)
            .into_iter()
            .flatten()
            .filter(|slot| slot.state.running.load(Ordering::SeqCst))
            .map(|slot| slot.state.pid.load(Ordering::SeqCst))
            .collect()
    }

    fn start_slot(&self, pool: &str) -> Slot {
        let stop = Shutdown::new();
        let state = Arc::new(SlotState::default());
        let task = tokio::spawn(supervise(
            self.command.clone(),
            pool.to_owned(),
            stop.clone(),
            Arc::clone(&state),
            self.stop_timeout,
        ));
        Slot { stop, state, task }
    }
}

impl Orchestrator for LocalProcesses {
    fn name(&self) -> &'static str {
        "local"
    }

    fn replicas<'a>(&'a self, pool: &'a str) -> BoxFuture<'a, Result<Replicas, ScaleError>> {
        let pools = self.pools.lock();
        let slots = pools.get(pool).map_or(&[][..], Vec::as_slice);
        let replicas = Replicas {
            desired: slots.len() as u32,
            ready: slots
                .iter()
                .filter(|slot| slot.state.running.load(Ordering::SeqCst))
                .count() as u32,
        };
        Box::pin(std::future::ready(Ok(replicas)))
    }

    fn scale<'a>(&'a self, pool: &'a str, desired: u32) -> BoxFuture<'a, Result<(), ScaleError>> {
        let desired = desired as usize;
        let mut removed = Vec::new();
        {
            let mut pools = self.pools.lock();
            let slots = pools.entry(pool.to_owned()).or_default();
            while slots.len() < desired {
                let slot = self.start_slot(pool);
                slots.push(slot);
            }
            // The newest go first: the oldest have warm caches.
            while slots.len() > desired {
                if let Some(slot) = slots.pop() {
                    removed.push(slot);
                }
            }
        }
        let mut stopping = self.stopping.lock();
        stopping.retain(|task| !task.is_finished());
        for slot in removed {
            slot.stop.trigger();
            stopping.push(slot.task);
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        let mut tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.stopping.lock());
        for (_, slots) in self.pools.lock().drain() {
            for slot in slots {
                slot.stop.trigger();
                tasks.push(slot.task);
            }
        }
        Box::pin(async move {
            for task in tasks {
                let _ = task.await;
            }
        })
    }
}

/// Keeps one runner of `pool` running until `stop`, then drains it.
async fn supervise(
    command: RunnerCommand,
    pool: String,
    stop: Shutdown,
    state: Arc<SlotState>,
    stop_timeout: Duration,
) {
    let mut backoff = Backoff::default();
    while !stop.is_triggered() {
        let mut child = match spawn(&command, &pool) {
            Ok(child) => child,
            Err(error) => {
                tracing::warn!(pool, %error, program = %command.program.display(), "cannot start a runner; retrying");
                tokio::select! {
                    () = stop.wait() => return,
                    () = tokio::time::sleep(backoff.next_delay()) => continue,
                }
            }
        };
        let pid = child.id().unwrap_or_default();
        state.pid.store(pid, Ordering::SeqCst);
        state.running.store(true, Ordering::SeqCst);
        tracing::info!(pool, pid, "runner started");
        let started = tokio::time::Instant::now();
        tokio::select! {
            status = child.wait() => {
                state.running.store(false, Ordering::SeqCst);
                let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                if started.elapsed() >= HEALTHY_RUN {
                    backoff.reset();
                }
                let pause = backoff.next_delay();
                tracing::warn!(pool, pid, %status, "runner exited on its own; starting another in {pause:?}");
                tokio::select! {
                    () = stop.wait() => return,
                    () = tokio::time::sleep(pause) => {}
                }
            }
            () = stop.wait() => {
                terminate(&mut child, stop_timeout).await;
                state.running.store(false, Ordering::SeqCst);
                tracing::info!(pool, pid, "runner stopped");
                return;
            }
        }
    }
}

fn spawn(command: &RunnerCommand, pool: &str) -> std::io::Result<Child> {
    let mut process = Command::new(&command.program);
    process
        .args(&command.args)
        .envs(command.env.iter().map(|(k, v)| (k, v)))
        .arg("--pool")
        .arg(pool)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    die_with_parent(&mut process);
    process.spawn()
}

/// The child gets SIGTERM when the tron's process exits, however it exits.
#[cfg(target_os = "linux")]
fn die_with_parent(process: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches only the child's own
    // process attributes between fork and exec.
    unsafe {
        process.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_process: &mut Command) {}

/// SIGTERM, so that the runner drains; SIGKILL past `timeout`.
async fn terminate(child: &mut Child, timeout: Duration) {
    if let Some(pid) = child.id() {
        // SAFETY: kill only sends a signal to our own child's pid.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
    }
    if tokio::time::timeout(timeout, child.wait()).await.is_err() {
        tracing::warn!(
            pid = child.id(),
            "runner still draining after {timeout:?}; killing it"
        );
        let _ = child.kill().await;
    }
}

#[cfg(test)]
mod tests;
