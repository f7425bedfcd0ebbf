//! Garbage collection: roots (`gcroots/` recursively with `auto/` indirect roots, profiles,
//! temporary roots of live processes), the live and dead sets, collection, and deleting
//! specific paths (refused while they are alive).
//!
//! Adders hold `gc.lock` shared from before their temporary exists until their path is a
//! temporary root; the collector holds it exclusive, so it never sees a half-added path.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::db::DbError;
use super::lock::FileLock;
use super::{canon, LocalStore, QueryError, TEMP_PREFIX, TRASH_PREFIX};
use crate::{nixbase32, Hash, HashAlgo, StorePath};

/// Why garbage collection or deletion failed.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    /// A file system operation failed.
    #[error("garbage collection at '{path}': {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A query failed.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// `--delete` of a path that is reachable from a root.
    #[error(
        "cannot delete path '{0}' since it is still alive. To find out why, use: \
         nix-store --query --roots"
    )]
    Alive(String),
    /// The path to delete is not valid.
    #[error("path '{0}' is not valid")]
    NotValid(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> GcError + '_ {
    move |source| GcError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where a root comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Root {
    /// A symlink under `gcroots/` or `profiles/` (or the link an indirect root points to).
    Link(PathBuf),
    /// A temporary root of the live process with this pid.
    Temp(u32),
}

impl std::fmt::Display for Root {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Link(p) => write!(f, "{}", p.display()),
            Self::Temp(pid) => write!(f, "{{temp:{pid}}}"),
        }
    }
}

/// What to collect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GcOptions {
    /// Only compute what would be deleted.
    pub dry_run: bool,
    /// Stop after freeing this many bytes (NAR sizes).
    pub max_freed: Option<u64>,
    /// Keep the derivers of live paths (CppNix's `keep-derivations`, default on).
    pub keep_derivations: bool,
    /// Keep the outputs of live derivations (CppNix's `keep-outputs`, default off).
    pub keep_outputs: bool,
}

impl Default for GcOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            max_freed: None,
            keep_derivations: true,
            keep_outputs: false,
        }
    }
}

/// What a collection deleted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcResult {
    /// The deleted paths, in deletion order.
    pub deleted: Vec<StorePath>,
    /// The sum of their NAR sizes.
    pub bytes_freed: u64,
}

impl LocalStore {
    /// Registers `link` (a symlink the caller created, e.g. `./result`) as an indirect root:
    /// `gcroots/auto/<nix32(sha1(link))>` → `link`.
    pub fn add_indirect_root(&self, link: &Path) -> Result<(), GcError> {
        let hash = Hash::digest(HashAlgo::Sha1, link.as_os_str().as_bytes());
        let auto = self
            .state
            .join("gcroots/auto")
            .join(nixbase32::encode(hash.as_bytes()));
        replace_symlink(link, &auto).map_err(io_err(&auto))
    }

    /// Makes `link` a symlink to `path` and registers it as an indirect root.
    pub fn add_perm_root(&self, path: &StorePath, link: &Path) -> Result<(), GcError> {
        let target = self.store_dir().print_path(path);
        replace_symlink(Path::new(&target), link).map_err(io_err(link))?;
        self.add_indirect_root(link)
    }

    /// Every root and the store path it keeps alive (only valid paths count).
    pub fn find_roots(&self) -> Result<Vec<(Root, StorePath)>, GcError> {
        let mut roots = Vec::new();
        for dir in [self.state.join("gcroots"), self.state.join("profiles")] {
            self.scan_roots(&dir, &mut roots)?;
        }
        let temp = self.state.join("temproots");
        for entry in fs::read_dir(&temp).map_err(io_err(&temp))? {
            let entry = entry.map_err(io_err(&temp))?;
            let file = entry.path();
            // `<pid>`, or `<pid>-<session>` for one of a daemon's connections.
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(pid) = name.split('-').next().unwrap_or("").parse::<u32>() else {
                continue;
            };
            // A live process holds its file locked; a lockable file belongs to a dead one.
            if pid != std::process::id() {
                if let Some(_lock) = FileLock::try_exclusive(&file).map_err(io_err(&file))? {
                    let _ = fs::remove_file(&file);
                    continue;
                }
            }
            let data = fs::read(&file).map_err(io_err(&file))?;
            for item in data.split(|&b| b == 0).filter(|s| !s.is_empty()) {
                if let Some(p) = self.valid_store_path(&String::from_utf8_lossy(item))? {
                    roots.push((Root::Temp(pid), p));
                }
            }
        }
        roots.sort();
        roots.dedup();
        Ok(roots)
    }

    /// The valid store path that `target` (a logical path, possibly inside one) names.
    fn valid_store_path(&self, target: &str) -> Result<Option<StorePath>, GcError> {
        match self.store_dir().parse_path_prefix(target) {
            Ok((p, _)) if self.db.is_valid(&p)? => Ok(Some(p)),
            _ => Ok(None),
        }
    }

    fn scan_roots(&self, dir: &Path, roots: &mut Vec<(Root, StorePath)>) -> Result<(), GcError> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(dir)(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err(dir))?;
            let path = entry.path();
            let ft = entry.file_type().map_err(io_err(&path))?;
            if ft.is_dir() {
                self.scan_roots(&path, roots)?;
                continue;
            }
            if !ft.is_symlink() {
                continue;
            }
            let target = fs::read_link(&path).map_err(io_err(&path))?;
            let target = if target.is_relative() {
                dir.join(target)
            } else {
                target
            };
            if let Some(p) = self.valid_store_path(&target.to_string_lossy())? {
                roots.push((Root::Link(path), p));
                continue;
            }
            // An indirect root: a link to a link (e.g. `./result`) that points into the store.
            match fs::symlink_metadata(&target) {
                Err(e) if e.kind() == io::ErrorKind::NotFound && dir.ends_with("gcroots/auto") => {
                    let _ = fs::remove_file(&path);
                }
                Ok(meta) if meta.file_type().is_symlink() => {
                    let second = fs::read_link(&target).map_err(io_err(&target))?;
                    let second = match (second.is_relative(), target.parent()) {
                        (true, Some(parent)) => parent.join(second),
                        _ => second,
                    };
                    if let Some(p) = self.valid_store_path(&second.to_string_lossy())? {
                        roots.push((Root::Link(target), p));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The paths reachable from roots (with derivers and outputs per `options`).
    pub fn live_paths(&self, options: &GcOptions) -> Result<BTreeSet<StorePath>, GcError> {
        let roots: BTreeSet<StorePath> = self.find_roots()?.into_iter().map(|(_, p)| p).collect();
        let mut live = BTreeSet::new();
        let mut todo: Vec<StorePath> = roots.into_iter().collect();
        while let Some(p) = todo.pop() {
            if !live.insert(p.clone()) {
                continue;
            }
            let Some(info) = self.db.query_info(&p)? else {
                continue;
            };
            todo.extend(info.references.into_iter().filter(|r| !live.contains(r)));
            if options.keep_derivations {
                if let Some(d) = info.deriver {
                    if self.db.is_valid(&d)? && !live.contains(&d) {
                        todo.push(d);
                    }
                }
            }
            if options.keep_outputs && p.name().ends_with(".drv") {
                for out in self.db.derivation_outputs(&p)?.into_values() {
                    if self.db.is_valid(&out)? && !live.contains(&out) {
                        todo.push(out);
                    }
                }
            }
        }
        Ok(live)
    }

    /// The valid paths not reachable from any root.
    pub fn dead_paths(&self, options: &GcOptions) -> Result<BTreeSet<StorePath>, GcError> {
        let live = self.live_paths(options)?;
        Ok(self
            .valid_paths()?
            .into_iter()
            .filter(|p| !live.contains(p))
            .collect())
    }

    /// Deletes every dead path (referrers before their references), then anything in the
    /// store directory that is not a valid path.
    pub fn collect_garbage(&self, options: &GcOptions) -> Result<GcResult, GcError> {
        let lock = self.gc_lock_path();
        let _gc = FileLock::exclusive(&lock).map_err(io_err(&lock))?;
        let dead = self.dead_paths(options)?;
        let mut result = GcResult::default();
        if options.dry_run {
            result.deleted = dead.into_iter().collect();
            return Ok(result);
        }
        let mut order = self.topo_sort(&dead)?;
        order.reverse();
        for p in order {
            if options
                .max_freed
                .is_some_and(|max| result.bytes_freed >= max)
            {
                return Ok(result);
            }
            result.bytes_freed += self.delete_one(&p)?;
            result.deleted.push(p);
        }
        self.remove_invalid_entries()?;
        Ok(result)
    }

    /// Deletes `paths`, refusing (before deleting anything) if any of them is alive.
    pub fn delete_paths(&self, paths: &BTreeSet<StorePath>) -> Result<GcResult, GcError> {
        let lock = self.gc_lock_path();
        let _gc = FileLock::exclusive(&lock).map_err(io_err(&lock))?;
        let live = self.live_paths(&GcOptions::default())?;
        for p in paths {
            let printed = self.store_dir().print_path(p);
            if !self.db.is_valid(p)? {
                return Err(GcError::NotValid(printed));
            }
            if live.contains(p) {
                return Err(GcError::Alive(printed));
            }
        }
        let mut order = self.topo_sort(paths)?;
        order.reverse();
        let mut result = GcResult::default();
        for p in order {
            result.bytes_freed += self.delete_one(&p)?;
            result.deleted.push(p);
        }
        Ok(result)
    }

    /// Unregisters `p`, then moves its files aside and removes them; returns its NAR size.
    fn delete_one(&self, p: &StorePath) -> Result<u64, GcError> {
        let size = self.db.query_info(p)?.map_or(0, |i| i.nar_size);
        let locks = self.state.join("locks");
        let _lock = self.path_lock(p).map_err(io_err(&locks))?;
        self.db.invalidate(p)?;
        let real = self.real_path(p);
        let trash = self.temp_name(TRASH_PREFIX);
        match fs::rename(&real, &trash) {
            Ok(()) => canon::remove_tree(&trash).map_err(io_err(&trash))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&real)(e)),
        }
        let _ = fs::remove_file(locks.join(format!("{}.lock", p.hash_part())));
        Ok(size)
    }

    /// Removes entries of the store directory that are not valid paths (leftovers of crashes).
    fn remove_invalid_entries(&self) -> Result<(), GcError> {
        let dir = self.real_store.clone();
        let valid: BTreeMap<String, ()> = self
            .valid_paths()?
            .into_iter()
            .map(|p| (p.to_base_name(), ()))
            .collect();
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let stray = name.starts_with(TEMP_PREFIX) || name.starts_with(TRASH_PREFIX);
            if stray || (StorePath::from_base_name(&name).is_ok() && !valid.contains_key(&name)) {
                canon::remove_tree(&entry.path()).map_err(io_err(&entry.path()))?;
            }
        }
        Ok(())
    }
}

/// Atomically makes `link` a symlink to `target` (temporary link, then rename).
pub(crate) fn replace_symlink(target: &Path, link: &Path) -> io::Result<()> {
    let parent = link.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent)?;
    let name = link
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = parent.join(format!(".{}_{name}", std::process::id()));
    let _ = fs::remove_file(&temp);
    std::os::unix::fs::symlink(target, &temp)?;
    fs::rename(&temp, link)
}
