//! A Nix daemon as the commands' store: [`DaemonStore`] connects to a daemon's Unix socket
//! (`--store daemon`, `--store unix:///path/socket[?root=DIR&store=DIR]`,
//! `NIX_REMOTE=…`), CppNix's or nixkit's, and carries out [`StoreAccess`] and the
//! evaluator's [`EvalStore`] with worker protocol requests (`nixkit_protocol`'s
//! `WorkerClient`). The daemon's log (build output, messages) goes to standard error.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{self, Read, Seek, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use nixkit_eval::{EvalIo, EvalPath, EvalStore, EvalStoreError, FileIngestion, PathFilter};
use nixkit_protocol::worker::client::WorkerClient;
use nixkit_protocol::worker::stderr::{LogField, StderrMsg};
use nixkit_protocol::worker::types::{BuildMode, ClientSettings, DerivedPath, GcAction, GcOptions};
use nixkit_protocol::{HandshakeError, Limits};
use nixkit_sandbox::RealiseOptions;
use nixkit_store::local::LocalStore;
use nixkit_store::{FileIngestionMethod, HashAlgo, PathInfo, StoreDir, StorePath};

use super::access::{
    AccessError, GcOutcome, GcRequest, OutputMap, ProgressFn, StoreAccess, VerifyOutcome,
};
use super::StoreOptions;

/// Where CppNix's clients find the system daemon.
const DEFAULT_SOCKET: &str = "/nix/var/nix/daemon-socket/socket";

/// Why the daemon could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The store specification is malformed.
    #[error("invalid daemon store '{spec}': {reason}")]
    Spec {
        /// The specification.
        spec: String,
        /// What is wrong.
        reason: String,
    },
    /// The socket could not be connected to.
    #[error("cannot connect to socket at '{path}': {source}")]
    Socket {
        /// The socket.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The handshake failed or the daemon turned the client away.
    #[error("the daemon at '{path}': {source}")]
    Handshake {
        /// The socket.
        path: PathBuf,
        /// The underlying error.
        source: HandshakeError,
    },
    /// Sending the client's settings failed.
    #[error("the daemon at '{path}': {source}")]
    Settings {
        /// The socket.
        path: PathBuf,
        /// The underlying error.
        source: nixkit_protocol::ProtocolError,
    },
}

/// Where a daemon store specification points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonSpec {
    /// The daemon's socket.
    pub socket: PathBuf,
    /// The logical store directory (`store=`; default `/nix/store`).
    pub store_dir: StoreDir,
}

impl DaemonSpec {
    /// Reads `daemon` (the socket in `NIX_DAEMON_SOCKET_PATH`, else CppNix's default) or
    /// `unix://PATH[?PARAMS]`. `root=` (where the store's files are, as CppNix's clients
    /// use it) is accepted and not needed: everything goes through the socket.
    pub fn parse(spec: &str) -> Result<Self, ConnectError> {
        let bad = |reason: &str| ConnectError::Spec {
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        let (base, query) = spec.split_once('?').unwrap_or((spec, ""));
        let socket = if base == "daemon" {
            std::env::var_os("NIX_DAEMON_SOCKET_PATH")
                .filter(|s| !s.is_empty())
                .map_or_else(|| PathBuf::from(DEFAULT_SOCKET), PathBuf::from)
        } else if let Some(path) = base.strip_prefix("unix://") {
            if path.is_empty() {
                std::env::var_os("NIX_DAEMON_SOCKET_PATH")
                    .filter(|s| !s.is_empty())
                    .map_or_else(|| PathBuf::from(DEFAULT_SOCKET), PathBuf::from)
            } else if path.starts_with('/') {
                PathBuf::from(path)
            } else {
                return Err(bad("the socket path must be absolute"));
            }
        } else {
            return Err(bad("not a daemon store"));
        };
        let mut store_dir = StoreDir::default();
        for kv in query.split('&').filter(|kv| !kv.is_empty()) {
            match kv.split_once('=') {
                Some(("store", dir)) => {
                    store_dir = StoreDir::new(dir.to_owned())
                        .map_err(|e| bad(&format!("store directory: {e}")))?;
                }
                Some((_, _)) => {}
                None => return Err(bad(&format!("parameter '{kv}' has no value"))),
            }
        }
        Ok(Self { socket, store_dir })
    }
}

type Client = WorkerClient<UnixStream, UnixStream>;

/// A connection to a Nix daemon, used by one command.
pub struct DaemonStore {
    client: Mutex<Client>,
    dir: StoreDir,
    dir_text: String,
    /// Texts added by the evaluator (`builtins.toFile`), readable even where the daemon's
    /// store is not visible in this file system.
    texts: Mutex<HashMap<String, Vec<u8>>>,
}

impl std::fmt::Debug for DaemonStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaemonStore")
            .field("store_dir", &self.dir_text)
            .finish_non_exhaustive()
    }
}

/// Writes the daemon's log messages meant for the user to standard error, as CppNix's
/// client does at its default verbosity: one message a line, colours only on a terminal.
fn log_to_stderr(msg: &StderrMsg) {
    const BUILD_LOG_LINE: u64 = 101;
    const INFO: u64 = 3;
    let text = match msg {
        StderrMsg::Next(line) => line.as_str(),
        StderrMsg::StartActivity { level, text, .. } if *level <= INFO => text.as_str(),
        StderrMsg::Result { kind, fields, .. } if *kind == BUILD_LOG_LINE => match fields.first() {
            Some(LogField::String(line)) => line.as_str(),
            _ => return,
        },
        _ => return,
    };
    if text.is_empty() {
        return;
    }
    use std::io::IsTerminal;
    let err = io::stderr();
    let text = if err.is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        text.to_owned()
    } else {
        nixkit_eval::cli::strip_ansi_escapes(text)
    };
    let _ = writeln!(err.lock(), "{}", text.trim_end_matches('\n'));
}

fn file_error(context: String) -> impl FnOnce(io::Error) -> AccessError {
    move |source| AccessError::Io { context, source }
}

impl DaemonStore {
    /// Connects to the daemon `spec` names (see [`DaemonSpec::parse`]) and sends the
    /// default client settings, as CppNix's client does after the handshake.
    pub fn connect(spec: &str) -> Result<Arc<Self>, ConnectError> {
        Self::connect_with(spec, &[])
    }

    /// [`DaemonStore::connect`], sending `overrides` (settings given with `--option`, such
    /// as `narinfo-cache-negative-ttl`) for the daemon to apply to this connection.
    pub fn connect_with(
        spec: &str,
        overrides: &[(String, String)],
    ) -> Result<Arc<Self>, ConnectError> {
        let spec = DaemonSpec::parse(spec)?;
        let socket_err = |source| ConnectError::Socket {
            path: spec.socket.clone(),
            source,
        };
        let stream = UnixStream::connect(&spec.socket).map_err(socket_err)?;
        let reader = stream.try_clone().map_err(socket_err)?;
        let mut client =
            WorkerClient::connect(reader, stream, spec.store_dir.clone(), Limits::default())
                .map_err(|source| ConnectError::Handshake {
                    path: spec.socket.clone(),
                    source,
                })?;
        client.set_logger(Box::new(log_to_stderr));
        let settings = ClientSettings {
            overrides: overrides.to_vec(),
            ..ClientSettings::default()
        };
        client
            .set_options(&settings)
            .map_err(|source| ConnectError::Settings {
                path: spec.socket.clone(),
                source,
            })?;
        Ok(Arc::new(Self {
            client: Mutex::new(client),
            dir_text: spec.store_dir.as_str().to_owned(),
            dir: spec.store_dir,
            texts: Mutex::new(HashMap::new()),
        }))
    }

    fn client(&self) -> MutexGuard<'_, Client> {
        lock(&self.client)
    }

    fn parse(&self, p: &str) -> Result<StorePath, EvalStoreError> {
        self.dir
            .parse_path(p)
            .map_err(|_| EvalStoreError::NotInStore(p.to_owned()))
    }

    fn parse_all(&self, paths: &[String]) -> Result<BTreeSet<StorePath>, EvalStoreError> {
        paths.iter().map(|p| self.parse(p)).collect()
    }

    /// Uploads `src` (a file's contents, or a tree's NAR) as a content-addressed path.
    fn add_source(
        &self,
        name: &str,
        src: &Path,
        method: FileIngestionMethod,
        algo: HashAlgo,
    ) -> Result<StorePath, AccessError> {
        let (tag, mut data): (String, Box<dyn Read>) = match method {
            FileIngestionMethod::Flat => (
                format!("fixed:{algo}"),
                Box::new(io::BufReader::new(
                    std::fs::File::open(src)
                        .map_err(file_error(format!("opening '{}'", src.display())))?,
                )),
            ),
            FileIngestionMethod::Recursive => {
                let context = format!("reading '{}'", src.display());
                let mut file = tempfile::tempfile().map_err(file_error(context.clone()))?;
                {
                    let mut w = io::BufWriter::new(&mut file);
                    nixkit_store::nar::dump_path(src, &mut w)?;
                    w.flush().map_err(file_error(context.clone()))?;
                }
                file.rewind().map_err(file_error(context))?;
                (
                    format!("fixed:r:{algo}"),
                    Box::new(io::BufReader::new(file)),
                )
            }
        };
        let info = self
            .client()
            .add_to_store(name, &tag, &BTreeSet::new(), false, &mut data)?;
        Ok(info.path)
    }

    /// Creates the symlink `link` to `path` and has the daemon register it as an
    /// indirect root.
    fn add_root(&self, path: &StorePath, link: &Path) -> Result<(), AccessError> {
        let target = self.dir.print_path(path);
        let context = || format!("making the root '{}'", link.display());
        match std::fs::symlink_metadata(link) {
            Ok(m) if m.file_type().is_symlink() => {
                std::fs::remove_file(link).map_err(file_error(context()))?
            }
            Ok(_) => {
                return Err(AccessError::Io {
                    context: context(),
                    source: io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "it exists and is not a symlink",
                    ),
                })
            }
            Err(_) => {}
        }
        std::os::unix::fs::symlink(&target, link).map_err(file_error(context()))?;
        let abs = if link.is_absolute() {
            link.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(file_error(context()))?
                .join(link)
        };
        Ok(self.client().add_indirect_root(&abs.to_string_lossy())?)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn protocol(e: nixkit_protocol::ProtocolError) -> EvalStoreError {
    EvalStoreError::backend(e)
}

impl EvalStore for DaemonStore {
    fn store_dir(&self) -> &str {
        &self.dir_text
    }

    fn add_path(
        &self,
        _io: &dyn EvalIo,
        path: EvalPath<'_>,
        name: &str,
        method: FileIngestion,
        filter: PathFilter<'_>,
    ) -> Result<String, EvalStoreError> {
        let (method, src) = nixkit_eval::local_store::source_to_add(path, method, filter)?;
        let added = self
            .add_source(name, &src, method, HashAlgo::Sha256)
            .map_err(EvalStoreError::backend)?;
        Ok(self.dir.print_path(&added))
    }

    fn add_text(
        &self,
        name: &str,
        text: &str,
        references: &[String],
    ) -> Result<String, EvalStoreError> {
        let refs = self.parse_all(references)?;
        let bytes = nixkit_syntax::encode_bytes(text);
        let p = self
            .client()
            .add_text_to_store(name, &bytes, &refs)
            .map_err(protocol)?;
        let printed = self.dir.print_path(&p);
        lock(&self.texts).insert(printed.clone(), bytes.into_owned());
        Ok(printed)
    }

    fn write_derivation(
        &self,
        drv_path: &str,
        aterm: &str,
        references: &[String],
    ) -> Result<(), EvalStoreError> {
        let expected = self.parse(drv_path)?;
        let refs = self.parse_all(references)?;
        let p = self
            .client()
            .add_text_to_store(expected.name(), aterm.as_bytes(), &refs)
            .map_err(protocol)?;
        if p != expected {
            return Err(EvalStoreError::DerivationPath {
                expected: drv_path.to_owned(),
                written: self.dir.print_path(&p),
            });
        }
        lock(&self.texts).insert(drv_path.to_owned(), aterm.as_bytes().to_vec());
        Ok(())
    }

    fn read_derivation(&self, drv_path: &str) -> Result<Option<String>, EvalStoreError> {
        if let Some(text) = lock(&self.texts).get(drv_path) {
            return Ok(Some(String::from_utf8_lossy(text).into_owned()));
        }
        let p = self.parse(drv_path)?;
        let mut client = self.client();
        if !client.is_valid_path(&p).map_err(protocol)? {
            return Ok(None);
        }
        let mut nar = Vec::new();
        client.nar_from_path(&p, &mut nar).map_err(protocol)?;
        drop(client);
        let tmp = tempfile::tempdir().map_err(EvalStoreError::backend)?;
        let file = tmp.path().join("drv");
        nixkit_store::nar::restore_path(&mut nar.as_slice(), &file)
            .map_err(EvalStoreError::backend)?;
        std::fs::read_to_string(&file)
            .map(Some)
            .map_err(EvalStoreError::backend)
    }

    fn query_references(&self, path: &str) -> Result<Option<Vec<String>>, EvalStoreError> {
        let p = self.parse(path)?;
        let info = self.client().query_path_info(&p).map_err(protocol)?;
        Ok(info.map(|i| {
            i.references
                .iter()
                .map(|r| self.dir.print_path(r))
                .collect()
        }))
    }

    fn read_unwritten(&self, path: &str) -> Option<Vec<u8>> {
        lock(&self.texts).get(path).cloned()
    }

    fn add_perm_root(&self, path: &str, root: &str) -> Result<String, EvalStoreError> {
        let p = self.parse(path)?;
        self.add_root(&p, Path::new(root))
            .map_err(EvalStoreError::backend)?;
        Ok(root.to_owned())
    }

    fn is_valid_path(&self, path: &str) -> bool {
        self.parse(path)
            .ok()
            .is_some_and(|p| self.client().is_valid_path(&p).unwrap_or(false))
    }
}

impl StoreAccess for Arc<DaemonStore> {
    fn store_dir(&self) -> &StoreDir {
        &self.dir
    }

    fn eval_store(&self) -> Arc<dyn EvalStore> {
        self.clone()
    }

    fn local(&self) -> Option<MutexGuard<'_, LocalStore>> {
        None
    }

    fn query_path_info(&self, path: &StorePath) -> Result<Option<PathInfo>, AccessError> {
        Ok(self.client().query_path_info(path)?)
    }

    fn is_valid(&self, path: &StorePath) -> Result<bool, AccessError> {
        Ok(self.client().is_valid_path(path)?)
    }

    fn query_referrers(&self, path: &StorePath) -> Result<BTreeSet<StorePath>, AccessError> {
        Ok(self.client().query_referrers(path)?)
    }

    fn query_derivation_outputs(
        &self,
        drv: &StorePath,
    ) -> Result<BTreeMap<String, StorePath>, AccessError> {
        Ok(self
            .client()
            .query_derivation_output_map(drv)?
            .into_iter()
            .filter_map(|(name, path)| Some((name, path?)))
            .collect())
    }

    fn add_file(
        &self,
        name: &str,
        src: &Path,
        method: FileIngestionMethod,
        algo: HashAlgo,
    ) -> Result<StorePath, AccessError> {
        self.add_source(name, src, method, algo)
    }

    fn verify(&self, check_contents: bool) -> Result<VerifyOutcome, AccessError> {
        let errors = self.client().verify_store(check_contents, false)?;
        Ok(VerifyOutcome {
            ok: !errors,
            messages: Vec::new(),
        })
    }

    fn find_roots(&self) -> Result<Vec<(String, StorePath)>, AccessError> {
        Ok(self.client().find_roots()?)
    }

    fn collect_garbage(
        &self,
        request: GcRequest,
        max_freed: Option<u64>,
    ) -> Result<GcOutcome, AccessError> {
        let action = match request {
            GcRequest::Live => GcAction::ReturnLive,
            GcRequest::Dead => GcAction::ReturnDead,
            GcRequest::Collect => GcAction::DeleteDead,
        };
        gc(self, action, BTreeSet::new(), max_freed)
    }

    fn delete_paths(&self, paths: &BTreeSet<StorePath>) -> Result<GcOutcome, AccessError> {
        gc(self, GcAction::DeleteSpecific, paths.clone(), None)
    }

    fn nar(&self, path: &StorePath, out: &mut dyn Write) -> Result<(), AccessError> {
        let mut out = io::BufWriter::with_capacity(1 << 16, out);
        self.client().nar_from_path(path, &mut out)?;
        out.flush()
            .map_err(file_error("writing standard output".into()))
    }

    fn dump(&self, path: &Path, out: &mut dyn Write) -> Result<(), AccessError> {
        let text = path.to_string_lossy();
        let p = self
            .dir
            .parse_path(&text)
            .map_err(|_| AccessError::NotInStore(text.into_owned()))?;
        self.nar(&p, out)
    }

    fn import(&self, input: &mut dyn Read) -> Result<Vec<StorePath>, AccessError> {
        let mut input = io::BufReader::with_capacity(1 << 16, input);
        Ok(self
            .client()
            .import_paths(&mut input)?
            .into_iter()
            .collect())
    }

    fn realise(
        &self,
        path: &StorePath,
        _options: &StoreOptions,
        _log: &mut dyn Write,
    ) -> Result<Vec<StorePath>, AccessError> {
        if path.name().ends_with(".drv") {
            let target = DerivedPath::Built {
                drv: path.clone(),
                outputs: vec!["*".into()],
            };
            self.client().build_paths(&[target], BuildMode::Normal)?;
            Ok(self.query_derivation_outputs(path)?.into_values().collect())
        } else {
            self.client()
                .build_paths(&[DerivedPath::Opaque(path.clone())], BuildMode::Normal)?;
            Ok(vec![path.clone()])
        }
    }

    fn build(
        &self,
        drvs: &[StorePath],
        options: &RealiseOptions,
        _progress: ProgressFn<'_>,
    ) -> Result<OutputMap, AccessError> {
        let settings = ClientSettings {
            keep_failed: options.settings.keep_failed,
            keep_going: options.keep_going,
            max_build_jobs: options.jobs as u64,
            max_silent_time: options.settings.max_silent_time.map_or(0, |d| d.as_secs()),
            ..ClientSettings::default()
        };
        let targets: Vec<DerivedPath> = drvs
            .iter()
            .map(|d| DerivedPath::Built {
                drv: d.clone(),
                outputs: vec!["*".into()],
            })
            .collect();
        let mode = if options.check {
            BuildMode::Check
        } else {
            BuildMode::Normal
        };
        {
            let mut client = self.client();
            client.set_options(&settings)?;
            client.build_paths(&targets, mode)?;
        }
        let mut out = OutputMap::new();
        for d in drvs {
            out.insert(d.clone(), self.query_derivation_outputs(d)?);
        }
        Ok(out)
    }

    fn add_perm_root(&self, path: &StorePath, link: &Path) -> Result<(), AccessError> {
        self.add_root(path, link)
    }
}

fn gc(
    store: &DaemonStore,
    action: GcAction,
    paths_to_delete: BTreeSet<StorePath>,
    max_freed: Option<u64>,
) -> Result<GcOutcome, AccessError> {
    let r = store.client().collect_garbage(&GcOptions {
        action,
        paths_to_delete,
        ignore_liveness: false,
        max_freed: max_freed.unwrap_or(u64::MAX),
    })?;
    Ok(GcOutcome {
        paths: r.paths,
        bytes_freed: r.bytes_freed,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::DaemonSpec;

    #[test]
    fn daemon_specs_name_a_socket_and_a_store_directory() {
        let s = DaemonSpec::parse("unix:///run/x/socket?root=/r&store=/gnu/store").unwrap();
        assert_eq!(s.socket, std::path::Path::new("/run/x/socket"));
        assert_eq!(s.store_dir.as_str(), "/gnu/store");
        let s = DaemonSpec::parse("unix:///s").unwrap();
        assert_eq!(s.store_dir.as_str(), "/nix/store");
        assert!(DaemonSpec::parse("unix://relative/s").is_err());
        assert!(DaemonSpec::parse("unix:///s?root").is_err());
        assert!(DaemonSpec::parse("ssh://host").is_err());
        assert!(DaemonSpec::parse("daemon").is_ok());
    }
}
