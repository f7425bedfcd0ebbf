//! The evaluator's access to the outside world, behind traits so embedders
//! can sandbox it: [`EvalIo`] for the file system and environment, and
//! [`EvalStore`] for the Nix store. [`StdIo`] and [`ReadOnlyStore`] are the
//! defaults: the real file system, and a store that only computes paths
//! (like CppNix's read-only mode used by `nix-instantiate --eval`).

use std::io;
use std::sync::{Arc, Mutex};

use crate::error::EvalError;
use crate::store_path::{self, StorePathError};

/// The type of a directory entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileType {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// Anything else.
    Unknown,
}

impl FileType {
    /// As `builtins.readDir` names it.
    pub fn as_str(self) -> &'static str {
        match self {
            FileType::Regular => "regular",
            FileType::Directory => "directory",
            FileType::Symlink => "symlink",
            FileType::Unknown => "unknown",
        }
    }
}

/// A path as the evaluator names it to [`EvalIo`]: absolute and normalised
/// (no `.` or `..` components, no trailing slash), in Nix text (bytes that are
/// not UTF-8 carried as `nixkit_syntax`'s escape characters). A typed view over
/// the text the evaluator's path values hold, so an implementation cannot
/// mistake a path for a file's contents, a name or an environment variable, and
/// converts it to the file system's bytes in one way ([`EvalPath::to_os_path`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EvalPath<'a>(&'a str);

impl<'a> EvalPath<'a> {
    /// The path the evaluator's path text `text` names.
    pub fn new(text: &'a str) -> EvalPath<'a> {
        EvalPath(text)
    }

    /// The path as Nix text (what `toString` of the path value gives).
    pub fn as_str(self) -> &'a str {
        self.0
    }

    /// The path's bytes on the file system (escape characters decoded).
    pub fn to_bytes(self) -> std::borrow::Cow<'a, [u8]> {
        nixkit_syntax::encode_bytes(self.0)
    }

    /// The file system path it stands for.
    pub fn to_os_path(self) -> std::path::PathBuf {
        os_path(self.0)
    }
}

impl std::fmt::Display for EvalPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl<'a> From<&'a str> for EvalPath<'a> {
    fn from(text: &'a str) -> EvalPath<'a> {
        EvalPath(text)
    }
}

/// File system and environment access.
///
/// Paths and names are Nix text: bytes that are not UTF-8 are carried as
/// `nixkit_syntax`'s escape characters (see [`nixkit_syntax::decode_bytes`]),
/// the mapping Nix strings use, so any file name reaches the evaluator and goes
/// back to the file system unchanged. [`StdIo`] converts at the boundary
/// ([`os_path`], [`nix_text`]).
pub trait EvalIo: Send + Sync {
    /// Reads a whole file.
    fn read_file(&self, path: EvalPath<'_>) -> io::Result<Vec<u8>>;
    /// A file's size and a reader of its contents, for hashing it without holding it
    /// in memory (by default, [`EvalIo::read_file`]'s bytes).
    fn open_file(&self, path: EvalPath<'_>) -> io::Result<(u64, Box<dyn io::Read + Send>)> {
        let data = self.read_file(path)?;
        Ok((data.len() as u64, Box::new(io::Cursor::new(data))))
    }
    /// Lists a directory: names and types (symlinks not followed).
    fn read_dir(&self, path: EvalPath<'_>) -> io::Result<Vec<(String, FileType)>>;
    /// The type of a path; `follow` resolves symlinks first.
    fn file_type(&self, path: EvalPath<'_>, follow: bool) -> io::Result<FileType>;
    /// Whether a file is executable (for NAR serialisation).
    fn is_executable(&self, path: EvalPath<'_>) -> io::Result<bool>;
    /// The target of a symlink.
    fn read_link(&self, path: EvalPath<'_>) -> io::Result<String>;
    /// An environment variable.
    fn get_env(&self, name: &str) -> Option<String>;
}

/// [`EvalIo`] on the real file system and process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdIo;

/// The file system path a Nix text path stands for (escape characters back to
/// the bytes they carry).
pub fn os_path(path: &str) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStringExt;
    std::ffi::OsString::from_vec(nixkit_syntax::encode_bytes(path).into_owned()).into()
}

/// A file name or path as Nix text, losslessly (bytes that are not UTF-8 become
/// escape characters).
pub fn nix_text(name: &std::ffi::OsStr) -> String {
    use std::os::unix::ffi::OsStrExt;
    nixkit_syntax::decode_bytes(name.as_bytes()).into_owned()
}

impl EvalIo for StdIo {
    fn read_file(&self, path: EvalPath<'_>) -> io::Result<Vec<u8>> {
        std::fs::read(path.to_os_path())
    }

    fn open_file(&self, path: EvalPath<'_>) -> io::Result<(u64, Box<dyn io::Read + Send>)> {
        let file = std::fs::File::open(path.to_os_path())?;
        Ok((file.metadata()?.len(), Box::new(file)))
    }

    fn read_dir(&self, path: EvalPath<'_>) -> io::Result<Vec<(String, FileType)>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(path.to_os_path())? {
            let entry = entry?;
            let ft = entry.file_type()?;
            out.push((nix_text(&entry.file_name()), convert_type(ft)));
        }
        Ok(out)
    }

    fn file_type(&self, path: EvalPath<'_>, follow: bool) -> io::Result<FileType> {
        let path = path.to_os_path();
        let md = if follow {
            std::fs::metadata(path)?
        } else {
            std::fs::symlink_metadata(path)?
        };
        Ok(convert_type(md.file_type()))
    }

    fn is_executable(&self, path: EvalPath<'_>) -> io::Result<bool> {
        use std::os::unix::fs::PermissionsExt;
        Ok(std::fs::symlink_metadata(path.to_os_path())?
            .permissions()
            .mode()
            & 0o100
            != 0)
    }

    fn read_link(&self, path: EvalPath<'_>) -> io::Result<String> {
        Ok(nix_text(std::fs::read_link(path.to_os_path())?.as_os_str()))
    }

    fn get_env(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| nix_text(&v))
    }
}

/// [`EvalIo`] over another one with environment variables set or removed: an
/// embedder evaluates in an environment of its own (`builtins.getEnv`, `NIX_PATH`)
/// without changing the process's, which other threads share.
#[derive(Debug, Clone, Default)]
pub struct EnvOverlay<I> {
    inner: I,
    vars: std::collections::HashMap<String, Option<String>>,
}

impl<I: EvalIo> EnvOverlay<I> {
    /// `inner` with its environment unchanged.
    pub fn new(inner: I) -> EnvOverlay<I> {
        EnvOverlay {
            inner,
            vars: std::collections::HashMap::new(),
        }
    }

    /// Sets `name` to `value`.
    pub fn set(mut self, name: impl Into<String>, value: impl Into<String>) -> EnvOverlay<I> {
        self.vars.insert(name.into(), Some(value.into()));
        self
    }

    /// Removes `name`: `getEnv` sees it unset whatever `inner` has.
    pub fn unset(mut self, name: impl Into<String>) -> EnvOverlay<I> {
        self.vars.insert(name.into(), None);
        self
    }
}

impl<I: EvalIo> EvalIo for EnvOverlay<I> {
    fn read_file(&self, path: EvalPath<'_>) -> io::Result<Vec<u8>> {
        self.inner.read_file(path)
    }

    fn read_dir(&self, path: EvalPath<'_>) -> io::Result<Vec<(String, FileType)>> {
        self.inner.read_dir(path)
    }

    fn file_type(&self, path: EvalPath<'_>, follow: bool) -> io::Result<FileType> {
        self.inner.file_type(path, follow)
    }

    fn is_executable(&self, path: EvalPath<'_>) -> io::Result<bool> {
        self.inner.is_executable(path)
    }

    fn read_link(&self, path: EvalPath<'_>) -> io::Result<String> {
        self.inner.read_link(path)
    }

    fn get_env(&self, name: &str) -> Option<String> {
        match self.vars.get(name) {
            Some(value) => value.clone(),
            None => self.inner.get_env(name),
        }
    }
}

/// The evaluator's view of a file system entry type.
pub(crate) fn convert_type(ft: std::fs::FileType) -> FileType {
    if ft.is_symlink() {
        FileType::Symlink
    } else if ft.is_dir() {
        FileType::Directory
    } else if ft.is_file() {
        FileType::Regular
    } else {
        FileType::Unknown
    }
}

/// How a path is hashed when added to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileIngestion {
    /// The file's bytes (a single regular file).
    Flat,
    /// The NAR serialisation (files, directories, symlinks).
    Recursive,
}

/// A callback deciding which paths below a root are added to the store (the
/// evaluator's `filter` functions; their errors come back as
/// [`StorePathError::Filter`]).
pub type PathFilter<'a> =
    Option<&'a mut dyn FnMut(EvalPath<'_>, FileType) -> Result<bool, EvalError>>;

/// Why an [`EvalStore`] operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalStoreError {
    /// The path could not be computed: a bad name, an unreadable file, a failed filter.
    #[error(transparent)]
    Path(#[from] StorePathError),
    /// A path given to the store is not one of its store paths.
    #[error("path '{0}' is not in the Nix store")]
    NotInStore(String),
    /// A derivation landed at another path than the one the evaluator computed.
    #[error("derivation written at '{written}' instead of '{expected}'")]
    DerivationPath {
        /// Where the evaluator expected it.
        expected: String,
        /// Where the store put it.
        written: String,
    },
    /// The store itself failed (its database, its disk, a corrupt entry).
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

impl EvalStoreError {
    /// Wraps an implementation's own error.
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> EvalStoreError {
        EvalStoreError::Backend(Box::new(e))
    }

    /// As an evaluation error of `kind`: a failed filter gives back its own error
    /// (with its trace), anything else its message.
    pub(crate) fn into_eval_error(self, kind: crate::error::ErrorKind) -> EvalError {
        match self {
            EvalStoreError::Path(StorePathError::Filter(e)) => *e,
            other => EvalError::new(kind, other.to_string()),
        }
    }
}

impl From<EvalStoreError> for EvalError {
    fn from(e: EvalStoreError) -> EvalError {
        e.into_eval_error(crate::error::ErrorKind::Eval)
    }
}

/// Store operations the evaluator needs.
pub trait EvalStore: Send + Sync {
    /// The store directory, e.g. `/nix/store`.
    fn store_dir(&self) -> &str;

    /// Adds a path to the store (or computes where it would go) and returns
    /// the store path. `filter` is applied to every path below the root;
    /// entries for which it returns false are left out.
    fn add_path(
        &self,
        io: &dyn EvalIo,
        path: EvalPath<'_>,
        name: &str,
        method: FileIngestion,
        filter: PathFilter<'_>,
    ) -> Result<String, EvalStoreError>;

    /// Adds a text file with references (`builtins.toFile`).
    fn add_text(
        &self,
        name: &str,
        text: &str,
        references: &[String],
    ) -> Result<String, EvalStoreError>;

    /// Writes a derivation's ATerm at `drv_path`, which the evaluator has
    /// computed (a text path over `aterm` with `references`: its input
    /// sources and input derivations). A read-only store writes nothing.
    fn write_derivation(
        &self,
        drv_path: &str,
        aterm: &str,
        references: &[String],
    ) -> Result<(), EvalStoreError>;

    /// The ATerm of a derivation the evaluator did not create itself (say,
    /// one named by `builtins.storePath` or an `appendContext`), if the store
    /// has it. Needed to hash such inputs and to take their closure.
    fn read_derivation(&self, drv_path: &str) -> Result<Option<String>, EvalStoreError> {
        let _ = drv_path;
        Ok(None)
    }

    /// The references of a valid store path (`None` if the store does not
    /// know it). Used for the closure of whole-derivation contexts.
    fn query_references(&self, path: &str) -> Result<Option<Vec<String>>, EvalStoreError> {
        let _ = path;
        Ok(None)
    }

    /// The contents of a file the store added but the file system does not
    /// show (a store that does not write keeps `builtins.toFile` texts here,
    /// so that they can still be read and imported). `None` by default.
    fn read_unwritten(&self, path: &str) -> Option<Vec<u8>> {
        let _ = path;
        None
    }

    /// Makes `root` (an absolute path outside the store) a garbage collector
    /// root for `path` and returns the root's path, as printed by
    /// `nix-instantiate --add-root`. By default nothing is created: a store
    /// that does not write has nothing to protect.
    fn add_perm_root(&self, path: &str, root: &str) -> Result<String, EvalStoreError> {
        let _ = path;
        Ok(root.to_string())
    }

    /// Whether a store path is valid (exists).
    fn is_valid_path(&self, path: &str) -> bool;
}

/// A store that computes paths without writing anything.
#[derive(Debug)]
pub struct ReadOnlyStore {
    store_dir: String,
    known: Mutex<std::collections::HashSet<String>>,
    /// Texts of `builtins.toFile` results, which are not written.
    texts: Mutex<std::collections::HashMap<String, Arc<str>>>,
}

impl ReadOnlyStore {
    /// A read-only store at `store_dir`.
    pub fn new(store_dir: impl Into<String>) -> Arc<ReadOnlyStore> {
        Arc::new(ReadOnlyStore {
            store_dir: store_dir.into(),
            known: Mutex::default(),
            texts: Mutex::default(),
        })
    }

    fn remember(&self, path: String) -> String {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.clone());
        path
    }
}

impl EvalStore for ReadOnlyStore {
    fn store_dir(&self) -> &str {
        &self.store_dir
    }

    fn add_path(
        &self,
        io: &dyn EvalIo,
        path: EvalPath<'_>,
        name: &str,
        method: FileIngestion,
        filter: PathFilter<'_>,
    ) -> Result<String, EvalStoreError> {
        let p = match method {
            FileIngestion::Recursive => {
                let hash = store_path::nar_sha256(io, path.as_str(), filter)?;
                store_path::make_store_path(&self.store_dir, "source", &hash, name)?
            }
            FileIngestion::Flat => {
                let data = io.read_file(path).map_err(|source| StorePathError::Io {
                    path: path.to_string(),
                    source,
                })?;
                store_path::make_flat_path(&self.store_dir, &data, name)?
            }
        };
        Ok(self.remember(p))
    }

    fn add_text(
        &self,
        name: &str,
        text: &str,
        references: &[String],
    ) -> Result<String, EvalStoreError> {
        let mut ty = String::from("text");
        let mut refs: Vec<&String> = references.iter().collect();
        refs.sort();
        for r in refs {
            ty.push(':');
            ty.push_str(r);
        }
        // The text's Nix bytes (bytes that are not UTF-8 are escaped in it).
        let hash = store_path::sha256(&nixkit_syntax::encode_bytes(text));
        let p = store_path::make_store_path(&self.store_dir, &ty, &hash, name)?;
        self.texts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(p.clone(), text.into());
        Ok(self.remember(p))
    }

    fn write_derivation(
        &self,
        drv_path: &str,
        _aterm: &str,
        _references: &[String],
    ) -> Result<(), EvalStoreError> {
        self.remember(drv_path.to_string());
        Ok(())
    }

    fn read_unwritten(&self, path: &str) -> Option<Vec<u8>> {
        let texts = self.texts.lock().unwrap_or_else(|e| e.into_inner());
        texts
            .get(path)
            .map(|t| nixkit_syntax::encode_bytes(t).into_owned())
    }

    fn is_valid_path(&self, path: &str) -> bool {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(path)
    }
}
