//! After the builder exits successfully: check that every output exists, move the outputs
//! into the store under temporary names (where the store normalises their metadata as
//! CppNix does and computes NAR hash, size and references in one streaming pass), verify
//! fixed-output hashes, and register all outputs of the build in one transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::PathBuf;

use nixkit_derivation::{Derivation, DerivationOutput};
use nixkit_store::hash_path::hash_path;
use nixkit_store::local::{AddError, LocalStore, OutputSource, QueryError, StagedOutputs};
use nixkit_store::nar::DumpError;
use nixkit_store::{
    ContentAddress, ContentAddressMethod, FileIngestionMethod, PathInfo, StoreDir, StorePath,
};

/// Why the outputs of a successful builder could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The builder did not create an output.
    #[error("builder for '{drv}' failed to produce output path for output '{output}' at '{path}'")]
    MissingOutput {
        /// The derivation.
        drv: String,
        /// The output name.
        output: String,
        /// The output path.
        path: String,
    },
    /// Reading or normalising an output failed.
    #[error("processing output '{path}': {source}")]
    Io {
        /// The output.
        path: String,
        /// The underlying error.
        source: io::Error,
    },
    /// Serialising an output failed (for example, it contains a device file).
    #[error("serialising output '{path}': {source}")]
    Dump {
        /// The output.
        path: String,
        /// The underlying error.
        source: DumpError,
    },
    /// A fixed output does not have the hash the derivation specifies.
    #[error("hash mismatch in fixed-output derivation '{drv}':\n  specified: {specified}\n     got:    {got}")]
    HashMismatch {
        /// The derivation.
        drv: String,
        /// The specified hash (SRI).
        specified: String,
        /// The hash of what was built (SRI).
        got: String,
    },
    /// A flat fixed output is not a regular file (a link would be hashed as its target, which
    /// could be any file root may read).
    #[error("the fixed-output derivation '{drv}' must produce a regular file at '{path}', since its hash is flat (not recursive)")]
    FlatNotRegular {
        /// The derivation.
        drv: String,
        /// The output.
        path: String,
    },
    /// A fixed output refers to store paths.
    #[error("the fixed-output derivation '{drv}' must not reference store paths: '{path}' references '{reference}'")]
    FixedOutputReferences {
        /// The derivation.
        drv: String,
        /// The output.
        path: String,
        /// One reference.
        reference: String,
    },
    /// The outputs are larger than the limit (`BuildSettings::max_output_size`).
    #[error("the outputs of '{drv}' are larger than the limit of {limit} bytes")]
    TooLarge {
        /// The derivation.
        drv: String,
        /// The limit.
        limit: u64,
    },
    /// The outputs refer to each other in a cycle.
    #[error("cycle detected in the references of the outputs of '{0}'")]
    Cycle(String),
    /// The output kind is not supported by this builder.
    #[error("derivation '{0}' has content-addressed floating, deferred or impure outputs, which are not supported")]
    Unsupported(String),
    /// A store path could not be computed.
    #[error(transparent)]
    Path(#[from] nixkit_store::MakePathError),
    /// Adding to the store failed.
    #[error(transparent)]
    Add(#[from] AddError),
    /// A store query failed.
    #[error(transparent)]
    Query(#[from] QueryError),
}

/// The output paths of `drv` by name (input-addressed and fixed outputs only).
pub fn output_paths(
    store_dir: &StoreDir,
    drv: &Derivation,
) -> Result<BTreeMap<String, StorePath>, RegisterError> {
    let mut out = BTreeMap::new();
    for name in drv.outputs.keys() {
        let path = drv
            .output_path(store_dir, name)?
            .ok_or_else(|| RegisterError::Unsupported(drv.name.clone()))?;
        out.insert(name.clone(), path);
    }
    Ok(out)
}

/// The outputs of one build, staged in the store (not yet registered), with their names.
#[derive(Debug)]
pub struct Staged<'s> {
    /// Output names, in the order of `outputs.outputs()`.
    pub names: Vec<String>,
    /// The staged outputs.
    pub outputs: StagedOutputs<'s>,
}

/// Moves the outputs the builder of `drv` (at `drv_path`) left under `host_of(path)` into
/// `store` under temporary names, computing their metadata in one streaming pass:
/// `candidates` are the paths references are searched for (the input closure; the outputs
/// are added). Verifies fixed outputs and rejects reference cycles between outputs.
/// Nothing is registered until [`commit_outputs`].
pub fn stage_outputs<'s>(
    store: &'s LocalStore,
    drv_path: &StorePath,
    drv: &Derivation,
    candidates: &BTreeSet<StorePath>,
    host_of: &dyn Fn(&StorePath) -> PathBuf,
    max_size: Option<u64>,
) -> Result<Staged<'s>, RegisterError> {
    let store_dir = store.store_dir();
    let printed_drv = store_dir.print_path(drv_path);
    let outputs = output_paths(store_dir, drv)?;
    let mut sources = Vec::with_capacity(outputs.len());
    for (name, path) in &outputs {
        let host = host_of(path);
        if fs::symlink_metadata(&host).is_err() {
            return Err(RegisterError::MissingOutput {
                drv: printed_drv,
                output: name.clone(),
                path: store_dir.print_path(path),
            });
        }
        sources.push(OutputSource {
            path: path.clone(),
            source: host,
        });
    }
    if let Some(limit) = max_size {
        let mut left = limit;
        for s in &sources {
            if !fits(&s.source, &mut left) {
                return Err(RegisterError::TooLarge {
                    drv: printed_drv,
                    limit,
                });
            }
        }
    }
    // Fixed-output builds share the host's network, so they can pass a descriptor of an
    // output to another build: their outputs are copied into fresh files, never renamed
    // (CVE-2024-27297), as CppNix does. Other builds cannot reach any other process, and a
    // copy would add a second full pass over large outputs (measured on this ext4 host,
    // without reflinks: 1.4-6.4 s per GB with copy_file_range, against 12.5 s for the
    // sha256 pass registration makes anyway, and 2 ms for a rename), so theirs are renamed.
    let mut staged = if drv.is_fixed_output() {
        store.stage_outputs_copied(&sources, candidates, Some(drv_path))?
    } else {
        store.stage_outputs(&sources, candidates, Some(drv_path))?
    };
    let names: Vec<String> = outputs.keys().cloned().collect();
    for (name, out) in names.iter().zip(staged.outputs_mut()) {
        let Some(DerivationOutput::CaFixed(ca)) = drv.outputs.get(name) else {
            continue;
        };
        let printed = store_dir.print_path(&out.info.path);
        if let Some(r) = out.info.references.iter().next() {
            return Err(RegisterError::FixedOutputReferences {
                drv: printed_drv,
                path: printed,
                reference: store_dir.print_path(r),
            });
        }
        let method = match ca.method {
            ContentAddressMethod::Fixed(m) => m,
            ContentAddressMethod::Text => FileIngestionMethod::Flat,
        };
        if method == FileIngestionMethod::Flat
            && !fs::symlink_metadata(out.content()).is_ok_and(|m| m.is_file())
        {
            return Err(RegisterError::FlatNotRegular {
                drv: printed_drv,
                path: printed,
            });
        }
        let got = hash_path(out.content(), ca.hash.algo(), method)
            .map_err(|e| RegisterError::Io {
                path: printed.clone(),
                source: io::Error::other(e),
            })?
            .0;
        if got != ca.hash {
            return Err(RegisterError::HashMismatch {
                drv: printed_drv,
                specified: ca.hash.to_sri(),
                got: got.to_sri(),
            });
        }
        out.info.ca = Some(ContentAddress {
            method: ca.method,
            hash: got,
        });
    }
    check_acyclic(&printed_drv, staged.outputs().iter().map(|o| &o.info))?;
    Ok(Staged {
        names,
        outputs: staged,
    })
}

/// Subtracts the sizes of the files under `path` from `left`; false once they do not fit.
/// Walks through directory descriptors opened with `O_NOFOLLOW` (a fixed-output builder's
/// accomplice may still hold a descriptor of the output and swap in links).
fn fits(path: &std::path::Path, left: &mut u64) -> bool {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return true;
    };
    match fs::File::open(parent) {
        Ok(dir) => fits_at(&dir, name, left),
        Err(_) => true,
    }
}

/// `name` in the directory open as `dir`, resolved through the descriptor.
fn at(dir: &fs::File, name: &std::ffi::OsStr) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd())).join(name)
}

fn fits_at(dir: &fs::File, name: &std::ffi::OsStr, left: &mut u64) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    let path = at(dir, name);
    let Ok(meta) = fs::symlink_metadata(&path) else {
        return true;
    };
    let size = if meta.is_dir() { 0 } else { meta.len() };
    match left.checked_sub(size) {
        Some(l) => *left = l,
        None => return false,
    }
    if !meta.is_dir() {
        return true;
    }
    let Ok(sub) = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
    else {
        return true;
    };
    let Ok(entries) = fs::read_dir(at(&sub, std::ffi::OsStr::new(""))) else {
        return true;
    };
    entries
        .flatten()
        .all(|e| fits_at(&sub, &e.file_name(), left))
}

/// Fails if the outputs refer to each other in a cycle (self-references are fine).
fn check_acyclic<'a>(
    drv: &str,
    infos: impl Iterator<Item = &'a PathInfo>,
) -> Result<(), RegisterError> {
    let mut todo: Vec<&PathInfo> = infos.collect();
    while !todo.is_empty() {
        let pending: BTreeSet<&StorePath> = todo.iter().map(|i| &i.path).collect();
        let ready = todo
            .iter()
            .position(|i| i.references_without_self().all(|r| !pending.contains(r)))
            .ok_or_else(|| RegisterError::Cycle(drv.to_owned()))?;
        todo.remove(ready);
    }
    Ok(())
}

/// Registers staged outputs, and records them as the derivation's outputs, in one
/// transaction: all or nothing.
pub fn commit_outputs(drv_path: &StorePath, staged: Staged<'_>) -> Result<(), RegisterError> {
    let map: BTreeMap<String, StorePath> = staged
        .names
        .iter()
        .cloned()
        .zip(staged.outputs.outputs().iter().map(|o| o.info.path.clone()))
        .collect();
    staged.outputs.commit(Some((drv_path, &map)))?;
    Ok(())
}
