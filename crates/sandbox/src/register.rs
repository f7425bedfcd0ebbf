//! After the builder exits successfully: check that every output exists, normalise its
//! metadata as CppNix does (permissions 0444/0555, no setuid/setgid, mtime 1), serialise it
//! as a NAR while scanning for references to the inputs and the other outputs, verify
//! fixed-output hashes, and register the outputs in the local store (dependencies first).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nixkit_derivation::{Derivation, DerivationOutput};
use nixkit_store::hash_path::hash_path;
use nixkit_store::local::{AddError, LocalStore, QueryError};
use nixkit_store::nar::{dump_path, DumpError};
use nixkit_store::{
    ContentAddress, ContentAddressMethod, FileIngestionMethod, HashAlgo, HashSink, PathInfo,
    RefScanner, StoreDir, StorePath,
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

/// One processed output, ready to be registered or compared.
#[derive(Debug, Clone)]
pub struct BuiltOutput {
    /// The output name.
    pub name: String,
    /// Its metadata (NAR hash and size, references, deriver, content address).
    pub info: PathInfo,
    /// Its NAR serialisation.
    pub nar: Vec<u8>,
}

fn set_mtime_one(path: &Path) -> io::Result<()> {
    let one = TimeSpec::new(1, 0);
    utimensat(None, path, &one, &one, UtimensatFlags::NoFollowSymlink).map_err(io::Error::from)
}

/// Gives `path` canonical metadata: files 0444 or 0555 (if executable by the owner),
/// directories 0555, mtime 1. Directories are opened up first, since builders may leave
/// them unreadable.
pub fn canonicalise(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    let ft = meta.file_type();
    if ft.is_dir() {
        fs::set_permissions(path, fs::Permissions::from_mode(0o755))?;
        for entry in fs::read_dir(path)? {
            canonicalise(&entry?.path())?;
        }
        fs::set_permissions(path, fs::Permissions::from_mode(0o555))?;
    } else if ft.is_file() {
        let exec = meta.permissions().mode() & 0o100 != 0;
        fs::set_permissions(path, fs::Permissions::from_mode(if exec { 0o555 } else { 0o444 }))?;
    } else if !ft.is_symlink() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("'{}' is not a regular file, directory or symlink", path.display()),
        ));
    }
    set_mtime_one(path)
}

/// Feeds a NAR to a buffer, a hash and a reference scanner at once.
struct NarSink<'a> {
    nar: Vec<u8>,
    hash: HashSink,
    scanner: &'a mut RefScanner,
}

impl Write for NarSink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.nar.extend_from_slice(buf);
        self.hash.update(buf);
        self.scanner.scan(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
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

/// Processes the outputs the builder of `drv` (at `drv_path`) left under `host_of(path)`:
/// `candidates` are the paths references are searched for (the input closure); the
/// outputs are added to them.
pub fn process_outputs(
    store_dir: &StoreDir,
    drv_path: &StorePath,
    drv: &Derivation,
    candidates: &BTreeSet<StorePath>,
    host_of: &dyn Fn(&StorePath) -> std::path::PathBuf,
) -> Result<Vec<BuiltOutput>, RegisterError> {
    let printed_drv = store_dir.print_path(drv_path);
    let outputs = output_paths(store_dir, drv)?;
    let mut all: BTreeSet<StorePath> = candidates.clone();
    all.extend(outputs.values().cloned());
    let mut built = Vec::new();
    for (name, path) in &outputs {
        let printed = store_dir.print_path(path);
        let host = host_of(path);
        if fs::symlink_metadata(&host).is_err() {
            return Err(RegisterError::MissingOutput { drv: printed_drv, output: name.clone(), path: printed });
        }
        canonicalise(&host).map_err(|source| RegisterError::Io { path: printed.clone(), source })?;
        let mut scanner = RefScanner::new(all.iter().cloned());
        let mut sink = NarSink { nar: Vec::new(), hash: HashSink::new(HashAlgo::Sha256), scanner: &mut scanner };
        dump_path(&host, &mut sink).map_err(|source| RegisterError::Dump { path: printed.clone(), source })?;
        let NarSink { nar, hash, .. } = sink;
        let (nar_hash, nar_size) = hash.finish();
        let mut info = PathInfo::new(path.clone(), nar_hash, nar_size);
        info.references = scanner.found_paths();
        info.deriver = Some(drv_path.clone());
        info.ultimate = true;
        if let Some(DerivationOutput::CaFixed(ca)) = drv.outputs.get(name) {
            if let Some(r) = info.references.iter().next() {
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
            let got = hash_path(&host, ca.hash.algo(), method)
                .map_err(|e| RegisterError::Io { path: printed.clone(), source: io::Error::other(e) })?
                .0;
            if got != ca.hash {
                return Err(RegisterError::HashMismatch {
                    drv: printed_drv,
                    specified: ca.hash.to_sri(),
                    got: got.to_sri(),
                });
            }
            info.ca = Some(ContentAddress { method: ca.method, hash: got });
        }
        built.push(BuiltOutput { name: name.clone(), info, nar });
    }
    sort_outputs(&printed_drv, built)
}

/// Orders outputs so that each comes after the outputs it refers to.
fn sort_outputs(drv: &str, mut todo: Vec<BuiltOutput>) -> Result<Vec<BuiltOutput>, RegisterError> {
    let mut done: Vec<BuiltOutput> = Vec::new();
    while !todo.is_empty() {
        let pending: BTreeSet<StorePath> = todo.iter().map(|o| o.info.path.clone()).collect();
        let ready = todo
            .iter()
            .position(|o| o.info.references_without_self().all(|r| !pending.contains(r)))
            .ok_or_else(|| RegisterError::Cycle(drv.to_owned()))?;
        done.push(todo.remove(ready));
    }
    Ok(done)
}

/// Registers processed outputs (already sorted) and records them as the derivation's.
pub fn register_outputs(
    store: &LocalStore,
    drv_path: &StorePath,
    outputs: &[BuiltOutput],
) -> Result<(), RegisterError> {
    for out in outputs {
        store.add_nar(&out.info, &mut out.nar.as_slice())?;
    }
    if store.is_valid(drv_path)? {
        let map = outputs.iter().map(|o| (o.name.clone(), o.info.path.clone())).collect();
        store.set_derivation_outputs(drv_path, &map)?;
    }
    Ok(())
}
