//! Store path computation for the evaluator, on top of `nixkit-store`
//! (nixbase32, name validation, `makeStorePath`, the NAR format), plus the
//! one part the store crate cannot do: NAR hashing of a tree read through
//! [`EvalIo`] with a path filter.

use nixkit_store::nar::NAR_MAGIC;
use nixkit_store::store_path::validate_name;
use nixkit_store::{nixbase32, FileIngestionMethod, Hash, HashAlgo, HashSink, StoreDir};

use crate::io::{EvalIo, FileType, PathFilter};

/// Why a store path could not be computed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorePathError {
    /// The name has characters or a length a store path cannot have.
    #[error("invalid store path name '{0}'")]
    InvalidName(String),
    /// The store directory is not an absolute, canonical path.
    #[error("invalid store directory: {0}")]
    StoreDir(String),
    /// A file of the tree could not be examined or read.
    #[error("getting status of '{path}': {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file that is neither a regular file, a directory nor a symbolic link.
    #[error("file '{0}' has an unsupported type")]
    UnsupportedType(String),
    /// The path filter (`builtins.path`'s `filter`, `filterSource`'s function)
    /// failed; its error, trace included.
    #[error("{}", .0.message())]
    Filter(Box<crate::error::EvalError>),
}

/// SHA-256 of bytes.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(Hash::digest(HashAlgo::Sha256, data).as_bytes());
    out
}

/// Nix's base-32 encoding ([`nixbase32::encode`]).
pub(crate) fn nix32(bytes: &[u8]) -> String {
    nixbase32::encode(bytes)
}

/// Checks a store path name ([`validate_name`]).
pub(crate) fn check_name(name: &str) -> Result<(), StorePathError> {
    validate_name(name).map_err(|_| StorePathError::InvalidName(name.to_string()))
}

/// `makeStorePath(type, sha256 hash, name)` ([`StoreDir::make_store_path`]).
pub(crate) fn make_store_path(
    store_dir: &str,
    ty: &str,
    hash: &[u8; 32],
    name: &str,
) -> Result<String, StorePathError> {
    check_name(name)?;
    let dir = StoreDir::new(store_dir).map_err(|e| StorePathError::StoreDir(e.to_string()))?;
    let hash = Hash::from_digest(HashAlgo::Sha256, hash)
        .map_err(|_| StorePathError::InvalidName(name.to_string()))?;
    let path = dir
        .make_store_path(ty, &hash, name)
        .map_err(|_| StorePathError::InvalidName(name.to_string()))?;
    Ok(dir.print_path(&path))
}

/// The path of a file added flat with sha256 (`builtins.path { recursive =
/// false; }`): [`StoreDir::make_fixed_output_path`].
pub(crate) fn make_flat_path(
    store_dir: &str,
    data: &[u8],
    name: &str,
) -> Result<String, StorePathError> {
    check_name(name)?;
    let dir = StoreDir::new(store_dir).map_err(|e| StorePathError::StoreDir(e.to_string()))?;
    let hash = Hash::digest(HashAlgo::Sha256, data);
    let path = dir
        .make_fixed_output_path(
            name,
            FileIngestionMethod::Flat,
            &hash,
            &Default::default(),
            false,
        )
        .map_err(|_| StorePathError::InvalidName(name.to_string()))?;
    Ok(dir.print_path(&path))
}

/// Hashes NAR tokens as they are produced (the tree walk reads through
/// [`EvalIo`], which `nixkit_store::nar::dump_path` cannot).
struct NarWriter {
    hasher: HashSink,
}

impl NarWriter {
    fn bytes(&mut self, data: &[u8]) {
        self.hasher.update(&(data.len() as u64).to_le_bytes());
        self.hasher.update(data);
        let pad = (8 - data.len() % 8) % 8;
        self.hasher.update(&[0u8; 8][..pad]);
    }

    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
}

fn nar_node(
    w: &mut NarWriter,
    io: &dyn EvalIo,
    path: &str,
    filter: &mut PathFilter<'_>,
) -> Result<(), StorePathError> {
    let err = |source: std::io::Error| StorePathError::Io {
        path: path.to_string(),
        source,
    };
    let ft = io.file_type(path, false).map_err(err)?;
    w.str("(");
    w.str("type");
    match ft {
        FileType::Regular => {
            w.str("regular");
            if io.is_executable(path).map_err(err)? {
                w.str("executable");
                w.str("");
            }
            w.str("contents");
            let data = io.read_file(path).map_err(err)?;
            w.bytes(&data);
        }
        FileType::Symlink => {
            w.str("symlink");
            w.str("target");
            let t = io.read_link(path).map_err(err)?;
            w.str(&t);
        }
        FileType::Directory => {
            w.str("directory");
            let mut entries = io.read_dir(path).map_err(err)?;
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (name, ty) in entries {
                let child = if path.ends_with('/') {
                    format!("{path}{name}")
                } else {
                    format!("{path}/{name}")
                };
                if let Some(f) = filter.as_mut() {
                    if !f(&child, ty).map_err(|e| StorePathError::Filter(Box::new(e)))? {
                        continue;
                    }
                }
                w.str("entry");
                w.str("(");
                w.str("name");
                w.str(&name);
                w.str("node");
                nar_node(w, io, &child, filter)?;
                w.str(")");
            }
        }
        FileType::Unknown => return Err(StorePathError::UnsupportedType(path.to_string())),
    }
    w.str(")");
    Ok(())
}

/// The SHA-256 of the NAR serialisation of `path`.
pub(crate) fn nar_sha256(
    io: &dyn EvalIo,
    path: &str,
    mut filter: PathFilter<'_>,
) -> Result<[u8; 32], StorePathError> {
    let mut w = NarWriter {
        hasher: HashSink::new(HashAlgo::Sha256),
    };
    w.bytes(NAR_MAGIC);
    nar_node(&mut w, io, path, &mut filter)?;
    let mut out = [0u8; 32];
    out.copy_from_slice(w.hasher.finish().0.as_bytes());
    Ok(out)
}
