//! The local store: a logical store directory (`/nix/store` by default, always a setting)
//! whose files live under a configurable physical root, with a SQLite database in CppNix's
//! schema. Laid out as CppNix's `local?root=ROOT` store: files in `ROOT<store dir>`, state
//! (database, GC roots, profiles, temporary roots) in `ROOT/nix/var/nix`.
//!
//! Paths are added atomically: content is written to a temporary name inside the store
//! directory, made canonical and fsynced, renamed into place, and only then registered in one
//! database transaction. A crash at any point leaves at most an unregistered path or a stray
//! temporary, which the next [`LocalStore::open`] or GC removes.
//!
//! ```
//! use nixkit_store::local::{LocalStore, StoreConfig};
//! use nixkit_store::StoreDir;
//!
//! let root = tempfile::tempdir().unwrap();
//! let store = LocalStore::open(StoreConfig::new(root.path(), StoreDir::default())).unwrap();
//! let path = store.add_text_to_store("hello", b"world", &Default::default()).unwrap();
//! assert!(store.is_valid(&path).unwrap());
//! // The same path as `builtins.toFile "hello" "world"` in CppNix.
//! assert_eq!(store.store_dir().print_path(&path), "/nix/store/a8pm5wln4zaphc7x9iaqrgm9fravifib-hello");
//! ```

mod add;
mod canon;
pub(crate) mod db;
mod gc;
mod lock;
mod outputs;
mod stage;
mod verify;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub use add::{AddError, StagedPath};
pub use db::DbError;
pub(crate) use gc::replace_symlink;
pub use gc::{GcError, GcOptions, GcResult, Root};
pub use outputs::{OutputSource, StagedOutput, StagedOutputs};
pub use stage::Stager;
pub use verify::{VerifyError, VerifyReport};

use crate::{PathInfo, StoreDir, StorePath};
use lock::FileLock;

/// Takes an exclusive lock on `path` (created if missing), held until the value is dropped.
pub(crate) fn lock_file(path: &Path) -> io::Result<impl Sized> {
    FileLock::exclusive(path)
}

/// Prefix of temporary names in the store directory (content being added).
const TEMP_PREFIX: &str = ".nixkit-tmp-";
/// Prefix of names in the store directory being deleted.
const TRASH_PREFIX: &str = ".nixkit-trash-";

/// Where a local store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The logical store directory paths are computed against (`/nix/store`).
    pub store_dir: StoreDir,
    /// The physical root under which the store directory and state live.
    pub root: PathBuf,
    /// fsync every added file and directory before registering it (the default). Off, a
    /// crash may leave a registered path with incomplete content, as with CppNix's default
    /// `fsync-store-paths = false`; for scratch stores and bulk loads.
    pub fsync: bool,
}

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Creating the store layout failed.
    #[error("creating store directory '{path}': {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The database could not be opened or its schema created.
    #[error(transparent)]
    Db(#[from] DbError),
    /// No root was given and no home or XDG data directory is known.
    #[error("no store root: set NIXKIT_STORE, XDG_DATA_HOME or HOME")]
    NoDefaultRoot,
    /// A store specification this implementation cannot open.
    #[error("don't know how to open Nix store '{0}'")]
    UnsupportedStore(String),
    /// The daemon store (`daemon`, `unix://…`): a daemon client opens it, not this crate.
    #[error("cannot open Nix store '{0}' as a local store: it is a daemon's")]
    DaemonUnsupported(String),
    /// A store root that is not an absolute path.
    #[error("not an absolute path: '{0}'")]
    NotAbsolute(String),
}

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The database failed or holds a corrupt row.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The path is not valid.
    #[error("path '{0}' is not valid")]
    NotValid(String),
}

impl StoreConfig {
    /// A store at `root` with logical directory `store_dir`.
    pub fn new(root: impl Into<PathBuf>, store_dir: StoreDir) -> Self {
        Self {
            store_dir,
            root: root.into(),
            fsync: true,
        }
    }

    /// This configuration with fsync of added paths on or off (see [`StoreConfig::fsync`]).
    pub fn with_fsync(mut self, fsync: bool) -> Self {
        self.fsync = fsync;
        self
    }

    /// The root from `NIXKIT_STORE`, else `$XDG_DATA_HOME/nixkit/store`, else
    /// `~/.local/share/nixkit/store`.
    pub fn default_root() -> Option<PathBuf> {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        if let Some(root) = env("NIXKIT_STORE") {
            return Some(root);
        }
        let data = env("XDG_DATA_HOME").or_else(|| env("HOME").map(|h| h.join(".local/share")))?;
        Some(data.join("nixkit/store"))
    }

    /// [`StoreConfig::default_root`] with `store_dir`.
    pub fn from_env(store_dir: StoreDir) -> Result<Self, OpenError> {
        Ok(Self::new(
            Self::default_root().ok_or(OpenError::NoDefaultRoot)?,
            store_dir,
        ))
    }

    /// The store a `--store SPEC` option names, with `store_dir`: `auto` or `local` (the
    /// default root, [`StoreConfig::from_env`]), `local?root=DIR` (DIR absolute), or a path
    /// with a `/` in it (made absolute against the current directory), as CppNix reads them.
    /// Anything else — an empty spec, a bare word, the daemon, another scheme — is an error,
    /// never a store created relative to the current directory.
    pub fn from_spec(spec: &str, store_dir: StoreDir) -> Result<Self, OpenError> {
        let unsupported = || OpenError::UnsupportedStore(spec.to_owned());
        if matches!(spec, "auto" | "local") {
            return Self::from_env(store_dir);
        }
        if spec == "daemon" || spec.starts_with("unix://") {
            return Err(OpenError::DaemonUnsupported(spec.to_owned()));
        }
        if let Some(query) = spec
            .strip_prefix("local?")
            .or_else(|| spec.strip_prefix("local://?"))
        {
            let root = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("root="))
                .ok_or_else(unsupported)?;
            if !root.starts_with('/') {
                return Err(OpenError::NotAbsolute(root.to_owned()));
            }
            return Ok(Self::new(root, store_dir));
        }
        if spec.contains("://") || !spec.contains('/') {
            return Err(unsupported());
        }
        let path = PathBuf::from(spec);
        let root = if path.is_absolute() {
            path
        } else {
            std::env::current_dir()
                .map_err(|source| OpenError::Io {
                    path: path.clone(),
                    source,
                })?
                .join(path)
        };
        Ok(Self::new(root, store_dir))
    }

    /// Where the store directory's files physically are.
    pub fn real_store_dir(&self) -> PathBuf {
        self.root
            .join(self.store_dir.as_str().trim_start_matches('/'))
    }

    /// The state directory (`ROOT/nix/var/nix`): database, gcroots, profiles, temproots.
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("nix/var/nix")
    }
}

/// An open local store. Several may be open at once, in one or many processes.
pub struct LocalStore {
    config: StoreConfig,
    real_store: PathBuf,
    state: PathBuf,
    db: db::Db,
    temp_roots: RefCell<Option<FileLock>>,
    /// Names this handle's temporary-roots file `<pid>-<session>` instead of `<pid>`, so
    /// that several handles of one process (a daemon's connections) keep roots apart.
    session: Cell<Option<u64>>,
    counter: Cell<u64>,
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> OpenError + '_ {
    move |source| OpenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl LocalStore {
    /// Opens the store described by `config`, creating its layout and database if needed,
    /// and removing temporaries left by processes that died while adding or deleting.
    pub fn open(config: StoreConfig) -> Result<Self, OpenError> {
        let real_store = config.real_store_dir();
        let state = config.state_dir();
        for dir in [
            real_store.clone(),
            state.join("db"),
            state.join("gcroots/auto"),
            state.join("profiles"),
            state.join("temproots"),
            state.join("locks"),
        ] {
            fs::create_dir_all(&dir).map_err(io_at(&dir))?;
        }
        let schema = state.join("db/schema");
        if !schema.exists() {
            fs::write(&schema, db::SCHEMA_VERSION.to_string()).map_err(io_at(&schema))?;
        }
        let db = db::Db::open(&state.join("db/db.sqlite"), config.store_dir.clone())?;
        let store = Self {
            config,
            real_store,
            state,
            db,
            temp_roots: RefCell::new(None),
            session: Cell::new(None),
            counter: Cell::new(0),
        };
        store
            .remove_stray_temporaries()
            .map_err(io_at(&store.real_store))?;
        Ok(store)
    }

    /// Removes temporaries of dead processes. Adders hold the GC lock shared, so when it can
    /// be taken exclusively, every temporary in the store directory is stray.
    fn remove_stray_temporaries(&self) -> io::Result<()> {
        let Some(_gc) = FileLock::try_exclusive(&self.gc_lock_path())? else {
            return Ok(());
        };
        for entry in fs::read_dir(&self.real_store)? {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(TEMP_PREFIX) || name.starts_with(TRASH_PREFIX) {
                canon::remove_tree(&entry.path())?;
            }
        }
        Ok(())
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// The logical store directory.
    pub fn store_dir(&self) -> &StoreDir {
        &self.config.store_dir
    }

    /// Where `path`'s files physically are.
    pub fn real_path(&self, path: &StorePath) -> PathBuf {
        self.real_store.join(path.to_base_name())
    }

    /// The physical store directory.
    pub fn real_store_dir(&self) -> &Path {
        &self.real_store
    }

    /// The state directory.
    pub fn state_dir(&self) -> &Path {
        &self.state
    }

    fn gc_lock_path(&self) -> PathBuf {
        self.state.join("gc.lock")
    }

    fn path_lock(&self, path: &StorePath) -> io::Result<FileLock> {
        FileLock::exclusive(
            &self
                .state
                .join("locks")
                .join(format!("{}.lock", path.hash_part())),
        )
    }

    /// A fresh temporary name in the physical store directory.
    fn temp_name(&self, prefix: &str) -> PathBuf {
        let n = self.counter.get();
        self.counter.set(n + 1);
        let mut rand = [0u8; 4];
        let _ = getrandom::fill(&mut rand);
        self.real_store.join(format!(
            "{prefix}{}-{n}-{}",
            std::process::id(),
            u32::from_le_bytes(rand)
        ))
    }

    /// Keeps `path` alive against garbage collection for as long as this process runs.
    pub fn add_temp_root(&self, path: &StorePath) -> io::Result<()> {
        let mut roots = self.temp_roots.borrow_mut();
        if roots.is_none() {
            let file = self.temp_roots_file();
            let lock = FileLock::exclusive(&file)?;
            // A file left by an earlier process with the same pid holds stale roots.
            lock.file().set_len(0)?;
            *roots = Some(lock);
        }
        if let Some(lock) = roots.as_ref() {
            let mut line = self.store_dir().print_path(path);
            line.push('\0');
            let mut f = lock.file();
            f.write_all(line.as_bytes())?;
        }
        Ok(())
    }

    /// Gives this handle temporary roots of its own, apart from the process's other
    /// handles: a daemon serving several connections in one process calls this once per
    /// connection, and [`LocalStore::end_session`] when the connection ends. The garbage
    /// collector treats the session's roots as live for as long as the process runs.
    pub fn begin_session(&self, session: u64) {
        self.session.set(Some(session));
    }

    /// Deletes the session's temporary-roots file (see [`LocalStore::begin_session`]).
    pub fn end_session(&self) -> io::Result<()> {
        if self.session.get().is_some() && self.temp_roots.borrow_mut().take().is_some() {
            match fs::remove_file(self.temp_roots_file()) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    fn temp_roots_file(&self) -> PathBuf {
        let name = match self.session.get() {
            Some(n) => format!("{}-{n}", std::process::id()),
            None => std::process::id().to_string(),
        };
        self.state.join("temproots").join(name)
    }

    /// Drops this process's temporary roots (they also vanish when the process exits), so
    /// a long-running process or a test can let GC see what it added as garbage.
    pub fn release_temp_roots(&self) -> io::Result<()> {
        if let Some(lock) = self.temp_roots.borrow().as_ref() {
            lock.file().set_len(0)?;
            io::Seek::seek(&mut lock.file(), io::SeekFrom::Start(0))?;
        }
        Ok(())
    }

    /// True if `path` is registered as valid.
    pub fn is_valid(&self, path: &StorePath) -> Result<bool, QueryError> {
        Ok(self.db.is_valid(path)?)
    }

    /// The valid path whose hash part (the 32 characters after the store directory) is
    /// `hash_part`, if any.
    pub fn query_path_from_hash_part(
        &self,
        hash_part: &str,
    ) -> Result<Option<StorePath>, QueryError> {
        Ok(self.db.path_from_hash_part(hash_part)?)
    }

    /// The valid paths whose NAR serialisation has the SHA-256 hash `nar_hash`.
    pub fn query_paths_by_nar_hash(
        &self,
        nar_hash: &crate::Hash,
    ) -> Result<Vec<StorePath>, QueryError> {
        Ok(self.db.paths_with_nar_hash(nar_hash)?)
    }

    /// The metadata of `path`, or `None` if it is not valid.
    pub fn query_path_info(&self, path: &StorePath) -> Result<Option<PathInfo>, QueryError> {
        Ok(self.db.query_info(path)?)
    }

    fn info_of(&self, path: &StorePath) -> Result<PathInfo, QueryError> {
        self.db
            .query_info(path)?
            .ok_or_else(|| QueryError::NotValid(self.store_dir().print_path(path)))
    }

    /// The references of `path`.
    pub fn query_references(&self, path: &StorePath) -> Result<BTreeSet<StorePath>, QueryError> {
        Ok(self.info_of(path)?.references)
    }

    /// The valid paths that refer to `path` (including itself if it refers to itself).
    pub fn query_referrers(&self, path: &StorePath) -> Result<BTreeSet<StorePath>, QueryError> {
        if !self.db.is_valid(path)? {
            return Err(QueryError::NotValid(self.store_dir().print_path(path)));
        }
        Ok(self.db.referrers(path)?)
    }

    /// The deriver of `path`, if known.
    pub fn query_deriver(&self, path: &StorePath) -> Result<Option<StorePath>, QueryError> {
        Ok(self.info_of(path)?.deriver)
    }

    /// The recorded outputs of derivation `drv`.
    pub fn query_derivation_outputs(
        &self,
        drv: &StorePath,
    ) -> Result<BTreeMap<String, StorePath>, QueryError> {
        if !self.db.is_valid(drv)? {
            return Err(QueryError::NotValid(self.store_dir().print_path(drv)));
        }
        Ok(self.db.derivation_outputs(drv)?)
    }

    /// Records the outputs of the valid derivation `drv` (as CppNix does when registering a
    /// `.drv`; the caller parses it, since this crate knows no derivation format).
    pub fn set_derivation_outputs(
        &self,
        drv: &StorePath,
        outputs: &BTreeMap<String, StorePath>,
    ) -> Result<(), QueryError> {
        Ok(self.db.set_derivation_outputs(drv, outputs)?)
    }

    /// The closure of `paths` under references (the requisites), including `paths`.
    pub fn query_closure(
        &self,
        paths: &BTreeSet<StorePath>,
    ) -> Result<BTreeSet<StorePath>, QueryError> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<StorePath> = paths.iter().cloned().collect();
        while let Some(p) = todo.pop() {
            if seen.contains(&p) {
                continue;
            }
            let refs = self.query_references(&p)?;
            todo.extend(refs.into_iter().filter(|r| !seen.contains(r)));
            seen.insert(p);
        }
        Ok(seen)
    }

    /// Orders `paths` so that every path comes after the paths (in the set) it refers to.
    /// Iterative: a reference chain of any length is fine.
    pub fn topo_sort(&self, paths: &BTreeSet<StorePath>) -> Result<Vec<StorePath>, QueryError> {
        crate::topo::topo_sort(paths, |p| {
            Ok(self.query_references(p)?.into_iter().collect())
        })
    }

    /// Every valid path. Rows that do not decode are skipped (see [`LocalStore::verify`]).
    pub fn valid_paths(&self) -> Result<BTreeSet<StorePath>, QueryError> {
        Ok(self.db.valid_paths()?.into_iter().flatten().collect())
    }

    #[cfg(test)]
    pub(crate) fn db_for_tests(&self) -> &rusqlite::Connection {
        self.db.conn()
    }
}

#[cfg(test)]
mod tests;
