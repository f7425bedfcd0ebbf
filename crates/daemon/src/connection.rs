//! One connection's request loop: the handshake, then requests read and answered until the
//! client hangs up. An operation that fails is reported to the client as `STDERR_ERROR` and
//! the connection goes on, as CppNix's daemon does; only a broken stream ends it.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::sync::{Arc, Mutex};

use nixkit_protocol::worker::reply::WorkerReply;
use nixkit_protocol::worker::request::WorkerRequest;
use nixkit_protocol::worker::server_handshake;
use nixkit_protocol::worker::stderr::{RemoteError, StderrMsg};
use nixkit_protocol::worker::types::Ctx;
use nixkit_protocol::{HandshakeError, Limits, ProtocolError, WireError};
use nixkit_store::local::{LocalStore, OpenError};
use nixkit_store::StorePath;

use crate::substitute::{OpenSubstituters, SignaturePolicy, SubstituterSettings};
use crate::{DaemonSettings, Trust};

/// Why a connection ended abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The store could not be opened.
    #[error("opening the store: {0}")]
    Open(#[from] OpenError),
    /// The handshake failed.
    #[error("handshake: {0}")]
    Handshake(#[from] HandshakeError),
    /// The stream broke or the client sent what cannot be read.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// Writing to the client failed.
    #[error("writing to the client: {0}")]
    Io(#[from] io::Error),
}

/// Why an operation failed; its text is what the client prints after `error: `.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// A store query failed.
    #[error(transparent)]
    Query(#[from] nixkit_store::local::QueryError),
    /// Adding a path failed.
    #[error(transparent)]
    Add(#[from] nixkit_store::local::AddError),
    /// Garbage collection or a root failed.
    #[error(transparent)]
    Gc(#[from] nixkit_store::local::GcError),
    /// Importing an export stream failed.
    #[error(transparent)]
    Import(#[from] nixkit_store::export::ImportError),
    /// Verifying the store failed.
    #[error(transparent)]
    Verify(#[from] nixkit_store::local::VerifyError),
    /// Building failed.
    #[error(transparent)]
    Realise(#[from] nixkit_sandbox::RealiseError),
    /// A build could not be set up.
    #[error(transparent)]
    Build(#[from] nixkit_sandbox::BuildError),
    /// The stream failed while the operation read or wrote its data (ends the connection).
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// A file operation of the daemon failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The operation needs a trusted user.
    #[error("{0}")]
    NotPrivileged(&'static str),
    /// A path the operation needs is not valid.
    #[error("path '{0}' is not valid")]
    NotValid(String),
    /// An untrusted client offered a path without a trusted signature.
    #[error("cannot add path '{0}' because it lacks a signature by a trusted key")]
    Unsigned(String),
    /// A request this daemon does not carry out.
    #[error("{0}")]
    Unsupported(String),
    /// A request's arguments are wrong.
    #[error("{0}")]
    Invalid(String),
    /// A substituter could not be opened.
    #[error(transparent)]
    Cache(#[from] nixkit_store::binary_cache::CacheError),
    /// A path could not be substituted.
    #[error(transparent)]
    Substitute(#[from] nixkit_sandbox::SubstituteError),
}

impl OpError {
    /// True if the stream can no longer be trusted to be at a request boundary.
    fn ends_connection(&self) -> bool {
        matches!(self, OpError::Protocol(_))
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> OpError {
        let context = context.into();
        move |source| OpError::Io { context, source }
    }
}

/// What an operation answers once its log stream has ended successfully.
pub(crate) enum Outcome {
    /// A reply message.
    Reply(WorkerReply),
    /// The NAR of a path, sent bare after `STDERR_LAST` (`NarFromPath`).
    Nar(StorePath),
}

/// The state of one connection: its store handle, its trust, its client's settings.
pub(crate) struct Conn<'a, R: Read, W: Write + Send> {
    pub(crate) reader: R,
    /// The writer, shared with build threads that stream logs.
    pub(crate) writer: Mutex<W>,
    pub(crate) store: Mutex<LocalStore>,
    pub(crate) ctx: Ctx,
    pub(crate) version: u64,
    pub(crate) trust: Trust,
    pub(crate) settings: &'a DaemonSettings,
    pub(crate) build_lock: &'a Mutex<()>,
    /// Builds at once, as the client last asked (`SetOptions`).
    pub(crate) jobs: usize,
    pub(crate) keep_going: bool,
    /// How to substitute, as the client last set it (`SetOptions`).
    pub(crate) substitution: SubstituterSettings,
    /// Which substitutes are accepted: the daemon's keys and `require-sigs`, as a trusted
    /// client last set them (`SetOptions`).
    pub(crate) signatures: SignaturePolicy,
    /// The caches of `substitution`, opened on first use (and again after it changes).
    pub(crate) substituters: Option<Arc<OpenSubstituters>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<R: Read, W: Write + Send> Conn<'_, R, W> {
    /// Sends a log message.
    pub(crate) fn log(&self, msg: &StderrMsg) -> Result<(), OpError> {
        let mut w = lock(&self.writer);
        msg.write(&mut *w, self.version)
            .and_then(|()| w.flush().map_err(WireError::Io))
            .map_err(|e| OpError::Protocol(e.into()))
    }

    /// Sends a line of text to the client's terminal.
    pub(crate) fn say(&self, text: impl Into<String>) -> Result<(), OpError> {
        self.log(&StderrMsg::Next(text.into()))
    }

    /// The connection's substituters, opened on first use.
    pub(crate) fn substituters(&mut self) -> Result<Arc<OpenSubstituters>, OpError> {
        if let Some(open) = &self.substituters {
            return Ok(Arc::clone(open));
        }
        let caches = self.substitution.open(&self.ctx.store)?;
        let open = Arc::new(OpenSubstituters::new(caches, &self.signatures));
        self.substituters = Some(Arc::clone(&open));
        Ok(open)
    }

    pub(crate) fn require_trust(&self, what: &'static str) -> Result<(), OpError> {
        match self.trust {
            Trust::Trusted => Ok(()),
            Trust::Allowed => Err(OpError::NotPrivileged(what)),
        }
    }
}

/// Serves one connection on `reader`/`writer` for a client judged `trust`, until it hangs
/// up. `session` names the connection's temporary roots; `build_lock` is shared by every
/// connection of the daemon.
pub fn serve_connection<R: Read, W: Write + Send>(
    reader: R,
    writer: W,
    settings: &DaemonSettings,
    trust: Trust,
    session: u64,
    build_lock: &Mutex<()>,
) -> Result<(), ConnectionError> {
    let store = LocalStore::open(settings.store.clone())?;
    store.begin_session(session);
    let mut reader = BufReader::new(reader);
    let mut writer = BufWriter::new(writer);
    let hello = server_handshake(&mut reader, &mut writer, &settings.nix_version)?;
    let ctx = Ctx {
        store: store.store_dir().clone(),
        limits: Limits::default(),
        minor: hello.negotiated.minor(),
    };
    let mut conn = Conn {
        reader,
        writer: Mutex::new(writer),
        store: Mutex::new(store),
        ctx,
        version: hello.negotiated.version,
        trust,
        settings,
        build_lock,
        jobs: settings.max_jobs,
        keep_going: false,
        substitution: settings.substitution.clone(),
        signatures: SignaturePolicy {
            trusted_keys: settings.trusted_public_keys.clone(),
            require_sigs: settings.require_sigs,
        },
        substituters: None,
    };
    let result = request_loop(&mut conn);
    let end = lock(&conn.store).end_session();
    result?;
    end?;
    Ok(())
}

fn request_loop<R: Read, W: Write + Send>(
    conn: &mut Conn<'_, R, W>,
) -> Result<(), ConnectionError> {
    loop {
        let request = match WorkerRequest::read(&mut conn.reader, &conn.ctx) {
            Ok(r) => r,
            // The client hung up between requests: the normal end.
            Err(ProtocolError::Wire(WireError::Truncated { .. })) => return Ok(()),
            Err(e @ (ProtocolError::UnknownOp { .. } | ProtocolError::UnsupportedOp { .. })) => {
                // Its arguments cannot be skipped without knowing them: say why, then end.
                let _ = send_error(conn, &e.to_string());
                return Err(e.into());
            }
            Err(e) => return Err(e.into()),
        };
        match crate::ops::handle(conn, request) {
            Ok(outcome) => {
                let mut w = lock(&conn.writer);
                StderrMsg::Last
                    .write(&mut *w, conn.version)
                    .map_err(ProtocolError::from)?;
                match outcome {
                    Outcome::Reply(reply) => reply
                        .write(&mut *w, &conn.ctx)
                        .map_err(ProtocolError::from)?,
                    Outcome::Nar(path) => {
                        let real = lock(&conn.store).real_path(&path);
                        nixkit_store::nar::dump_path(&real, &mut *w)
                            .map_err(|e| io::Error::other(e.to_string()))?;
                    }
                }
                w.flush()?;
            }
            Err(e) => {
                send_error(conn, &e.to_string())?;
                if e.ends_connection() {
                    return Err(match e {
                        OpError::Protocol(p) => p.into(),
                        _ => io::Error::other(e.to_string()).into(),
                    });
                }
            }
        }
    }
}

fn send_error<R: Read, W: Write + Send>(
    conn: &Conn<'_, R, W>,
    message: &str,
) -> Result<(), ConnectionError> {
    let msg = StderrMsg::Error(RemoteError {
        level: 0,
        message: message.to_owned(),
        traces: Vec::new(),
        status: 1,
    });
    let mut w = lock(&conn.writer);
    msg.write(&mut *w, conn.version)
        .map_err(ProtocolError::from)?;
    w.flush()?;
    Ok(())
}
