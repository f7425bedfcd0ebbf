//! The operations behind `nix-hash`: hashing a path (flat or as a NAR), printing a hash in a
//! chosen encoding (optionally truncated to 160 bits), and converting hash strings.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::base64::encode as base64_encode;
use crate::content_address::FileIngestionMethod;
use crate::hash::{Hash, HashAlgo, HashEncoding, ParseHashError};
use crate::nar::{dump_path, DumpError};
use crate::{nixbase32, HashSink};

/// Why a path could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum HashPathError {
    /// Reading a flat file failed.
    #[error("reading '{path}': {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Serialising the path to NAR failed.
    #[error(transparent)]
    Dump(#[from] DumpError),
}

/// Hashes `path` with `algo`: the contents of a regular file (following symlinks) for
/// [`FileIngestionMethod::Flat`], or its NAR serialisation for `Recursive`.
/// Returns the hash and the number of bytes hashed.
pub fn hash_path(
    path: &Path,
    algo: HashAlgo,
    method: FileIngestionMethod,
) -> Result<(Hash, u64), HashPathError> {
    let mut sink = HashSink::new(algo);
    match method {
        FileIngestionMethod::Recursive => dump_path(path, &mut sink)?,
        FileIngestionMethod::Flat => {
            let io_error = |source| HashPathError::Io {
                path: path.to_path_buf(),
                source,
            };
            let mut file = fs::File::open(path).map_err(io_error)?;
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                match file.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => sink.update(&buffer[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(io_error(e)),
                }
            }
        }
    }
    Ok(sink.finish())
}

/// Prints `hash` in `encoding` without an algorithm prefix (SRI keeps its own). With
/// `truncate`, digests longer than 160 bits are first XOR-folded to 20 bytes, as
/// `nix-hash --truncate` does.
pub fn format_hash(hash: &Hash, encoding: HashEncoding, truncate: bool) -> String {
    if !truncate || hash.as_bytes().len() <= 20 {
        return hash.encode(encoding, false);
    }
    let folded = hash.fold_to(20);
    match encoding {
        HashEncoding::Base16 => folded.iter().map(|b| format!("{b:02x}")).collect(),
        HashEncoding::Nix32 => nixbase32::encode(&folded),
        HashEncoding::Base64 => base64_encode(&folded),
        HashEncoding::Sri => format!("{}-{}", hash.algo(), base64_encode(&folded)),
    }
}

/// Converts a hash string (any form `Hash::parse_any` accepts, with `algo` for bare digests)
/// to `encoding`, as `nix-hash --to-base16/--to-base32/--to-base64/--to-sri` do.
pub fn convert_hash(
    s: &str,
    algo: HashAlgo,
    encoding: HashEncoding,
) -> Result<String, ParseHashError> {
    Ok(Hash::parse_any(s, Some(algo))?.encode(encoding, false))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn truncation_only_shortens_long_digests() {
        let md5 = Hash::digest(HashAlgo::Md5, b"x");
        assert_eq!(
            format_hash(&md5, HashEncoding::Base16, true),
            md5.to_base16()
        );
        let sha = Hash::digest(HashAlgo::Sha256, b"x");
        assert_eq!(format_hash(&sha, HashEncoding::Base16, true).len(), 40);
        assert_eq!(format_hash(&sha, HashEncoding::Nix32, true).len(), 32);
        assert_eq!(
            convert_hash(&sha.to_nix32(), HashAlgo::Sha256, HashEncoding::Sri).unwrap(),
            sha.to_sri()
        );
        assert!(convert_hash(&sha.to_sri(), HashAlgo::Md5, HashEncoding::Base16).is_err());
    }
}
