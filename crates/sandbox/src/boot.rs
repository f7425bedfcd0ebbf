//! Booting a directory as a container ([`boot`]): a system's init as pid 1 of new user,
//! mount, pid, uts and ipc namespaces (the host's network is shared), with the directory
//! as its root (bind-mounted on itself, then `pivot_root`), the host's basic device nodes
//! in a fresh /dev and the container's own /proc. As root the container's ids 0–65535 are
//! the host's; otherwise the user is the container's root and only id. The container runs
//! detached: its init's parent is gone once [`boot`] returns. Descriptors given in
//! [`BootSpec::pass_fds`] are the init's 3, 4, ... (e.g. locks it holds for its life).
//!
//! An intermediate process creates the namespaces (its parent writes the id maps), forks
//! the container's pid 1, reports its host pid and exits; pid 1 mounts and executes the
//! init. Everything they need is prepared before `fork` (a `Plan` of C strings); after
//! `fork` they make system calls only. A setup failure is written to the status pipe as
//! text; a successful `execve` closes that pipe.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::child::{exit_now, fail, write_all, SETUP_FAILED};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::sys::wait::waitpid;
use nix::unistd::{pipe2, Pid};

/// What to boot.
#[derive(Debug)]
pub struct BootSpec {
    /// The directory that becomes the container's root.
    pub root: PathBuf,
    /// The program run as pid 1, a path inside the container.
    pub init: String,
    /// The init's environment (`NAME=value`).
    pub env: Vec<String>,
    /// Where the init's standard output and error go (its input is /dev/null).
    pub console: File,
    /// Descriptors the init gets as 3, 4, ... in this order (every other one is closed).
    pub pass_fds: Vec<OwnedFd>,
}

/// Why a container could not be booted.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// A path, variable or argument contains a NUL byte.
    #[error("'{0}' contains a NUL byte")]
    BadString(String),
    /// A system call of this process failed.
    #[error("{what}: {errno}")]
    Sys {
        /// What was being done.
        what: &'static str,
        /// The error.
        errno: Errno,
    },
    /// /dev/null could not be opened.
    #[error("opening /dev/null: {0}")]
    Null(#[source] std::io::Error),
    /// The container could not be set up (namespaces, mounts, executing the init), as
    /// its setup reported it.
    #[error("{0}")]
    Setup(String),
}

fn c_path(p: &Path) -> Result<CString, BootError> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| BootError::BadString(p.display().to_string()))
}

fn c_str(s: &str) -> Result<CString, BootError> {
    CString::new(s).map_err(|_| BootError::BadString(s.to_owned()))
}

/// Boots `spec` and returns the host pid of its init once the init was executed.
pub fn boot(spec: BootSpec) -> Result<i32, BootError> {
    let null = File::open("/dev/null").map_err(BootError::Null)?;
    let pass_fds = spec
        .pass_fds
        .iter()
        .map(|fd| fd.try_clone())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| BootError::Sys {
            what: "duplicating a descriptor for the init",
            errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EBADF)),
        })?;
    let plan = Plan::new(
        &spec,
        spec.console.try_clone().map_err(BootError::Null)?.into(),
        null.into(),
        pass_fds,
    )?;
    let pipe = || {
        pipe2(OFlag::O_CLOEXEC).map_err(|errno| BootError::Sys {
            what: "creating a pipe",
            errno,
        })
    };
    let (ready_r, ready_w) = pipe()?;
    let (go_r, go_w) = pipe()?;
    let (pid_r, pid_w) = pipe()?;
    let (status_r, status_w) = pipe()?;
    let fds = Fds {
        ready_w,
        go_r,
        pid_w,
        status_w,
    };
    let intermediate = spawn(&plan, fds)?;
    let mut byte = [0u8; 1];
    if nix::unistd::read(ready_r.as_raw_fd(), &mut byte) != Ok(1) {
        let message = read_all(&status_r);
        reap(intermediate);
        return Err(BootError::Setup(message));
    }
    if let Err(e) = write_id_maps(intermediate) {
        let _ = kill(intermediate, Signal::SIGKILL);
        reap(intermediate);
        return Err(BootError::Setup(e));
    }
    let _ = nix::unistd::write(&go_w, b"g");
    drop(go_w);
    let mut pid = [0u8; 4];
    let init_pid = match nix::unistd::read(pid_r.as_raw_fd(), &mut pid) {
        Ok(4) => Some(i32::from_ne_bytes(pid)),
        _ => None,
    };
    let message = read_all(&status_r);
    reap(intermediate);
    match init_pid {
        Some(pid) if message.is_empty() => Ok(pid),
        Some(pid) => {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            Err(BootError::Setup(message))
        }
        None if message.is_empty() => Err(BootError::Setup(
            "the container's init did not start".into(),
        )),
        None => Err(BootError::Setup(message)),
    }
}

/// Reads a pipe to its end (bounded), as text.
fn read_all(fd: &OwnedFd) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > 65536 {
                    break;
                }
            }
            Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The host's device nodes bind-mounted into the container's /dev.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// Everything the forked processes do, prepared before `fork`.
struct Plan {
    root: CString,
    dev: CString,
    shm: CString,
    proc_dir: CString,
    devices: Vec<(CString, CString)>,
    dev_links: Vec<(CString, CString)>,
    init: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    console: OwnedFd,
    null: OwnedFd,
    pass_fds: Vec<OwnedFd>,
}

/// The pipes between this process and the forked ones.
struct Fds {
    /// Intermediate → parent: one byte once the namespaces exist.
    ready_w: OwnedFd,
    /// Parent → intermediate: one byte once the id maps are written.
    go_r: OwnedFd,
    /// Intermediate → parent: the host pid of the container's init (4 bytes, native endian).
    pid_w: OwnedFd,
    /// Either → parent: an error message if setup fails; closed by `execve`.
    status_w: OwnedFd,
}

impl Plan {
    fn new(
        spec: &BootSpec,
        console: OwnedFd,
        null: OwnedFd,
        pass_fds: Vec<OwnedFd>,
    ) -> Result<Plan, BootError> {
        let root = &spec.root;
        let dev = root.join("dev");
        let devices = DEVICES
            .iter()
            .filter(|d| Path::new("/dev").join(d).exists())
            .map(|d| Ok((c_path(&Path::new("/dev").join(d))?, c_path(&dev.join(d))?)))
            .collect::<Result<Vec<_>, BootError>>()?;
        let dev_links = [
            ("/proc/self/fd", "fd"),
            ("/proc/self/fd/0", "stdin"),
            ("/proc/self/fd/1", "stdout"),
            ("/proc/self/fd/2", "stderr"),
        ]
        .iter()
        .map(|(target, name)| Ok((c_str(target)?, c_path(&dev.join(name))?)))
        .collect::<Result<Vec<_>, BootError>>()?;
        let init_c = c_str(&spec.init)?;
        Ok(Plan {
            root: c_path(root)?,
            shm: c_path(&dev.join("shm"))?,
            dev: c_path(&dev)?,
            proc_dir: c_path(&root.join("proc"))?,
            devices,
            dev_links,
            argv: vec![init_c.clone()],
            init: init_c,
            envp: spec
                .env
                .iter()
                .map(|e| c_str(e))
                .collect::<Result<_, _>>()?,
            console,
            null,
            pass_fds,
        })
    }
}

/// Forks the intermediate process; returns its pid.
fn spawn(plan: &Plan, fds: Fds) -> Result<Pid, BootError> {
    // The descriptors the child keeps, listed before `fork`: the child allocates nothing.
    let mut keep = vec![
        fds.ready_w.as_raw_fd(),
        fds.go_r.as_raw_fd(),
        fds.pid_w.as_raw_fd(),
        fds.status_w.as_raw_fd(),
        plan.console.as_raw_fd(),
        plan.null.as_raw_fd(),
    ];
    keep.extend(plan.pass_fds.iter().map(|fd| fd.as_raw_fd()));
    // SAFETY: after `fork` the child only runs `intermediate`, which uses the prepared
    // plan, makes system calls and ends with `exec` or `_exit`; it never returns.
    #[allow(unsafe_code)]
    let forked = unsafe { nix::unistd::fork() }.map_err(|errno| BootError::Sys {
        what: "forking the container",
        errno,
    })?;
    match forked {
        nix::unistd::ForkResult::Child => {
            crate::run::close_other_fds(&mut keep);
            intermediate(plan, &fds)
        }
        nix::unistd::ForkResult::Parent { child } => Ok(child),
    }
}

/// Waits for the intermediate process.
fn reap(pid: Pid) {
    while let Err(Errno::EINTR) = waitpid(pid, None) {}
}

/// Writes the id maps of the intermediate process's new user namespace: as root, the
/// host's ids 0–65535 as themselves; otherwise this user (and group) as root.
fn write_id_maps(child: Pid) -> Result<(), String> {
    let write = |file: &str, text: &str| {
        std::fs::write(format!("/proc/{child}/{file}"), text)
            .map_err(|e| format!("writing the container's {file}: {e}"))
    };
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    if uid.is_root() {
        write("uid_map", "0 0 65536\n")?;
        write("gid_map", "0 0 65536\n")
    } else {
        write("setgroups", "deny")?;
        write("uid_map", &format!("0 {uid} 1\n"))?;
        write("gid_map", &format!("0 {gid} 1\n"))
    }
}

fn intermediate(plan: &Plan, fds: &Fds) -> ! {
    let status = fds.status_w.as_raw_fd();
    // Its own session: the container ignores the terminal's signals (detached).
    let _ = nix::unistd::setsid();
    let namespaces = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC;
    if let Err(e) = unshare(namespaces) {
        fail(
            status,
            "creating namespaces (user namespaces may be disabled)",
            e,
        );
    }
    write_all(fds.ready_w.as_raw_fd(), b"r");
    let mut byte = [0u8; 1];
    if nix::unistd::read(fds.go_r.as_raw_fd(), &mut byte) != Ok(1) {
        exit_now(SETUP_FAILED);
    }
    // SAFETY: this process is single-threaded (it was just forked), so `fork` is sound.
    #[allow(unsafe_code)]
    let forked = unsafe { nix::unistd::fork() };
    match forked {
        Err(e) => fail(status, "forking the container's init", e),
        Ok(nix::unistd::ForkResult::Child) => init(plan, status),
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            write_all(fds.pid_w.as_raw_fd(), &child.as_raw().to_ne_bytes());
            exit_now(0)
        }
    }
}

fn path_str(c: &CStr) -> &str {
    c.to_str().unwrap_or("?")
}

/// The lowest descriptor number [`init`] moves its own descriptors to, above the ones it
/// passes (3, 4, ...).
const HIGH_FD: RawFd = 64;

/// Pid 1 of the container: the root's mounts, then the system's init.
fn init(plan: &Plan, status: RawFd) -> ! {
    // The status pipe and the descriptors to pass move above 3, 4, ... first, so placing
    // the passed ones there overwrites none of them.
    let high = |fd: RawFd| nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(HIGH_FD));
    let status = match high(status) {
        Ok(fd) => fd,
        Err(e) => fail(status, "moving the status pipe", e),
    };
    let passed: Vec<RawFd> = plan
        .pass_fds
        .iter()
        .map(|fd| {
            high(fd.as_raw_fd()).unwrap_or_else(|e| fail(status, "moving a passed descriptor", e))
        })
        .collect();
    let none: Option<&CStr> = None;
    let step = |r: Result<(), Errno>, what: &dyn Fn() -> String| {
        if let Err(e) = r {
            fail(status, &what(), e);
        }
    };
    step(
        nix::unistd::setresgid(0.into(), 0.into(), 0.into())
            .and_then(|()| nix::unistd::setresuid(0.into(), 0.into(), 0.into())),
        &|| "becoming the container's root".into(),
    );
    step(
        mount(
            none,
            c"/",
            none,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            none,
        ),
        &|| "making the mounts private".into(),
    );
    step(
        mount(
            Some(plan.root.as_c_str()),
            plan.root.as_c_str(),
            none,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            none,
        ),
        &|| format!("bind-mounting '{}' on itself", path_str(&plan.root)),
    );
    step(
        mount(
            Some(c"tmpfs"),
            plan.dev.as_c_str(),
            Some(c"tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some(c"mode=755"),
        ),
        &|| format!("mounting a tmpfs on '{}'", path_str(&plan.dev)),
    );
    for (src, dst) in &plan.devices {
        let made = nix::fcntl::open(
            dst.as_c_str(),
            nix::fcntl::OFlag::O_CREAT | nix::fcntl::OFlag::O_WRONLY,
            Mode::from_bits_truncate(0o666),
        )
        .and_then(nix::unistd::close);
        step(made, &|| format!("creating '{}'", path_str(dst)));
        step(
            mount(
                Some(src.as_c_str()),
                dst.as_c_str(),
                none,
                MsFlags::MS_BIND,
                none,
            ),
            &|| format!("bind-mounting '{}'", path_str(src)),
        );
    }
    for (target, link) in &plan.dev_links {
        step(
            nix::unistd::symlinkat(target.as_c_str(), None, link.as_c_str()),
            &|| format!("creating '{}'", path_str(link)),
        );
    }
    step(
        nix::unistd::mkdir(plan.shm.as_c_str(), Mode::from_bits_truncate(0o1777)).and_then(|()| {
            mount(
                Some(c"tmpfs"),
                plan.shm.as_c_str(),
                Some(c"tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some(c"mode=1777"),
            )
        }),
        &|| format!("mounting '{}'", path_str(&plan.shm)),
    );
    // /proc before leaving the host's root: the kernel lets a user namespace mount proc
    // only while a complete proc mount is visible.
    step(
        mount(
            Some(c"proc"),
            plan.proc_dir.as_c_str(),
            Some(c"proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            none,
        ),
        &|| format!("mounting proc on '{}'", path_str(&plan.proc_dir)),
    );
    step(
        nix::unistd::chdir(plan.root.as_c_str())
            .and_then(|()| nix::unistd::pivot_root(c".", c"."))
            .and_then(|()| umount2(c".", MntFlags::MNT_DETACH))
            .and_then(|()| nix::unistd::chdir(c"/")),
        &|| format!("making '{}' the root", path_str(&plan.root)),
    );
    step(
        nix::unistd::dup2(plan.null.as_raw_fd(), 0)
            .and_then(|_| nix::unistd::dup2(plan.console.as_raw_fd(), 1))
            .and_then(|_| nix::unistd::dup2(plan.console.as_raw_fd(), 2))
            .map(drop),
        &|| "redirecting the init's output".into(),
    );
    for (i, fd) in (3..).zip(&passed) {
        step(nix::unistd::dup2(*fd, i).map(drop), &|| {
            format!("passing descriptor {i} to the init")
        });
    }
    match nix::unistd::execve(&plan.init, &plan.argv, &plan.envp) {
        Err(e) => fail(status, &format!("executing '{}'", path_str(&plan.init)), e),
        Ok(never) => match never {},
    }
}
