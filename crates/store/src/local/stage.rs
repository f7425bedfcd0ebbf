//! Restoring NARs into staging from any thread: a [`Stager`] (a `Send + Sync` handle of a
//! [`LocalStore`]'s directory) unpacks, hashes and checks a NAR into a temporary tree that
//! [`LocalStore::commit_staged`] later makes valid. No database access, so several threads
//! restore at once while one store handle registers in order.

use std::collections::BTreeSet;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::add::{io_err, AddError, StagedPath, TempPath};
use super::canon;
use super::lock::FileLock;
use super::{LocalStore, TEMP_PREFIX};
use crate::content_address::{ContentAddressMethod, FileIngestionMethod};
use crate::{ContentAddress, HashAlgo, HashSink, PathInfo, StoreDir, StorePath};

/// Restores NARs into a store's directory as staged (not yet valid) paths; cheap to clone
/// and usable from several threads at once.
#[derive(Debug, Clone)]
pub struct Stager {
    store_dir: StoreDir,
    real_store: PathBuf,
    gc_lock: PathBuf,
    counter: Arc<AtomicU64>,
    /// The store syncs what it commits (`fsync-store-paths`): start writing restored data
    /// back to disk as it is written, so the commit's sync has little left to wait for.
    start_writeback: bool,
}

/// Starts writeback of `len` bytes at `offset` of `file`, without waiting for it (Linux's
/// `POSIX_FADV_DONTNEED` starts writing dirty pages back, then drops only pages already
/// clean; it is what PostgreSQL uses where `sync_file_range` is missing). Durability still
/// comes from the commit's sync; a failure here only loses the head start.
fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    let _ = nix::fcntl::posix_fadvise(
        std::os::fd::AsRawFd::as_raw_fd(file),
        offset,
        len,
        nix::fcntl::PosixFadviseAdvice::POSIX_FADV_DONTNEED,
    );
}

/// Hashes what passes through it.
struct HashingReader<'r> {
    inner: &'r mut dyn Read,
    sink: HashSink,
}

impl Read for HashingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sink.update(&buf[..n]);
        Ok(n)
    }
}

impl LocalStore {
    /// A [`Stager`] for this store, to restore paths on other threads.
    pub fn stager(&self) -> Stager {
        Stager {
            store_dir: self.store_dir().clone(),
            real_store: self.real_store.clone(),
            gc_lock: self.gc_lock_path(),
            counter: Arc::new(AtomicU64::new(0)),
            start_writeback: self.config.fsync,
        }
    }
}

impl Stager {
    /// The logical store directory.
    pub fn store_dir(&self) -> &StoreDir {
        &self.store_dir
    }

    /// [`LocalStore::stage_nar_checked`], from any thread: the NAR read from `nar` is
    /// unpacked, its hash and size (and content address, if any) checked against `info`,
    /// then `accept` is asked; the result waits for [`LocalStore::commit_staged`].
    pub fn stage_nar_checked(
        &self,
        info: &PathInfo,
        nar: &mut dyn Read,
        accept: &mut dyn FnMut() -> bool,
    ) -> Result<StagedPath, AddError> {
        self.restore_checked(info, nar, accept, false)
    }

    fn new_temp(&self) -> TempPath {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut rand = [0u8; 4];
        let _ = getrandom::fill(&mut rand);
        TempPath {
            path: self.real_store.join(format!(
                "{TEMP_PREFIX}{}-s{n}-{}",
                std::process::id(),
                u32::from_le_bytes(rand)
            )),
            armed: true,
        }
    }

    pub(super) fn restore_checked(
        &self,
        info: &PathInfo,
        nar: &mut dyn Read,
        accept: &mut dyn FnMut() -> bool,
        sync: bool,
    ) -> Result<StagedPath, AddError> {
        let gc = FileLock::shared(&self.gc_lock).map_err(io_err(&self.gc_lock))?;
        let temp = self.new_temp();
        let mut reader = HashingReader {
            inner: nar,
            sink: HashSink::new(HashAlgo::Sha256),
        };
        let hook: Option<crate::nar::WrittenHook<'_>> =
            (self.start_writeback || sync).then_some(&start_writeback);
        crate::nar::restore_path_with(&mut reader, &temp.path, hook)?;
        let (got, size) = reader.sink.finish();
        let printed = self.store_dir.print_path(&info.path);
        if got != info.nar_hash {
            return Err(AddError::HashMismatch {
                path: printed,
                expected: info.nar_hash.encode(crate::HashEncoding::Nix32, true),
                got: got.encode(crate::HashEncoding::Nix32, true),
            });
        }
        if size != info.nar_size {
            return Err(AddError::SizeMismatch {
                path: printed,
                expected: info.nar_size,
                got: size,
            });
        }
        canon::canonicalise(&temp.path, sync).map_err(io_err(&temp.path))?;
        if let Some(ca) = &info.ca {
            self.check_ca(info, ca, &temp.path)?;
        }
        if !accept() {
            return Err(AddError::Rejected(printed));
        }
        Ok(StagedPath {
            temp,
            info: info.clone(),
            _gc: gc,
        })
    }

    /// Checks that `info.path` is the path of content address `ca` and that the content at
    /// `content` has the hash `ca` claims.
    fn check_ca(
        &self,
        info: &PathInfo,
        ca: &ContentAddress,
        content: &Path,
    ) -> Result<(), AddError> {
        let printed = self.store_dir.print_path(&info.path);
        let refs: BTreeSet<StorePath> = info.references_without_self().cloned().collect();
        let self_ref = info.references.contains(&info.path);
        let expected = self
            .store_dir
            .make_path_from_ca(info.path.name(), ca, &refs, self_ref)?;
        if expected != info.path {
            return Err(AddError::CaPathMismatch(printed));
        }
        let method = match ca.method {
            ContentAddressMethod::Text => FileIngestionMethod::Flat,
            ContentAddressMethod::Fixed(m) => m,
        };
        let got = crate::hash_path::hash_path(content, ca.hash.algo(), method)
            .map_err(|e| AddError::Io {
                path: content.to_path_buf(),
                source: io::Error::other(e),
            })?
            .0;
        if got != ca.hash {
            return Err(AddError::CaMismatch {
                path: printed,
                expected: ca.hash.encode(crate::HashEncoding::Nix32, true),
                got: got.encode(crate::HashEncoding::Nix32, true),
            });
        }
        Ok(())
    }
}
