//! `nix-hash`: hashing files and directories, and converting hashes between
//! encodings. The work is in `nixkit_store::hash_path`.

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::Path;

use nixkit_store::hash_path::{convert_hash, format_hash, hash_path};
use nixkit_store::{FileIngestionMethod, HashAlgo, HashEncoding};

/// One `nix-hash` invocation.
#[derive(Clone, Debug)]
pub struct HashCommand {
    /// `--type` (default md5, as in CppNix).
    pub algo: HashAlgo,
    /// `--flat`: hash the file's contents, not its NAR serialisation.
    pub method: FileIngestionMethod,
    /// `--base16` (default), `--base32`, `--base64`, `--sri`.
    pub encoding: HashEncoding,
    /// `--truncate`: truncate to 160 bits.
    pub truncate: bool,
    /// `--to-base16` etc.: the operands are hashes to convert to this encoding.
    pub convert_to: Option<HashEncoding>,
    /// Paths to hash (any bytes), or hashes to convert.
    pub operands: Vec<OsString>,
}

impl Default for HashCommand {
    fn default() -> Self {
        Self {
            algo: HashAlgo::Md5,
            method: FileIngestionMethod::Recursive,
            encoding: HashEncoding::Base16,
            truncate: false,
            convert_to: None,
            operands: Vec::new(),
        }
    }
}

/// Why `nix-hash` failed.
#[derive(Debug, thiserror::Error)]
pub enum HashCommandError {
    /// A path could not be hashed.
    #[error(transparent)]
    Hash(#[from] nixkit_store::hash_path::HashPathError),
    /// A hash could not be converted.
    #[error(transparent)]
    Convert(#[from] nixkit_store::ParseHashError),
    /// Standard output failed.
    #[error("writing to standard output: {0}")]
    Stdout(#[source] io::Error),
}

/// Runs `cmd`, printing one line per operand.
pub fn run(cmd: &HashCommand, stdout: &mut dyn Write) -> Result<(), HashCommandError> {
    for operand in &cmd.operands {
        let line = match cmd.convert_to {
            None => {
                let (hash, _) = hash_path(Path::new(operand), cmd.algo, cmd.method)?;
                format_hash(&hash, cmd.encoding, cmd.truncate)
            }
            Some(to) => {
                use std::os::unix::ffi::OsStrExt;
                let text = nixkit_syntax::decode_bytes(operand.as_bytes());
                convert_hash(&text, cmd.algo, to)?
            }
        };
        crate::write_line(stdout, line).map_err(HashCommandError::Stdout)?;
    }
    Ok(())
}
