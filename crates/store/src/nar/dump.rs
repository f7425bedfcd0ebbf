//! Serialising a tree to NAR, streaming file contents through one reusable buffer: the one NAR
//! writer of the workspace. The tree comes from a [`NarSource`] — the file system
//! ([`dump_path`]), or anything else that can describe files, directories and links (the
//! evaluator's file access, with a path filter). The walk does not recurse: open directories
//! are kept on a list, and nesting is bounded by [`MAX_DEPTH`], the limit the parser applies,
//! so whatever is dumped can be read back.

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

/// One object of a tree, as a [`NarSource`] describes it.
pub enum NarNode<R> {
    /// A regular file: whether it is executable, its size, and a reader of exactly that
    /// many bytes (a reader that ends early or has more is [`DumpError::FileChanged`]).
    Regular {
        /// The executable bit.
        executable: bool,
        /// The size in bytes.
        size: u64,
        /// The contents.
        contents: R,
    },
    /// A directory and the names of the entries to write (in any order; they are sorted
    /// by bytes, as NAR requires).
    Directory {
        /// Entry names.
        names: Vec<OsString>,
    },
    /// A symbolic link and its target.
    Symlink {
        /// The target, not resolved.
        target: PathBuf,
    },
}

/// A tree a NAR is written from. `Error` must take the writer's own errors
/// ([`DumpError`]: writing, nesting, sizes).
pub trait NarSource {
    /// What reading the tree can fail with.
    type Error: From<DumpError>;
    /// The reader of a regular file's contents.
    type Contents: Read;
    /// The object at `path` (symbolic links not followed).
    fn node(&mut self, path: &Path) -> Result<NarNode<Self::Contents>, Self::Error>;
}

/// The file system as a [`NarSource`].
struct FsSource;

impl NarSource for FsSource {
    type Error = DumpError;
    type Contents = fs::File;

    fn node(&mut self, path: &Path) -> Result<NarNode<fs::File>, DumpError> {
        let meta = fs::symlink_metadata(path).map_err(|source| io_error(path, source))?;
        let file_type = meta.file_type();
        if file_type.is_file() {
            let contents = fs::File::open(path).map_err(|source| io_error(path, source))?;
            Ok(NarNode::Regular {
                executable: meta.permissions().mode() & 0o100 != 0,
                size: meta.len(),
                contents,
            })
        } else if file_type.is_dir() {
            let mut names = Vec::new();
            for entry in fs::read_dir(path).map_err(|source| io_error(path, source))? {
                let entry = entry.map_err(|source| io_error(path, source))?;
                names.push(entry.file_name());
            }
            Ok(NarNode::Directory { names })
        } else if file_type.is_symlink() {
            let target = fs::read_link(path).map_err(|source| io_error(path, source))?;
            Ok(NarNode::Symlink { target })
        } else {
            Err(DumpError::UnsupportedFileType(path.to_path_buf()))
        }
    }
}

struct Dumper<'w, S> {
    source: &'w mut S,
    out: &'w mut dyn Write,
    buffer: Vec<u8>,
}

/// Writes the NAR serialisation of `path` (file, directory or symlink; not followed) to `out`.
///
/// `out` receives many small writes: give it a buffered writer when it is a file or socket.
pub fn dump_path(path: &Path, out: &mut impl Write) -> Result<(), DumpError> {
    dump_from(&mut FsSource, path, out)
}

/// Writes the NAR serialisation of the tree `source` shows at `root` to `out`.
pub fn dump_from<S: NarSource>(
    source: &mut S,
    root: &Path,
    out: &mut impl Write,
) -> Result<(), S::Error> {
    let mut dumper = Dumper {
        source,
        out,
        buffer: Vec::new(),
    };
    dumper.token(root, NAR_MAGIC)?;
    dumper.tree(root)
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

impl<S: NarSource> Dumper<'_, S> {
    fn token(&mut self, path: &Path, bytes: &[u8]) -> Result<(), S::Error> {
        write_token(self.out, bytes).map_err(|source| io_error(path, source).into())
    }

    fn tokens(&mut self, path: &Path, tokens: &[&[u8]]) -> Result<(), S::Error> {
        tokens.iter().try_for_each(|t| self.token(path, t))
    }

    /// Writes `root` and everything below it.
    fn tree(&mut self, root: &Path) -> Result<(), S::Error> {
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
                return Err(DumpError::TooDeep(child).into());
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
    fn object(&mut self, path: &Path) -> Result<Option<Vec<OsString>>, S::Error> {
        let node = self.source.node(path)?;
        self.tokens(path, &[b"(", b"type"])?;
        match node {
            NarNode::Regular {
                executable,
                size,
                contents,
            } => {
                self.token(path, b"regular")?;
                if executable {
                    self.tokens(path, &[b"executable", b""])?;
                }
                self.token(path, b"contents")?;
                self.contents(path, size, contents)?;
            }
            NarNode::Directory { mut names } => {
                self.token(path, b"directory")?;
                names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
                return Ok(Some(names));
            }
            NarNode::Symlink { target } => {
                let target = target.as_os_str().as_bytes();
                if target.len() > super::MAX_TARGET_LEN {
                    return Err(DumpError::TargetTooLong(path.to_path_buf()).into());
                }
                self.tokens(path, &[b"symlink", b"target", target])?;
            }
        }
        self.token(path, b")")?;
        Ok(None)
    }

    fn contents(&mut self, path: &Path, size: u64, mut file: S::Contents) -> Result<(), S::Error> {
        self.contents_of(path, size, &mut file)
            .map_err(S::Error::from)
    }

    fn contents_of(
        &mut self,
        path: &Path,
        size: u64,
        file: &mut impl Read,
    ) -> Result<(), DumpError> {
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
