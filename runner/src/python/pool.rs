//! The worker processes of one Python bundle version. Each worker embeds an
//! interpreter, imported the bundle once, and runs one call at a time; a call
//! takes an idle worker, or waits for one until its deadline; the bundle's
//! timeout counts from when it has one.
//!
//! A worker that does not stop at the deadline (the interrupt it raises
//! itself was caught, or C code holds the interpreter) is killed and
//! replaced; one that dies is replaced. Either way only the call it was
//! running fails: the others run on other workers. A worker ends with its
//! process group, so that what it forked ends with it.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use funcmesh_bus::Backoff;
use funcmesh_core::bundle::Bundle;
use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Semaphore;

use super::PythonConfig;
use super::cgroup::{CgroupLimits, Cgroups, WorkerCgroup};
use super::confine::{self, Identity, Limits};
use super::protocol::{self, FromWorker, ToWorker};
use crate::wasm::{CallError, GuestResponse};

/// One worker process.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pid: u32,
    /// Its group was killed after the worker was reaped: the group id may
    /// be another's by now.
    ended: bool,
    /// Its cgroup, when it has one: what it forked is killed with it
    /// whatever group or session it went to, and the cgroup is removed
    /// when the worker is dropped.
    cgroup: Option<Arc<WorkerCgroup>>,
}

impl Worker {
    /// Kills the worker and everything in its process group and its
    /// cgroup, and reaps it.
    async fn end(&mut self) {
        if !self.ended {
            confine::kill_group(self.pid);
            if let Some(cgroup) = &self.cgroup {
                cgroup.kill_all();
            }
            let _ = self.child.wait().await;
            self.ended = true;
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if !self.ended {
            confine::kill_group(self.pid);
        }
    }
}

/// The workers of one bundle version.
pub struct Pool {
    pub bundle: Arc<Bundle>,
    /// The copy of the bundle the workers run from; removed with the pool.
    dir: PathBuf,
    config: PythonConfig,
    /// The user workers switch to; `None` keeps the runner's.
    identity: Option<Identity>,
    /// Where each worker gets a cgroup of its own, when they do.
    cgroups: Option<Arc<Cgroups>>,
    idle: Mutex<Vec<Worker>>,
    /// One permit per idle worker.
    ready: Semaphore,
    closed: AtomicBool,
}

/// How a call ended, before it becomes a response or a [`CallError`].
enum Ended {
    Answered(Result<GuestResponse, CallError>),
    /// The worker was dead before the request reached it: another may take
    /// the call.
    NotSent(CallError),
    /// The worker is gone or must go; the error is the call's.
    Lost(CallError),
}

impl Pool {
    /// Starts the first worker and waits for its imports, so that a broken
    /// bundle is refused here; the others start in the background.
    pub async fn start(
        bundle: Arc<Bundle>,
        dir: PathBuf,
        config: PythonConfig,
        identity: Option<Identity>,
        cgroups: Option<Arc<Cgroups>>,
    ) -> Result<Arc<Pool>, String> {
        let size = config
            .workers
            .clamp(1, bundle.manifest.max_concurrency.max(1) as usize);
        let pool = Arc::new(Pool {
            bundle,
            dir,
            config,
            identity,
            cgroups,
            idle: Mutex::default(),
            ready: Semaphore::new(0),
            closed: AtomicBool::new(false),
        });
        let first = pool.spawn().await?;
        pool.give_back(first);
        for _ in 1..size {
            Arc::clone(&pool).replace();
        }
        Ok(pool)
    }

    /// Stops replacing workers; the idle ones exit when the last call
    /// holding the pool is done.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
    }

    /// Calls `operation` on an idle worker. A worker found dead before the
    /// request reached it is replaced and the call tries another, once.
    pub async fn call(
        self: &Arc<Self>,
        operation: &str,
        meta: String,
        body: &[u8],
        deadline: Instant,
        timeout: Duration,
    ) -> Result<GuestResponse, CallError> {
        let (meta, body) = (Arc::new(meta), Arc::new(body.to_vec()));
        let mut attempts = 2;
        loop {
            attempts -= 1;
            match self
                .attempt(operation, &meta, &body, deadline, timeout)
                .await
            {
                Ended::Answered(result) => return result,
                Ended::NotSent(_) if attempts > 0 => continue,
                Ended::NotSent(error) | Ended::Lost(error) => return Err(error),
            }
        }
    }

    async fn attempt(
        self: &Arc<Self>,
        operation: &str,
        meta: &Arc<String>,
        body: &Arc<Vec<u8>>,
        deadline: Instant,
        timeout: Duration,
    ) -> Ended {
        let queued = Instant::now();
        let permit = tokio::time::timeout_at(deadline.into(), self.ready.acquire()).await;
        match permit {
            Ok(Ok(permit)) => permit.forget(),
            Ok(Err(_closed)) => {
                let gone = CallError::UnknownBundle(self.bundle.hash.clone());
                return Ended::Answered(Err(gone));
            }
            Err(_elapsed) => {
                let waited_ms = queued.elapsed().as_millis() as u64;
                return Ended::Answered(Err(CallError::NoSlot { waited_ms }));
            }
        }
        let Some(worker) = self.idle.lock().pop() else {
            let error = CallError::Internal("no idle Python worker behind a permit".into());
            return Ended::Answered(Err(error));
        };
        let started = Instant::now();
        let deadline = started
            .checked_add(timeout)
            .map_or(deadline, |t| deadline.min(t));
        let budget_ms = deadline.saturating_duration_since(started).as_millis() as u64;
        if budget_ms == 0 {
            // A budget of 0 would disarm the worker's alarm (setitimer(0)):
            // the call would run until its worker is killed.
            self.give_back(worker);
            return Ended::Answered(Err(CallError::Timeout { budget_ms }));
        }
        let request = ToWorker::Call {
            operation: operation.to_owned(),
            meta: String::clone(meta),
            budget_ms,
        };
        // The exchange runs as its own task: a caller that goes away must not
        // leave a worker half-way through a frame.
        let (pool, body) = (Arc::clone(self), Arc::clone(body));
        let exchange = tokio::spawn(async move {
            let mut worker = worker;
            let ended = pool
                .exchange(&mut worker, &request, &body, deadline, budget_ms)
                .await;
            match &ended {
                Ended::Answered(_) => pool.give_back(worker),
                Ended::NotSent(error) | Ended::Lost(error) => pool.recycle(worker, error).await,
            }
            ended
        });
        exchange.await.unwrap_or_else(|e| {
            Ended::Answered(Err(CallError::Internal(format!("Python call task: {e}"))))
        })
    }

    async fn exchange(
        &self,
        worker: &mut Worker,
        request: &ToWorker,
        body: &[u8],
        deadline: Instant,
        budget_ms: u64,
    ) -> Ended {
        if let Err(error) = protocol::write_async(&mut worker.stdin, request, body).await {
            return Ended::NotSent(died(worker, &error).await);
        }
        let grace = Duration::from_millis(self.config.kill_grace_ms);
        let answer = tokio::time::timeout_at(
            (deadline + grace).into(),
            protocol::read_async(&mut worker.stdout),
        )
        .await;
        match answer {
            Err(_elapsed) => {
                tracing::warn!(
                    bundle = %self.bundle.short_hash(),
                    pid = worker.pid,
                    grace_ms = self.config.kill_grace_ms,
                    "Python function did not stop at its deadline; killing its worker"
                );
                Ended::Lost(CallError::Timeout { budget_ms })
            }
            Ok(Err(error)) => Ended::Lost(died(worker, &error).await),
            Ok(Ok((FromWorker::Response { status, headers }, body))) => {
                Ended::Answered(match status {
                    100..=599 => Ok(GuestResponse {
                        status,
                        headers,
                        body: Bytes::from(body),
                    }),
                    _ => Err(CallError::Malformed(format!(
                        "status {status} is not 100..=599"
                    ))),
                })
            }
            Ok(Ok((
                FromWorker::Exception {
                    kind, traceback, ..
                },
                _,
            ))) if kind == "MemoryError" => {
                // The interpreter may be left half-way through something:
                // the worker goes, the call is told why.
                let limit_mb = self.bundle.manifest.memory_limit_mb;
                tracing::warn!(bundle = %self.bundle.short_hash(), pid = worker.pid, limit_mb, "Python function ran out of memory:\n{traceback}");
                Ended::Lost(CallError::MemoryLimit { limit_mb })
            }
            Ok(Ok((
                FromWorker::Exception {
                    kind,
                    message,
                    traceback,
                },
                _,
            ))) => Ended::Answered(Err(CallError::Exception {
                kind,
                message,
                traceback,
            })),
            Ok(Ok((FromWorker::Timeout { traceback }, _))) => {
                tracing::debug!(bundle = %self.bundle.short_hash(), %traceback, "Python function interrupted at its deadline");
                Ended::Answered(Err(CallError::Timeout { budget_ms }))
            }
            Ok(Ok((other, _))) => Ended::Lost(CallError::Internal(format!(
                "Python worker answered a call with {other:?}"
            ))),
        }
    }

    /// Kills `worker` and starts another in its place.
    async fn recycle(self: &Arc<Self>, mut worker: Worker, why: &CallError) {
        worker.end().await;
        tracing::info!(bundle = %self.bundle.short_hash(), pid = worker.pid, reason = why.kind(), "Python worker replaced");
        Arc::clone(self).replace();
    }

    /// Starts a worker in the background and adds it when ready, retrying
    /// while the pool is open.
    fn replace(self: Arc<Self>) {
        tokio::spawn(async move {
            let mut backoff = Backoff::default();
            while !self.closed.load(Ordering::Relaxed) {
                match self.spawn().await {
                    Ok(worker) => return self.give_back(worker),
                    Err(error) => {
                        tracing::error!(bundle = %self.bundle.short_hash(), %error, "starting a Python worker failed; retrying");
                        tokio::time::sleep(backoff.next_delay()).await;
                    }
                }
            }
        });
    }

    /// Makes `worker` idle again. A retired version's workers are kept too,
    /// for the calls still waiting; they exit when the pool is dropped.
    fn give_back(&self, worker: Worker) {
        self.idle.lock().push(worker);
        self.ready.add_permits(1);
    }

    /// Starts one worker process and waits until it has imported the bundle.
    async fn spawn(&self) -> Result<Worker, String> {
        let command = self.config.worker.as_ref().ok_or_else(|| {
            "this runner was built without Python support (the `python` feature)".to_owned()
        })?;
        let mut child = Command::new(&command.program);
        child
            .args(&command.args)
            .env_clear()
            .envs(base_env())
            .current_dir(&self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl-C meant for the runner is not
            // delivered to the workers in the middle of a call, and the
            // worker is killed with whatever it forked.
            .process_group(0)
            .kill_on_drop(true);
        let memory_mb = self.bundle.manifest.memory_limit_mb;
        let limits = Limits::new(&self.config, memory_mb);
        let runner = libc::pid_t::try_from(std::process::id()).unwrap_or(libc::pid_t::MAX);
        let cgroup = match &self.cgroups {
            Some(cgroups) => Some(Arc::new(
                cgroups
                    .worker(CgroupLimits {
                        memory_bytes: u64::from(memory_mb) << 20,
                        processes: self.config.max_processes,
                        cpu_millis: self.config.cpu_millis,
                    })
                    .map_err(|e| format!("making the worker's cgroup: {e}"))?,
            )),
            None => None,
        };
        // The child enters its cgroup and switches user itself, after it
        // has left the host's network if asked to (both take root).
        let (identity, entering) = (self.identity, cgroup.clone());
        // SAFETY: `enter` and `before_exec` make only async-signal-safe
        // calls and allocate nothing.
        unsafe {
            child.pre_exec(move || {
                if let Some(cgroup) = &entering {
                    cgroup.enter()?;
                }
                confine::before_exec(limits, identity, runner)
            });
        }
        // The death signal follows the thread that forks, not the process:
        // fork on a runtime worker, which lives as long as the runtime, never
        // on a blocking-pool thread that exits when idle.
        let program = command.program.display().to_string();
        let spawned = tokio::spawn(async move { child.spawn() }).await;
        let mut child = spawned
            .map_err(|e| format!("starting {program}: {e}"))?
            .map_err(|e| format!("starting {program}{}: {e}", self.as_whom()))?;
        let pid = child.id().unwrap_or(0);
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err("a worker's pipes are missing".to_owned());
        };
        self.forward_output(pid, stderr);
        let mut worker = Worker {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            pid,
            ended: false,
            cgroup,
        };
        let init = ToWorker::Init {
            bundle: format!("{} ({})", self.bundle.name, self.bundle.short_hash()),
            dir: self.dir.display().to_string(),
            operations: self
                .bundle
                .operations
                .iter()
                .map(|o| o.id.clone())
                .collect(),
            env: self.bundle.manifest.env.clone(),
        };
        let import_timeout = Duration::from_millis(self.config.import_timeout_ms);
        let answer = async {
            protocol::write_async(&mut worker.stdin, &init, b"").await?;
            protocol::read_async::<FromWorker>(&mut worker.stdout).await
        };
        match tokio::time::timeout(import_timeout, answer).await {
            Ok(Ok((FromWorker::Ready { python, import_ms }, _))) => {
                tracing::debug!(bundle = %self.bundle.short_hash(), pid, import_ms, %python, "Python worker ready");
                Ok(worker)
            }
            Ok(Ok((FromWorker::InitFailed { message }, _))) => Err(message),
            Ok(Ok((other, _))) => Err(format!("the worker answered its start with {other:?}")),
            Ok(Err(error)) => Err(format!(
                "{}{}",
                died(&mut worker, &error).await,
                self.as_whom()
            )),
            Err(_elapsed) => Err(format!(
                "importing the bundle took longer than {} ms",
                self.config.import_timeout_ms
            )),
        }
    }

    /// Who the workers run as, for errors about starting one: a switched
    /// user must be able to run the interpreter and read the bundle.
    fn as_whom(&self) -> String {
        match self.identity {
            Some(Identity { uid, gid }) => format!(
                " (as uid {uid}, gid {gid}, which must be able to read the Python installation and {}; \
                 --python-user names another user)",
                self.dir.display()
            ),
            None => String::new(),
        }
    }

    /// Sends what a worker prints to the log, line by line, as the
    /// manifest's `wasi.log_output` says for every bundle.
    fn forward_output(&self, pid: u32, stderr: tokio::process::ChildStderr) {
        let bundle = self.bundle.name.clone();
        let log = self.bundle.manifest.wasi.log_output;
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if log {
                    tracing::info!(target: "funcmesh::python", %bundle, pid, "{line}");
                }
            }
        });
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // The idle workers are killed as they drop; their copy goes too.
        if let Err(error) = std::fs::remove_dir_all(&self.dir) {
            tracing::debug!(dir = %self.dir.display(), %error, "removing a Python bundle copy");
        }
    }
}

/// The environment a worker starts with: nothing of the runner's own but
/// what the interpreter needs to behave. The manifest's `[env]` comes in
/// the `init` frame, once the worker has made itself non-dumpable, so that
/// it never shows in the worker's `/proc/PID/environ`.
fn base_env() -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("PYTHONDONTWRITEBYTECODE", "1".to_owned()),
        ("PYTHONNOUSERSITE", "1".to_owned()),
        ("PYTHONUNBUFFERED", "1".to_owned()),
        ("PYTHONIOENCODING", "utf-8".to_owned()),
        ("LANG", "C.UTF-8".to_owned()),
        // No up-front arena: it would count against the data limit.
        ("MIMALLOC_ARENA_RESERVE", "0".to_owned()),
    ];
    for name in ["PATH", "PYTHONHOME"] {
        if let Ok(value) = std::env::var(name) {
            env.push((name, value));
        }
    }
    env
}

/// What a lost worker's call gets: its exit status or signal. What it
/// forked is killed.
async fn died(worker: &mut Worker, error: &std::io::Error) -> CallError {
    let status = tokio::time::timeout(Duration::from_secs(1), worker.child.wait()).await;
    worker.end().await;
    if let Some(cgroup) = worker.cgroup.as_ref().filter(|c| c.out_of_memory()) {
        // The kernel killed it at its cgroup's limit: the memory it held
        // beyond the heap's rlimit (shared memory, page cache, its own
        // code) took it there.
        let limit_mb = (cgroup.memory_limit() >> 20) as u32;
        tracing::warn!(
            pid = worker.pid,
            limit_mb,
            "Python worker killed at its cgroup's memory limit"
        );
        return CallError::MemoryLimit { limit_mb };
    }
    use std::os::unix::process::ExitStatusExt as _;
    match status {
        Ok(Ok(status)) => match (status.code(), status.signal()) {
            (Some(code), _) => CallError::Exit(code),
            (None, Some(signal)) => CallError::Trap {
                trap: format!("the Python worker was killed by signal {signal}"),
                panic: None,
            },
            _ => CallError::Internal(format!("the Python worker ended: {status}")),
        },
        _ => CallError::Internal(format!("talking to the Python worker: {error}")),
    }
}
