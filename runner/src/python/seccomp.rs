//! A seccomp filter for Python workers: the system calls that a function
//! has no use for, and that would widen what a compromised worker reaches
//! in the kernel, fail with `EPERM`.
//!
//! Denied: tracing and reading other processes (`ptrace`,
//! `process_vm_readv`/`writev`), namespaces and mounts (`unshare`, `setns`,
//! `mount` and the new mount API, `pivot_root`, `chroot`), the kernel's
//! keyrings, `bpf`, `perf_event_open`, `userfaultfd`, `io_uring`, handles
//! that bypass paths (`open_by_handle_at`), kernel modules, `kexec`,
//! `reboot`, swap, accounting, the clock, the kernel log and quotas, and
//! on x86-64 the port I/O calls and the x32 ABI. Everything else is
//! allowed: a deny list, so that the libraries a bundle brings keep
//! working. Calls from another architecture's ABI (32-bit calls on x86-64)
//! are denied too, since their numbers are another table's.
//!
//! The filter is a constant classic BPF program, installed between fork
//! and exec with `PR_SET_NO_NEW_PRIVS` (no set-user-id program regains
//! privileges after it), and inherited by everything the worker starts.

use std::io;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// Whether this build has a filter for its architecture.
pub const SUPPORTED: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const DENIED: &[libc::c_long] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_mount_setattr,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_userfaultfd,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_clock_adjtime,
    libc::SYS_adjtimex,
    libc::SYS_syslog,
    libc::SYS_quotactl,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_iopl,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_ioperm,
];

/// `seccomp_data`'s fields, by offset.
const ARCH_OFFSET: u32 = 4;
const NR_OFFSET: u32 = 0;
/// The x32 ABI's calls carry this bit in their number.
const X32_BIT: u32 = 0x4000_0000;

const fn statement(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

const fn jump(code: u32, k: u32, jt: usize, jf: usize) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: jt as u8,
        jf: jf as u8,
        k,
    }
}

#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const LENGTH: usize = DENIED.len() + 6;

/// Load the architecture; another one is denied. Load the number; an x32
/// one is denied; each denied number jumps to the last instruction. The
/// one before it allows.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
static FILTER: [libc::sock_filter; LENGTH] = {
    use libc::{
        BPF_ABS, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W, EPERM,
        SECCOMP_RET_ALLOW, SECCOMP_RET_DATA, SECCOMP_RET_ERRNO,
    };
    let deny = LENGTH - 1;
    let mut filter = [statement(0, 0); LENGTH];
    filter[0] = statement(BPF_LD | BPF_W | BPF_ABS, ARCH_OFFSET);
    filter[1] = jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH, 0, deny - 2);
    filter[2] = statement(BPF_LD | BPF_W | BPF_ABS, NR_OFFSET);
    filter[3] = jump(BPF_JMP | BPF_JGE | BPF_K, X32_BIT, deny - 4, 0);
    let mut i = 0;
    while i < DENIED.len() {
        let at = 4 + i;
        filter[at] = jump(
            BPF_JMP | BPF_JEQ | BPF_K,
            DENIED[i] as u32,
            deny - at - 1,
            0,
        );
        i += 1;
    }
    filter[deny - 1] = statement(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    filter[deny] = statement(
        BPF_RET | BPF_K,
        SECCOMP_RET_ERRNO | (EPERM as u32 & SECCOMP_RET_DATA),
    );
    filter
};

/// Installs the filter on the calling thread, which is a child between fork
/// and exec: async-signal-safe, allocates nothing.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
pub fn install() -> io::Result<()> {
    let program = libc::sock_fprog {
        len: LENGTH as u16,
        filter: FILTER.as_ptr().cast_mut(),
    };
    // SAFETY: prctl is async-signal-safe; the kernel copies the program,
    // which lives in a static, before the call returns.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &program as *const libc::sock_fprog,
            ) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// No filter for this architecture: `SUPPORTED` is false, and the runner
/// said so when it started.
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub fn install() -> io::Result<()> {
    Ok(())
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::*;

    #[test]
    fn every_jump_lands_on_the_denial_and_the_program_ends_in_the_two_returns() {
        let deny = LENGTH - 1;
        for (at, instruction) in FILTER.iter().enumerate().take(deny - 1) {
            // The instruction's class is its low three bits.
            if u32::from(instruction.code) & 0x07 == libc::BPF_JMP {
                let target = at + 1 + usize::from(instruction.jt.max(instruction.jf));
                assert_eq!(target, deny, "instruction {at}");
            }
        }
        assert_eq!(FILTER[deny - 1].k, libc::SECCOMP_RET_ALLOW);
        assert_eq!(FILTER[deny].k, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32);
    }

    #[test]
    fn a_child_with_the_filter_is_refused_ptrace_and_keeps_the_rest() {
        // SAFETY: the child calls only async-signal-safe functions and
        // exits with _exit.
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0);
            if pid == 0 {
                let code = match install() {
                    Err(_) => 10,
                    Ok(()) => {
                        let traced = libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
                        let errno = *libc::__errno_location();
                        match (traced, errno, libc::getpid() > 0) {
                            (-1, libc::EPERM, true) => 0,
                            (-1, _, _) => 11,
                            _ => 12,
                        }
                    }
                };
                libc::_exit(code);
            }
            let mut status = 0;
            assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
            assert!(libc::WIFEXITED(status), "{status:#x}");
            assert_eq!(libc::WEXITSTATUS(status), 0);
        }
    }
}
