//! What a worker process may do, settled between its fork and its exec:
//! the user it runs as (never root when the runner is root), optionally a
//! network namespace of its own, hard resource limits (data size from the
//! manifest's `memory_limit_mb`, open files, processes, no core files),
//! death with the runner, and a seccomp filter (see `seccomp`). The worker adds
//! the rest itself once it runs (`funcmesh __python-worker`): it makes
//! itself non-dumpable and gives every child it forks the same death signal.
//!
//! A worker leads its own process group; [`kill_group`] ends the worker and
//! whatever it forked that stayed in the group.

use std::ffi::CString;
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Once;

use super::PythonConfig;

/// A user and group to run workers as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// The user id.
    pub uid: u32,
    /// The group id, the only group the worker keeps.
    pub gid: u32,
}

/// The hard limits of one worker process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `RLIMIT_DATA`: the process's heap and other private writable memory.
    pub data_bytes: u64,
    /// `RLIMIT_NOFILE`.
    pub open_files: u64,
    /// `RLIMIT_NPROC`: counted over every process and thread of the user.
    pub processes: u64,
    /// A network namespace of its own.
    pub isolate_network: bool,
    /// The seccomp filter of `seccomp`.
    pub seccomp: bool,
}

impl Limits {
    /// The limits of a worker of a bundle whose manifest allows `memory_mb`.
    pub fn new(config: &PythonConfig, memory_mb: u32) -> Limits {
        if config.seccomp && !super::seccomp::SUPPORTED {
            static WARNED: Once = Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "no seccomp filter for this architecture: Python workers run without one"
                );
            });
        }
        Limits {
            data_bytes: u64::from(memory_mb) << 20,
            open_files: config.max_open_files,
            processes: config.max_processes,
            isolate_network: config.isolate_network,
            seccomp: config.seccomp,
        }
    }
}

/// Who the workers run as: `None` keeps the runner's own user, which is
/// the only choice of a runner that is not root, and the explicit choice
/// of a root runner given `root` (or any user with uid 0).
pub fn identity(config: &PythonConfig) -> Result<Option<Identity>, String> {
    // SAFETY: geteuid cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        if config.isolate_network {
            return Err(
                "--python-network none needs a runner that is root: it gives each worker a network namespace of its own"
                    .to_owned(),
            );
        }
        return Ok(None);
    }
    let identity = lookup(&config.user)?;
    if identity.uid == 0 {
        static WARNED: Once = Once::new();
        WARNED.call_once(|| {
            tracing::warn!(
                user = %config.user,
                "Python functions run as root, as asked: they can read and change everything this runner can"
            );
        });
        return Ok(None);
    }
    Ok(Some(identity))
}

/// Makes a runner that is not root non-dumpable, once: its workers run as
/// its own user, which could otherwise read its memory and its
/// `/proc/PID/environ` (the mesh token, the broker's credentials) and trace
/// it. It costs the runner its core files and a debugger's attach.
pub fn hide_runner() {
    static HIDDEN: Once = Once::new();
    HIDDEN.call_once(|| {
        // SAFETY: geteuid and prctl on this process only.
        let result = unsafe {
            if libc::geteuid() == 0 {
                return;
            }
            libc::prctl(libc::PR_SET_DUMPABLE, 0)
        };
        match result {
            0 => tracing::info!(
                "Python workers run as this process's own user: it is now non-dumpable, so that they cannot read its memory or environment"
            ),
            _ => tracing::warn!(error = %io::Error::last_os_error(), "making this process non-dumpable failed"),
        }
    });
}

/// `NAME` (its group is the user's own), `UID` or `UID:GID`.
fn lookup(user: &str) -> Result<Identity, String> {
    if let Some((uid, gid)) = user.split_once(':') {
        return match (uid.parse(), gid.parse()) {
            (Ok(uid), Ok(gid)) => Ok(Identity { uid, gid }),
            _ => Err(format!(
                "Python worker user `{user}`: UID:GID must be two numbers"
            )),
        };
    }
    if let Ok(uid) = user.parse() {
        return Ok(Identity { uid, gid: uid });
    }
    let name =
        CString::new(user).map_err(|_| format!("Python worker user `{user}`: not a name"))?;
    let mut buffer = vec![0 as libc::c_char; 16 << 10];
    // SAFETY: an all-zero passwd is valid (null pointers, zero ids).
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call and the buffer's length
    // is its own; the strings getpwnam_r writes live in the buffer.
    let status = unsafe {
        libc::getpwnam_r(
            name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        )
    };
    match (status, found.is_null()) {
        (0, false) => Ok(Identity {
            uid: entry.pw_uid,
            gid: entry.pw_gid,
        }),
        (0, true) => Err(format!(
            "Python worker user `{user}` does not exist (give another with --python-user)"
        )),
        (errno, _) => Err(format!(
            "looking up Python worker user `{user}`: {}",
            io::Error::from_raw_os_error(errno)
        )),
    }
}

/// Runs in the forked child before it execs: only async-signal-safe calls,
/// no allocation. While still the runner's user it leaves the host's
/// network when asked to (which takes root), then switches to `identity`
/// (groups, group, user, in that order), then lowers the limits.
pub fn before_exec(
    limits: Limits,
    identity: Option<Identity>,
    runner: libc::pid_t,
) -> io::Result<()> {
    // SAFETY: unshare, setgroups, setgid and setuid are async-signal-safe
    // system calls; setgroups reads no memory with a count of 0.
    unsafe {
        if limits.isolate_network && libc::unshare(libc::CLONE_NEWNET) != 0 {
            return Err(io::Error::last_os_error());
        }
        if let Some(identity) = identity
            && (libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(identity.gid) != 0
                || libc::setuid(identity.uid) != 0)
        {
            return Err(io::Error::last_os_error());
        }
    }
    lower(libc::RLIMIT_CORE, 0)?;
    lower(libc::RLIMIT_DATA, limits.data_bytes)?;
    lower(libc::RLIMIT_NOFILE, limits.open_files)?;
    lower(libc::RLIMIT_NPROC, limits.processes)?;
    // After the switch of user, which clears the death signal.
    // SAFETY: prctl and getppid are async-signal-safe.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
            return Err(io::Error::last_os_error());
        }
        // The runner died before the death signal was armed.
        if libc::getppid() != runner {
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
    }
    // Last: it denies calls made above (`unshare`).
    if limits.seccomp {
        super::seccomp::install()?;
    }
    Ok(())
}

/// Sets both limits of `resource` to `value`, or to the hard limit already
/// there when that is lower (a process without privileges cannot raise it).
fn lower(resource: libc::__rlimit_resource_t, value: u64) -> io::Result<()> {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit are async-signal-safe system calls on
    // a struct that lives on this stack.
    unsafe {
        if libc::getrlimit(resource, &mut current) != 0 {
            return Err(io::Error::last_os_error());
        }
        let value = value.min(current.rlim_max);
        let limit = libc::rlimit {
            rlim_cur: value,
            rlim_max: value,
        };
        if libc::setrlimit(resource, &limit) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// SIGKILL to the process group that worker `pid` leads.
pub fn kill_group(pid: u32) {
    let Ok(group) = libc::pid_t::try_from(pid) else {
        return;
    };
    // Group 0 would be the runner's own.
    if group > 0 {
        // SAFETY: killpg only sends a signal.
        unsafe {
            libc::killpg(group, libc::SIGKILL);
        }
    }
}

/// Makes a bundle's copy readable, and not writable, by the workers' group:
/// owned by the runner, directories 0750 and files 0640 (0750 when their
/// owner may run them), under a root that the group may enter.
pub fn share_copy(root: &Path, copy: &Path, identity: Identity) -> io::Result<()> {
    share(root, identity.gid, true)?;
    share_tree(copy, identity.gid)
}

fn share_tree(path: &Path, gid: u32) -> io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.is_dir() {
        share(path, gid, true)?;
        for entry in std::fs::read_dir(path)? {
            share_tree(&entry?.path(), gid)?;
        }
    } else if meta.is_file() {
        share(path, gid, meta.permissions().mode() & 0o100 != 0)?;
    }
    Ok(())
}

fn share(path: &Path, gid: u32, runnable: bool) -> io::Result<()> {
    std::os::unix::fs::chown(path, None, Some(gid))?;
    let mode = if runnable { 0o750 } else { 0o640 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_names_or_ids() {
        assert_eq!(
            lookup("1234"),
            Ok(Identity {
                uid: 1234,
                gid: 1234
            })
        );
        assert_eq!(lookup("1234:99"), Ok(Identity { uid: 1234, gid: 99 }));
        assert_eq!(lookup("root"), Ok(Identity { uid: 0, gid: 0 }));
        assert!(lookup("1234:x").is_err());
        let missing = lookup("no-such-user-here").err().unwrap_or_default();
        assert!(missing.contains("does not exist"), "{missing}");
    }

    #[test]
    fn a_root_runner_keeps_root_only_when_told() {
        // SAFETY: geteuid cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        let config = |user: &str| PythonConfig {
            user: user.to_owned(),
            ..PythonConfig::default()
        };
        assert_eq!(identity(&config("root")), Ok(None));
        let dropped = identity(&config("1234:99"));
        match root {
            true => assert_eq!(dropped, Ok(Some(Identity { uid: 1234, gid: 99 }))),
            false => assert_eq!(dropped, Ok(None), "only root can switch"),
        }
    }
}
