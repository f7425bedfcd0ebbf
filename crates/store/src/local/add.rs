//! Adding paths to the local store: copies of files and trees (`add_to_store`, flat or
//! recursive, any hash algorithm), text files such as `.drv`s (`add_text_to_store`), and
//! NAR streams with known metadata (`add_nar`, used by import and substitution).
//!
//! Every addition goes through [`LocalStore::commit_temp`]: write to a temporary name in the
//! store directory, canonicalise and fsync, take the path's lock, rename into place, fsync
//! the directory, register in one transaction.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::canon;
use super::db::DbError;
use super::lock::FileLock;
use super::{LocalStore, TEMP_PREFIX};
use crate::content_address::{ContentAddressMethod, FileIngestionMethod, MakePathError};
use crate::nar::{dump_path, write_flat_file_nar, DumpError, RestoreError};
use crate::{ContentAddress, Hash, HashAlgo, HashSink, PathInfo, StorePath};

/// Why a path could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// A file system operation failed.
    #[error("adding to the store at '{path}': {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Reading the source tree failed.
    #[error(transparent)]
    Dump(#[from] DumpError),
    /// The NAR stream was malformed or could not be unpacked.
    #[error(transparent)]
    Restore(#[from] RestoreError),
    /// The store path could not be computed (bad name, bad hash kind).
    #[error(transparent)]
    MakePath(#[from] MakePathError),
    /// Registration failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A flat addition was given something other than a regular file.
    #[error("'{0}' is not a regular file, so it cannot be added flat")]
    NotRegularFile(PathBuf),
    /// The NAR did not have the hash its metadata promised.
    #[error("hash mismatch importing path '{path}';\n  specified: {expected}\n  got:       {got}")]
    HashMismatch {
        /// The path being added.
        path: String,
        /// The promised NAR hash.
        expected: String,
        /// The actual NAR hash.
        got: String,
    },
    /// The content does not match the path's content address.
    #[error("content address mismatch importing path '{path}': expected {expected}, got {got}")]
    CaMismatch {
        /// The path being added.
        path: String,
        /// The hash the content address claims.
        expected: String,
        /// The hash of the content.
        got: String,
    },
    /// The content address does not produce the path it is attached to.
    #[error("path '{0}' does not match its content address")]
    CaPathMismatch(String),
    /// The NAR did not have the size its metadata promised.
    #[error("size mismatch importing path '{path}': expected {expected} bytes, got {got}")]
    SizeMismatch {
        /// The path being added.
        path: String,
        /// The promised NAR size.
        expected: u64,
        /// The actual NAR size.
        got: u64,
    },
    /// The caller's final check of [`LocalStore::add_nar_checked`] refused the path.
    #[error("path '{0}' was refused by a final check before registration")]
    Rejected(String),
}

pub(super) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> AddError + '_ {
    move |source| AddError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A temporary in the store directory, removed on drop unless renamed into place.
/// A path restored and checked by [`LocalStore::stage_nar_checked`], waiting for
/// [`LocalStore::commit_staged`]; dropped uncommitted, its temporary tree is removed.
pub struct StagedPath {
    pub(super) temp: TempPath,
    pub(super) info: PathInfo,
    pub(super) _gc: FileLock,
}

impl std::fmt::Debug for StagedPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedPath")
            .field("path", &self.info.path)
            .finish_non_exhaustive()
    }
}

impl StagedPath {
    /// The store path it will become.
    pub fn path(&self) -> &StorePath {
        &self.info.path
    }

    /// The size of its NAR serialisation.
    pub fn nar_size(&self) -> u64 {
        self.info.nar_size
    }
}

pub(super) struct TempPath {
    pub(super) path: PathBuf,
    pub(super) armed: bool,
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if self.armed {
            let _ = canon::remove_tree(&self.path);
        }
    }
}

/// Two hashers fed the same bytes.
struct TeeSink(HashSink, HashSink);

impl io::Write for TeeSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        self.1.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub(super) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl LocalStore {
    pub(super) fn new_temp(&self) -> TempPath {
        TempPath {
            path: self.temp_name(TEMP_PREFIX),
            armed: true,
        }
    }

    pub(super) fn gc_shared(&self) -> Result<FileLock, AddError> {
        let path = self.gc_lock_path();
        FileLock::shared(&path).map_err(io_err(&path))
    }

    /// Copies `src` into the store as CppNix's `addToStore` does: `Recursive` hashes the NAR
    /// serialisation, `Flat` the contents of a regular file; with `algo`. `nix-store --add`
    /// is `Recursive` with sha256; `--add-fixed` takes the method and algorithm.
    pub fn add_to_store(
        &self,
        name: &str,
        src: &Path,
        method: FileIngestionMethod,
        algo: HashAlgo,
    ) -> Result<StorePath, AddError> {
        crate::store_path::validate_name(name).map_err(MakePathError::from)?;
        let fixed_path = |ca_hash: Hash| -> Result<(StorePath, Hash), AddError> {
            let path = self.store_dir().make_fixed_output_path(
                name,
                method,
                &ca_hash,
                &BTreeSet::new(),
                false,
            )?;
            Ok((path, ca_hash))
        };
        // The path of `content` hashed with `algo`, as `method` hashes.
        let path_of = |content: &Path| -> Result<(StorePath, Hash), AddError> {
            let ca_hash = crate::hash_path::hash_path(content, algo, method)
                .map_err(|e| AddError::Io {
                    path: content.to_path_buf(),
                    source: io::Error::other(e),
                })?
                .0;
            fixed_path(ca_hash)
        };
        // The path first, from the source itself (streaming, nothing written): a path that
        // is already valid is neither copied nor registered again, as CppNix does.
        if method == FileIngestionMethod::Recursive || fs::metadata(src).is_ok_and(|m| m.is_file())
        {
            let (path, _) = path_of(src)?;
            if self.keep_if_valid(&path)? {
                return Ok(path);
            }
        }
        let _gc = self.gc_shared()?;
        let temp = self.new_temp();
        match method {
            FileIngestionMethod::Flat => {
                let meta = fs::metadata(src).map_err(io_err(src))?;
                if !meta.is_file() {
                    return Err(AddError::NotRegularFile(src.to_path_buf()));
                }
                fs::copy(src, &temp.path).map_err(io_err(src))?;
            }
            FileIngestionMethod::Recursive => {
                canon::copy_tree(src, &temp.path).map_err(io_err(src))?;
            }
        }
        canon::canonicalise(&temp.path, self.config.fsync).map_err(io_err(&temp.path))?;
        let mut sinks = TeeSink(HashSink::new(HashAlgo::Sha256), HashSink::new(algo));
        dump_path(&temp.path, &mut sinks)?;
        let (nar_hash, nar_size) = sinks.0.finish();
        // The copy is what is registered: its hash decides, should the source have changed.
        let (path, ca_hash) = match method {
            FileIngestionMethod::Recursive => fixed_path(sinks.1.finish().0)?,
            FileIngestionMethod::Flat => path_of(&temp.path)?,
        };
        let mut info = PathInfo::new(path, nar_hash, nar_size);
        info.ultimate = true;
        info.ca = Some(ContentAddress {
            method: ContentAddressMethod::Fixed(method),
            hash: ca_hash,
        });
        self.commit_temp(temp, info)
    }

    /// Whether `path` is valid; if it is, it is kept alive with a temporary root, taken
    /// under the GC lock so that no collection can delete it in between. Callers that can
    /// compute a path before producing its content use this to skip the work.
    pub fn keep_if_valid(&self, path: &StorePath) -> Result<bool, AddError> {
        let _gc = self.gc_shared()?;
        if !self.db.is_valid(path)? {
            return Ok(false);
        }
        self.add_temp_root(path)
            .map_err(io_err(&self.state.join("temproots")))?;
        Ok(true)
    }

    /// Adds a text file (a `.drv`, or the result of `builtins.toFile`) whose references are
    /// `references`; its path is a `text:` content address.
    pub fn add_text_to_store(
        &self,
        name: &str,
        text: &[u8],
        references: &BTreeSet<StorePath>,
    ) -> Result<StorePath, AddError> {
        let hash = Hash::digest(HashAlgo::Sha256, text);
        let path = self.store_dir().make_text_path(name, &hash, references)?;
        if self.keep_if_valid(&path)? {
            return Ok(path);
        }
        let _gc = self.gc_shared()?;
        let temp = self.new_temp();
        fs::write(&temp.path, text).map_err(io_err(&temp.path))?;
        canon::canonicalise(&temp.path, self.config.fsync).map_err(io_err(&temp.path))?;
        let mut sink = HashSink::new(HashAlgo::Sha256);
        // Writing to a hasher cannot fail.
        let _ = write_flat_file_nar(text, false, &mut sink);
        let (nar_hash, nar_size) = sink.finish();
        let mut info = PathInfo::new(path, nar_hash, nar_size);
        info.references = references.clone();
        info.ultimate = true;
        info.ca = Some(ContentAddress {
            method: ContentAddressMethod::Text,
            hash,
        });
        self.commit_temp(temp, info)
    }

    /// Unpacks the NAR read from `nar` as `info.path` and registers it with `info`, after
    /// checking the NAR's sha256 hash and size against `info`. The references must already
    /// be valid. The whole NAR is consumed even if the path is already valid.
    pub fn add_nar(&self, info: &PathInfo, nar: &mut dyn Read) -> Result<(), AddError> {
        self.add_nar_checked(info, nar, &mut || true)
    }

    /// [`LocalStore::add_nar`], with one more check: after the NAR is unpacked and its hash
    /// and size are right, but before anything is registered, `accept` is asked; on `false`
    /// nothing is added and [`AddError::Rejected`] is returned. Substitution uses it to check
    /// the rest of a streamed download (its file hash) before the path becomes valid.
    pub fn add_nar_checked(
        &self,
        info: &PathInfo,
        nar: &mut dyn Read,
        accept: &mut dyn FnMut() -> bool,
    ) -> Result<(), AddError> {
        let staged = self
            .stager()
            .restore_checked(info, nar, accept, self.config.fsync)?;
        self.commit_temp(staged.temp, staged.info).map(|_| ())
    }

    /// [`LocalStore::add_nar_checked`] up to, not including, making the path durable and
    /// registering it: the checked, canonical tree waits in a temporary directory (kept from
    /// the garbage collector) until [`LocalStore::commit_staged`]. Committing many staged
    /// paths at once costs one file system sync and one database transaction instead of
    /// several fsyncs and a transaction per path.
    pub fn stage_nar_checked(
        &self,
        info: &PathInfo,
        nar: &mut dyn Read,
        accept: &mut dyn FnMut() -> bool,
    ) -> Result<StagedPath, AddError> {
        self.stager().restore_checked(info, nar, accept, false)
    }

    /// Makes `staged` (in order, references first) durable and valid: one `syncfs` of the
    /// store's file system (when fsync is on), the renames into place, one sync of the store
    /// directory, and one transaction registering them all.
    pub fn commit_staged(&self, staged: Vec<StagedPath>) -> Result<Vec<StorePath>, AddError> {
        if staged.is_empty() {
            return Ok(Vec::new());
        }
        let _gc = self.gc_shared()?;
        if self.config.fsync {
            let dir = fs::File::open(&self.real_store).map_err(io_err(&self.real_store))?;
            nix::unistd::syncfs(std::os::fd::AsRawFd::as_raw_fd(&dir)).map_err(|e| {
                AddError::Io {
                    path: self.real_store.clone(),
                    source: e.into(),
                }
            })?;
        }
        let mut locks = Vec::with_capacity(staged.len());
        let mut placed = Vec::new();
        let mut infos = Vec::new();
        let mut paths = Vec::with_capacity(staged.len());
        for StagedPath {
            mut temp, mut info, ..
        } in staged
        {
            let path = info.path.clone();
            locks.push(
                self.path_lock(&path)
                    .map_err(io_err(&self.state.join("locks")))?,
            );
            if !self.db.is_valid(&path)? {
                let dest = self.real_path(&path);
                canon::remove_tree(&dest).map_err(io_err(&dest))?;
                fs::rename(&temp.path, &dest).map_err(io_err(&dest))?;
                temp.armed = false;
                placed.push(dest);
                if info.registration_time == 0 {
                    info.registration_time = now();
                }
                infos.push(info);
            }
            paths.push(path);
        }
        if self.config.fsync {
            canon::sync_dir(&self.real_store).map_err(io_err(&self.real_store))?;
        }
        if let Err(e) = self.db.register(&infos) {
            for dest in &placed {
                let _ = canon::remove_tree(dest);
            }
            return Err(e.into());
        }
        for path in &paths {
            self.add_temp_root(path)
                .map_err(io_err(&self.state.join("temproots")))?;
        }
        Ok(paths)
    }

    /// Registers paths whose content the caller has already placed, canonical and durable,
    /// at [`LocalStore::real_path`] — CppNix's `nix-store --register-validity`, for loading a
    /// store in bulk. All are registered in one transaction; references may point among
    /// `infos` or at valid paths. Paths already valid are left as they are. The content is
    /// only checked to exist, not hashed.
    pub fn register_valid_paths(&self, infos: &[PathInfo]) -> Result<(), AddError> {
        let _gc = self.gc_shared()?;
        for info in infos {
            let real = self.real_path(&info.path);
            fs::symlink_metadata(&real).map_err(io_err(&real))?;
        }
        let time = now();
        let infos: Vec<PathInfo> = infos
            .iter()
            .map(|i| {
                let mut i = i.clone();
                if i.registration_time == 0 {
                    i.registration_time = time;
                }
                i
            })
            .collect();
        self.db.register(&infos)?;
        Ok(())
    }

    /// Moves a canonical, fsynced temporary into place as `info.path` and registers it.
    fn commit_temp(&self, mut temp: TempPath, mut info: PathInfo) -> Result<StorePath, AddError> {
        let path = info.path.clone();
        let _lock = self
            .path_lock(&path)
            .map_err(io_err(&self.state.join("locks")))?;
        if !self.db.is_valid(&path)? {
            let dest = self.real_path(&path);
            // Whatever is there is unregistered: a leftover of a crash after the rename.
            canon::remove_tree(&dest).map_err(io_err(&dest))?;
            fs::rename(&temp.path, &dest).map_err(io_err(&dest))?;
            temp.armed = false;
            if self.config.fsync {
                canon::sync_dir(&self.real_store).map_err(io_err(&self.real_store))?;
            }
            if info.registration_time == 0 {
                info.registration_time = now();
            }
            if let Err(e) = self.db.register(std::slice::from_ref(&info)) {
                let _ = canon::remove_tree(&dest);
                return Err(e.into());
            }
        }
        self.add_temp_root(&path)
            .map_err(io_err(&self.state.join("temproots")))?;
        Ok(path)
    }
}
