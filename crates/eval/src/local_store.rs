//! An [`EvalStore`] over nixkit's SQLite [`LocalStore`]: path literals and
//! `builtins.path`, `builtins.toFile` and `derivation` write into it (the
//! `.drv` files with their output mapping), so that evaluated derivations can
//! then be built, and `--add-root` registers garbage collector roots.
//!
//! This module is behind the `local-store` cargo feature (it enables
//! `nixkit-store`'s `local` feature, hence SQLite): the default build of
//! `nixkit-eval` stays free of SQLite and only has the compute-only
//! [`crate::ReadOnlyStore`]. Binaries that write to the store (`nix-build`,
//! `nix-instantiate` without `--eval`/`--readonly-mode`) enable it.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use nixkit_eval::local_store::LocalEvalStore;
//!
//! let store = Arc::new(LocalEvalStore::open(Some("/tmp/my-store"))?);
//! let mut ev = nixkit_eval::Evaluator::builder().store(store).build();
//! let v = ev.eval_str("(derivation { name = \"x\"; system = \"s\"; builder = \"/b\"; }).drvPath", "/")?;
//! # let _ = v; Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nixkit_derivation::parse_derivation;
use nixkit_store::local::{LocalStore, OpenError, StoreConfig};
use nixkit_store::{FileIngestionMethod, HashAlgo, StoreDir, StorePath};

use crate::io::EvalStoreError;
use crate::store_path::StorePathError;
use crate::{EvalError, EvalIo, EvalPath, EvalStore, FileIngestion, FileType, PathFilter};

/// Opens the local store as `nix-store --store SPEC` does: `SPEC` as
/// [`StoreConfig::from_spec`] reads it (a directory, `local?root=DIR`, `auto`);
/// without it, `NIXKIT_STORE`, else `$XDG_DATA_HOME/nixkit/store` (see
/// [`StoreConfig::default_root`]). The logical store directory is
/// `/nix/store`; the files live under the root.
pub fn open_local_store(spec: Option<&str>) -> Result<LocalStore, OpenError> {
    let store_dir = StoreDir::default();
    let config = match spec {
        Some(s) => StoreConfig::from_spec(s, store_dir)?,
        None => StoreConfig::from_env(store_dir)?,
    };
    LocalStore::open(config)
}

/// The local store as the evaluator sees it.
pub struct LocalEvalStore {
    store: Mutex<LocalStore>,
    store_dir: String,
}

impl LocalEvalStore {
    /// Wraps an open local store.
    pub fn new(store: LocalStore) -> Self {
        let store_dir = store.store_dir().as_str().to_owned();
        Self {
            store: Mutex::new(store),
            store_dir,
        }
    }

    /// Opens the local store `spec` names (see [`open_local_store`]).
    pub fn open(spec: Option<&str>) -> Result<Self, OpenError> {
        open_local_store(spec).map(Self::new)
    }

    /// Gives the store back (once the evaluator has been dropped).
    pub fn into_inner(self) -> LocalStore {
        self.store.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    /// The store, locked (a poisoned lock is taken over: the store's own
    /// transactions keep it consistent).
    pub fn lock(&self) -> std::sync::MutexGuard<'_, LocalStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The store's lock itself, for work that locks it in turns (building).
    pub fn mutex(&self) -> &Mutex<LocalStore> {
        &self.store
    }

    fn parse(&self, store: &LocalStore, p: &str) -> Result<StorePath, EvalStoreError> {
        store
            .store_dir()
            .parse_path(p)
            .map_err(|_| EvalStoreError::NotInStore(p.to_owned()))
    }

    fn parse_all(
        &self,
        store: &LocalStore,
        paths: &[String],
    ) -> Result<BTreeSet<StorePath>, EvalStoreError> {
        paths.iter().map(|p| self.parse(store, p)).collect()
    }
}

fn file_type(meta: &fs::Metadata) -> FileType {
    crate::io::convert_type(meta.file_type())
}

/// Copies `src` to `dst`, leaving out what `filter` rejects below the root
/// (how a filtered `builtins.path` is prepared for adding, by any store).
pub fn copy_filtered(
    src: &Path,
    dst: &Path,
    filter: &mut dyn FnMut(EvalPath<'_>, FileType) -> Result<bool, EvalError>,
) -> Result<(), StorePathError> {
    let err = |source: std::io::Error| StorePathError::Io {
        path: src.display().to_string(),
        source,
    };
    let meta = fs::symlink_metadata(src).map_err(err)?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(src).map_err(err)?, dst).map_err(err)
    } else if ft.is_dir() {
        fs::create_dir(dst).map_err(err)?;
        let mut entries: Vec<PathBuf> = fs::read_dir(src)
            .map_err(err)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(err)?;
        entries.sort();
        for child in entries {
            let m = fs::symlink_metadata(&child).map_err(err)?;
            if filter(
                EvalPath::new(&crate::io::nix_text(child.as_os_str())),
                file_type(&m),
            )
            .map_err(|e| StorePathError::Filter(Box::new(e)))?
            {
                let name = child.file_name().map(PathBuf::from).unwrap_or_default();
                copy_filtered(&child, &dst.join(name), filter)?;
            }
        }
        Ok(())
    } else {
        fs::copy(src, dst).map(drop).map_err(err)
    }
}

/// What adding `path` copies: the path itself, or for a recursive addition with a filter,
/// a filtered copy in a temporary directory (removed when the returned guard is dropped).
/// Shared by every `EvalStore` that adds through a store's own add-to-store.
pub fn source_to_add(
    path: EvalPath<'_>,
    method: FileIngestion,
    filter: PathFilter<'_>,
) -> Result<(FileIngestionMethod, SourceToAdd), EvalStoreError> {
    let method = match method {
        FileIngestion::Flat => FileIngestionMethod::Flat,
        FileIngestion::Recursive => FileIngestionMethod::Recursive,
    };
    match filter {
        Some(filter) if method == FileIngestionMethod::Recursive => {
            let tmp = tempfile::Builder::new()
                .prefix("nixkit-add-")
                .tempdir()
                .map_err(EvalStoreError::backend)?;
            let copy = tmp.path().join("copy");
            copy_filtered(&path.to_os_path(), &copy, filter)?;
            Ok((
                method,
                SourceToAdd {
                    path: copy,
                    _tmp: Some(tmp),
                },
            ))
        }
        _ => Ok((
            method,
            SourceToAdd {
                path: path.to_os_path(),
                _tmp: None,
            },
        )),
    }
}

/// A path to add to the store, with the temporary directory holding it if it is a
/// filtered copy.
#[derive(Debug)]
pub struct SourceToAdd {
    path: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl std::ops::Deref for SourceToAdd {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

/// The filter again, for a shorter use (`Option::as_deref_mut` would keep it borrowed for
/// its whole lifetime).
fn reborrow<'s>(filter: &'s mut PathFilter<'_>) -> PathFilter<'s> {
    match filter {
        Some(f) => Some(&mut **f),
        None => None,
    }
}

impl EvalStore for LocalEvalStore {
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
        // The path first, by hashing what would be added (streaming, nothing copied): a
        // path that is already valid is returned as it is, so evaluating a package set
        // again does not copy its sources again.
        let mut filter = filter;
        let computed = match method {
            FileIngestion::Recursive => {
                let hash = crate::store_path::nar_sha256(io, path.as_str(), reborrow(&mut filter))?;
                crate::store_path::make_store_path(&self.store_dir, "source", &hash, name)?
            }
            FileIngestion::Flat => {
                let data = io.read_file(path).map_err(|source| StorePathError::Io {
                    path: path.to_string(),
                    source,
                })?;
                crate::store_path::make_flat_path(&self.store_dir, &data, name)?
            }
        };
        {
            let store = self.lock();
            let p = self.parse(&store, &computed)?;
            if store.keep_if_valid(&p).map_err(EvalStoreError::backend)? {
                return Ok(computed);
            }
        }
        let (method, src) = source_to_add(path, method, filter)?;
        let store = self.lock();
        let added = store
            .add_to_store(name, &src, method, HashAlgo::Sha256)
            .map_err(EvalStoreError::backend)?;
        Ok(store.store_dir().print_path(&added))
    }

    fn add_text(
        &self,
        name: &str,
        text: &str,
        references: &[String],
    ) -> Result<String, EvalStoreError> {
        let store = self.lock();
        let refs = self.parse_all(&store, references)?;
        let p = store
            .add_text_to_store(name, &nixkit_syntax::encode_bytes(text), &refs)
            .map_err(EvalStoreError::backend)?;
        Ok(store.store_dir().print_path(&p))
    }

    fn write_derivation(
        &self,
        drv_path: &str,
        aterm: &str,
        references: &[String],
    ) -> Result<(), EvalStoreError> {
        let store = self.lock();
        let expected = self.parse(&store, drv_path)?;
        // A derivation already valid had its outputs recorded when it was written: nothing
        // to write (no transaction, so no WAL commit and fsync on every evaluation).
        if store
            .keep_if_valid(&expected)
            .map_err(EvalStoreError::backend)?
        {
            return Ok(());
        }
        let refs = self.parse_all(&store, references)?;
        let p = store
            .add_text_to_store(expected.name(), aterm.as_bytes(), &refs)
            .map_err(EvalStoreError::backend)?;
        if p != expected {
            return Err(EvalStoreError::DerivationPath {
                expected: drv_path.to_owned(),
                written: store.store_dir().print_path(&p),
            });
        }
        let name = expected
            .name()
            .strip_suffix(".drv")
            .unwrap_or(expected.name());
        let drv = parse_derivation(store.store_dir(), name, aterm.as_bytes())
            .map_err(EvalStoreError::backend)?;
        let outputs = drv.known_output_paths(store.store_dir());
        store
            .set_derivation_outputs(&p, &outputs)
            .map_err(EvalStoreError::backend)
    }

    fn read_derivation(&self, drv_path: &str) -> Result<Option<String>, EvalStoreError> {
        let store = self.lock();
        let p = self.parse(&store, drv_path)?;
        if !store.is_valid(&p).map_err(EvalStoreError::backend)? {
            return Ok(None);
        }
        fs::read_to_string(store.real_path(&p))
            .map(Some)
            .map_err(EvalStoreError::backend)
    }

    fn query_references(&self, path: &str) -> Result<Option<Vec<String>>, EvalStoreError> {
        let store = self.lock();
        let p = self.parse(&store, path)?;
        match store.query_path_info(&p).map_err(EvalStoreError::backend)? {
            None => Ok(None),
            Some(info) => Ok(Some(
                info.references
                    .iter()
                    .map(|r| store.store_dir().print_path(r))
                    .collect(),
            )),
        }
    }

    fn add_perm_root(&self, path: &str, root: &str) -> Result<String, EvalStoreError> {
        let store = self.lock();
        let p = self.parse(&store, path)?;
        store
            .add_perm_root(&p, Path::new(root))
            .map_err(EvalStoreError::backend)?;
        Ok(root.to_owned())
    }

    fn is_valid_path(&self, path: &str) -> bool {
        let store = self.lock();
        self.parse(&store, path)
            .ok()
            .is_some_and(|p| store.is_valid(&p).unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use super::*;
    use crate::{Evaluator, Value};

    #[test]
    fn derivation_is_written_with_its_closure() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Arc::new(
            LocalEvalStore::open(Some(&format!("local?root={}", tmp.path().display()))).unwrap(),
        );
        let mut ev = Evaluator::builder().store(store.clone()).build();
        let src = "let dep = derivation { name = \"dep\"; system = \"s\"; builder = builtins.toFile \"b\" \"x\"; }; \
                   in (derivation { name = \"top\"; system = \"s\"; builder = \"/b\"; inherit dep; }).drvPath";
        let Value::String(p) = ev.eval_str(src, "/").unwrap() else {
            panic!("not a string")
        };
        let top = p.as_str().to_string();
        assert!(store.is_valid_path(&top));
        assert!(store
            .read_derivation(&top)
            .unwrap()
            .unwrap()
            .starts_with("Derive("));
        let refs = store.query_references(&top).unwrap().unwrap();
        assert_eq!(refs.len(), 1);
        assert!(refs[0].ends_with("-dep.drv"));
        let dep_refs = store.query_references(&refs[0]).unwrap().unwrap();
        assert!(dep_refs[0].ends_with("-b"), "{dep_refs:?}");
        let root = tmp.path().join("root");
        let printed = store.add_perm_root(&top, root.to_str().unwrap()).unwrap();
        assert_eq!(printed, root.to_string_lossy());
        assert_eq!(fs::read_link(&root).unwrap().to_string_lossy(), top);
    }

    #[test]
    fn a_valid_source_is_hashed_not_copied_again() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        fs::create_dir_all(src.join("kept")).unwrap();
        fs::write(src.join("kept/a"), "a").unwrap();
        fs::write(src.join("dropped"), "d").unwrap();
        let store = LocalEvalStore::open(Some(&format!(
            "local?root={}",
            tmp.path().join("s").display()
        )))
        .unwrap();
        let src_text = src.to_str().unwrap();
        // Counts the filter's calls: one pass to hash, one more to copy.
        let add = |store: &dyn EvalStore, calls: &mut usize| {
            let mut filter = |p: EvalPath<'_>, _: FileType| -> Result<bool, EvalError> {
                *calls += 1;
                Ok(!p.as_str().ends_with("/dropped"))
            };
            store
                .add_path(
                    &crate::StdIo,
                    EvalPath::new(src_text),
                    "src",
                    FileIngestion::Recursive,
                    Some(&mut filter),
                )
                .unwrap()
        };
        let (mut first_calls, mut second_calls) = (0, 0);
        let first = add(&store, &mut first_calls);
        let second = add(&store, &mut second_calls);
        assert_eq!(first, second);
        // Entries: kept, kept/a, dropped (hashing), then kept, kept/a, dropped (copying).
        assert_eq!(first_calls, 6);
        assert_eq!(second_calls, 3, "the valid path was copied again");
        // The path the read-only store computes is the one written.
        let computed = add(&*crate::ReadOnlyStore::new("/nix/store"), &mut 0);
        let inner = store.into_inner();
        let p = inner.store_dir().parse_path(&first).unwrap();
        assert!(inner.is_valid(&p).unwrap());
        assert!(inner.real_path(&p).join("kept/a").exists());
        assert!(!inner.real_path(&p).join("dropped").exists());
        assert_eq!(computed, first);
    }

    #[test]
    fn a_valid_derivation_is_not_written_again() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Arc::new(
            LocalEvalStore::open(Some(&format!("local?root={}", tmp.path().display()))).unwrap(),
        );
        let src = "(derivation { name = \"d\"; system = \"s\"; builder = \"/b\"; }).drvPath";
        let wal = tmp.path().join("nix/var/nix/db/db.sqlite-wal");
        let size = || fs::metadata(&wal).map_or(0, |m| m.len());
        let mut ev = Evaluator::builder().store(store.clone()).build();
        let first = ev.eval_str(src, "/").unwrap();
        let written = size();
        assert!(written > 0, "the first write goes through the WAL");
        // A second evaluation (another evaluator, same open store) writes nothing.
        let mut ev = Evaluator::builder().store(store.clone()).build();
        let second = ev.eval_str(src, "/").unwrap();
        assert_eq!(format!("{first:?}"), format!("{second:?}"));
        assert_eq!(size(), written, "the valid derivation was registered again");
    }
}
