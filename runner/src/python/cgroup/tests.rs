#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::sync::Arc;

use super::*;

/// This process's cgroups, or why a test cannot make them here (not root,
/// or no cgroup v1), which it prints and skips.
fn cgroups() -> Option<Cgroups> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: only root makes cgroups");
        return None;
    }
    match Cgroups::make(Path::new("/sys/fs/cgroup"), std::process::id()) {
        Ok(cgroups) => Some(cgroups),
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            None
        }
    }
}

const LIMITS: CgroupLimits = CgroupLimits {
    memory_bytes: 48 << 20,
    processes: 16,
    cpu_millis: 500,
};

fn gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z'))
    })
}

#[test]
fn own_paths_are_read_per_controller() {
    let own = "12:pids:/a\n4:memory:/process_api/x\n2:cpu,cpuacct:/\n0::/\n";
    assert_eq!(own_path(own, "memory"), Some("/process_api/x"));
    assert_eq!(own_path(own, "cpu"), Some("/"));
    assert_eq!(own_path(own, "pids"), Some("/a"));
    assert_eq!(own_path(own, "freezer"), None);
}

#[test]
fn pids_are_written_in_decimal_without_allocating() {
    let mut buffer = [0u8; 20];
    assert_eq!(decimal(0, &mut buffer), b"0");
    assert_eq!(decimal(4_194_304, &mut buffer), b"4194304");
    assert_eq!(decimal(u32::MAX, &mut buffer), b"4294967295");
}

#[test]
fn a_workers_cgroup_has_its_limits() {
    let Some(cgroups) = cgroups() else { return };
    let cgroup = cgroups.worker(LIMITS).unwrap();
    let read = |controller: &str, file: &str| {
        let dir = cgroup
            .dirs()
            .iter()
            .find(|d| d.starts_with(format!("/sys/fs/cgroup/{controller}")));
        std::fs::read_to_string(dir.unwrap().join(file))
            .unwrap()
            .trim()
            .to_owned()
    };
    assert_eq!(
        read("memory", "memory.limit_in_bytes"),
        (48u64 << 20).to_string()
    );
    assert_eq!(read("pids", "pids.max"), "16");
    assert_eq!(read("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(read("cpu", "cpu.cfs_period_us"), "100000");
    let dirs = cgroup.dirs().to_vec();
    drop(cgroup);
    assert!(
        dirs.iter().all(|d| !d.exists()),
        "removed with the worker: {dirs:?}"
    );
}

#[test]
fn what_a_worker_forks_into_a_new_session_dies_with_its_cgroup() {
    let Some(cgroups) = cgroups() else { return };
    let cgroup = Arc::new(cgroups.worker(LIMITS).unwrap());
    let entering = Arc::clone(&cgroup);
    let mut command = Command::new("sh");
    // A child in a session and process group of its own, which no group
    // kill reaches and no death signal follows.
    command
        .args(["-c", "setsid sleep 300 & echo $!; exec sleep 300"])
        .stdout(Stdio::piped());
    // SAFETY: `enter` makes only async-signal-safe calls.
    unsafe {
        command.pre_exec(move || entering.enter());
    }
    let mut worker = command.spawn().unwrap();
    drop(command); // and with it the closure's share of the cgroup
    let mut line = String::new();
    BufReader::new(worker.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let escaped: u32 = line.trim().parse().unwrap();
    let memory = cgroup.dirs()[0].clone();
    for pid in [worker.id(), escaped] {
        let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        let name = memory.file_name().unwrap().to_str().unwrap();
        assert!(
            own.contains(name),
            "{pid} is in {}: {own}",
            memory.display()
        );
    }
    let procs = std::fs::read_to_string(memory.join("cgroup.procs")).unwrap();
    assert_eq!(procs.lines().count(), 2, "{procs}");

    drop(Arc::try_unwrap(cgroup).unwrap());
    worker.wait().unwrap();
    for _ in 0..500 {
        if gone(escaped) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(gone(escaped), "the child in its own session is killed too");
    assert!(!memory.exists(), "the cgroup is removed");
}

#[test]
fn the_cgroups_of_a_runner_that_is_gone_are_removed() {
    let Some(cgroups) = cgroups() else { return };
    let parent = cgroups.bases[0].1.parent().unwrap().to_owned();
    // A pid above the kernel's largest: no such process.
    let max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let stale = parent.join(format!("{RUNNER_PREFIX}{}", max + 1));
    std::fs::create_dir_all(stale.join("w0")).unwrap();
    remove_stale(&parent);
    assert!(!stale.exists(), "{}", stale.display());
    assert!(cgroups.bases[0].1.exists(), "a live runner's are kept");
}
