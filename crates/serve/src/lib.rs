//! `nixkit serve`: an HTTP binary cache over a local store, as `nix-serve` and harmonia
//! provide for CppNix. `/nix-cache-info`; `/<hash>.narinfo`, signed with the cache's key when
//! one is given; `/nar/<narhash>.nar` (also `.nar.xz`, `.nar.zst`, `.nar.bz2`, compressed on
//! the fly) streamed from the store's file system through a bounded channel, never whole in
//! memory or in a temporary file; `/log/<drv>` for build logs. GET and HEAD, keep-alive, many
//! concurrent clients (axum on tokio; store queries and NAR dumps run on tokio's blocking
//! pool). With an upload token, `PUT` of NARs and narinfos adds verified paths to the store
//! (`upload.rs`).

mod routes;
mod stream;
mod upload;

pub mod cli;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nixkit_store::binary_cache::SecretKey;
use nixkit_store::local::{LocalStore, OpenError, StoreConfig};
use nixkit_store::{Hash, StoreDir, StorePath};

/// How to serve.
#[derive(Debug)]
pub struct ServeConfig {
    /// The store to serve.
    pub store: StoreConfig,
    /// The key narinfos are signed with (their existing signatures are kept too).
    pub sign_key: Option<SecretKey>,
    /// The `Priority` announced in `nix-cache-info` (CppNix's default is 50; nix-serve's 30).
    pub priority: u32,
    /// Accept `PUT` uploads from clients presenting this token (none: uploads are refused).
    pub upload_token: Option<String>,
    /// The largest NAR file an upload may send.
    pub max_upload_size: u64,
    /// How long a response body may wait for its client to take more bytes before the
    /// connection is given up (a client that stopped reading frees its producer).
    pub send_timeout: Duration,
    /// Threads of the pool that runs store queries and uploads' restores (tokio's
    /// blocking pool; response bodies are produced on threads of their own).
    pub blocking_threads: usize,
    /// Response bodies (NARs, logs) produced at once, each on a thread of its own with up
    /// to half a MiB of chunks waiting for its client: a bound on what clients that open
    /// many downloads and stop reading can hold.
    pub max_streams: usize,
    /// How long a request for a body waits for one of the [`ServeConfig::max_streams`] to
    /// end before it is answered 503 (Service Unavailable, with `Retry-After`).
    pub stream_wait: Duration,
    /// `WantMassQuery` announced in `nix-cache-info` (default true, as nix-serve and
    /// harmonia): whether clients may ask this cache about many paths at once.
    pub want_mass_query: bool,
    /// Print a line per request (method, path, status) on standard error.
    pub access_log: bool,
}

/// The default [`ServeConfig::max_upload_size`]: 16 GiB.
pub const DEFAULT_MAX_UPLOAD_SIZE: u64 = 16 << 30;
/// The default [`ServeConfig::send_timeout`]: 300 s, CppNix's `stalled-download-timeout`
/// seen from the other side.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(300);
/// The default [`ServeConfig::blocking_threads`] (tokio's).
pub const DEFAULT_BLOCKING_THREADS: usize = 512;
/// The default [`ServeConfig::max_streams`].
pub const DEFAULT_MAX_STREAMS: usize = 1024;
/// The default [`ServeConfig::stream_wait`].
pub const DEFAULT_STREAM_WAIT: Duration = Duration::from_secs(30);

impl ServeConfig {
    /// Serving `store` unsigned, with the defaults (priority 30 as nix-serve, no uploads).
    pub fn new(store: StoreConfig) -> Self {
        Self {
            store,
            sign_key: None,
            priority: 30,
            upload_token: None,
            max_upload_size: DEFAULT_MAX_UPLOAD_SIZE,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            blocking_threads: DEFAULT_BLOCKING_THREADS,
            max_streams: DEFAULT_MAX_STREAMS,
            stream_wait: DEFAULT_STREAM_WAIT,
            want_mass_query: true,
            access_log: false,
        }
    }
}

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The address could not be listened on.
    #[error("cannot listen on '{addr}': {source}")]
    Listen {
        /// The address asked for.
        addr: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The async runtime could not be started or the server failed.
    #[error("HTTP server: {0}")]
    Runtime(std::io::Error),
}

/// What the request handlers share.
pub(crate) struct AppState {
    pub(crate) store: Mutex<LocalStore>,
    pub(crate) store_dir: StoreDir,
    pub(crate) real_store: PathBuf,
    pub(crate) log_dir: PathBuf,
    pub(crate) sign_key: Option<SecretKey>,
    pub(crate) priority: u32,
    /// NAR hash → path of the narinfos served so far, so the NAR request that follows a
    /// narinfo needs no scan of the database (which has no index on NAR hashes).
    pub(crate) by_nar_hash: Mutex<HashMap<Hash, StorePath>>,
    /// Upload settings and staged NARs, when uploads are enabled.
    pub(crate) uploads: Option<upload::Uploads>,
    /// [`ServeConfig::send_timeout`].
    pub(crate) send_timeout: Duration,
    /// One permit per response body being produced ([`ServeConfig::max_streams`]).
    pub(crate) streams: Arc<tokio::sync::Semaphore>,
    /// [`ServeConfig::stream_wait`].
    pub(crate) stream_wait: Duration,
    /// [`ServeConfig::want_mass_query`].
    pub(crate) want_mass_query: bool,
    /// [`ServeConfig::access_log`].
    pub(crate) access_log: bool,
}

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    state: Arc<AppState>,
    blocking_threads: usize,
}

impl Server {
    /// Opens the store and binds `addr` (`127.0.0.1:0` picks a free port; see
    /// [`Server::local_addr`]).
    pub fn bind(addr: &str, config: ServeConfig) -> Result<Self, ServeError> {
        let listen_err = |source| ServeError::Listen {
            addr: addr.to_owned(),
            source,
        };
        let store = LocalStore::open(config.store)?;
        let listener = TcpListener::bind(addr).map_err(listen_err)?;
        listener.set_nonblocking(true).map_err(listen_err)?;
        // Where nixkit's (and CppNix's) builds keep their logs: `<state>/../log/nix/drvs`.
        let log_dir = store
            .state_dir()
            .parent()
            .unwrap_or(store.state_dir())
            .join("log/nix/drvs");
        let uploads = match config.upload_token {
            Some(token) => Some(
                upload::Uploads::new(token, config.max_upload_size, store.state_dir())
                    .map_err(ServeError::Runtime)?,
            ),
            None => None,
        };
        let state = AppState {
            store_dir: store.store_dir().clone(),
            real_store: store.real_store_dir().to_path_buf(),
            log_dir,
            store: Mutex::new(store),
            sign_key: config.sign_key,
            priority: config.priority,
            by_nar_hash: Mutex::new(HashMap::new()),
            uploads,
            send_timeout: config.send_timeout,
            streams: Arc::new(tokio::sync::Semaphore::new(config.max_streams.max(1))),
            stream_wait: config.stream_wait,
            want_mass_query: config.want_mass_query,
            access_log: config.access_log,
        };
        Ok(Self {
            listener,
            state: Arc::new(state),
            blocking_threads: config.blocking_threads.max(1),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        self.listener.local_addr().map_err(ServeError::Runtime)
    }

    /// Serves until the process ends (or the listener fails).
    pub fn run(self) -> Result<(), ServeError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .max_blocking_threads(self.blocking_threads)
            .build()
            .map_err(ServeError::Runtime)?;
        let result = runtime.block_on(async move {
            let listener =
                tokio::net::TcpListener::from_std(self.listener).map_err(ServeError::Runtime)?;
            let app = routes::router(self.state);
            axum::serve(listener, app)
                .await
                .map_err(ServeError::Runtime)
        });
        // Not shut down: response bodies' producers, on threads of their own, may still be
        // waiting on its timers (a timer of a shut-down runtime panics). The server has
        // failed; the caller reports it and the process ends.
        std::mem::forget(runtime);
        result
    }

    /// Runs the server on a thread of its own (for tests and embedding); returns its address.
    pub fn spawn(self) -> Result<SocketAddr, ServeError> {
        let addr = self.local_addr()?;
        std::thread::Builder::new()
            .name("nixkit-serve".to_owned())
            .spawn(move || self.run())
            .map_err(ServeError::Runtime)?;
        Ok(addr)
    }
}
