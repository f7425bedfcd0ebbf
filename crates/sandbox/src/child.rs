//! The code that runs in the forked processes: entering the namespaces, mounting the
//! sandbox's file system, dropping to the build user and executing the builder.
//!
//! Everything these processes need is computed beforehand into a [`ChildPlan`] of C strings,
//! so that after `fork` they only make system calls. Errors are reported to the parent
//! through the status pipe as text; a successful `execve` closes that pipe (it is
//! close-on-exec), which the parent sees as end of file.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{Gid, Pid, Uid};

/// One mount to make, in order, inside the new mount namespace.
#[derive(Debug)]
pub(crate) enum MountOp {
    /// Bind `src` onto `dst`; then, unless `remount` is empty, remount it with those flags
    /// (`MS_RDONLY`, `MS_NOSUID`) added to `keep`.
    Bind {
        src: CString,
        dst: CString,
        remount: MsFlags,
        keep: MsFlags,
    },
    /// Mount a fresh file system of type `fstype` on `dst`.
    Fs {
        fstype: CString,
        dst: CString,
        flags: MsFlags,
        data: Option<CString>,
    },
    /// Make `dst` (already a mount point) read-only, keeping `keep`.
    ReadOnly { dst: CString, keep: MsFlags },
}

/// Everything the child processes do, prepared before `fork`.
#[derive(Debug)]
pub(crate) struct ChildPlan {
    pub(crate) namespaces: CloneFlags,
    pub(crate) root: CString,
    pub(crate) mounts: Vec<MountOp>,
    pub(crate) bring_up_loopback: bool,
    pub(crate) drop_groups: bool,
    pub(crate) builder: CString,
    pub(crate) argv: Vec<CString>,
    pub(crate) envp: Vec<CString>,
    pub(crate) cwd: CString,
    /// The system call filters to install just before `execve`.
    pub(crate) seccomp: Vec<seccompiler::BpfProgram>,
    /// `RLIMIT_NPROC` of the builder: its user namespace is its own, so this bounds the
    /// processes of this build alone.
    pub(crate) max_processes: Option<u64>,
    /// The pid of the process that forked the sandbox (to notice that it already died).
    pub(crate) parent: Pid,
    /// Leave abstract Unix sockets and signals unscoped (no Landlock domain).
    pub(crate) share_abstract_sockets: bool,
}

/// The pipes the children use.
pub(crate) struct ChildFds {
    /// Child → parent: one byte once the namespaces exist.
    pub(crate) ready_w: OwnedFd,
    /// Parent → child: one byte once the id maps are written.
    pub(crate) go_r: OwnedFd,
    /// Child → parent: the host pid of the sandbox's init (4 bytes, native endian).
    pub(crate) pid_w: OwnedFd,
    /// Child → parent: an error message if setup fails; closed by `execve`.
    pub(crate) status_w: OwnedFd,
    /// The builder's stdout and stderr.
    pub(crate) log_w: OwnedFd,
    /// The builder's stdin (`/dev/null`).
    pub(crate) null: OwnedFd,
}

/// Writes `buf` to `fd` from a forked process (gives up on an error: the parent sees
/// the pipe end).
pub(crate) fn write_all(fd: RawFd, mut buf: &[u8]) {
    let fd = borrow(fd);
    while !buf.is_empty() {
        match nix::unistd::write(fd, buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf = &buf[n..],
        }
    }
}

#[allow(unsafe_code)]
fn borrow(fd: RawFd) -> std::os::fd::BorrowedFd<'static> {
    // SAFETY: only called with descriptors this process owns and keeps open until it execs
    // or exits (the pipes in `ChildFds`, and 0–2); the borrow never outlives them in practice.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

/// Reports a failed setup step to the parent and exits (the parent reads the status pipe
/// to its end, so the pieces arrive as one message; nothing is allocated).
pub(crate) fn fail(status: RawFd, what: &str, errno: Errno) -> ! {
    write_all(status, what.as_bytes());
    write_all(status, b": ");
    write_all(status, errno.desc().as_bytes());
    exit_now(SETUP_FAILED)
}

/// Ends a forked child at once with `code`: `_exit`, never `exit`. The child is a copy of
/// one thread of a multi-threaded process, and `exit` runs the process's exit handlers and
/// that thread's thread-local destructors, which may wait for a lock another thread of the
/// parent held at the fork, forever (mimalloc's exit-time collection is one such
/// handler). A fetcher hung so, holding its data pipe open, and its build with it.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` is async-signal-safe and ends the process; nothing runs after it.
    #[allow(unsafe_code)]
    unsafe {
        libc::_exit(code)
    }
}

/// The exit code of a child whose setup failed (the message is on the status pipe).
pub(crate) const SETUP_FAILED: i32 = 121;

fn path_str(c: &CStr) -> &str {
    c.to_str().unwrap_or("?")
}

/// The first child: creates the namespaces, waits for the id maps, forks the sandbox's init
/// (pid 1 of the new pid namespace) and waits for it, exiting with its status.
pub(crate) fn intermediate(plan: &ChildPlan, fds: ChildFds) -> ! {
    let status = fds.status_w.as_raw_fd();
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    // The parent may have died before the line above: then nobody would ever kill us.
    if nix::unistd::getppid() != plan.parent {
        exit_now(SETUP_FAILED);
    }
    if let Err(e) = unshare(plan.namespaces) {
        fail(
            status,
            "creating namespaces (user namespaces may be disabled)",
            e,
        );
    }
    write_all(fds.ready_w.as_raw_fd(), b"r");
    let mut byte = [0u8; 1];
    match nix::unistd::read(fds.go_r.as_raw_fd(), &mut byte) {
        Ok(1) => {}
        _ => exit_now(SETUP_FAILED),
    }
    // SAFETY: this process is single-threaded (it was just forked), so `fork` is sound;
    // the child only runs `init`, which makes system calls and then execs or exits.
    #[allow(unsafe_code)]
    let forked = unsafe { nix::unistd::fork() };
    match forked {
        Err(e) => fail(status, "forking the sandbox init", e),
        Ok(nix::unistd::ForkResult::Child) => init(plan, &fds),
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            write_all(fds.pid_w.as_raw_fd(), &child.as_raw().to_ne_bytes());
            drop(fds);
            exit_like(child)
        }
    }
}

/// Waits for `child` and exits with its exit code, or 128 + the signal that killed it.
fn exit_like(child: Pid) -> ! {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => exit_now(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => exit_now(128 + sig as i32),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => exit_now(SETUP_FAILED),
        }
    }
}

fn do_mount(op: &MountOp) -> Result<(), (String, Errno)> {
    let none: Option<&CStr> = None;
    match op {
        MountOp::Bind {
            src,
            dst,
            remount,
            keep,
        } => {
            mount(
                Some(src.as_c_str()),
                dst.as_c_str(),
                none,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                none,
            )
            .map_err(|e| {
                (
                    format!("bind-mounting '{}' on '{}'", path_str(src), path_str(dst)),
                    e,
                )
            })?;
            if !remount.is_empty() {
                remount_with(dst, *remount | *keep)?;
            }
        }
        MountOp::Fs {
            fstype,
            dst,
            flags,
            data,
        } => {
            mount(
                Some(fstype.as_c_str()),
                dst.as_c_str(),
                Some(fstype.as_c_str()),
                *flags,
                data.as_deref(),
            )
            .map_err(|e| {
                (
                    format!("mounting {} on '{}'", path_str(fstype), path_str(dst)),
                    e,
                )
            })?;
        }
        MountOp::ReadOnly { dst, keep } => {
            mount(
                Some(dst.as_c_str()),
                dst.as_c_str(),
                none,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                none,
            )
            .map_err(|e| (format!("bind-mounting '{}' on itself", path_str(dst)), e))?;
            remount_with(dst, MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | *keep)?;
        }
    }
    Ok(())
}

fn remount_with(dst: &CStr, flags: MsFlags) -> Result<(), (String, Errno)> {
    let none: Option<&CStr> = None;
    mount(
        none,
        dst,
        none,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | flags,
        none,
    )
    .map_err(|e| (format!("remounting '{}' ({flags:?})", path_str(dst)), e))
}

/// Sets the `IFF_UP` flag on the loopback interface of the new network namespace.
fn loopback_up() -> Result<(), Errno> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    let sock = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: `ifreq` is plain old data; all-zero is a valid value.
    #[allow(unsafe_code)]
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS/SIOCSIFFLAGS read and write an `ifreq`, which `req` is and which
    // outlives both calls; `sock` is an open socket.
    #[allow(unsafe_code)]
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(Errno::last());
        }
        req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(Errno::last());
        }
    }
    Ok(())
}

fn set_domainname(name: &CStr) -> Result<(), Errno> {
    // SAFETY: `setdomainname` reads `len` bytes from a valid, NUL-terminated C string.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::setdomainname(name.as_ptr(), name.to_bytes().len()) };
    Errno::result(rc).map(drop)
}

/// True if the process holding the write end of the `go` pipe (nixkit) has exited.
fn parent_gone(fds: &ChildFds) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fd = [PollFd::new(
        std::os::fd::AsFd::as_fd(&fds.go_r),
        PollFlags::POLLIN,
    )];
    match poll(&mut fd, PollTimeout::ZERO) {
        Ok(0) => false,
        Ok(_) => fd[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR)),
        Err(_) => true,
    }
}

/// Puts the builder in a Landlock domain of its own that may neither connect to abstract
/// Unix sockets nor signal processes created outside it (kernels with Landlock ABI 6, Linux
/// 6.12; a no-op before). Fixed-output builds share the host's network namespace, where
/// abstract sockets live: without this, two of them, or one and a host process, can talk
/// and pass descriptors (CVE-2024-27297 and the 2025 advisories).
fn scope_to_sandbox() -> Result<(), String> {
    use landlock::{CompatLevel, Compatible, Ruleset, RulesetAttr, Scope};
    Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .scope(Scope::AbstractUnixSocket | Scope::Signal)
        .and_then(|r| r.create())
        .and_then(|r| r.restrict_self())
        .map(drop)
        .map_err(|e| format!("entering the Landlock domain: {e}"))
}

/// Gives the builder default signal dispositions and an empty signal mask: whatever the
/// parent ignores (the Rust runtime ignores SIGPIPE) or blocks would otherwise be inherited
/// through `execve`, and `yes | head` would never end.
pub(crate) fn reset_signals() {
    use nix::sys::signal::{SigSet, SigmaskHow};
    // The kernel's `struct sigaction` with every field zero: SIG_DFL, no flags, empty mask
    // (four words covers its layout on every architecture). The raw system call also
    // reaches the real-time signals glibc reserves for itself, which `sigaction(3)` refuses.
    let default = [0u64; 4];
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: `rt_sigaction` reads `default` (valid for its size) and writes nothing
        // (null old action); installing SIG_DFL runs no code of ours in a handler.
        #[allow(unsafe_code)]
        unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                default.as_ptr(),
                std::ptr::null_mut::<u64>(),
                8usize,
            );
        }
    }
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// The sandbox's init (pid 1): mounts, hostname, loopback, pivot_root, build user, exec.
fn init(plan: &ChildPlan, fds: &ChildFds) -> ! {
    let status = fds.status_w.as_raw_fd();
    let none: Option<&CStr> = None;
    // Keep our mounts from propagating back to the host.
    if let Err(e) = mount(
        none,
        c"/",
        none,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        none,
    ) {
        fail(status, "making mounts private", e);
    }
    for op in &plan.mounts {
        if let Err((what, e)) = do_mount(op) {
            fail(status, &what, e);
        }
    }
    if let Err(e) = nix::unistd::sethostname("localhost") {
        fail(status, "setting the host name", e);
    }
    if let Err(e) = set_domainname(c"(none)") {
        fail(status, "setting the domain name", e);
    }
    if plan.bring_up_loopback {
        if let Err(e) = loopback_up() {
            fail(status, "bringing up the loopback interface", e);
        }
    }
    if let Err(e) = nix::unistd::chdir(plan.root.as_c_str()) {
        fail(status, "entering the sandbox root", e);
    }
    if let Err(e) = nix::unistd::pivot_root(".", ".") {
        fail(status, "pivot_root", e);
    }
    if let Err(e) = umount2(".", MntFlags::MNT_DETACH) {
        fail(status, "detaching the old root", e);
    }
    if let Err(e) = nix::unistd::chdir(plan.cwd.as_c_str()) {
        fail(status, "entering /build", e);
    }
    if plan.drop_groups {
        if let Err(e) = nix::unistd::setgroups(&[Gid::from_raw(crate::SANDBOX_GID)]) {
            fail(status, "dropping supplementary groups", e);
        }
    }
    if let Err(e) = nix::unistd::setgid(Gid::from_raw(crate::SANDBOX_GID)) {
        fail(status, "switching to the build group", e);
    }
    if let Err(e) = nix::unistd::setuid(Uid::from_raw(crate::SANDBOX_UID)) {
        fail(status, "switching to the build user", e);
    }
    // Changing credentials cleared any parent-death signal, so it is set only now; the
    // parent (the intermediate process) dies with nixkit through its own. If nixkit died
    // already, the write end of the `go` pipe it holds is closed.
    if let Err(e) = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL) {
        fail(status, "setting the parent-death signal", e);
    }
    if parent_gone(fds) {
        exit_now(SETUP_FAILED);
    }
    let _ = nix::unistd::setsid();
    if let Some(n) = plan.max_processes {
        use nix::sys::resource::{setrlimit, Resource};
        if let Err(e) = setrlimit(Resource::RLIMIT_NPROC, n, n) {
            fail(status, "limiting the number of processes", e);
        }
    }
    let log = fds.log_w.as_raw_fd();
    for (from, to) in [(fds.null.as_raw_fd(), 0), (log, 1), (log, 2)] {
        if let Err(e) = nix::unistd::dup2(from, to) {
            fail(status, "redirecting standard streams", e);
        }
    }
    reset_signals();
    if let Err(msg) = crate::seccomp::install(&plan.seccomp) {
        write_all(status, msg.as_bytes());
        exit_now(SETUP_FAILED);
    }
    if !plan.share_abstract_sockets {
        if let Err(msg) = scope_to_sandbox() {
            write_all(status, msg.as_bytes());
            exit_now(SETUP_FAILED);
        }
    }
    let e = match nix::unistd::execve(plan.builder.as_c_str(), &plan.argv, &plan.envp) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    fail(
        status,
        &format!("executing '{}'", path_str(&plan.builder)),
        e,
    )
}
