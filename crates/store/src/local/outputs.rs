//! Registering the outputs of a build, all or nothing: [`LocalStore::stage_outputs`] moves
//! each output from where the builder left it to a temporary name in the store directory
//! (a rename when on the same file system, else a copy; [`LocalStore::stage_outputs_copied`]
//! always copies, into fresh files, for builds that may have leaked a descriptor), gives it canonical metadata and
//! ownership, and computes its NAR hash, NAR size and references in one streaming pass (the
//! NAR is never held in memory). The caller can inspect the results (fixed-output hashes,
//! `--check` comparisons) before [`StagedOutputs::commit`] renames every output into place
//! and registers them — and the derivation's output mapping — in one database transaction.
//! If anything fails, no output is registered, none is left in the store directory, and
//! outputs that were moved are put back where the builder left them.
//!
//! ```
//! use std::collections::BTreeSet;
//! use nixkit_store::local::{LocalStore, OutputSource, StoreConfig};
//! use nixkit_store::{StoreDir, StorePath};
//!
//! let root = tempfile::tempdir().unwrap();
//! let store = LocalStore::open(StoreConfig::new(root.path().join("s"), StoreDir::default())).unwrap();
//! let out = StorePath::from_base_name("7rjj86a15146cq1d3qy068lml7n8ykzm-hello").unwrap();
//! let built = root.path().join("built");
//! std::fs::write(&built, "hello").unwrap();
//! let infos = store
//!     .register_built_outputs(&[OutputSource { path: out.clone(), source: built }], &BTreeSet::new(), None)
//!     .unwrap();
//! assert_eq!(infos[0].nar_size, 120);
//! assert!(store.is_valid(&out).unwrap());
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use nix::fcntl::AtFlags;
use nix::unistd::{fchownat, getegid, geteuid, Gid, Uid};

use super::add::{io_err, now, TempPath};
use super::canon;
use super::lock::FileLock;
use super::{AddError, LocalStore};
use crate::nar::dump_path;
use crate::{HashAlgo, HashSink, PathInfo, RefScanner, StorePath};

/// An output a builder produced outside the store.
#[derive(Debug, Clone)]
pub struct OutputSource {
    /// The store path it becomes.
    pub path: StorePath,
    /// Where it is now (it is moved away, or copied if on another file system).
    pub source: PathBuf,
}

/// One output moved into the store directory under a temporary name.
#[derive(Debug)]
pub struct StagedOutput {
    /// Its metadata: NAR hash and size, references (among the candidates), deriver,
    /// `ultimate`. The caller may set `ca` (fixed outputs) before committing.
    pub info: PathInfo,
    temp: TempPath,
    source: PathBuf,
    renamed: bool,
}

impl std::fmt::Debug for TempPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TempPath").field(&self.path).finish()
    }
}

impl StagedOutput {
    /// The output's files, canonical and read-only, under their temporary name.
    pub fn content(&self) -> &Path {
        &self.temp.path
    }
}

/// Outputs of one build, staged by [`LocalStore::stage_outputs`]. Dropping it without
/// [`StagedOutputs::commit`] puts them back where they were (or removes the copies).
pub struct StagedOutputs<'s> {
    store: &'s LocalStore,
    outputs: Vec<StagedOutput>,
    // Held from staging to commit, so GC does not take the temporaries for strays.
    _gc: FileLock,
}

impl std::fmt::Debug for StagedOutputs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedOutputs")
            .field("outputs", &self.outputs)
            .finish_non_exhaustive()
    }
}

impl Drop for StagedOutputs<'_> {
    /// Outputs not committed go back where they came from (if they were moved, not copied),
    /// so a failed registration does not destroy the caller's files (say, for
    /// `--keep-failed`); whatever cannot go back is removed with its temporary.
    fn drop(&mut self) {
        for out in &mut self.outputs {
            if !(out.renamed && out.temp.armed) {
                continue;
            }
            // A canonical directory is read-only, and moving a directory to another parent
            // needs write permission on it (to update `..`) unless running as root.
            if fs::symlink_metadata(&out.temp.path).is_ok_and(|m| m.is_dir()) {
                let _ = fs::set_permissions(
                    &out.temp.path,
                    std::os::unix::fs::PermissionsExt::from_mode(0o755),
                );
            }
            if fs::rename(&out.temp.path, &out.source).is_ok() {
                out.temp.armed = false;
            }
        }
    }
}

/// Feeds the NAR stream to the hash (which also counts its size) and the reference scanner.
struct NarSink<'a> {
    hash: HashSink,
    scanner: &'a mut RefScanner,
}

impl io::Write for NarSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hash.update(buf);
        self.scanner.scan(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Makes every file under `path` owned by the current user (a root store takes over what
/// build users created, as CppNix does); a no-op when ownership already matches.
fn take_ownership(path: &Path, uid: Uid, gid: Gid) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if std::os::unix::fs::MetadataExt::uid(&meta) != uid.as_raw()
        || std::os::unix::fs::MetadataExt::gid(&meta) != gid.as_raw()
    {
        fchownat(
            None,
            path,
            Some(uid),
            Some(gid),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(io::Error::from)?;
    }
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            take_ownership(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Copies the output at `source` to `dest` (which must not exist) as fresh files: through
/// descriptors opened with `O_NOFOLLOW`, so links are copied as links and never followed,
/// and only directories, regular files and symbolic links are accepted. Nothing that held a
/// descriptor of the original can reach the copy.
fn copy_fresh(source: &Path, dest: &Path) -> io::Result<()> {
    let (Some(parent), Some(name)) = (source.parent(), source.file_name()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{}' is not a file name", source.display()),
        ));
    };
    copy_at(&fs::File::open(parent)?, name, dest)
}

/// `name` in the directory open as `dir`, as a path that resolves through the descriptor
/// (`/proc/self/fd/N/name`), not through the directory's own, replaceable, path.
fn at(dir: &fs::File, name: &std::ffi::OsStr) -> PathBuf {
    use std::os::fd::AsRawFd;
    Path::new("/proc/self/fd")
        .join(dir.as_raw_fd().to_string())
        .join(name)
}

fn copy_at(dir: &fs::File, name: &std::ffi::OsStr, dest: &Path) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = at(dir, name);
    let open = |flags: i32| {
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags | libc_o_nofollow())
            .open(&path)
    };
    let meta = fs::symlink_metadata(&path)?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(&path)?, dest)
    } else if ft.is_dir() {
        let sub = open(nix::fcntl::OFlag::O_DIRECTORY.bits())?;
        fs::create_dir(dest)?;
        let listing = at(&sub, std::ffi::OsStr::new(""));
        for entry in fs::read_dir(listing)? {
            let n = entry?.file_name();
            copy_at(&sub, &n, &dest.join(&n))?;
        }
        Ok(())
    } else if ft.is_file() {
        let mut src = open(nix::fcntl::OFlag::O_NONBLOCK.bits())?;
        let meta = src.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("'{}' changed while being copied", dest.display()),
            ));
        }
        let exec = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o100 != 0;
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if exec { 0o755 } else { 0o644 })
            .open(dest)?;
        io::copy(&mut src, &mut out).map(drop)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{}' has an unsupported file type", dest.display()),
        ))
    }
}

fn libc_o_nofollow() -> i32 {
    nix::fcntl::OFlag::O_NOFOLLOW.bits() | nix::fcntl::OFlag::O_CLOEXEC.bits()
}

impl LocalStore {
    /// Moves `outputs` into the store directory under temporary names and computes their
    /// metadata (references are searched among `candidates` and the outputs themselves;
    /// `deriver` is recorded). Nothing is registered until [`StagedOutputs::commit`].
    pub fn stage_outputs(
        &self,
        outputs: &[OutputSource],
        candidates: &BTreeSet<StorePath>,
        deriver: Option<&StorePath>,
    ) -> Result<StagedOutputs<'_>, AddError> {
        self.stage(outputs, candidates, deriver, false)
    }

    /// [`LocalStore::stage_outputs`], but every output is copied into fresh files instead of
    /// renamed, so a descriptor the builder kept (or passed to another process, as
    /// fixed-output builds sharing the host network can) does not reach the registered
    /// path (CVE-2024-27297). The copy is made outside the build directory, through
    /// descriptors that never follow links.
    pub fn stage_outputs_copied(
        &self,
        outputs: &[OutputSource],
        candidates: &BTreeSet<StorePath>,
        deriver: Option<&StorePath>,
    ) -> Result<StagedOutputs<'_>, AddError> {
        self.stage(outputs, candidates, deriver, true)
    }

    fn stage(
        &self,
        outputs: &[OutputSource],
        candidates: &BTreeSet<StorePath>,
        deriver: Option<&StorePath>,
        copy: bool,
    ) -> Result<StagedOutputs<'_>, AddError> {
        let gc = self.gc_shared()?;
        let mut all = candidates.clone();
        all.extend(outputs.iter().map(|o| o.path.clone()));
        let mut staged = StagedOutputs {
            store: self,
            outputs: Vec::with_capacity(outputs.len()),
            _gc: gc,
        };
        let (uid, gid) = (geteuid(), getegid());
        for out in outputs {
            let mut temp = self.new_temp();
            let moved = if copy {
                Err(io::Error::from_raw_os_error(
                    nix::errno::Errno::EXDEV as i32,
                ))
            } else {
                fs::rename(&out.source, &temp.path)
            };
            let renamed = match moved {
                Ok(()) => true,
                Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EXDEV as i32) => {
                    if let Err(e) = copy_fresh(&out.source, &temp.path) {
                        // Remove whatever part of the copy was made.
                        let _ = canon::remove_tree(&temp.path);
                        temp.armed = false;
                        return Err(io_err(&out.source)(e));
                    }
                    false
                }
                Err(e) => {
                    // Nothing was created: do not try to remove a temporary.
                    temp.armed = false;
                    return Err(io_err(&out.source)(e));
                }
            };
            // Recorded at once, so a failure below still removes (or returns) this output.
            staged.outputs.push(StagedOutput {
                info: PathInfo::new(
                    out.path.clone(),
                    crate::Hash::digest(HashAlgo::Sha256, b""),
                    0,
                ),
                temp,
                source: out.source.clone(),
                renamed,
            });
            let Some(entry) = staged.outputs.last_mut() else {
                continue;
            };
            let content = entry.temp.path.clone();
            if fs::symlink_metadata(&content).is_ok_and(|m| m.is_dir()) {
                canon::make_writable(&content).map_err(io_err(&out.source))?;
            }
            if uid.is_root() {
                take_ownership(&content, uid, gid).map_err(io_err(&out.source))?;
            }
            canon::canonicalise(&content, self.config.fsync).map_err(io_err(&out.source))?;
            let mut scanner = RefScanner::new(all.iter().cloned());
            let mut sink = NarSink {
                hash: HashSink::new(HashAlgo::Sha256),
                scanner: &mut scanner,
            };
            dump_path(&content, &mut sink)?;
            let (nar_hash, nar_size) = sink.hash.finish();
            entry.info = PathInfo::new(out.path.clone(), nar_hash, nar_size);
            entry.info.references = scanner.found_paths();
            entry.info.deriver = deriver.cloned();
            entry.info.ultimate = true;
        }
        Ok(staged)
    }

    /// [`LocalStore::stage_outputs`] then [`StagedOutputs::commit`] (without a derivation
    /// output mapping): registers the outputs of one build atomically.
    pub fn register_built_outputs(
        &self,
        outputs: &[OutputSource],
        candidates: &BTreeSet<StorePath>,
        deriver: Option<&StorePath>,
    ) -> Result<Vec<PathInfo>, AddError> {
        self.stage_outputs(outputs, candidates, deriver)?
            .commit(None)
    }
}

impl StagedOutputs<'_> {
    /// The staged outputs, in the order given.
    pub fn outputs(&self) -> &[StagedOutput] {
        &self.outputs
    }

    /// The staged outputs, to adjust their metadata (say, a fixed output's `ca`).
    pub fn outputs_mut(&mut self) -> &mut [StagedOutput] {
        &mut self.outputs
    }

    /// Moves staged output `index` to the output's real path plus `suffix` (say `.check`),
    /// replacing whatever is there, without registering it; returns where it went.
    pub fn keep_unregistered(&mut self, index: usize, suffix: &str) -> Result<PathBuf, AddError> {
        let Some(out) = self.outputs.get_mut(index) else {
            return Err(AddError::Io {
                path: PathBuf::from(suffix),
                source: io::Error::new(io::ErrorKind::NotFound, "no such staged output"),
            });
        };
        let mut dest = self.store.real_path(&out.info.path).into_os_string();
        dest.push(suffix);
        let dest = PathBuf::from(dest);
        canon::remove_tree(&dest).map_err(io_err(&dest))?;
        fs::rename(&out.temp.path, &dest).map_err(io_err(&dest))?;
        out.temp.armed = false;
        Ok(dest)
    }

    /// Renames every output that is not yet valid into place and registers them all in
    /// one transaction, together with `drv_outputs` (a derivation's output mapping,
    /// recorded if the derivation is valid). On failure nothing is registered and the
    /// outputs moved into place are removed again. Returns the outputs' metadata.
    pub fn commit(
        mut self,
        drv_outputs: Option<(&StorePath, &BTreeMap<String, StorePath>)>,
    ) -> Result<Vec<PathInfo>, AddError> {
        let store = self.store;
        let locks_dir = store.state.join("locks");
        // Lock in path order, so concurrent commits of overlapping outputs cannot deadlock.
        let mut order: Vec<usize> = (0..self.outputs.len()).collect();
        order.sort_by(|&a, &b| self.outputs[a].info.path.cmp(&self.outputs[b].info.path));
        let mut locks = Vec::with_capacity(order.len());
        for &i in &order {
            locks.push(
                store
                    .path_lock(&self.outputs[i].info.path)
                    .map_err(io_err(&locks_dir))?,
            );
        }
        let mut placed: Vec<(usize, PathBuf)> = Vec::new();
        let result = self.place_and_register(&mut placed, drv_outputs);
        if result.is_err() {
            // Out of place again: back to the temporary (so dropping `self` returns it to
            // its source), or removed if even that fails.
            for (i, dest) in &placed {
                let Some(out) = self.outputs.get_mut(*i) else {
                    continue;
                };
                if fs::rename(dest, &out.temp.path).is_ok() {
                    out.temp.armed = true;
                } else {
                    let _ = canon::remove_tree(dest);
                }
            }
        }
        drop(locks);
        result?;
        for out in &self.outputs {
            store
                .add_temp_root(&out.info.path)
                .map_err(io_err(&store.state.join("temproots")))?;
        }
        Ok(self.outputs.iter().map(|o| o.info.clone()).collect())
    }

    fn place_and_register(
        &mut self,
        placed: &mut Vec<(usize, PathBuf)>,
        drv_outputs: Option<(&StorePath, &BTreeMap<String, StorePath>)>,
    ) -> Result<(), AddError> {
        let store = self.store;
        let time = now();
        for (i, out) in self.outputs.iter_mut().enumerate() {
            if out.info.registration_time == 0 {
                out.info.registration_time = time;
            }
            if store.db.is_valid(&out.info.path)? {
                continue;
            }
            let dest = store.real_path(&out.info.path);
            // Whatever is there is unregistered: a leftover of a crash after a rename.
            canon::remove_tree(&dest).map_err(io_err(&dest))?;
            fs::rename(&out.temp.path, &dest).map_err(io_err(&dest))?;
            out.temp.armed = false;
            placed.push((i, dest));
        }
        if store.config.fsync {
            canon::sync_dir(&store.real_store).map_err(io_err(&store.real_store))?;
        }
        let infos: Vec<PathInfo> = self.outputs.iter().map(|o| o.info.clone()).collect();
        store.db.register_with_outputs(&infos, drv_outputs)?;
        Ok(())
    }
}
