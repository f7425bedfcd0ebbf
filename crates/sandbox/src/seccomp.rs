//! The builder's system call filter, as CppNix's sandbox has one: no setuid or setgid bits
//! (`chmod` and relatives fail with `EPERM`; so do `open`, `openat`, `creat`, `mknod` and
//! `mknodat` asked to create a file with them, which CppNix's filter lets through), no
//! extended attributes or ACLs (the `setxattr` family fails with `ENOTSUP`; neither can be
//! represented in a NAR), no `openat2` or io_uring, whose modes the filter cannot see
//! (`ENOSYS`, so programs fall back to the calls it checks), and no system calls
//! of another ABI that would slip past a filter keyed by native numbers: x32 calls on
//! x86_64 are filtered by their own numbers, and calls of a foreign architecture (i386 on
//! x86_64, arm32 on aarch64) kill the process (CppNix instead filters those ABIs too and
//! lets them run, so 32-bit binaries do not run in this sandbox).
//!
//! The BPF is compiled by `seccompiler` before `fork`; the child only installs it.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::run::SandboxError;

/// `fchmodat2` (Linux 6.6), the same number on every architecture.
const SYS_FCHMODAT2: i64 = 452;
/// `setxattrat` (Linux 6.13), the same number on every architecture.
const SYS_SETXATTRAT: i64 = 463;
/// The bit that marks an x32 system call on x86_64.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: i64 = 0x4000_0000;

/// The native architecture, if the filter supports it.
fn target_arch() -> Option<TargetArch> {
    if cfg!(target_arch = "x86_64") {
        Some(TargetArch::x86_64)
    } else if cfg!(target_arch = "aarch64") {
        Some(TargetArch::aarch64)
    } else if cfg!(target_arch = "riscv64") {
        Some(TargetArch::riscv64)
    } else {
        None
    }
}

/// The mode-changing calls and the index of their mode argument.
fn chmod_calls() -> Vec<(i64, u8)> {
    #[allow(unused_mut)]
    let mut calls = vec![
        (libc::SYS_fchmod, 1),
        (libc::SYS_fchmodat, 2),
        (SYS_FCHMODAT2, 2),
    ];
    // Creating a file with the bits set needs no chmod at all.
    calls.extend([(libc::SYS_openat, 3), (libc::SYS_mknodat, 2)]);
    #[cfg(target_arch = "x86_64")]
    calls.extend([
        (libc::SYS_chmod, 1),
        (libc::SYS_open, 2),
        (libc::SYS_creat, 1),
        (libc::SYS_mknod, 1),
    ]);
    with_x32(calls)
}

/// Calls whose file mode is out of the filter's sight (in memory, or in an io_uring
/// submission queue): refused as not implemented.
fn unseen_mode_calls() -> Vec<(i64, u8)> {
    with_x32(vec![
        (libc::SYS_openat2, 0),
        (libc::SYS_io_uring_setup, 0),
        (libc::SYS_io_uring_enter, 0),
        (libc::SYS_io_uring_register, 0),
    ])
}

/// The calls that set extended attributes (ACLs are extended attributes).
fn xattr_calls() -> Vec<(i64, u8)> {
    with_x32(vec![
        (libc::SYS_setxattr, 0),
        (libc::SYS_lsetxattr, 0),
        (libc::SYS_fsetxattr, 0),
        (SYS_SETXATTRAT, 0),
    ])
}

/// On x86_64, the same calls again under their x32 numbers.
fn with_x32(calls: Vec<(i64, u8)>) -> Vec<(i64, u8)> {
    #[cfg(target_arch = "x86_64")]
    {
        let x32: Vec<(i64, u8)> = calls
            .iter()
            .map(|&(nr, arg)| (nr | X32_SYSCALL_BIT, arg))
            .collect();
        let mut calls = calls;
        calls.extend(x32);
        calls
    }
    #[cfg(not(target_arch = "x86_64"))]
    calls
}

fn err(e: impl std::fmt::Display) -> SandboxError {
    SandboxError::Setup(format!("building the system call filter: {e}"))
}

/// Compiles the filters (empty on architectures `seccompiler` does not know, where the
/// sandbox runs without one). Every filter is installed; the kernel applies them all.
pub(crate) fn build_filters() -> Result<Vec<BpfProgram>, SandboxError> {
    let Some(arch) = target_arch() else {
        return Ok(Vec::new());
    };
    // Mode bits are a 32-bit `mode_t`; a set bit under the mask makes the call fail.
    let mut chmod_rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for (nr, arg) in chmod_calls() {
        let mut rules = Vec::new();
        for bit in [libc::S_ISUID, libc::S_ISGID] {
            let bit = u64::from(bit);
            let cond = SeccompCondition::new(
                arg,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::MaskedEq(bit),
                bit,
            )
            .map_err(err)?;
            rules.push(SeccompRule::new(vec![cond]).map_err(err)?);
        }
        chmod_rules.insert(nr, rules);
    }
    let xattr_rules: BTreeMap<i64, Vec<SeccompRule>> = xattr_calls()
        .into_iter()
        .map(|(nr, _)| (nr, Vec::new()))
        .collect();
    let unseen_rules: BTreeMap<i64, Vec<SeccompRule>> = unseen_mode_calls()
        .into_iter()
        .map(|(nr, _)| (nr, Vec::new()))
        .collect();
    let mut out = Vec::new();
    for (rules, errno) in [
        (chmod_rules, libc::EPERM),
        (xattr_rules, libc::ENOTSUP),
        (unseen_rules, libc::ENOSYS),
    ] {
        let errno = u32::try_from(errno).map_err(err)?;
        let filter = SeccompFilter::new(
            rules,
            SeccompAction::Allow,
            SeccompAction::Errno(errno),
            arch,
        )
        .map_err(err)?;
        out.push(BpfProgram::try_from(filter).map_err(err)?);
    }
    Ok(out)
}

/// Installs `filters` in the calling (forked, single-threaded) process; also sets
/// `no_new_privs`, so nothing executed later gains privileges.
pub(crate) fn install(filters: &[BpfProgram]) -> Result<(), String> {
    for f in filters {
        seccompiler::apply_filter(f)
            .map_err(|e| format!("installing the system call filter: {e}"))?;
    }
    Ok(())
}
