//! Building a user environment as nix-env's `buildEnv` does: a tree of symlinks into the
//! installed packages' outputs, plus `manifest.nix`, a symlink to the manifest added to the
//! store as a text file. The tree is made by the sandbox's `builtin:buildenv`
//! ([`nixkit_sandbox::build_env`], the one implementation of the symlink tree, its
//! priorities and collisions) in a temporary directory, then added as one
//! content-addressed store path whose references are the packages and the manifest,
//! registered atomically (NAR import).
//!
//! Two packages providing the same file collide: the lower `meta.priority` number wins; at
//! equal priority it is an error naming both packages and the file.

use std::collections::BTreeSet;
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
    /// The symlink tree could not be made.
    #[error("building the user environment: {0}")]
    Env(nixkit_sandbox::BuildEnvError),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BuildEnvError + '_ {
    move |source| BuildEnvError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The index of the package one of whose outputs holds the logical path `file`.
fn owner(packages: &[Package], file: &str) -> Option<usize> {
    packages.iter().position(|p| {
        p.outputs.iter().any(|(_, out)| {
            file.strip_prefix(out.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    })
}

/// The sandbox's error in the profile's terms: a conflict names the two packages, the one
/// installed first first.
fn env_error(packages: &[Package], e: nixkit_sandbox::BuildEnvError) -> BuildEnvError {
    if let nixkit_sandbox::BuildEnvError::Conflict {
        existing,
        new,
        file,
        priority,
    } = &e
    {
        if let (Some(a), Some(b)) = (owner(packages, existing), owner(packages, new)) {
            let (first, second) = (a.min(b), a.max(b));
            return BuildEnvError::Collision {
                file: file.clone(),
                first: packages[first].name.clone(),
                second: packages[second].name.clone(),
                priority: *priority,
            };
        }
    }
    BuildEnvError::Env(e)
}

/// The store paths the links below `dir` point into.
fn link_targets(
    store_dir: &StoreDir,
    dir: &Path,
    out: &mut BTreeSet<StorePath>,
) -> Result<(), BuildEnvError> {
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        let ty = entry.file_type().map_err(io_err(&path))?;
        if ty.is_symlink() {
            let target = fs::read_link(&path).map_err(io_err(&path))?;
            if let Ok((sp, _)) = store_dir.parse_path_prefix(&target.to_string_lossy()) {
                out.insert(sp);
            }
        } else if ty.is_dir() {
            link_targets(store_dir, &path, out)?;
        }
    }
    Ok(())
}

/// Where the file of a logical path (`/nix/store/...`) is on the host: store paths live
/// under the store's physical directory `real`; other paths are where they say.
pub fn host_path(store_dir: &StoreDir, real: &Path, logical: &str) -> PathBuf {
    match logical.strip_prefix(store_dir.as_str()) {
        Some(rest) if rest.starts_with('/') => real.join(rest.trim_start_matches('/')),
        _ => PathBuf::from(logical),
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

    let tmp = tempfile::tempdir().map_err(io_err(Path::new("temporary directory")))?;
    let top = tmp.path().join("env");
    let spec = nixkit_sandbox::EnvSpec {
        store_dir: &store_dir,
        real_store: store.real_store_dir(),
        packages: packages
            .iter()
            .flat_map(|p| {
                p.outputs
                    .iter()
                    .map(|(_, path)| nixkit_sandbox::EnvPackage {
                        path: path.clone(),
                        active: true,
                        priority: p.priority(),
                    })
            })
            .collect(),
        manifest: Some(store_dir.print_path(&manifest_path)),
        out_logical: top.to_string_lossy().into_owned(),
        // Packages are valid (checked above), and what they propagate must be too.
        allowed: &|p| store.is_valid(p).unwrap_or(false),
    };
    nixkit_sandbox::build_env(&spec, &top).map_err(|e| env_error(packages, e))?;

    let mut references = BTreeSet::from([manifest_path]);
    link_targets(&store_dir, &top, &mut references)?;
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
    if !store.keep_if_valid(&path)? {
        let mut info = PathInfo::new(path.clone(), hash, nar.len() as u64);
        info.references = references;
        info.ultimate = true;
        info.ca = Some(ContentAddress {
            method: ContentAddressMethod::Fixed(FileIngestionMethod::Recursive),
            hash,
        });
        store.add_nar(&info, &mut nar.as_slice())?;
    }
    Ok(path)
}
