//! Restoring a NAR stream onto the file system, optionally telling a hook about each file's
//! data as it is written (so a caller that will sync the tree can start writeback early).

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

/// Told about data just written to a restored file: the file, the offset and the length
/// of the data (every [`WRITTEN_CHUNK`] bytes of a file and at its end).
pub type WrittenHook<'h> = &'h dyn Fn(&fs::File, u64, u64);

/// How much of a file is written between two calls of a [`WrittenHook`].
pub const WRITTEN_CHUNK: u64 = 8 << 20;

/// The copy buffer: large reads and writes (fewer system calls per byte).
const BUFFER_SIZE: usize = 256 * 1024;

thread_local! {
    /// The copy buffer of the last restore on this thread, reused by the next (a fresh
    /// buffer of this size is mapped and faulted in anew each time).
    static SPARE_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

struct Restorer<'h> {
    root: PathBuf,
    buffer: Vec<u8>,
    written: Option<WrittenHook<'h>>,
}

impl Restorer<'_> {
    fn target(&self, path: &[u8]) -> PathBuf {
        if path.is_empty() {
            self.root.clone()
        } else {
            self.root.join(OsStr::from_bytes(path))
        }
    }
}

impl NarVisitor for Restorer<'_> {
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
            self.buffer = vec![0u8; BUFFER_SIZE];
        }
        // Written in all, and up to where the hook was told.
        let (mut written, mut told) = (0u64, 0u64);
        loop {
            let n = match contents.read(&mut self.buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            file.write_all(&self.buffer[..n])?;
            written += n as u64;
            if let Some(hook) = self.written {
                if written - told >= WRITTEN_CHUNK {
                    hook(&file, told, written - told);
                    told = written;
                }
            }
        }
        if let Some(hook) = self.written {
            if written > told {
                hook(&file, told, written - told);
            }
        }
        Ok(())
    }

    fn symlink(&mut self, path: &[u8], target: &[u8]) -> io::Result<()> {
        std::os::unix::fs::symlink(OsStr::from_bytes(target), self.target(path))
    }
}

/// Restores the NAR read from `reader` at `dest` (which must not exist); returns the NAR size.
pub fn restore_path(reader: &mut impl Read, dest: &Path) -> Result<u64, RestoreError> {
    restore_path_with(reader, dest, None)
}

/// [`restore_path`], calling `written` with each regular file's data as it is written.
pub fn restore_path_with(
    reader: &mut impl Read,
    dest: &Path,
    written: Option<WrittenHook<'_>>,
) -> Result<u64, RestoreError> {
    if fs::symlink_metadata(dest).is_ok() {
        return Err(RestoreError::DestinationExists(dest.to_path_buf()));
    }
    let mut restorer = Restorer {
        root: dest.to_path_buf(),
        buffer: SPARE_BUFFER.take(),
        written,
    };
    let result = parse_nar(reader, &mut restorer).map_err(|source| RestoreError::Nar {
        dest: dest.to_path_buf(),
        source,
    });
    SPARE_BUFFER.set(restorer.buffer);
    result
}
