//! A strict streaming NAR parser that reports each file system object to a [`NarVisitor`].
//!
//! Strict means: only the canonical token order is accepted, padding must be zero, directory
//! entries must be strictly ascending with valid names, and the limits in [`super`] hold.
//! The parser does not recurse: open directories are kept on a list of their own, so no
//! input can overflow the stack (nesting is bounded by [`MAX_DEPTH`] all the same).

use std::io::{self, Read};

use super::{is_valid_entry_name, padding_len, MAX_DEPTH, MAX_NAME_LEN, MAX_TARGET_LEN, NAR_MAGIC};

/// Receives the objects of a NAR in order. Paths are relative (`b""` is the root), with `/`
/// separating components.
pub trait NarVisitor {
    /// A directory; its entries follow.
    fn directory(&mut self, path: &[u8]) -> io::Result<()>;
    /// A regular file of `size` bytes; `contents` yields them (whatever is left unread is
    /// skipped by the parser).
    fn regular_file(
        &mut self,
        path: &[u8],
        executable: bool,
        size: u64,
        contents: &mut dyn Read,
    ) -> io::Result<()>;
    /// A symbolic link.
    fn symlink(&mut self, path: &[u8], target: &[u8]) -> io::Result<()>;
}

/// Why a NAR could not be parsed. Offsets count bytes from the start of the NAR.
#[derive(Debug, thiserror::Error)]
pub enum ParseNarError {
    /// Reading failed (including a premature end of input).
    #[error("reading NAR at byte offset {offset}: {source}")]
    Io {
        /// Where.
        offset: u64,
        /// The underlying error.
        source: io::Error,
    },
    /// A token other than the one the grammar requires.
    #[error("NAR byte offset {offset}: expected {expected}, found {found:?}")]
    UnexpectedToken {
        /// Where the token starts.
        offset: u64,
        /// What the grammar allows here.
        expected: &'static str,
        /// What was found (lossy, shortened).
        found: String,
    },
    /// A string token longer than allowed here.
    #[error("NAR byte offset {offset}: {what} of {len} bytes exceeds the limit of {max}")]
    TooLong {
        /// Where the token starts.
        offset: u64,
        /// Which kind of token.
        what: &'static str,
        /// Its declared length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// Non-zero padding bytes.
    #[error("NAR byte offset {offset}: non-zero padding")]
    BadPadding {
        /// Where the padding starts.
        offset: u64,
    },
    /// An invalid directory entry name.
    #[error("NAR byte offset {offset}: invalid entry name {name:?}")]
    InvalidName {
        /// Where the name token starts.
        offset: u64,
        /// The name (lossy).
        name: String,
    },
    /// Entries not in strictly ascending order.
    #[error("NAR byte offset {offset}: entry {name:?} is not after the previous entry")]
    NotSorted {
        /// Where the name token starts.
        offset: u64,
        /// The name (lossy).
        name: String,
    },
    /// Directories nested deeper than [`MAX_DEPTH`].
    #[error("NAR byte offset {offset}: directories nested deeper than {MAX_DEPTH}")]
    TooDeep {
        /// Where the entry starts.
        offset: u64,
    },
    /// The visitor failed.
    #[error("NAR byte offset {offset}: handling '{path}': {source}")]
    Visitor {
        /// Where the object's data ends.
        offset: u64,
        /// The object's relative path (lossy).
        path: String,
        /// The visitor's error.
        source: io::Error,
    },
}

struct Parser<'r> {
    reader: &'r mut dyn Read,
    offset: u64,
    token: Vec<u8>,
}

/// Parses one NAR from `reader`, calling `visitor` for each object; returns the NAR's size.
/// Reads exactly the NAR's bytes, nothing after it.
pub fn parse_nar(
    reader: &mut dyn Read,
    visitor: &mut dyn NarVisitor,
) -> Result<u64, ParseNarError> {
    let mut parser = Parser {
        reader,
        offset: 0,
        token: Vec::with_capacity(64),
    };
    parser.expect(NAR_MAGIC, "\"nix-archive-1\"")?;
    parser.tree(visitor)?;
    Ok(parser.offset)
}

/// A directory whose entries are being read.
struct OpenDirectory {
    /// The previous entry's name (entries must ascend).
    previous: Option<Vec<u8>>,
    /// The length of the path before this directory's name was appended.
    parent_path_len: usize,
}

impl Parser<'_> {
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ParseNarError> {
        self.reader
            .read_exact(buf)
            .map_err(|source| ParseNarError::Io {
                offset: self.offset,
                source,
            })?;
        self.offset += buf.len() as u64;
        Ok(())
    }

    fn read_u64(&mut self) -> Result<u64, ParseNarError> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn padding(&mut self, len: u64) -> Result<(), ParseNarError> {
        let mut pad = [0u8; 8];
        let n = padding_len(len);
        let start = self.offset;
        self.read_exact(&mut pad[..n])?;
        if pad[..n].iter().any(|&b| b != 0) {
            return Err(ParseNarError::BadPadding { offset: start });
        }
        Ok(())
    }

    /// Reads a string token of at most `max` bytes into `self.token`; returns its offset.
    fn read_token(&mut self, max: usize, what: &'static str) -> Result<u64, ParseNarError> {
        let start = self.offset;
        let len = self.read_u64()?;
        if len > max as u64 {
            return Err(ParseNarError::TooLong {
                offset: start,
                what,
                len,
                max,
            });
        }
        let mut token = std::mem::take(&mut self.token);
        token.resize(len as usize, 0);
        let read = self.read_exact(&mut token);
        self.token = token;
        read?;
        self.padding(len)?;
        Ok(start)
    }

    /// Reads a keyword token (at most 16 bytes).
    fn keyword(&mut self) -> Result<u64, ParseNarError> {
        self.read_token(16, "keyword")
    }

    fn unexpected(&self, offset: u64, expected: &'static str) -> ParseNarError {
        let mut found = String::from_utf8_lossy(&self.token).into_owned();
        found.truncate(64);
        ParseNarError::UnexpectedToken {
            offset,
            expected,
            found,
        }
    }

    fn expect(&mut self, want: &[u8], expected: &'static str) -> Result<(), ParseNarError> {
        let start = self.read_token(want.len().max(16), "keyword")?;
        if self.token != want {
            return Err(self.unexpected(start, expected));
        }
        Ok(())
    }

    fn visited(&self, path: &[u8], result: io::Result<()>) -> Result<(), ParseNarError> {
        result.map_err(|source| ParseNarError::Visitor {
            offset: self.offset,
            path: String::from_utf8_lossy(path).into_owned(),
            source,
        })
    }

    /// Parses the root object and everything below it.
    fn tree(&mut self, visitor: &mut dyn NarVisitor) -> Result<(), ParseNarError> {
        let mut path = Vec::new();
        let mut open: Vec<OpenDirectory> = Vec::new();
        if self.object(visitor, &path)? {
            open.push(OpenDirectory {
                previous: None,
                parent_path_len: 0,
            });
        }
        while let Some(depth) = open.len().checked_sub(1) {
            let start = self.keyword()?;
            match self.token.as_slice() {
                b")" => {
                    let parent_path_len = open.pop().map_or(0, |d| d.parent_path_len);
                    if !open.is_empty() {
                        // The directory was an entry's node: close the entry.
                        path.truncate(parent_path_len);
                        self.expect(b")", "\")\"")?;
                    }
                    continue;
                }
                b"entry" => {}
                _ => return Err(self.unexpected(start, "\"entry\" or \")\"")),
            }
            if depth >= MAX_DEPTH {
                return Err(ParseNarError::TooDeep { offset: start });
            }
            self.expect(b"(", "\"(\"")?;
            self.expect(b"name", "\"name\"")?;
            let name_start = self.read_token(MAX_NAME_LEN, "entry name")?;
            let name = self.token.clone();
            if !is_valid_entry_name(&name) {
                return Err(ParseNarError::InvalidName {
                    offset: name_start,
                    name: String::from_utf8_lossy(&name).into_owned(),
                });
            }
            let previous = open.last().and_then(|d| d.previous.as_ref());
            if previous.is_some_and(|p| *p >= name) {
                return Err(ParseNarError::NotSorted {
                    offset: name_start,
                    name: String::from_utf8_lossy(&name).into_owned(),
                });
            }
            self.expect(b"node", "\"node\"")?;
            let parent_path_len = path.len();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(&name);
            if let Some(dir) = open.last_mut() {
                dir.previous = Some(name);
            }
            if self.object(visitor, &path)? {
                open.push(OpenDirectory {
                    previous: None,
                    parent_path_len,
                });
            } else {
                path.truncate(parent_path_len);
                self.expect(b")", "\")\"")?;
            }
        }
        Ok(())
    }

    /// Parses the start of an object at `path`: a file or symlink entirely (through its
    /// `)`), a directory up to its first entry. Returns true for a directory, whose entries
    /// and `)` the caller reads.
    fn object(&mut self, visitor: &mut dyn NarVisitor, path: &[u8]) -> Result<bool, ParseNarError> {
        self.expect(b"(", "\"(\"")?;
        self.expect(b"type", "\"type\"")?;
        let start = self.keyword()?;
        match self.token.as_slice() {
            b"regular" => self.regular(visitor, path)?,
            b"symlink" => {
                self.expect(b"target", "\"target\"")?;
                self.read_token(MAX_TARGET_LEN, "symlink target")?;
                let target = std::mem::take(&mut self.token);
                let result = visitor.symlink(path, &target);
                self.token = target;
                self.visited(path, result)?;
                self.expect(b")", "\")\"")?;
            }
            b"directory" => {
                let result = visitor.directory(path);
                self.visited(path, result)?;
                return Ok(true);
            }
            _ => return Err(self.unexpected(start, "\"regular\", \"symlink\" or \"directory\"")),
        }
        Ok(false)
    }

    fn regular(&mut self, visitor: &mut dyn NarVisitor, path: &[u8]) -> Result<(), ParseNarError> {
        let mut start = self.keyword()?;
        let executable = self.token == b"executable";
        if executable {
            self.expect(b"", "\"\" after \"executable\"")?;
            start = self.keyword()?;
        }
        if self.token != b"contents" {
            return Err(self.unexpected(start, "\"contents\" or \"executable\""));
        }
        let size = self.read_u64()?;
        let data_start = self.offset;
        let mut contents = CountingTake {
            reader: &mut *self.reader,
            left: size,
        };
        let result = visitor.regular_file(path, executable, size, &mut contents);
        let drained = io::copy(&mut contents, &mut io::sink());
        let consumed = size - contents.left;
        self.offset = data_start + consumed;
        if consumed != size {
            return Err(ParseNarError::Io {
                offset: self.offset,
                source: drained
                    .err()
                    .unwrap_or_else(|| io::ErrorKind::UnexpectedEof.into()),
            });
        }
        self.visited(path, result)?;
        self.padding(size)?;
        self.expect(b")", "\")\"")
    }
}

/// A `Take` that remembers how much is left, so the parser can track its offset.
struct CountingTake<'r> {
    reader: &'r mut dyn Read,
    left: u64,
}

impl Read for CountingTake<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.reader.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.left -= n as u64;
        Ok(n)
    }
}
