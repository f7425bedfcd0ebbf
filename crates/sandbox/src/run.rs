//! Running a builder in the sandbox: fork, namespace creation and id maps (written by the
//! parent, as a user namespace requires), then the log pump that enforces
//! `--max-silent-time` and `--timeout` and kills the whole process tree when needed (the
//! sandbox's init is pid 1 of its pid namespace; when it dies the kernel kills the rest).

use std::collections::VecDeque;
use std::fs;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{pipe2, Pid};

use crate::child::{intermediate, ChildFds};
use crate::layout::{prepare, BuildDir, SandboxSpec};

/// Why a sandboxed run could not happen (not: the builder failed — see [`RunOutcome`]).
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Preparing the sandbox's files failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A path, argument or variable contains a NUL byte.
    #[error("'{0}' contains a NUL byte")]
    BadString(String),
    /// A system call in the parent failed.
    #[error("{what}: {errno}")]
    Sys {
        /// What was being done.
        what: &'static str,
        /// The error.
        errno: Errno,
    },
    /// The sandbox could not be set up (namespaces, mounts, exec).
    #[error("setting up the build sandbox: {0}")]
    Setup(String),
}

/// How the builder ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    /// It exited (or was killed by a signal: 128 + signal number).
    Exited(i32),
    /// Killed after producing no output for this long.
    Silent(Duration),
    /// Killed after running for this long.
    TimedOut(Duration),
    /// Killed because the build was interrupted.
    Interrupted,
    /// Killed after writing more than this many bytes of log (`max-log-size`).
    LogLimit(u64),
    /// A process was killed for using more memory than the cgroup's limit (bytes).
    OutOfMemory(u64),
}

impl RunOutcome {
    /// True if the builder exited with status 0.
    pub fn success(self) -> bool {
        self == RunOutcome::Exited(0)
    }
}

/// Limits and log sinks of one run.
pub struct RunOptions<'a> {
    /// Kill the builder after this long without output.
    pub max_silent_time: Option<Duration>,
    /// Kill the builder after this long.
    pub timeout: Option<Duration>,
    /// Kill the builder once it wrote more than this many bytes of log.
    pub max_log_size: Option<u64>,
    /// Called with every chunk of output.
    pub on_output: &'a mut dyn FnMut(&[u8]),
    /// Every chunk of output is also appended here.
    pub log_file: Option<fs::File>,
}

/// The result of a run: how it ended and the last lines of its log.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// How the builder ended.
    pub outcome: RunOutcome,
    /// The last (up to 25) lines of output.
    pub tail: Vec<String>,
    /// Wall-clock time from fork to the end.
    pub elapsed: Duration,
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Asks every running build to stop: their sandboxes are killed and the builds fail.
pub fn request_interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// True once [`request_interrupt`] was called.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Makes SIGINT and SIGTERM call [`request_interrupt`] instead of killing the process, so
/// sandboxes are killed and build directories removed before exiting.
pub fn install_interrupt_handler() -> Result<(), SandboxError> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet};
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        #[allow(unsafe_code)]
        unsafe { sigaction(sig, &action) }.map_err(|errno| SandboxError::Sys {
            what: "installing a signal handler",
            errno,
        })?;
    }
    Ok(())
}

fn sys(what: &'static str) -> impl FnOnce(Errno) -> SandboxError {
    move |errno| SandboxError::Sys { what, errno }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), SandboxError> {
    pipe2(OFlag::O_CLOEXEC).map_err(sys("creating a pipe"))
}

/// Reads until end of file (bounded to 64 KiB).
fn read_to_end(fd: &OwnedFd) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
            Ok(0) => return out,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > 65536 {
                    return out;
                }
            }
            Err(Errno::EINTR) => continue,
            Err(_) => return out,
        }
    }
}

/// Writes the uid and gid maps of the child's new user namespace.
fn write_id_maps(child: Pid, build_ids: Option<(u32, u32)>) -> Result<(), SandboxError> {
    let proc = format!("/proc/{child}");
    let (uid, gid) = match build_ids {
        Some(ids) => ids,
        None => {
            fs::write(format!("{proc}/setgroups"), "deny").map_err(|source| SandboxError::Io {
                what: "writing setgroups".into(),
                source,
            })?;
            (
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            )
        }
    };
    let write = |file: &str, text: String| {
        fs::write(format!("{proc}/{file}"), text).map_err(|source| SandboxError::Io {
            what: format!("writing {file} of the build user namespace"),
            source,
        })
    };
    write("uid_map", format!("{} {uid} 1\n", crate::SANDBOX_UID))?;
    write("gid_map", format!("{} {gid} 1\n", crate::SANDBOX_GID))
}

/// Closes every descriptor of this (forked) process except those in `keep`.
pub(crate) fn close_other_fds(keep: &mut [i32]) {
    keep.sort_unstable();
    let mut next: u32 = 3;
    for &fd in keep.iter() {
        let Ok(fd) = u32::try_from(fd) else { continue };
        if fd > next {
            close_range(next, fd - 1);
        }
        next = next.max(fd + 1);
    }
    close_range(next, u32::MAX);
}

fn close_range(first: u32, last: u32) {
    // SAFETY: close_range only closes descriptors; this runs in a freshly forked child that
    // owns no Rust objects referring to the descriptors it closes (the kept ones excepted).
    #[allow(unsafe_code)]
    unsafe {
        libc::syscall(libc::SYS_close_range, first, last, 0);
    }
}

/// Runs `spec` in a sandbox rooted at `dir` (which must be fresh; the caller keeps or
/// removes it afterwards and collects the outputs from it).
pub fn run_sandboxed(
    spec: &SandboxSpec,
    dir: &BuildDir,
    opts: RunOptions<'_>,
) -> Result<RunResult, SandboxError> {
    let build_ids = if nix::unistd::geteuid().is_root() {
        Some(
            spec.build_user
                .unwrap_or((crate::DEFAULT_BUILD_UID, crate::DEFAULT_BUILD_UID)),
        )
    } else {
        None
    };
    let plan = prepare(spec, dir, build_ids)?;
    let cgroup = spec
        .cgroup
        .as_ref()
        .map(crate::cgroup::BuildCgroup::create)
        .transpose()?;
    let (ready_r, ready_w) = pipe()?;
    let (go_r, go_w) = pipe()?;
    let (pid_r, pid_w) = pipe()?;
    let (status_r, status_w) = pipe()?;
    let (log_r, log_w) = pipe()?;
    let null = fs::File::open("/dev/null").map_err(|source| SandboxError::Io {
        what: "opening /dev/null".into(),
        source,
    })?;
    let start = Instant::now();
    // SAFETY: after `fork` the child only runs `intermediate`, which uses the precomputed
    // plan, makes system calls (it allocates only to word a failure) and ends with `exec`
    // or `_exit` (`child::exit_now`, never `exit`); it never returns, and no Rust-level
    // lock is taken.
    #[allow(unsafe_code)]
    let forked = unsafe { nix::unistd::fork() }.map_err(sys("forking the builder"))?;
    let child = match forked {
        nix::unistd::ForkResult::Child => {
            let fds = ChildFds {
                ready_w,
                go_r,
                pid_w,
                status_w,
                log_w,
                null: null.into(),
            };
            close_other_fds(&mut [
                fds.ready_w.as_raw_fd(),
                fds.go_r.as_raw_fd(),
                fds.pid_w.as_raw_fd(),
                fds.status_w.as_raw_fd(),
                fds.log_w.as_raw_fd(),
                fds.null.as_raw_fd(),
            ]);
            intermediate(&plan, fds)
        }
        nix::unistd::ForkResult::Parent { child } => child,
    };
    drop((ready_w, go_r, pid_w, status_w, log_w, null));
    let mut guard = KillGuard {
        intermediate: child,
        init: None,
    };
    let mut byte = [0u8; 1];
    if nix::unistd::read(ready_r.as_raw_fd(), &mut byte) != Ok(1) {
        let msg = String::from_utf8_lossy(&read_to_end(&status_r)).into_owned();
        guard.reap();
        return Err(SandboxError::Setup(msg));
    }
    if let Some(cg) = &cgroup {
        cg.add(child)?;
    }
    write_id_maps(child, build_ids)?;
    nix::unistd::write(go_w.as_fd(), b"g").map_err(sys("releasing the builder"))?;
    let mut pid = [0u8; 4];
    if nix::unistd::read(pid_r.as_raw_fd(), &mut pid) == Ok(4) {
        guard.init = Some(Pid::from_raw(i32::from_ne_bytes(pid)));
    }
    let status = read_to_end(&status_r);
    if !status.is_empty() {
        guard.kill();
        guard.reap();
        return Err(SandboxError::Setup(
            String::from_utf8_lossy(&status).into_owned(),
        ));
    }
    let (killed, tail) = pump(&log_r, opts, start, &guard);
    let code = guard.reap();
    let mut outcome = killed.unwrap_or(RunOutcome::Exited(code));
    if let Some(cg) = &cgroup {
        if code != 0 && cg.oom_killed() {
            let max = spec.cgroup.as_ref().and_then(|l| l.memory_max).unwrap_or(0);
            outcome = RunOutcome::OutOfMemory(max);
        }
    }
    drop(cgroup);
    Ok(RunResult {
        outcome,
        tail,
        elapsed: start.elapsed(),
    })
}

/// Kills and reaps the sandbox when dropped early (errors, panics).
struct KillGuard {
    intermediate: Pid,
    init: Option<Pid>,
}

impl KillGuard {
    /// Kills the sandbox's init, which takes every process of the sandbox with it.
    fn kill(&self) {
        if let Some(init) = self.init {
            let _ = kill(init, Signal::SIGKILL);
        }
        let _ = kill(self.intermediate, Signal::SIGKILL);
    }

    /// Waits for the intermediate process; returns its exit code (the builder's).
    fn reap(&mut self) -> i32 {
        let code = loop {
            match waitpid(self.intermediate, None) {
                Ok(WaitStatus::Exited(_, code)) => break code,
                Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
                Ok(_) | Err(Errno::EINTR) => continue,
                Err(_) => break -1,
            }
        };
        self.init = None;
        self.intermediate = Pid::from_raw(-1);
        code
    }
}

impl Drop for KillGuard {
    fn drop(&mut self) {
        if self.intermediate.as_raw() > 0 {
            self.kill();
            self.reap();
        }
    }
}

/// Copies the builder's output to the sinks until end of file, killing the sandbox when a
/// limit is exceeded or the build is interrupted. Returns why it was killed, if it was, and
/// the last lines of output.
fn pump(
    log: &OwnedFd,
    mut opts: RunOptions<'_>,
    start: Instant,
    guard: &KillGuard,
) -> (Option<RunOutcome>, Vec<String>) {
    const TAIL: usize = 25;
    let mut tail: VecDeque<String> = VecDeque::new();
    let mut partial: Vec<u8> = Vec::new();
    let mut last_output = Instant::now();
    let mut killed = None;
    let mut buf = vec![0u8; 65536];
    let mut logged: u64 = 0;
    loop {
        let now = Instant::now();
        if killed.is_none() {
            if interrupted() {
                killed = Some(RunOutcome::Interrupted);
            } else if let Some(t) = opts.timeout.filter(|t| now.duration_since(start) >= *t) {
                killed = Some(RunOutcome::TimedOut(t));
            } else if let Some(t) = opts
                .max_silent_time
                .filter(|t| now.duration_since(last_output) >= *t)
            {
                killed = Some(RunOutcome::Silent(t));
            }
            if killed.is_some() {
                guard.kill();
            }
        }
        let mut wait = Duration::from_millis(200);
        if let Some(t) = opts.timeout {
            wait = wait.min((start + t).saturating_duration_since(now));
        }
        if let Some(t) = opts.max_silent_time {
            wait = wait.min((last_output + t).saturating_duration_since(now));
        }
        let ms = u16::try_from(wait.as_millis()).unwrap_or(200).max(1);
        let mut fds = [PollFd::new(log.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(_) => break,
        }
        match nix::unistd::read(log.as_raw_fd(), &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                let mut chunk = &buf[..n];
                if killed.is_some() {
                    continue;
                }
                logged += n as u64;
                if let Some(max) = opts.max_log_size.filter(|m| logged > *m) {
                    // Keep the log up to the limit, then stop the builder.
                    let over = usize::try_from(logged - max).unwrap_or(n).min(n);
                    chunk = &chunk[..n - over];
                    killed = Some(RunOutcome::LogLimit(max));
                    guard.kill();
                }
                last_output = Instant::now();
                (opts.on_output)(chunk);
                if let Some(f) = opts.log_file.as_mut() {
                    let _ = f.write_all(chunk);
                }
                partial.extend_from_slice(chunk);
                while let Some(pos) = partial.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = partial.drain(..=pos).collect();
                    tail.push_back(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
                    if tail.len() > TAIL {
                        tail.pop_front();
                    }
                }
            }
            Err(Errno::EINTR | Errno::EAGAIN) => continue,
            Err(_) => break,
        }
    }
    if !partial.is_empty() {
        tail.push_back(String::from_utf8_lossy(&partial).into_owned());
        if tail.len() > TAIL {
            tail.pop_front();
        }
    }
    (killed, tail.into())
}
