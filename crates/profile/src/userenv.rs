//! Building a user environment as nix-env's `buildEnv` does: a tree of symlinks into the
//! installed packages' outputs (a directory provided by one package is one symlink; a
//! directory provided by several becomes a real directory whose entries are linked in turn),
//! plus `manifest.nix`, a symlink to the manifest added to the store as a text file. The
//! tree is added as one content-addressed store path whose references are the packages and
//! the manifest, registered atomically (NAR import).
//!
//! Two packages providing the same file collide: the lower `meta.priority` number wins; at
//! equal priority it is an error naming both packages and the file. Two links that resolve
//! to the same file (a package linking to another's) do not collide.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use nixkit_store::local::{AddError, LocalStore, QueryError};
use nixkit_store::{
    ContentAddress, ContentAddressMethod, FileIngestionMethod, Hash, HashAlgo, PathInfo, StoreDir,
    StorePath,
};

use crate::manifest::{self, Package};

/// Why a user environment could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildEnvError {
    /// Two packages of the same priority provide the same file.
    #[error("packages '{first}' and '{second}' both provide '{file}' (both with priority {priority}); remove one, or give one a lower priority number with 'set-priority'")]
    Collision {
        /// The file, relative to the environment.
        file: String,
        /// The package installed first.
        first: String,
        /// The other package.
        second: String,
        /// Their common priority.
        priority: i64,
    },
    /// A package's output is not a valid path of the store.
    #[error("package '{package}': output path '{path}' is not valid in the store")]
    InvalidOutput {
        /// The package.
        package: String,
        /// The output path.
        path: String,
    },
    /// Reading a package's files or writing the tree failed.
    #[error("building the user environment at '{path}': {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Adding to the store failed.
    #[error(transparent)]
    Add(#[from] AddError),
    /// A store query failed.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The tree could not be serialised.
    #[error("serialising the user environment: {0}")]
    Dump(#[from] nixkit_store::nar::DumpError),
    /// The store path could not be computed.
    #[error(transparent)]
    MakePath(#[from] nixkit_store::MakePathError),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BuildEnvError + '_ {
    move |source| BuildEnvError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Names buildEnv leaves out of a user environment (their collisions do not matter).
fn ignored(rel: &str, name: &str) -> bool {
    matches!(
        name,
        "propagated-build-inputs" | "nix-support" | "perllocal.pod" | "log" | "manifest.nix"
    ) || rel == "info/dir"
        || rel.ends_with("/info/dir")
}

enum Node {
    /// A symlink to `target` (a logical path), contributed by package `owner`.
    Link {
        target: String,
        phys: Option<PathBuf>,
        owner: usize,
        priority: i64,
    },
    /// A real directory holding entries from several packages (the lowest priority number
    /// among them).
    Dir {
        entries: BTreeMap<String, Node>,
        owner: usize,
        priority: i64,
    },
}

/// An entry of a package: its logical path and where its content is on the host.
struct Source {
    logical: String,
    phys: Option<PathBuf>,
}

impl Source {
    /// The host directory, if the entry is (a symlink to) a directory.
    fn dir(&self) -> Option<PathBuf> {
        self.phys.clone().filter(|p| p.is_dir())
    }
}

struct Builder<'a> {
    store: &'a LocalStore,
    packages: &'a [Package],
}

impl Builder<'_> {
    fn physical(&self, logical: &str) -> PathBuf {
        host_path(self.store.store_dir(), self.store.real_store_dir(), logical)
    }

    /// Follows symlinks from the host path `path`, reading absolute targets inside the
    /// store under the store's root; the final host path, if it exists.
    fn resolve(&self, mut path: PathBuf) -> Option<PathBuf> {
        for _ in 0..40 {
            let meta = fs::symlink_metadata(&path).ok()?;
            if !meta.file_type().is_symlink() {
                return Some(path);
            }
            let target = fs::read_link(&path).ok()?;
            path = if target.is_absolute() {
                self.physical(&target.to_string_lossy())
            } else {
                path.parent().unwrap_or(Path::new("/")).join(target)
            };
        }
        None
    }

    /// Links the entries of the directory `src` (logical; `phys` is where its files are
    /// on the host, symlinks resolved) under `entries`.
    fn add_dir(
        &self,
        entries: &mut BTreeMap<String, Node>,
        src: &str,
        phys: &Path,
        rel: &str,
        owner: usize,
        priority: i64,
    ) -> Result<(), BuildEnvError> {
        let mut names = Vec::new();
        for entry in fs::read_dir(phys).map_err(io_err(phys))? {
            let entry = entry.map_err(io_err(phys))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        for name in names {
            let sub_rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if ignored(&sub_rel, &name) {
                continue;
            }
            let sub = Source {
                logical: format!("{src}/{name}"),
                phys: self.resolve(phys.join(&name)),
            };
            self.add_entry(entries, name, sub, sub_rel, owner, priority)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn add_entry(
        &self,
        entries: &mut BTreeMap<String, Node>,
        name: String,
        src: Source,
        rel: String,
        owner: usize,
        priority: i64,
    ) -> Result<(), BuildEnvError> {
        let is_dir = src.dir().is_some();
        let Some(existing) = entries.get_mut(&name) else {
            entries.insert(
                name,
                Node::Link {
                    target: src.logical,
                    phys: src.phys,
                    owner,
                    priority,
                },
            );
            return Ok(());
        };
        match existing {
            Node::Dir {
                entries: sub,
                priority: p,
                ..
            } if is_dir => {
                *p = (*p).min(priority);
                let dir = src.dir().unwrap_or_default();
                return self.add_dir(sub, &src.logical, &dir, &rel, owner, priority);
            }
            Node::Link {
                target,
                phys,
                owner: o,
                priority: p,
            } if is_dir && phys.as_deref().is_some_and(Path::is_dir) => {
                if *target == src.logical {
                    return Ok(());
                }
                let old_phys = phys.clone().unwrap_or_default();
                let (old_target, old_owner, old_priority) = (target.clone(), *o, *p);
                let mut sub = BTreeMap::new();
                self.add_dir(
                    &mut sub,
                    &old_target,
                    &old_phys,
                    &rel,
                    old_owner,
                    old_priority,
                )?;
                let dir = src.dir().unwrap_or_default();
                self.add_dir(&mut sub, &src.logical, &dir, &rel, owner, priority)?;
                *existing = Node::Dir {
                    entries: sub,
                    owner: old_owner,
                    priority: old_priority.min(priority),
                };
                return Ok(());
            }
            // The same file (a package linking to another's): no collision.
            Node::Link { target, phys, .. }
                if *target == src.logical || (phys.is_some() && *phys == src.phys) =>
            {
                return Ok(())
            }
            _ => {}
        }
        let (old_owner, old_priority) = match existing {
            Node::Link {
                owner, priority, ..
            }
            | Node::Dir {
                owner, priority, ..
            } => (*owner, *priority),
        };
        if priority < old_priority {
            *existing = Node::Link {
                target: src.logical,
                phys: src.phys,
                owner,
                priority,
            };
            Ok(())
        } else if priority > old_priority {
            Ok(())
        } else {
            Err(BuildEnvError::Collision {
                file: rel,
                first: self.packages[old_owner].name.clone(),
                second: self.packages[owner].name.clone(),
                priority,
            })
        }
    }
}

/// Where the file of a logical path (`/nix/store/...`) is on the host: store paths live
/// under the store's physical directory `real`; other paths are where they say.
pub fn host_path(store_dir: &StoreDir, real: &Path, logical: &str) -> PathBuf {
    match logical.strip_prefix(store_dir.as_str()) {
        Some(rest) if rest.starts_with('/') => real.join(rest.trim_start_matches('/')),
        _ => PathBuf::from(logical),
    }
}

fn materialise(entries: &BTreeMap<String, Node>, dir: &Path) -> Result<(), BuildEnvError> {
    for (name, node) in entries {
        let path = dir.join(name);
        match node {
            Node::Link { target, .. } => {
                std::os::unix::fs::symlink(target, &path).map_err(io_err(&path))?
            }
            Node::Dir { entries, .. } => {
                fs::create_dir(&path).map_err(io_err(&path))?;
                materialise(entries, &path)?;
            }
        }
    }
    Ok(())
}

fn collect_targets(entries: &BTreeMap<String, Node>, out: &mut Vec<String>) {
    for node in entries.values() {
        match node {
            Node::Link { target, .. } => out.push(target.clone()),
            Node::Dir { entries, .. } => collect_targets(entries, out),
        }
    }
}

/// Builds the user environment of `packages` and adds it to `store`; returns its path.
/// The same packages always give the same path.
pub fn build_user_env(
    store: &LocalStore,
    packages: &[Package],
) -> Result<StorePath, BuildEnvError> {
    let store_dir = store.store_dir().clone();
    let mut manifest_refs = BTreeSet::new();
    for p in packages {
        for (_, path) in &p.outputs {
            let sp = store_dir
                .parse_path(path)
                .ok()
                .filter(|sp| store.is_valid(sp).unwrap_or(false))
                .ok_or_else(|| BuildEnvError::InvalidOutput {
                    package: p.name.clone(),
                    path: path.clone(),
                })?;
            manifest_refs.insert(sp);
        }
        if let Some(src) = &p.source {
            if let Ok(sp) = store_dir.parse_path(&src.path) {
                if store.is_valid(&sp)? {
                    manifest_refs.insert(sp);
                }
            }
        }
    }
    let text = manifest::render(packages);
    let manifest_path =
        store.add_text_to_store("env-manifest.nix", text.as_bytes(), &manifest_refs)?;

    let builder = Builder { store, packages };
    let mut root = BTreeMap::new();
    for (i, p) in packages.iter().enumerate() {
        for (_, path) in &p.outputs {
            let Some(dir) = builder
                .resolve(builder.physical(path))
                .filter(|d| d.is_dir())
            else {
                continue;
            };
            builder.add_dir(&mut root, path, &dir, "", i, p.priority())?;
        }
    }
    let tmp = tempfile::tempdir().map_err(io_err(Path::new("temporary directory")))?;
    let top = tmp.path().join("env");
    fs::create_dir(&top).map_err(io_err(&top))?;
    materialise(&root, &top)?;
    let manifest_link = top.join("manifest.nix");
    std::os::unix::fs::symlink(store_dir.print_path(&manifest_path), &manifest_link)
        .map_err(io_err(&manifest_link))?;

    let mut references = BTreeSet::from([manifest_path]);
    let mut targets = Vec::new();
    collect_targets(&root, &mut targets);
    for t in targets {
        if let Ok((sp, _)) = store_dir.parse_path_prefix(&t) {
            references.insert(sp);
        }
    }
    let mut nar = Vec::new();
    nixkit_store::nar::dump_path(&top, &mut nar)?;
    let hash = Hash::digest(HashAlgo::Sha256, &nar);
    let path = store_dir.make_fixed_output_path(
        "user-environment",
        FileIngestionMethod::Recursive,
        &hash,
        &references,
        false,
    )?;
    if !store.is_valid(&path)? {
        let mut info = PathInfo::new(path.clone(), hash, nar.len() as u64);
        info.references = references;
        info.ultimate = true;
        info.ca = Some(ContentAddress {
            method: ContentAddressMethod::Fixed(FileIngestionMethod::Recursive),
            hash,
        });
        store.add_nar(&info, &mut nar.as_slice())?;
    }
    store
        .add_temp_root(&path)
        .map_err(io_err(store.state_dir()))?;
    Ok(path)
}
