//! A cgroup of each Python worker's own, where the host lets the runner
//! make one: its memory (`memory_limit_mb`, counting everything the worker
//! holds: heap, shared memory, the page cache it fills), its processes
//! (`--python-max-processes` for the worker alone, where the rlimit counts
//! every process of the user) and its CPU (`--python-cpu` cores). What the
//! worker forks stays in the cgroup whatever it does (a new session, a
//! cleared death signal), and ending the worker kills all of it.
//!
//! Made with cgroup v1's `memory`, `pids` and `cpu` controllers, under the
//! runner's own cgroup of each (so the limits of the runner's container
//! still hold): `<controller>/<runner's>/funcmesh-runner-PID/w<N>`. The
//! worker moves itself in between its fork and its exec, while still the
//! runner's user. cgroup v2 is not supported yet: there the runner's own
//! cgroup would have to be split (no cgroup may hold processes and give
//! controllers to children), and the workers keep their rlimits only.
//!
//! `--python-cgroups auto` (the default) uses them where they can be made
//! and says once, in the log, when they cannot; `required` refuses to run
//! Python bundles without them; `off` never makes them.

use std::ffi::CString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Whether Python workers get cgroups of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupMode {
    /// Where they can be made; otherwise rlimits only, said once in the log.
    #[default]
    Auto,
    /// Always: a runner that cannot make them refuses Python bundles.
    Required,
    /// Never.
    Off,
}

/// The controllers a worker's cgroup is made in.
const CONTROLLERS: [&str; 3] = ["memory", "pids", "cpu"];

/// The directory of one runner's workers, under the runner's own cgroup.
const RUNNER_PREFIX: &str = "funcmesh-runner-";

/// CFS's period for the CPU quota, in microseconds.
const CPU_PERIOD_US: u64 = 100_000;

/// What one worker's cgroup allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgroupLimits {
    /// Memory and swap, in bytes.
    pub memory_bytes: u64,
    /// Processes and threads.
    pub processes: u64,
    /// CPU, in thousandths of a core.
    pub cpu_millis: u32,
}

/// This runner's cgroup directories, one per controller.
#[derive(Debug)]
pub struct Cgroups {
    /// `(controller, directory)`, in [`CONTROLLERS`]' order.
    bases: Vec<(&'static str, PathBuf)>,
}

impl Cgroups {
    /// This process's cgroups as `mode` asks: `Ok(None)` when off, or when
    /// `auto` and they cannot be made (logged once); an error when
    /// `required` and they cannot. Made once per process, for every
    /// [`super::Python`] in it, and left when it exits (an empty directory,
    /// which the next runner on the host removes).
    pub fn open(mode: CgroupMode) -> Result<Option<Arc<Cgroups>>, String> {
        static MADE: OnceLock<Result<Arc<Cgroups>, String>> = OnceLock::new();
        static WARNED: Once = Once::new();
        if mode == CgroupMode::Off {
            return Ok(None);
        }
        let made = MADE.get_or_init(|| {
            let made = Cgroups::make(Path::new("/sys/fs/cgroup"), std::process::id())?;
            tracing::info!(
                memory = %made.bases[0].1.display(),
                "Python workers run in cgroups of their own (memory, processes, CPU)"
            );
            Ok(Arc::new(made))
        });
        match made {
            Ok(cgroups) => Ok(Some(Arc::clone(cgroups))),
            Err(why) if mode == CgroupMode::Required => Err(format!(
                "Python workers need cgroups of their own (--python-cgroups required), and {why}"
            )),
            Err(why) => {
                WARNED.call_once(|| {
                    tracing::warn!(
                        "Python workers get no cgroup of their own ({why}): their memory, processes and files are bounded by rlimits only, and a process a worker forks into a new session can outlive it (--python-cgroups off says this is meant)"
                    );
                });
                Ok(None)
            }
        }
    }

    /// Makes `funcmesh-runner-PID` under the runner's own cgroup of each
    /// controller mounted under `root`, after removing those of runners
    /// that are gone.
    fn make(root: &Path, pid: u32) -> Result<Cgroups, String> {
        if root.join("cgroup.controllers").exists() {
            return Err("this host has cgroup v2, which is not supported yet".to_owned());
        }
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("/proc/self/cgroup cannot be read: {e}"))?;
        let mut bases = Vec::new();
        for controller in CONTROLLERS {
            let mount = root.join(controller);
            if !mount.join("cgroup.procs").exists() {
                return Err(format!(
                    "no cgroup v1 `{controller}` hierarchy at {}",
                    mount.display()
                ));
            }
            let path = own_path(&own, controller).ok_or_else(|| {
                format!("/proc/self/cgroup names no `{controller}` cgroup of this process")
            })?;
            let parent = mount.join(path.trim_start_matches('/'));
            remove_stale(&parent);
            let base = parent.join(format!("{RUNNER_PREFIX}{pid}"));
            match std::fs::create_dir(&base) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    for (_, made) in &bases {
                        let _ = std::fs::remove_dir(made);
                    }
                    return Err(format!("{} cannot be made: {e}", base.display()));
                }
            }
            bases.push((controller, base));
        }
        Ok(Cgroups { bases })
    }

    /// A cgroup for one worker, with `limits`.
    pub fn worker(&self, limits: CgroupLimits) -> io::Result<WorkerCgroup> {
        // Numbered across the process, whose cgroups every `Cgroups` of it
        // shares.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let mut cgroup = WorkerCgroup {
            dirs: Vec::with_capacity(self.bases.len()),
            procs: Vec::with_capacity(self.bases.len()),
            memory_limit: limits.memory_bytes,
        };
        for (controller, base) in &self.bases {
            let dir = base.join(format!("w{n}"));
            std::fs::create_dir(&dir)?;
            cgroup.dirs.push(dir.clone());
            match *controller {
                "memory" => {
                    write(&dir, "memory.limit_in_bytes", limits.memory_bytes)?;
                    // Memory and swap together: the same, so no swap. Absent
                    // when the kernel does not account swap.
                    if dir.join("memory.memsw.limit_in_bytes").exists() {
                        write(&dir, "memory.memsw.limit_in_bytes", limits.memory_bytes)?;
                    }
                }
                "pids" => write(&dir, "pids.max", limits.processes)?,
                "cpu" => {
                    write(&dir, "cpu.cfs_period_us", CPU_PERIOD_US)?;
                    let quota = CPU_PERIOD_US * u64::from(limits.cpu_millis) / 1_000;
                    write(&dir, "cpu.cfs_quota_us", quota.max(1_000))?;
                }
                _ => {}
            }
            let procs = CString::new(
                dir.join("cgroup.procs")
                    .into_os_string()
                    .into_encoded_bytes(),
            )
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
            cgroup.procs.push(procs);
        }
        Ok(cgroup)
    }
}

/// One worker's cgroup; removed, with whatever still runs in it killed,
/// when dropped.
#[derive(Debug)]
pub struct WorkerCgroup {
    dirs: Vec<PathBuf>,
    /// Each controller's `cgroup.procs`, ready for [`WorkerCgroup::enter`].
    procs: Vec<CString>,
    memory_limit: u64,
}

impl WorkerCgroup {
    /// Moves the calling process in: for the forked child before it execs,
    /// so only async-signal-safe calls and no allocation. Must run before
    /// the child gives up root: the files are root's.
    pub fn enter(&self) -> io::Result<()> {
        // SAFETY: getpid cannot fail.
        let pid = unsafe { libc::getpid() };
        let mut digits = [0u8; 20];
        let text = decimal(pid.unsigned_abs(), &mut digits);
        for procs in &self.procs {
            // SAFETY: open, write and close are async-signal-safe; the path
            // is a valid C string and the buffer lives on this stack.
            unsafe {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                let written = libc::write(fd, text.as_ptr().cast(), text.len());
                let error = io::Error::last_os_error();
                libc::close(fd);
                if written < 0 {
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// Kills everything in the cgroup, until nothing is left or a bound on
    /// tries (a process forked between two reads is found by the next).
    pub fn kill_all(&self) {
        let Some(dir) = self.dirs.first() else {
            return;
        };
        for _ in 0..100 {
            let pids = match std::fs::read_to_string(dir.join("cgroup.procs")) {
                Ok(pids) => pids,
                Err(_) => return,
            };
            let mut any = false;
            for pid in pids
                .lines()
                .filter_map(|l| l.trim().parse::<libc::pid_t>().ok())
            {
                any = true;
                // SAFETY: kill only sends a signal.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            if !any {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Whether the kernel killed a process of this cgroup for going past
    /// its memory limit.
    pub fn out_of_memory(&self) -> bool {
        let Some(dir) = self.dirs.first() else {
            return false;
        };
        let oom = std::fs::read_to_string(dir.join("memory.oom_control")).unwrap_or_default();
        oom.lines()
            .find_map(|line| line.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0)
    }

    /// The memory limit, in bytes.
    pub fn memory_limit(&self) -> u64 {
        self.memory_limit
    }

    /// The directories.
    #[cfg(test)]
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }
}

impl Drop for WorkerCgroup {
    fn drop(&mut self) {
        self.kill_all();
        for dir in &self.dirs {
            // A killed process leaves its cgroup as it exits, a moment
            // after the signal.
            for _ in 0..50 {
                match std::fs::remove_dir(dir) {
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    _ => break,
                }
            }
        }
    }
}

/// The path of this process's cgroup of `controller` in `/proc/self/cgroup`
/// (`ID:CONTROLLERS:PATH` lines; a line may name several controllers).
fn own_path<'a>(own: &'a str, controller: &str) -> Option<&'a str> {
    own.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == controller)
            .then_some(path)
    })
}

/// Removes the worker cgroups of runners that are gone, and what still
/// runs in them.
fn remove_stale(parent: &Path) {
    for base in super::left_by_the_dead(parent, RUNNER_PREFIX) {
        if let Ok(workers) = std::fs::read_dir(&base) {
            for worker in workers.flatten().filter(|w| w.path().is_dir()) {
                drop(WorkerCgroup {
                    dirs: vec![worker.path()],
                    procs: Vec::new(),
                    memory_limit: 0,
                });
            }
        }
        let _ = std::fs::remove_dir(&base);
    }
}

fn write(dir: &Path, file: &str, value: u64) -> io::Result<()> {
    std::fs::write(dir.join(file), value.to_string()).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("writing {}: {e}", dir.join(file).display()),
        )
    })
}

/// `n` in decimal, in `buffer`, without allocating.
fn decimal(mut n: u32, buffer: &mut [u8; 20]) -> &[u8] {
    let mut at = buffer.len();
    loop {
        at -= 1;
        buffer[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buffer[at..];
        }
    }
}

#[cfg(test)]
mod tests;
