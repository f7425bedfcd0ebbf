//! How the commands reach a store: [`StoreAccess`], the operations `nix-store`,
//! `nix-instantiate` and `nix-build` need, with two implementations — [`LocalAccess`]
//! (nixkit's SQLite store, opened directly) and
//! [`DaemonStore`] (a Nix daemon, CppNix's or nixkit's, over
//! its Unix socket). [`open_access`] picks one from `--store` or `NIX_REMOTE`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::{Arc, MutexGuard};

use nixkit_eval::local_store::LocalEvalStore;
use nixkit_eval::EvalStore;
use nixkit_protocol::ProtocolError;
use nixkit_sandbox::{Event, RealiseError, RealiseOptions};
use nixkit_store::local::{GcOptions, LocalStore, OpenError};
use nixkit_store::{FileIngestionMethod, HashAlgo, PathInfo, StoreDir, StorePath};

use super::daemon::{ConnectError, DaemonStore};
use super::{open_store, StoreOptions};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// A query of the local store failed (its database, a corrupt entry).
    #[error(transparent)]
    Query(#[from] nixkit_store::local::QueryError),
    /// Adding a path to the local store failed.
    #[error(transparent)]
    Add(#[from] nixkit_store::local::AddError),
    /// Verifying the local store failed.
    #[error(transparent)]
    Verify(#[from] nixkit_store::local::VerifyError),
    /// Garbage collection, deleting paths or making a root failed.
    #[error(transparent)]
    Gc(#[from] nixkit_store::local::GcError),
    /// Serialising a path as a NAR failed.
    #[error(transparent)]
    Dump(#[from] nixkit_store::nar::DumpError),
    /// Exporting paths failed (`--export`).
    #[error(transparent)]
    Export(#[from] nixkit_store::export::ExportError),
    /// Importing paths failed (`--import`).
    #[error(transparent)]
    Import(#[from] nixkit_store::export::ImportError),
    /// The store's options (substituters, keys) are not usable.
    #[error(transparent)]
    Options(#[from] super::StoreOptionsError),
    /// Substitution failed.
    #[error(transparent)]
    Substitute(#[from] nixkit_sandbox::SubstituteError),
    /// Writing the output stream failed.
    #[error("writing the output: {0}")]
    Output(#[source] io::Error),
    /// The daemon refused the operation or the connection broke.
    #[error(transparent)]
    Daemon(#[from] ProtocolError),
    /// Building or substituting failed.
    #[error(transparent)]
    Realise(#[from] RealiseError),
    /// The operation is nixkit's own and works on a local store only.
    #[error("'{0}' needs a local store; it is not available through the daemon")]
    LocalOnly(&'static str),
    /// A path given is not a store path.
    #[error("path '{0}' is not in the Nix store")]
    NotInStore(String),
    /// A file of the client could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
}

/// The result of `--verify`.
#[derive(Debug, Clone, Default)]
pub struct VerifyOutcome {
    /// Nothing was found wrong.
    pub ok: bool,
    /// The problems found (a daemon logs its own instead).
    pub messages: Vec<String>,
}

/// What a garbage collection did.
#[derive(Debug, Clone, Default)]
pub struct GcOutcome {
    /// The paths deleted (or, for the listing actions, listed), printed.
    pub paths: Vec<String>,
    /// Bytes freed.
    pub bytes_freed: u64,
}

/// What to ask of the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcRequest {
    /// List the live paths.
    Live,
    /// List the dead paths.
    Dead,
    /// Delete the dead paths.
    Collect,
}

/// Output paths by derivation and output name.
pub type OutputMap = BTreeMap<StorePath, BTreeMap<String, StorePath>>;

/// Receives build progress (local builds only: a daemon's log is written to standard error).
pub type ProgressFn<'a> = &'a (dyn Fn(Event<'_>) + Sync);

/// The store operations of the commands.
pub trait StoreAccess: Send + Sync {
    /// The logical store directory.
    fn store_dir(&self) -> &StoreDir;
    /// The store as the evaluator uses it (writing `.drv` files, adding sources).
    fn eval_store(&self) -> Arc<dyn EvalStore>;
    /// The local store, for nixkit's own operations that need one; `None` for a daemon.
    fn local(&self) -> Option<MutexGuard<'_, LocalStore>>;
    /// A valid path's info; `None` if it is not valid.
    fn query_path_info(&self, path: &StorePath) -> Result<Option<PathInfo>, AccessError>;
    /// Whether `path` is valid.
    fn is_valid(&self, path: &StorePath) -> Result<bool, AccessError> {
        Ok(self.query_path_info(path)?.is_some())
    }
    /// The valid paths that refer to `path`.
    fn query_referrers(&self, path: &StorePath) -> Result<BTreeSet<StorePath>, AccessError>;
    /// The known output paths of the derivation `drv`.
    fn query_derivation_outputs(
        &self,
        drv: &StorePath,
    ) -> Result<BTreeMap<String, StorePath>, AccessError>;
    /// The closure of `paths` under references.
    fn query_closure(
        &self,
        paths: &BTreeSet<StorePath>,
    ) -> Result<BTreeSet<StorePath>, AccessError> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<StorePath> = paths.iter().cloned().collect();
        while let Some(p) = todo.pop() {
            if seen.contains(&p) {
                continue;
            }
            let info = self
                .query_path_info(&p)?
                .ok_or_else(|| AccessError::NotInStore(self.store_dir().print_path(&p)))?;
            todo.extend(info.references.into_iter().filter(|r| !seen.contains(r)));
            seen.insert(p);
        }
        Ok(seen)
    }
    /// `paths` with every path after the paths (in the set) it refers to.
    fn topo_sort(&self, paths: &BTreeSet<StorePath>) -> Result<Vec<StorePath>, AccessError> {
        nixkit_store::topo_sort(paths, |p| {
            Ok(self
                .query_path_info(p)?
                .map(|i| i.references.into_iter().collect())
                .unwrap_or_default())
        })
    }
    /// Adds the file or tree `src` as `name` (`--add`, `--add-fixed`).
    fn add_file(
        &self,
        name: &str,
        src: &Path,
        method: FileIngestionMethod,
        algo: HashAlgo,
    ) -> Result<StorePath, AccessError>;
    /// Checks the store (`--verify`).
    fn verify(&self, check_contents: bool) -> Result<VerifyOutcome, AccessError>;
    /// The roots: (link or `{temp:PID}`, target).
    fn find_roots(&self) -> Result<Vec<(String, StorePath)>, AccessError>;
    /// Garbage collection, or listing live or dead paths.
    fn collect_garbage(
        &self,
        request: GcRequest,
        max_freed: Option<u64>,
    ) -> Result<GcOutcome, AccessError>;
    /// Deletes `paths` (each must be dead).
    fn delete_paths(&self, paths: &BTreeSet<StorePath>) -> Result<GcOutcome, AccessError>;
    /// Writes the NAR of the valid store path `path` to `out`.
    fn nar(&self, path: &StorePath, out: &mut dyn Write) -> Result<(), AccessError>;
    /// Writes the NAR of `path` (a store path, or for a local store any file) to `out`.
    fn dump(&self, path: &Path, out: &mut dyn Write) -> Result<(), AccessError>;
    /// Writes `paths` (references first) in the export format to `out`.
    fn export(&self, paths: &BTreeSet<StorePath>, out: &mut dyn Write) -> Result<(), AccessError> {
        let mut out = io::BufWriter::with_capacity(1 << 16, out);
        for path in self.topo_sort(paths)? {
            let info = self
                .query_path_info(&path)?
                .ok_or_else(|| AccessError::NotInStore(self.store_dir().print_path(&path)))?;
            nixkit_store::export::write_export_record(
                self.store_dir(),
                &info,
                &mut out,
                &mut |w| {
                    self.nar(&path, w)
                        .map_err(|e| nixkit_store::export::ExportError::Source(Box::new(e)))
                },
            )?;
        }
        nixkit_store::export::write_export_end(&mut out)?;
        out.flush().map_err(AccessError::Output)
    }
    /// Imports a `--export` stream; returns the imported paths.
    fn import(&self, input: &mut dyn Read) -> Result<Vec<StorePath>, AccessError>;
    /// Makes `path` valid (substituting or building it; a `.drv` stands for its outputs,
    /// which are returned), writing what happens to `log`.
    fn realise(
        &self,
        path: &StorePath,
        options: &StoreOptions,
        log: &mut dyn Write,
    ) -> Result<Vec<StorePath>, AccessError>;
    /// Builds the derivations `drvs` with `options`; returns every target's outputs.
    fn build(
        &self,
        drvs: &[StorePath],
        options: &RealiseOptions,
        progress: ProgressFn<'_>,
    ) -> Result<OutputMap, AccessError>;
    /// Creates the symlink `link` to `path` and registers it as a root.
    fn add_perm_root(&self, path: &StorePath, link: &Path) -> Result<(), AccessError>;
}

/// Why no store could be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenAccessError {
    /// The local store did not open.
    #[error(transparent)]
    Local(#[from] OpenError),
    /// The daemon could not be reached.
    #[error(transparent)]
    Daemon(#[from] ConnectError),
}

/// True if `spec` names a daemon (`daemon`, `unix://…`).
pub fn is_daemon_spec(spec: &str) -> bool {
    spec == "daemon" || spec.starts_with("unix://")
}

/// The store `options` name: `--store`, else `NIX_REMOTE` when it names a daemon, else
/// the local store of [`open_store`].
pub fn open_access(options: &StoreOptions) -> Result<Box<dyn StoreAccess>, OpenAccessError> {
    let spec = options.store.clone().or_else(|| {
        std::env::var("NIX_REMOTE")
            .ok()
            .filter(|s| is_daemon_spec(s))
    });
    match spec {
        Some(spec) if is_daemon_spec(&spec) => Ok(Box::new(DaemonStore::connect_with(
            &spec,
            &options.overrides,
        )?)),
        spec => Ok(Box::new(LocalAccess::new(open_store(&StoreOptions {
            store: spec,
            ..options.clone()
        })?))),
    }
}

/// nixkit's local store.
pub struct LocalAccess {
    store: Arc<LocalEvalStore>,
    dir: StoreDir,
}

impl LocalAccess {
    /// Wraps an open local store.
    pub fn new(store: LocalStore) -> Self {
        let dir = store.store_dir().clone();
        Self {
            store: Arc::new(LocalEvalStore::new(store)),
            dir,
        }
    }

    fn lock(&self) -> MutexGuard<'_, LocalStore> {
        self.store.lock()
    }
}

fn gc_outcome(dir: &StoreDir, r: nixkit_store::local::GcResult) -> GcOutcome {
    GcOutcome {
        paths: r.deleted.iter().map(|p| dir.print_path(p)).collect(),
        bytes_freed: r.bytes_freed,
    }
}

impl StoreAccess for LocalAccess {
    fn store_dir(&self) -> &StoreDir {
        &self.dir
    }

    fn eval_store(&self) -> Arc<dyn EvalStore> {
        self.store.clone()
    }

    fn local(&self) -> Option<MutexGuard<'_, LocalStore>> {
        Some(self.lock())
    }

    fn query_path_info(&self, path: &StorePath) -> Result<Option<PathInfo>, AccessError> {
        self.lock().query_path_info(path).map_err(AccessError::from)
    }

    fn is_valid(&self, path: &StorePath) -> Result<bool, AccessError> {
        self.lock().is_valid(path).map_err(AccessError::from)
    }

    fn query_referrers(&self, path: &StorePath) -> Result<BTreeSet<StorePath>, AccessError> {
        self.lock().query_referrers(path).map_err(AccessError::from)
    }

    fn query_derivation_outputs(
        &self,
        drv: &StorePath,
    ) -> Result<BTreeMap<String, StorePath>, AccessError> {
        self.lock()
            .query_derivation_outputs(drv)
            .map_err(AccessError::from)
    }

    fn query_closure(
        &self,
        paths: &BTreeSet<StorePath>,
    ) -> Result<BTreeSet<StorePath>, AccessError> {
        self.lock().query_closure(paths).map_err(AccessError::from)
    }

    fn topo_sort(&self, paths: &BTreeSet<StorePath>) -> Result<Vec<StorePath>, AccessError> {
        self.lock().topo_sort(paths).map_err(AccessError::from)
    }

    fn add_file(
        &self,
        name: &str,
        src: &Path,
        method: FileIngestionMethod,
        algo: HashAlgo,
    ) -> Result<StorePath, AccessError> {
        self.lock()
            .add_to_store(name, src, method, algo)
            .map_err(AccessError::from)
    }

    fn verify(&self, check_contents: bool) -> Result<VerifyOutcome, AccessError> {
        let store = self.lock();
        let report = store.verify(check_contents)?;
        Ok(VerifyOutcome {
            ok: report.is_ok(),
            messages: report.messages(&store),
        })
    }

    fn find_roots(&self) -> Result<Vec<(String, StorePath)>, AccessError> {
        Ok(self
            .lock()
            .find_roots()?
            .into_iter()
            .map(|(root, path)| (root.to_string(), path))
            .collect())
    }

    fn collect_garbage(
        &self,
        request: GcRequest,
        max_freed: Option<u64>,
    ) -> Result<GcOutcome, AccessError> {
        let store = self.lock();
        let opts = GcOptions {
            max_freed,
            ..GcOptions::default()
        };
        let listed = |paths: BTreeSet<StorePath>| GcOutcome {
            paths: paths.iter().map(|p| self.dir.print_path(p)).collect(),
            bytes_freed: 0,
        };
        match request {
            GcRequest::Live => Ok(listed(store.live_paths(&opts)?)),
            GcRequest::Dead => Ok(listed(store.dead_paths(&opts)?)),
            GcRequest::Collect => Ok(gc_outcome(&self.dir, store.collect_garbage(&opts)?)),
        }
    }

    fn delete_paths(&self, paths: &BTreeSet<StorePath>) -> Result<GcOutcome, AccessError> {
        let r = self.lock().delete_paths(paths)?;
        Ok(gc_outcome(&self.dir, r))
    }

    fn nar(&self, path: &StorePath, out: &mut dyn Write) -> Result<(), AccessError> {
        let real = self.lock().real_path(path);
        self.dump(&real, out)
    }

    fn dump(&self, path: &Path, out: &mut dyn Write) -> Result<(), AccessError> {
        let mut out = io::BufWriter::with_capacity(1 << 16, out);
        nixkit_store::nar::dump_path(path, &mut out)?;
        out.flush().map_err(AccessError::Output)
    }

    fn import(&self, input: &mut dyn Read) -> Result<Vec<StorePath>, AccessError> {
        let store = self.lock();
        let mut input = io::BufReader::with_capacity(1 << 16, input);
        let paths = nixkit_store::export::import_paths(&store, &mut input)?;
        for p in &paths {
            super::record_derivation_outputs(&store, p);
        }
        Ok(paths.into_iter().collect())
    }

    fn realise(
        &self,
        path: &StorePath,
        options: &StoreOptions,
        log: &mut dyn Write,
    ) -> Result<Vec<StorePath>, AccessError> {
        let store = self.lock();
        let mut substitution = RealiseOptions::default();
        options.configure_substitution(&self.dir, &mut substitution)?;
        let wanted = if path.name().ends_with(".drv") && store.is_valid(path)? {
            store
                .query_derivation_outputs(path)?
                .into_values()
                .collect()
        } else {
            vec![path.clone()]
        };
        for w in &wanted {
            if !store.is_valid(w)? {
                let (from, added) = nixkit_sandbox::substitute_path(&store, w, &substitution)?;
                for a in &added {
                    super::record_derivation_outputs(&store, a);
                    let _ = writeln!(
                        log,
                        "copying path '{}' from '{from}'...",
                        self.dir.print_path(a)
                    );
                }
            }
        }
        Ok(wanted)
    }

    fn build(
        &self,
        drvs: &[StorePath],
        options: &RealiseOptions,
        progress: ProgressFn<'_>,
    ) -> Result<OutputMap, AccessError> {
        Ok(nixkit_sandbox::realise(self.store.mutex(), drvs, options, progress)?.outputs)
    }

    fn add_perm_root(&self, path: &StorePath, link: &Path) -> Result<(), AccessError> {
        self.lock()
            .add_perm_root(path, link)
            .map_err(AccessError::from)
    }
}
