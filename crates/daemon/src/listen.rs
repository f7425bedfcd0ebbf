//! The daemon's accept loop on a Unix socket: each connection is judged by its peer's
//! credentials, then served in a process of its own (CppNix's model, the default of
//! `nixkit daemon`: [`Daemon::run_processes`]) or on a thread of its own
//! ([`Daemon::run`]), with a store handle and temporary roots of its own; a failing — or
//! killed — connection never stops the others.

use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::connection::serve_connection;
use crate::{DaemonSettings, Peer, Trust};

/// Why the daemon could not listen.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// Binding or preparing the socket failed.
    #[error("cannot listen on '{path}': {source}")]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Accepting a connection failed.
    #[error("accepting a connection: {0}")]
    Accept(io::Error),
}

/// A daemon: settings shared by its connections, and the lock its builds share.
#[derive(Debug)]
pub struct Daemon {
    settings: DaemonSettings,
    build_lock: Mutex<()>,
    sessions: AtomicU64,
}

impl Daemon {
    /// A daemon with `settings`.
    pub fn new(settings: DaemonSettings) -> Arc<Self> {
        Arc::new(Self {
            settings,
            build_lock: Mutex::new(()),
            sessions: AtomicU64::new(0),
        })
    }

    /// Binds `path` (replacing a stale socket file there), creating its directory, and
    /// makes it connectable by every user: who may do what is decided per connection. The
    /// socket is bound under a temporary name and renamed into place once it listens, so
    /// a client that sees the file can connect.
    pub fn bind(path: &Path) -> Result<UnixListener, ListenError> {
        let err = |source| ListenError::Bind {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut temp = path.as_os_str().to_owned();
        temp.push(format!(".{}.tmp", std::process::id()));
        let temp = PathBuf::from(temp);
        for stale in [&temp, &path.to_path_buf()] {
            match std::fs::remove_file(stale) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(err(e)),
                _ => {}
            }
        }
        let listener = UnixListener::bind(&temp).map_err(err)?;
        use std::os::unix::fs::PermissionsExt;
        let placed = std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o666))
            .and_then(|()| std::fs::rename(&temp, path));
        if let Err(e) = placed {
            let _ = std::fs::remove_file(&temp);
            return Err(err(e));
        }
        Ok(listener)
    }

    /// Accepts connections on `listener` until accepting fails; each is served on a thread.
    /// `on_error` hears of connections that ended abnormally.
    pub fn run(
        self: &Arc<Self>,
        listener: &UnixListener,
        on_error: impl Fn(&Peer, String) + Send + Sync + 'static,
    ) -> Result<(), ListenError> {
        let on_error = Arc::new(on_error);
        loop {
            let (stream, _) = match listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ListenError::Accept(e)),
            };
            let daemon = Arc::clone(self);
            let on_error = Arc::clone(&on_error);
            std::thread::spawn(move || {
                if let Err((peer, e)) = daemon.serve_stream(stream) {
                    on_error(&peer, e);
                }
            });
        }
    }

    /// Accepts connections on `listener` until accepting fails; each is served by a process
    /// of its own, which `command` makes (one that runs [`Daemon::serve_stdio`], e.g.
    /// `nixkit daemon --stdio` with this daemon's settings), with the connection as its
    /// standard input and output. The process reads its peer's credentials from the socket
    /// itself, so nothing the daemon passes can change whom it trusts; if it crashes or is
    /// killed, only its own client notices. `on_error` hears of processes that could not
    /// start or ended with a failure status.
    pub fn run_processes(
        listener: &UnixListener,
        command: impl Fn() -> std::process::Command,
        on_error: impl Fn(&Peer, String) + Send + Sync + 'static,
    ) -> Result<(), ListenError> {
        let on_error = Arc::new(on_error);
        loop {
            let (stream, _) = match listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ListenError::Accept(e)),
            };
            let peer =
                Peer::of_socket(&stream).unwrap_or_else(|_| Peer::from_ids(0, u32::MAX, u32::MAX));
            let child = stream.try_clone().and_then(|output| {
                command()
                    .stdin(std::process::Stdio::from(std::os::fd::OwnedFd::from(
                        stream,
                    )))
                    .stdout(std::process::Stdio::from(std::os::fd::OwnedFd::from(
                        output,
                    )))
                    .spawn()
            });
            let mut child = match child {
                Ok(c) => c,
                Err(e) => {
                    on_error(&peer, format!("starting a connection process: {e}"));
                    continue;
                }
            };
            // Reaps the process (and says how it ended), so none is left a zombie.
            let on_error = Arc::clone(&on_error);
            let reaper =
                std::thread::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(move || match child.wait() {
                        Ok(status) if !status.success() => on_error(
                            &peer,
                            format!("connection process {}: {status}", child.id()),
                        ),
                        Ok(_) => {}
                        Err(e) => on_error(&peer, format!("waiting for a connection process: {e}")),
                    });
            if let Err(e) = reaper {
                return Err(ListenError::Accept(e));
            }
        }
    }

    fn serve_stream(&self, stream: UnixStream) -> Result<(), (Peer, String)> {
        let peer = Peer::of_socket(&stream).map_err(|e| {
            (
                Peer::from_ids(0, u32::MAX, u32::MAX),
                format!("reading peer credentials: {e}"),
            )
        })?;
        // A user who may not connect is turned away before the handshake, as by CppNix.
        let trust = self
            .settings
            .trust
            .judge(&peer)
            .map_err(|e| (peer.clone(), e.to_string()))?;
        let reader = stream
            .try_clone()
            .map_err(|e| (peer.clone(), e.to_string()))?;
        self.serve(reader, stream, trust)
            .map_err(|e| (peer.clone(), e))
    }

    /// Serves one connection on standard input and output (`nix-daemon --stdio`, run by
    /// `ssh-ng://` clients and by the daemon's per-connection processes). The peer is the
    /// process at the other end when standard input is a Unix socket (`SO_PEERCRED`, so a
    /// connection handed over by the accept loop keeps its client's trust), else this
    /// process's own user (say, the user ssh logged in); it is judged as any connection.
    pub fn serve_stdio(&self) -> Result<(), String> {
        use std::os::fd::AsFd;
        // Unbuffered handles of the two descriptors (the connection buffers itself).
        let dup = |fd: std::os::fd::BorrowedFd<'_>| {
            fd.try_clone_to_owned()
                .map(std::fs::File::from)
                .map_err(|e| format!("standard streams: {e}"))
        };
        let stdin = dup(io::stdin().as_fd())?;
        let stdout = dup(io::stdout().as_fd())?;
        let peer = Peer::of_socket(&stdin).unwrap_or_else(|_| {
            Peer::from_ids(
                nix::unistd::getpid().as_raw(),
                nix::unistd::getuid().as_raw(),
                nix::unistd::getgid().as_raw(),
            )
        });
        let trust = self
            .settings
            .trust
            .judge(&peer)
            .map_err(|e| e.to_string())?;
        self.serve(stdin, stdout, trust)
    }

    /// Serves one connection on `reader`/`writer` with `trust` (judged by the caller).
    pub fn serve(
        &self,
        reader: impl io::Read,
        writer: impl io::Write + Send,
        trust: Trust,
    ) -> Result<(), String> {
        let session = self.sessions.fetch_add(1, Ordering::Relaxed);
        serve_connection(
            reader,
            writer,
            &self.settings,
            trust,
            session,
            &self.build_lock,
        )
        .map_err(|e| e.to_string())
    }
}
