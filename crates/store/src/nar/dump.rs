//! Serialising a file system tree to NAR, streaming file contents through one reusable buffer.
//! The walk does not recurse: open directories are kept on a list, and nesting is bounded by
//! [`MAX_DEPTH`], the limit the parser applies, so whatever is dumped can be read back.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{padding_len, MAX_DEPTH, NAR_MAGIC};
use crate::hash::{Hash, HashAlgo};
use crate::HashSink;

/// Why a path could not be dumped.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// Reading the file system or writing the output failed.
    #[error("dumping '{path}': {source}")]
    Io {
        /// The path being read when it failed.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A FIFO, socket or device file.
    #[error("file '{0}' has an unsupported type")]
    UnsupportedFileType(PathBuf),
    /// A regular file's size differed from what `stat` reported while reading it.
    #[error("file '{0}' changed size while being dumped")]
    FileChanged(PathBuf),
    /// A symlink target too long for NAR.
    #[error("symlink '{0}' has a target longer than the NAR limit")]
    TargetTooLong(PathBuf),
    /// Directories nested deeper than [`MAX_DEPTH`].
    #[error("'{0}' is nested deeper than {MAX_DEPTH} directories, the NAR limit")]
    TooDeep(PathBuf),
}

const BUFFER_SIZE: usize = 64 * 1024;

struct Dumper<'w> {
    out: &'w mut dyn Write,
    buffer: Vec<u8>,
}

/// Writes the NAR serialisation of `path` (file, directory or symlink; not followed) to `out`.
///
/// `out` receives many small writes: give it a buffered writer when it is a file or socket.
pub fn dump_path(path: &Path, out: &mut impl Write) -> Result<(), DumpError> {
    let mut dumper = Dumper {
        out,
        buffer: Vec::new(),
    };
    dumper.token(path, NAR_MAGIC)?;
    dumper.tree(path)
}

/// The sha256 NAR hash and NAR size of `path`.
pub fn nar_hash(path: &Path) -> Result<(Hash, u64), DumpError> {
    let mut sink = HashSink::new(HashAlgo::Sha256);
    dump_path(path, &mut sink)?;
    Ok(sink.finish())
}

/// Writes the NAR of a single regular file with contents `data` (no file system access).
pub fn write_flat_file_nar(data: &[u8], executable: bool, out: &mut impl Write) -> io::Result<()> {
    let out: &mut dyn Write = out;
    let mut tokens: Vec<&[u8]> = vec![NAR_MAGIC, b"(", b"type", b"regular"];
    if executable {
        tokens.extend_from_slice(&[b"executable", b""]);
    }
    tokens.extend_from_slice(&[b"contents", data, b")"]);
    for t in tokens {
        write_token(out, t)?;
    }
    Ok(())
}

fn write_token(out: &mut dyn Write, bytes: &[u8]) -> io::Result<()> {
    out.write_all(&(bytes.len() as u64).to_le_bytes())?;
    out.write_all(bytes)?;
    out.write_all(&[0u8; 8][..padding_len(bytes.len() as u64)])
}

impl Dumper<'_> {
    fn token(&mut self, path: &Path, bytes: &[u8]) -> Result<(), DumpError> {
        write_token(self.out, bytes).map_err(|source| io_error(path, source))
    }

    fn tokens(&mut self, path: &Path, tokens: &[&[u8]]) -> Result<(), DumpError> {
        tokens.iter().try_for_each(|t| self.token(path, t))
    }

    /// Writes `root` and everything below it.
    fn tree(&mut self, root: &Path) -> Result<(), DumpError> {
        // Open directories with their entries still to write.
        let mut open: Vec<(PathBuf, std::vec::IntoIter<OsString>)> = Vec::new();
        if let Some(names) = self.object(root)? {
            open.push((root.to_path_buf(), names.into_iter()));
        }
        while let Some((dir, names)) = open.last_mut() {
            let Some(name) = names.next() else {
                let dir = std::mem::take(dir);
                open.pop();
                self.token(&dir, b")")?;
                if !open.is_empty() {
                    self.token(&dir, b")")?;
                }
                continue;
            };
            let child = dir.join(&name);
            if open.len() > MAX_DEPTH {
                return Err(DumpError::TooDeep(child));
            }
            self.tokens(&child, &[b"entry", b"(", b"name", name.as_bytes(), b"node"])?;
            match self.object(&child)? {
                Some(names) => open.push((child, names.into_iter())),
                None => self.token(&child, b")")?,
            }
        }
        Ok(())
    }

    /// Writes the start of the object at `path`: a file or symlink entirely (through its
    /// `)`), a directory up to its entries, whose names it returns sorted (the caller writes
    /// them and the directory's `)`).
    fn object(&mut self, path: &Path) -> Result<Option<Vec<OsString>>, DumpError> {
        let meta = fs::symlink_metadata(path).map_err(|source| io_error(path, source))?;
        let file_type = meta.file_type();
        self.tokens(path, &[b"(", b"type"])?;
        if file_type.is_file() {
            self.token(path, b"regular")?;
            if meta.permissions().mode() & 0o100 != 0 {
                self.tokens(path, &[b"executable", b""])?;
            }
            self.token(path, b"contents")?;
            self.contents(path, meta.len())?;
        } else if file_type.is_dir() {
            self.token(path, b"directory")?;
            let mut names = Vec::new();
            for entry in fs::read_dir(path).map_err(|source| io_error(path, source))? {
                let entry = entry.map_err(|source| io_error(path, source))?;
                names.push(entry.file_name());
            }
            names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            return Ok(Some(names));
        } else if file_type.is_symlink() {
            let target = fs::read_link(path).map_err(|source| io_error(path, source))?;
            let target = target.as_os_str().as_bytes();
            if target.len() > super::MAX_TARGET_LEN {
                return Err(DumpError::TargetTooLong(path.to_path_buf()));
            }
            self.tokens(path, &[b"symlink", b"target", target])?;
        } else {
            return Err(DumpError::UnsupportedFileType(path.to_path_buf()));
        }
        self.token(path, b")")?;
        Ok(None)
    }

    fn contents(&mut self, path: &Path, size: u64) -> Result<(), DumpError> {
        let mut file = fs::File::open(path).map_err(|source| io_error(path, source))?;
        self.out
            .write_all(&size.to_le_bytes())
            .map_err(|source| io_error(path, source))?;
        if self.buffer.is_empty() && size > 0 {
            self.buffer = vec![0u8; BUFFER_SIZE];
        }
        let mut left = size;
        while left > 0 {
            let want = left.min(self.buffer.len() as u64) as usize;
            let n = match file.read(&mut self.buffer[..want]) {
                Ok(0) => return Err(DumpError::FileChanged(path.to_path_buf())),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(io_error(path, source)),
            };
            self.out
                .write_all(&self.buffer[..n])
                .map_err(|source| io_error(path, source))?;
            left -= n as u64;
        }
        // A file that grew past its stat size also changed under us.
        let mut probe = [0u8; 1];
        if matches!(file.read(&mut probe), Ok(n) if n > 0) {
            return Err(DumpError::FileChanged(path.to_path_buf()));
        }
        self.out
            .write_all(&[0u8; 8][..padding_len(size)])
            .map_err(|source| io_error(path, source))
    }
}

fn io_error(path: &Path, source: io::Error) -> DumpError {
    DumpError::Io {
        path: path.to_path_buf(),
        source,
    }
}
