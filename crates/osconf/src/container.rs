//! `osconf run`: boots the current system of a target root directory in a container
//! (user, mount, pid, uts and ipc namespaces; the host's network) with the system's own
//! init (`$system/init`, see nix/modules/system/init.nix) as pid 1, finds and stops a
//! running container, and activates a system live inside it through the init's control
//! pipe.
//!
//! The root of the container is the target directory itself (see
//! [`nixkit_sandbox::boot`]), so the target's store `DIR/nix/store` is the container's
//! `/nix/store`, where the system closure's paths point. The init's host
//! pid is kept in `DIR/nix/var/osconf/container.pid`, next to its control pipe `control`,
//! `console.log` (the init's output) and `run.lock`, which the init holds while it lives
//! (a second `osconf run` fails at once; see [`crate::lock`]); services log to
//! `DIR/var/log/osconf/NAME.log`.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::lock::LockFile;

/// The directory of a container's state under its root.
const STATE_DIR: &str = "nix/var/osconf";

/// How to boot a container.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The target root directory (`--root DIR`), holding a system profile.
    pub root: PathBuf,
    /// Where the init's output goes (default `DIR/nix/var/osconf/console.log`, appended).
    pub console: Option<PathBuf>,
}

impl RunOptions {
    /// Options booting the system installed at `root`.
    pub fn new(root: impl Into<PathBuf>) -> RunOptions {
        RunOptions {
            root: root.into(),
            console: None,
        }
    }
}

/// Why a container could not be booted.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The root directory or a file of it could not be used.
    #[error("{what} '{path}': {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The root has no installed system.
    #[error("'{0}' has no system profile (nix/var/nix/profiles/system); install a system first")]
    NoSystem(PathBuf),
    /// The system has no init program.
    #[error("the system '{system}' at '{root}' has no init program ({system}/init)")]
    NoInit {
        /// The target root.
        root: PathBuf,
        /// The current system.
        system: String,
    },
    /// A container already runs this root (or is booting it): its run lock is held.
    #[error("a container already runs '{root}': {holder} holds its lock '{lock}'")]
    AlreadyRunning {
        /// The target root.
        root: PathBuf,
        /// Who holds the lock (`pid PID (WHAT)`, the container's init once booted).
        holder: String,
        /// The run lock file.
        lock: PathBuf,
    },
    /// The root is not a usable target.
    #[error(transparent)]
    Target(#[from] crate::target::TargetError),
    /// A lock of the root could not be taken.
    #[error(transparent)]
    Lock(#[from] crate::lock::LockError),
    /// The container could not be set up (namespaces, mounts, starting init).
    #[error("booting the container of '{root}': {source}")]
    Boot {
        /// The target root.
        root: PathBuf,
        /// What failed.
        source: nixkit_sandbox::boot::BootError,
    },
}

/// Why stopping a container failed.
#[derive(Debug, thiserror::Error)]
pub enum StopError {
    /// No container runs this root.
    #[error("no container runs '{0}'")]
    NotRunning(PathBuf),
    /// The init could not be signalled.
    #[error("signalling the container's init (pid {pid}): {errno}")]
    Signal {
        /// Its host pid.
        pid: i32,
        /// The error.
        errno: Errno,
    },
    /// The init did not end even after SIGKILL.
    #[error("the container's init (pid {0}) did not end")]
    Stuck(i32),
}

/// Why a request to a running container's init failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No container runs this root.
    #[error("no container runs '{0}'")]
    NotRunning(PathBuf),
    /// The init does not read its control pipe.
    #[error("the container's init does not answer on '{0}'")]
    NoAnswer(PathBuf),
    /// The control pipe or a reply could not be used.
    #[error("{what} '{path}': {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The system path cannot be sent (it is not a plain store path).
    #[error("'{0}' is not a store path the container can activate")]
    BadSystem(String),
    /// The request ran and failed; `output` is what it printed.
    #[error("activating '{system}' in the container failed (exit status {status}):\n{output}")]
    Failed {
        /// The system.
        system: String,
        /// Its exit status.
        status: i32,
        /// Its output (services that failed to start are named there).
        output: String,
    },
    /// No reply came in time.
    #[error("the container's init did not reply within {0:?}")]
    Timeout(Duration),
}

/// Why a container run in the foreground failed.
#[derive(Debug, thiserror::Error)]
pub enum ForegroundError {
    /// It did not boot.
    #[error(transparent)]
    Run(#[from] RunError),
    /// It did not stop.
    #[error(transparent)]
    Stop(#[from] StopError),
    /// Its console could not be read or copied.
    #[error("copying the container's console '{path}': {source}")]
    Console {
        /// The console log.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// `osconf run` in the foreground: boots the container, copies what its init prints to
/// `out` as it comes, and returns when the init ends, or stops the container (waiting up
/// to `stop_timeout` before killing it) once `stop_requested` says so (a binary passes
/// `nixkit_sandbox::run::interrupted` after `nixkit_sandbox::install_interrupt_handler`,
/// so Ctrl-C stops the container: its init has a session of its own and never sees the
/// terminal's signals).
pub fn run_foreground(
    opts: &RunOptions,
    out: &mut dyn Write,
    stop_requested: &dyn Fn() -> bool,
    stop_timeout: Duration,
) -> Result<(), ForegroundError> {
    use std::io::{Read, Seek, SeekFrom};
    let path = opts
        .console
        .clone()
        .unwrap_or_else(|| opts.root.join(STATE_DIR).join("console.log"));
    let console_err = |source| ForegroundError::Console {
        path: path.clone(),
        source,
    };
    // Only what this boot prints: the log is appended to.
    let start = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let running = run(opts)?;
    let mut console = fs::File::open(&path).map_err(console_err)?;
    console.seek(SeekFrom::Start(start)).map_err(console_err)?;
    let mut buf = vec![0u8; 8192];
    let mut copy = |console: &mut fs::File| -> Result<(), ForegroundError> {
        loop {
            let n = console.read(&mut buf).map_err(console_err)?;
            if n == 0 {
                return out.flush().map_err(console_err);
            }
            out.write_all(&buf[..n]).map_err(console_err)?;
        }
    };
    let mut stopping = false;
    while running.is_running() {
        copy(&mut console)?;
        if !stopping && stop_requested() {
            stopping = true;
            running.stop(stop_timeout)?;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    copy(&mut console)?;
    let _ = fs::remove_file(pid_file(&running.root));
    Ok(())
}

/// A booted container (its init may have ended since: see [`Running::is_running`]).
#[derive(Debug, Clone)]
pub struct Running {
    root: PathBuf,
    pid: i32,
}

/// `DIR/nix/var/osconf/container.pid`: the host pid of a running container's init.
pub fn pid_file(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join("container.pid")
}

/// `DIR/nix/var/osconf/run.lock`: the lock a running container's init holds.
pub fn run_lock_path(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join("run.lock")
}

/// `DIR/nix/var/osconf/control`: the control pipe of a running container's init.
pub fn control_pipe(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join("control")
}

/// Whether host process `pid` exists and has not ended (a zombie has).
fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The container running the system at `root`, if one runs.
pub fn find(root: &Path) -> Option<Running> {
    let text = fs::read_to_string(pid_file(root)).ok()?;
    let pid: i32 = text.trim().parse().ok()?;
    let running = Running {
        root: root.to_path_buf(),
        pid,
    };
    running.is_running().then_some(running)
}

/// Stops the container running `root` (see [`Running::stop`]).
pub fn stop(root: &Path, timeout: Duration) -> Result<(), StopError> {
    find(root)
        .ok_or_else(|| StopError::NotRunning(root.to_path_buf()))?
        .stop(timeout)
}

impl Running {
    /// The host pid of the container's init.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The target root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The container's pid namespace (`pid:[INODE]`), while it runs.
    pub fn pid_namespace(&self) -> Option<String> {
        fs::read_link(format!("/proc/{}/ns/pid", self.pid))
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
    }

    /// Whether the init still runs (and is this container's: the pid was not reused).
    pub fn is_running(&self) -> bool {
        alive(self.pid)
            && fs::read(format!("/proc/{}/cmdline", self.pid))
                .is_ok_and(|c| c.windows(5).any(|w| w == b"/init"))
    }

    /// Waits until the init ends, at most `timeout` (`Duration::MAX`: as long as it runs,
    /// as `osconf run` in the foreground does); true if it ended.
    pub fn wait(&self, timeout: Duration) -> bool {
        let end = Instant::now().checked_add(timeout);
        while self.is_running() {
            if end.is_some_and(|end| Instant::now() >= end) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }

    /// Stops the container: SIGTERM to its init, which stops the services and every
    /// other process; SIGKILL after `timeout` (its pid namespace dies with it).
    pub fn stop(&self, timeout: Duration) -> Result<(), StopError> {
        if self.is_running() {
            kill(Pid::from_raw(self.pid), Signal::SIGTERM).map_err(|errno| StopError::Signal {
                pid: self.pid,
                errno,
            })?;
            if !self.wait(timeout) {
                let _ = kill(Pid::from_raw(self.pid), Signal::SIGKILL);
                if !self.wait(Duration::from_secs(10)) {
                    return Err(StopError::Stuck(self.pid));
                }
            }
        }
        let _ = fs::remove_file(pid_file(&self.root));
        Ok(())
    }

    /// Activates `system` (a store path) inside the container: its `activate /` (the /etc
    /// tree, users) and its services' live switch, run by the container's init. Returns
    /// the output; a failure (e.g. a service that does not start) is
    /// [`ControlError::Failed`] with the output naming it.
    pub fn activate(&self, system: &str, timeout: Duration) -> Result<String, ControlError> {
        self.request("activate", system, timeout)
    }

    /// Switches the container's services to those of `system` (no /etc or users).
    pub fn switch_services(&self, system: &str, timeout: Duration) -> Result<String, ControlError> {
        self.request("switch", system, timeout)
    }

    fn request(&self, cmd: &str, system: &str, timeout: Duration) -> Result<String, ControlError> {
        if !system.starts_with("/nix/store/")
            || system.contains(|c: char| c.is_whitespace() || c.is_control())
        {
            return Err(ControlError::BadSystem(system.to_owned()));
        }
        if !self.is_running() {
            return Err(ControlError::NotRunning(self.root.clone()));
        }
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let id = format!("{}-{nanos}", std::process::id());
        let replies = self.root.join(STATE_DIR).join("replies");
        let status_file = replies.join(format!("{id}.status"));
        let out_file = replies.join(format!("{id}.out"));
        let pipe = control_pipe(&self.root);
        self.send(&pipe, &format!("{cmd} {system} {id}\n"))?;
        let end = Instant::now().checked_add(timeout);
        let status = loop {
            match fs::read_to_string(&status_file) {
                Ok(text) => break text.trim().parse::<i32>().unwrap_or(-1),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(ControlError::Io {
                        what: "reading the reply",
                        path: status_file,
                        source,
                    })
                }
            }
            if end.is_some_and(|end| Instant::now() >= end) {
                return Err(ControlError::Timeout(timeout));
            }
            if !self.is_running() {
                return Err(ControlError::NotRunning(self.root.clone()));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let output = fs::read_to_string(&out_file).unwrap_or_default();
        let _ = fs::remove_file(&status_file);
        let _ = fs::remove_file(&out_file);
        if status != 0 {
            return Err(ControlError::Failed {
                system: system.to_owned(),
                status,
                output,
            });
        }
        Ok(output)
    }

    /// Writes `line` to the control pipe once the init has it open for reading (it
    /// reopens it after every request), waiting up to 60 seconds (a booting init reads it once the boot is done).
    fn send(&self, pipe: &Path, line: &str) -> Result<(), ControlError> {
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            let opened = fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(pipe);
            match opened {
                Ok(mut f) => {
                    return f
                        .write_all(line.as_bytes())
                        .map_err(|source| ControlError::Io {
                            what: "writing to the control pipe",
                            path: pipe.to_path_buf(),
                            source,
                        })
                }
                // No reader yet.
                Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(ControlError::Io {
                        what: "opening the control pipe",
                        path: pipe.to_path_buf(),
                        source,
                    })
                }
            }
            if Instant::now() >= end || !self.is_running() {
                return Err(ControlError::NoAnswer(pipe.to_path_buf()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The store path the system profile of `root` points to (resolving the profile's
/// links inside `root`).
fn current_system(root: &Path) -> Result<String, RunError> {
    let mut link = root.join("nix/var/nix/profiles/system");
    for _ in 0..16 {
        let target = match fs::read_link(&link) {
            Ok(t) => t,
            Err(_) => return Err(RunError::NoSystem(root.to_path_buf())),
        };
        if target.starts_with("/nix/store") {
            return Ok(target.to_string_lossy().into_owned());
        }
        let Some(dir) = link.parent() else { break };
        link = dir.join(target);
    }
    Err(RunError::NoSystem(root.to_path_buf()))
}

/// Boots the system installed at `opts.root` in a container and returns once its init
/// runs (detached: the container keeps running after this process ends; stop it with
/// [`Running::stop`] or [`stop`]).
pub fn run(opts: &RunOptions) -> Result<Running, RunError> {
    let io_err = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| RunError::Io { what, path, source }
    };
    let root = fs::canonicalize(&opts.root).map_err(io_err("opening the root", &opts.root))?;
    let system = current_system(&root)?;
    let init = format!("{system}/init");
    let in_root = |p: &str| root.join(p.trim_start_matches('/'));
    if !in_root(&init).is_file() {
        return Err(RunError::NoInit { root, system });
    }
    // The run lock, held by the init for its life (a second run fails at once), and the
    // activation lock, held by the init while it activates the system at boot (waiting
    // for a `rebuild switch` that holds it to end).
    let run_lock = LockFile::open(&run_lock_path(&root))?;
    if !run_lock.try_lock()? {
        return Err(RunError::AlreadyRunning {
            holder: run_lock.holder(),
            lock: run_lock.path().to_path_buf(),
            root,
        });
    }
    run_lock.set_holder(std::process::id(), "osconf run, booting the container")?;
    if let Some(running) = find(&root) {
        return Err(RunError::AlreadyRunning {
            root,
            holder: format!("pid {} (the container's init)", running.pid),
            lock: pid_file(&running.root),
        });
    }
    let target = crate::target::Target::new(&root)?;
    let activation_lock = LockFile::open(&target.lock_path())?;
    activation_lock.lock()?;
    activation_lock.set_holder(std::process::id(), "osconf run, booting the container")?;
    let state = root.join(STATE_DIR);
    for dir in ["dev", "proc", "run", "tmp", "var/log/osconf", STATE_DIR] {
        fs::create_dir_all(root.join(dir)).map_err(io_err("creating", &root.join(dir)))?;
    }
    let console_path = opts
        .console
        .clone()
        .unwrap_or_else(|| state.join("console.log"));
    let console = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&console_path)
        .map_err(io_err("opening the console log", &console_path))?;
    let spec = nixkit_sandbox::boot::BootSpec {
        root: root.clone(),
        init,
        env: vec![
            "PATH=/run/current-system/sw/bin".to_owned(),
            "container=osconf".to_owned(),
        ],
        console,
        pass_fds: vec![
            run_lock
                .file()
                .try_clone()
                .map_err(io_err("passing the lock", run_lock.path()))?
                .into(),
            activation_lock
                .file()
                .try_clone()
                .map_err(io_err("passing the lock", activation_lock.path()))?
                .into(),
        ],
    };
    let init_pid = nixkit_sandbox::boot::boot(spec).map_err(|source| RunError::Boot {
        root: root.clone(),
        source,
    })?;
    let pid_path = pid_file(&root);
    let tmp = pid_path.with_extension("pid.tmp");
    fs::write(&tmp, format!("{init_pid}\n"))
        .and_then(|()| fs::rename(&tmp, &pid_path))
        .map_err(io_err("writing the pid file", &pid_path))?;
    let pid = u32::try_from(init_pid).unwrap_or(0);
    run_lock.set_holder(pid, "the container's init")?;
    activation_lock.set_holder(pid, "the container's init, activating the booting system")?;
    Ok(Running {
        root,
        pid: init_pid,
    })
}

/// The services of the system installed at `root` that the container refuses to start
/// when osconf runs unprivileged (its user namespace maps only the caller, as root):
/// those declared with a user or group other than root, each as `NAME (user U, group
/// G)`. Empty when running as root (the container then maps the host's ids 0–65535) or
/// when the system's services cannot be read.
pub fn refused_when_unprivileged(root: &Path) -> Vec<String> {
    if nix::unistd::geteuid().is_root() {
        return Vec::new();
    }
    let Ok(system) = current_system(root) else {
        return Vec::new();
    };
    let file = root
        .join(system.trim_start_matches('/'))
        .join("services.json");
    let Ok(text) = fs::read_to_string(file) else {
        return Vec::new();
    };
    #[derive(serde::Deserialize)]
    struct Service {
        user: String,
        group: String,
    }
    let services: std::collections::BTreeMap<String, Service> =
        serde_json::from_str(&text).unwrap_or_default();
    services
        .into_iter()
        .filter(|(_, s)| s.user != "root" || s.group != "root")
        .map(|(name, s)| format!("{name} (user {}, group {})", s.user, s.group))
        .collect()
}
