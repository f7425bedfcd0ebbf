//! Wire primitives shared by both protocols: little-endian `u64`s, byte strings padded to
//! eight bytes, string lists and store-path sets, each read against a [`Limits`] so that a
//! hostile peer can never make us allocate what it merely claims.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};

use nixkit_store::{StoreDir, StorePath};

/// Bounds applied to everything a peer declares before it is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest byte string accepted (paths, names, log lines, `AddTextToStore` contents).
    pub max_string: u64,
    /// The most items accepted in one list, set or map.
    pub max_items: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // Text added to the store (derivations, `builtins.toFile`) can be large; 64 MiB
            // is far above anything CppNix sends in one string.
            max_string: 64 << 20,
            max_items: 1 << 20,
        }
    }
}

/// Why a primitive could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The stream ended in the middle of a value.
    #[error("unexpected end of stream while reading {what}")]
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// Reading or writing the stream failed.
    #[error("I/O error on the protocol stream: {0}")]
    Io(#[source] io::Error),
    /// A string longer than [`Limits::max_string`].
    #[error("peer declared a {len}-byte {what}, more than the limit of {limit}")]
    StringTooLong {
        /// What was being read.
        what: &'static str,
        /// The declared length.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// A list longer than [`Limits::max_items`].
    #[error("peer declared {len} items in a {what}, more than the limit of {limit}")]
    TooManyItems {
        /// What was being read.
        what: &'static str,
        /// The declared count.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// Non-zero bytes in the padding after a string.
    #[error("non-zero padding after a {what}")]
    BadPadding {
        /// What was being read.
        what: &'static str,
    },
    /// A boolean other than 0 or 1 where CppNix only ever sends those.
    #[error("expected a boolean (0 or 1) for {what}, got {value}")]
    BadBool {
        /// What was being read.
        what: &'static str,
        /// The value received.
        value: u64,
    },
    /// A string that must be UTF-8 (CppNix's store paths, hashes, names) is not.
    #[error("{what} is not valid UTF-8")]
    NotUtf8 {
        /// What was being read.
        what: &'static str,
    },
    /// A store path that does not parse.
    #[error("invalid store path {path:?}: {reason}")]
    BadStorePath {
        /// The text received.
        path: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A value out of the range a field allows.
    #[error("invalid {what}: {detail}")]
    BadValue {
        /// The field.
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl WireError {
    fn from_read(err: io::Error, what: &'static str) -> Self {
        if err.kind() == io::ErrorKind::UnexpectedEof {
            WireError::Truncated { what }
        } else {
            WireError::Io(err)
        }
    }
}

impl From<io::Error> for WireError {
    fn from(err: io::Error) -> Self {
        WireError::Io(err)
    }
}

/// Shorthand for results of wire operations.
pub type WireResult<T> = Result<T, WireError>;

/// Reads one little-endian `u64`.
pub fn read_u64(r: &mut impl Read, what: &'static str) -> WireResult<u64> {
    let mut buf = [0u8; 8];
    r.read_exact(&mut buf)
        .map_err(|e| WireError::from_read(e, what))?;
    Ok(u64::from_le_bytes(buf))
}

/// Reads a `u64` that must be 0 or 1.
pub fn read_bool(r: &mut impl Read, what: &'static str) -> WireResult<bool> {
    match read_u64(r, what)? {
        0 => Ok(false),
        1 => Ok(true),
        value => Err(WireError::BadBool { what, value }),
    }
}

/// Reads a `u64` CppNix treats as a boolean by `!= 0` (lenient, for old fields).
pub fn read_flag(r: &mut impl Read, what: &'static str) -> WireResult<bool> {
    Ok(read_u64(r, what)? != 0)
}

/// Reads a `u64` that must fit an `i64` (times); larger values are a typed error.
pub fn read_i64(r: &mut impl Read, what: &'static str) -> WireResult<i64> {
    let v = read_u64(r, what)?;
    i64::try_from(v).map_err(|_| WireError::BadValue {
        what,
        detail: format!("{v} does not fit a signed 64-bit integer"),
    })
}

/// The padding needed after `len` bytes to reach a multiple of eight.
pub fn padding(len: u64) -> usize {
    ((8 - len % 8) % 8) as usize
}

/// Reads and checks the zero padding after a string of `len` bytes.
pub fn read_padding(r: &mut impl Read, len: u64, what: &'static str) -> WireResult<()> {
    let pad = padding(len);
    if pad > 0 {
        let mut buf = [0u8; 8];
        r.read_exact(&mut buf[..pad])
            .map_err(|e| WireError::from_read(e, what))?;
        if buf[..pad].iter().any(|&b| b != 0) {
            return Err(WireError::BadPadding { what });
        }
    }
    Ok(())
}

/// Reads a length-prefixed, padded byte string of at most `limits.max_string` bytes. The
/// buffer grows as bytes arrive, so a lying length costs at most what was really sent.
pub fn read_bytes(r: &mut impl Read, limits: &Limits, what: &'static str) -> WireResult<Vec<u8>> {
    let len = read_u64(r, what)?;
    if len > limits.max_string {
        return Err(WireError::StringTooLong {
            what,
            len,
            limit: limits.max_string,
        });
    }
    let mut buf = Vec::with_capacity(len.min(64 * 1024) as usize);
    let got = r.take(len).read_to_end(&mut buf)?;
    if (got as u64) < len {
        return Err(WireError::Truncated { what });
    }
    read_padding(r, len, what)?;
    Ok(buf)
}

/// Reads a byte string that must be UTF-8.
pub fn read_string(r: &mut impl Read, limits: &Limits, what: &'static str) -> WireResult<String> {
    String::from_utf8(read_bytes(r, limits, what)?).map_err(|_| WireError::NotUtf8 { what })
}

/// Reads a count of items, checked against `limits.max_items`.
pub fn read_count(r: &mut impl Read, limits: &Limits, what: &'static str) -> WireResult<usize> {
    let len = read_u64(r, what)?;
    if len > limits.max_items {
        return Err(WireError::TooManyItems {
            what,
            len,
            limit: limits.max_items,
        });
    }
    usize::try_from(len).map_err(|_| WireError::TooManyItems {
        what,
        len,
        limit: limits.max_items,
    })
}

/// Reads a list of UTF-8 strings.
pub fn read_strings(
    r: &mut impl Read,
    limits: &Limits,
    what: &'static str,
) -> WireResult<Vec<String>> {
    let n = read_count(r, limits, what)?;
    let mut out = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        out.push(read_string(r, limits, what)?);
    }
    Ok(out)
}

/// Reads a set of UTF-8 strings (duplicates collapse, as in CppNix's `StringSet`).
pub fn read_string_set(
    r: &mut impl Read,
    limits: &Limits,
    what: &'static str,
) -> WireResult<BTreeSet<String>> {
    Ok(read_strings(r, limits, what)?.into_iter().collect())
}

/// Parses an absolute store path in `store`.
pub fn parse_store_path(store: &StoreDir, text: &str) -> WireResult<StorePath> {
    store.parse_path(text).map_err(|e| WireError::BadStorePath {
        path: text.chars().take(200).collect(),
        reason: e.to_string(),
    })
}

/// Reads one absolute store path.
pub fn read_path(
    r: &mut impl Read,
    store: &StoreDir,
    limits: &Limits,
    what: &'static str,
) -> WireResult<StorePath> {
    let text = read_string(r, limits, what)?;
    parse_store_path(store, &text)
}

/// Reads a store path, or `None` for the empty string.
pub fn read_opt_path(
    r: &mut impl Read,
    store: &StoreDir,
    limits: &Limits,
    what: &'static str,
) -> WireResult<Option<StorePath>> {
    let text = read_string(r, limits, what)?;
    if text.is_empty() {
        Ok(None)
    } else {
        parse_store_path(store, &text).map(Some)
    }
}

/// Reads a set of store paths.
pub fn read_paths(
    r: &mut impl Read,
    store: &StoreDir,
    limits: &Limits,
    what: &'static str,
) -> WireResult<BTreeSet<StorePath>> {
    let n = read_count(r, limits, what)?;
    let mut out = BTreeSet::new();
    for _ in 0..n {
        out.insert(read_path(r, store, limits, what)?);
    }
    Ok(out)
}

/// Writes one `u64`.
pub fn write_u64(w: &mut impl Write, v: u64) -> WireResult<()> {
    w.write_all(&v.to_le_bytes())?;
    Ok(())
}

/// Writes a boolean as 0 or 1.
pub fn write_bool(w: &mut impl Write, v: bool) -> WireResult<()> {
    write_u64(w, u64::from(v))
}

/// Writes a signed time as CppNix does (two's complement in a `u64`).
pub fn write_i64(w: &mut impl Write, v: i64) -> WireResult<()> {
    w.write_all(&v.to_le_bytes())?;
    Ok(())
}

/// Writes a length-prefixed byte string with its padding.
pub fn write_bytes(w: &mut impl Write, data: &[u8]) -> WireResult<()> {
    write_u64(w, data.len() as u64)?;
    w.write_all(data)?;
    let pad = padding(data.len() as u64);
    if pad > 0 {
        w.write_all(&[0u8; 8][..pad])?;
    }
    Ok(())
}

/// Writes a list of strings.
pub fn write_strings<S: AsRef<[u8]>>(
    w: &mut impl Write,
    items: impl ExactSizeIterator<Item = S>,
) -> WireResult<()> {
    write_u64(w, items.len() as u64)?;
    for item in items {
        write_bytes(w, item.as_ref())?;
    }
    Ok(())
}

/// Writes one absolute store path.
pub fn write_path(w: &mut impl Write, store: &StoreDir, path: &StorePath) -> WireResult<()> {
    write_bytes(w, store.print_path(path).as_bytes())
}

/// Writes a store path, or the empty string for `None`.
pub fn write_opt_path(
    w: &mut impl Write,
    store: &StoreDir,
    path: Option<&StorePath>,
) -> WireResult<()> {
    match path {
        Some(p) => write_path(w, store, p),
        None => write_bytes(w, b""),
    }
}

/// Writes a set of store paths.
pub fn write_paths<'a>(
    w: &mut impl Write,
    store: &StoreDir,
    paths: impl ExactSizeIterator<Item = &'a StorePath>,
) -> WireResult<()> {
    write_u64(w, paths.len() as u64)?;
    for p in paths {
        write_path(w, store, p)?;
    }
    Ok(())
}
