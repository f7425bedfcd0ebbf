//! Sessions with remote machines: `ssh HOST nix-store --serve --write` for `ssh://`
//! machines (the serve protocol) and `ssh HOST nix-daemon --stdio` for `ssh-ng://` ones (the
//! daemon's worker protocol), behind one [`RemoteClient`] with the few operations a remote
//! build needs; the [`RemotePool`] keeps sessions open between builds of one realisation.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

use nixkit_protocol::serve::client::ServeClient;
use nixkit_protocol::serve::BuildOptions;
use nixkit_protocol::worker::client::WorkerClient;
use nixkit_protocol::worker::stderr::{LogField, StderrMsg};
use nixkit_protocol::worker::types::{BuildMode, BuildResult, ClientSettings, WireDerivation};
use nixkit_protocol::{Limits, ProtocolError};
use nixkit_store::{PathInfo, StoreDir, StorePath};

use super::{lock, Machine};
use crate::build::BuildSettings;

/// A build's log receiver.
pub(super) type LogFn = Box<dyn FnMut(&[u8]) + Send>;

/// Where a session's remote log goes: the build it is running now, if any.
pub(super) type LogSink = Arc<Mutex<Option<LogFn>>>;

/// The protocol client of a session.
pub(super) enum RemoteClient {
    /// `ssh://`: `nix-store --serve --write`.
    Serve(ServeClient<ChildStdout, ChildStdin>),
    /// `ssh-ng://`: `nix-daemon --stdio`.
    Worker(Box<WorkerClient<ChildStdout, ChildStdin>>),
}

impl RemoteClient {
    /// The paths of `paths` the remote has.
    pub(super) fn query_valid_paths(
        &mut self,
        paths: &BTreeSet<StorePath>,
    ) -> Result<BTreeSet<StorePath>, ProtocolError> {
        match self {
            Self::Serve(c) => c.query_valid_paths(paths, true, false),
            Self::Worker(c) => c.query_valid_paths(paths, false),
        }
    }

    /// Adds a path from its NAR (exactly `info.nar_size` bytes of `nar`).
    pub(super) fn add_nar(
        &mut self,
        info: &PathInfo,
        nar: &mut dyn Read,
    ) -> Result<(), ProtocolError> {
        match self {
            Self::Serve(c) => c.add_to_store_nar(info, nar),
            Self::Worker(c) => c.add_to_store_nar(info, nar, false, true),
        }
    }

    /// Builds the derivation sent in full.
    pub(super) fn build(
        &mut self,
        drv_path: &StorePath,
        drv: &WireDerivation,
        settings: &BuildSettings,
    ) -> Result<BuildResult, ProtocolError> {
        match self {
            Self::Serve(c) => {
                let options = BuildOptions {
                    max_silent_time: settings.max_silent_time.map_or(0, |d| d.as_secs()),
                    build_timeout: settings.timeout.map_or(0, |d| d.as_secs()),
                    max_log_size: settings.max_log_size.unwrap_or(0),
                    keep_failed: settings.keep_failed,
                    ..BuildOptions::default()
                };
                c.build_derivation(drv_path, drv, &options)
            }
            Self::Worker(c) => {
                let mut client_settings = ClientSettings {
                    keep_failed: settings.keep_failed,
                    max_silent_time: settings.max_silent_time.map_or(0, |d| d.as_secs()),
                    // The remote builds what it is sent, whatever its own max-jobs.
                    max_build_jobs: 1,
                    use_substitutes: false,
                    ..ClientSettings::default()
                };
                if let Some(t) = settings.timeout {
                    client_settings
                        .overrides
                        .push(("timeout".into(), t.as_secs().to_string()));
                }
                c.set_options(&client_settings)?;
                c.build_derivation(drv_path, drv, BuildMode::Normal)
            }
        }
    }

    /// The infos of the valid paths of `paths`.
    pub(super) fn query_path_infos(
        &mut self,
        paths: &BTreeSet<StorePath>,
    ) -> Result<Vec<PathInfo>, ProtocolError> {
        match self {
            Self::Serve(c) => c.query_path_infos(paths),
            Self::Worker(c) => {
                let mut out = Vec::new();
                for p in paths {
                    out.extend(c.query_path_info(p)?);
                }
                Ok(out)
            }
        }
    }

    /// Writes the NAR of `path` to `out`.
    pub(super) fn dump(
        &mut self,
        path: &StorePath,
        out: &mut impl Write,
    ) -> Result<u64, ProtocolError> {
        match self {
            Self::Serve(c) => c.dump_store_path(path, out),
            Self::Worker(c) => c.nar_from_path(path, out),
        }
    }
}

/// A session with a machine. Dropped early (an error), it kills ssh; [`Session::finish`]
/// ends it cleanly.
pub(super) struct Session {
    child: Option<Child>,
    pub(super) client: RemoteClient,
    log: Option<std::thread::JoinHandle<Vec<u8>>>,
    pub(super) sink: LogSink,
}

impl Session {
    /// Closes the streams (the remote exits at end of input), waits for ssh and collects
    /// the rest of the log.
    fn finish(mut self) {
        let child = self.child.take();
        let log = self.log.take();
        drop(self);
        if let Some(mut child) = child {
            let _ = child.wait();
        }
        if let Some(log) = log {
            let _ = log.join();
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        *lock(&self.sink) = None;
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Sessions with remote machines kept open between builds of one realisation, so that a
/// machine slot logs in once rather than once per derivation.
#[derive(Default)]
pub struct RemotePool {
    idle: Mutex<BTreeMap<String, Vec<Session>>>,
}

impl std::fmt::Debug for RemotePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle: usize = lock(&self.idle).values().map(Vec::len).sum();
        f.debug_struct("RemotePool").field("idle", &idle).finish()
    }
}

impl RemotePool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    pub(super) fn take(&self, uri: &str) -> Option<Session> {
        lock(&self.idle).get_mut(uri).and_then(Vec::pop)
    }

    pub(super) fn put(&self, uri: &str, session: Session) {
        lock(&self.idle)
            .entry(uri.to_owned())
            .or_default()
            .push(session);
    }
}

impl Drop for RemotePool {
    fn drop(&mut self) {
        let idle = std::mem::take(&mut *lock(&self.idle));
        for session in idle.into_values().flatten() {
            session.finish();
        }
    }
}

/// Feeds the build log lines of a daemon's log stream to `sink`.
fn worker_logger(sink: LogSink) -> nixkit_protocol::worker::client::Logger {
    const BUILD_LOG_LINE: u64 = 101;
    Box::new(move |msg: &StderrMsg| {
        let line = match msg {
            StderrMsg::Next(line) => line.trim_end_matches('\n'),
            StderrMsg::Result { kind, fields, .. } if *kind == BUILD_LOG_LINE => {
                match fields.first() {
                    Some(LogField::String(line)) => line.as_str(),
                    _ => return,
                }
            }
            _ => return,
        };
        if let Some(f) = lock(&sink).as_mut() {
            f(format!("{line}\n").as_bytes());
        }
    })
}

/// Logs in to `machine` and starts its side of the protocol its URI names.
pub(super) fn connect(machine: &Machine, store_dir: &StoreDir) -> Result<Session, String> {
    let mut cmd = Command::new("ssh");
    cmd.args(["-x", "-a", "-o", "BatchMode=yes"]);
    if let Ok(opts) = std::env::var("NIX_SSHOPTS") {
        cmd.args(opts.split_whitespace());
    }
    if let Some(key) = &machine.ssh_key {
        cmd.arg("-i").arg(key);
    }
    cmd.arg(machine.host());
    if machine.is_ssh_ng() {
        cmd.args(["nix-daemon", "--stdio"]);
    } else {
        cmd.args(["nix-store", "--serve", "--write"]);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot run ssh: {e}"))?;
    let (Some(stdin), Some(stdout), Some(mut stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        let _ = child.kill();
        return Err("ssh's standard streams are missing".into());
    };
    // The remote's standard error carries its build logs (and ssh's own complaints).
    let sink: LogSink = Arc::new(Mutex::new(None));
    let to = Arc::clone(&sink);
    let log = std::thread::spawn(move || {
        let mut tail = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Some(f) = lock(&to).as_mut() {
                f(&buf[..n]);
            }
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > 16384 {
                tail.drain(..tail.len() - 8192);
            }
        }
        tail
    });
    let client = if machine.is_ssh_ng() {
        WorkerClient::connect(stdout, stdin, store_dir.clone(), Limits::default())
            .map(|mut c| {
                c.set_logger(worker_logger(Arc::clone(&sink)));
                RemoteClient::Worker(Box::new(c))
            })
            .map_err(|e| e.to_string())
    } else {
        ServeClient::connect(stdout, stdin, store_dir.clone(), Limits::default())
            .map(RemoteClient::Serve)
            .map_err(|e| e.to_string())
    };
    match client {
        Ok(client) => Ok(Session {
            child: Some(child),
            client,
            log: Some(log),
            sink,
        }),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            let tail = log.join().unwrap_or_default();
            Err(format!(
                "cannot connect: {e}{}",
                if tail.is_empty() {
                    String::new()
                } else {
                    format!(": {}", String::from_utf8_lossy(&tail).trim())
                }
            ))
        }
    }
}
