//! Restoring a NAR stream onto the file system.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::parse::{parse_nar, NarVisitor, ParseNarError};

/// Why a NAR could not be restored.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The destination already exists.
    #[error("cannot restore NAR to '{0}': it already exists")]
    DestinationExists(PathBuf),
    /// The NAR is malformed, or writing a file failed (then the error names the entry).
    #[error("restoring NAR to '{dest}': {source}")]
    Nar {
        /// The destination.
        dest: PathBuf,
        /// What went wrong.
        source: ParseNarError,
    },
}

struct Restorer {
    root: PathBuf,
    buffer: Vec<u8>,
}

impl Restorer {
    fn target(&self, path: &[u8]) -> PathBuf {
        if path.is_empty() {
            self.root.clone()
        } else {
            self.root.join(OsStr::from_bytes(path))
        }
    }
}

impl NarVisitor for Restorer {
    fn directory(&mut self, path: &[u8]) -> io::Result<()> {
        fs::create_dir(self.target(path))
    }

    fn regular_file(
        &mut self,
        path: &[u8],
        executable: bool,
        _size: u64,
        contents: &mut dyn Read,
    ) -> io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if executable { 0o755 } else { 0o644 })
            .open(self.target(path))?;
        if self.buffer.is_empty() {
            self.buffer = vec![0u8; 64 * 1024];
        }
        loop {
            let n = match contents.read(&mut self.buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            file.write_all(&self.buffer[..n])?;
        }
        Ok(())
    }

    fn symlink(&mut self, path: &[u8], target: &[u8]) -> io::Result<()> {
        std::os::unix::fs::symlink(OsStr::from_bytes(target), self.target(path))
    }
}

/// Restores the NAR read from `reader` at `dest` (which must not exist); returns the NAR size.
pub fn restore_path(reader: &mut impl Read, dest: &Path) -> Result<u64, RestoreError> {
    if fs::symlink_metadata(dest).is_ok() {
        return Err(RestoreError::DestinationExists(dest.to_path_buf()));
    }
    let mut restorer = Restorer {
        root: dest.to_path_buf(),
        buffer: Vec::new(),
    };
    parse_nar(reader, &mut restorer).map_err(|source| RestoreError::Nar {
        dest: dest.to_path_buf(),
        source,
    })
}
