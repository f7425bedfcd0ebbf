//! Store path computation for the evaluator, on top of `nixkit-store`
//! (nixbase32, name validation, `makeStorePath`), and NAR hashing of a tree
//! read through [`EvalIo`] with a path filter (the store's NAR writer over
//! an [`EvalIo`] source).

use std::path::Path;

use nixkit_store::nar::{dump_from, DumpError, NarNode, NarSource};
use nixkit_store::store_path::validate_name;
use nixkit_store::{nixbase32, FileIngestionMethod, Hash, HashAlgo, HashSink, StoreDir};

use crate::io::{EvalIo, EvalPath, FileType, PathFilter};

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
    /// Writing the NAR failed (nesting, a symlink target too long, a file that
    /// changed while read).
    #[error(transparent)]
    Nar(#[from] DumpError),
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

/// The tree below a path as the evaluator sees it ([`EvalIo`]), with the
/// path filter applied to every entry below the root: the source of the
/// store's one NAR writer ([`nixkit_store::nar::dump_from`]).
struct EvalIoTree<'a, 'f> {
    io: &'a dyn EvalIo,
    filter: PathFilter<'f>,
}

impl NarSource for EvalIoTree<'_, '_> {
    type Error = StorePathError;
    type Contents = Box<dyn std::io::Read + Send>;

    fn node(&mut self, path: &Path) -> Result<NarNode<Self::Contents>, StorePathError> {
        // The walk is over file system paths (raw bytes); `EvalIo` takes them as
        // Nix text (see `crate::io::os_path`).
        let text = crate::io::nix_text(path.as_os_str());
        let err = |source: std::io::Error| StorePathError::Io {
            path: text.to_string(),
            source,
        };
        Ok(
            match self
                .io
                .file_type(EvalPath::new(&text), false)
                .map_err(err)?
            {
                FileType::Regular => {
                    let executable = self.io.is_executable(EvalPath::new(&text)).map_err(err)?;
                    // Streamed: a large file is hashed without being held in memory.
                    let (size, contents) = self.io.open_file(EvalPath::new(&text)).map_err(err)?;
                    NarNode::Regular {
                        executable,
                        size,
                        contents,
                    }
                }
                FileType::Symlink => NarNode::Symlink {
                    target: crate::io::os_path(
                        &self.io.read_link(EvalPath::new(&text)).map_err(err)?,
                    ),
                },
                FileType::Directory => {
                    let mut names = Vec::new();
                    for (name, ty) in self.io.read_dir(EvalPath::new(&text)).map_err(err)? {
                        if let Some(filter) = self.filter.as_mut() {
                            let child = format!("{}/{name}", text.trim_end_matches('/'));
                            if !filter(EvalPath::new(&child), ty)
                                .map_err(|e| StorePathError::Filter(Box::new(e)))?
                            {
                                continue;
                            }
                        }
                        names.push(crate::io::os_path(&name).into_os_string());
                    }
                    NarNode::Directory { names }
                }
                FileType::Unknown => return Err(StorePathError::UnsupportedType(text.to_string())),
            },
        )
    }
}

/// The SHA-256 of the NAR serialisation of `path`.
pub(crate) fn nar_sha256(
    io: &dyn EvalIo,
    path: &str,
    filter: PathFilter<'_>,
) -> Result<[u8; 32], StorePathError> {
    let mut sink = HashSink::new(HashAlgo::Sha256);
    let root = crate::io::os_path(path);
    dump_from(&mut EvalIoTree { io, filter }, &root, &mut sink)?;
    let mut out = [0u8; 32];
    out.copy_from_slice(sink.finish().0.as_bytes());
    Ok(out)
}
