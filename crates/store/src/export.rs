//! CppNix's export format (`nix-store --export` / `--import`): for each path, the marker
//! `1`, its NAR, the magic `0x4558494e` ("NIXE"), the path, its references, its deriver and a
//! `0` (no legacy signature); a final `0` ends the stream. Integers are little-endian `u64`s;
//! strings are NAR-style (length, bytes, zero padding to 8).

use std::collections::BTreeSet;
use std::io::{self, Read, Write};

use crate::local::{AddError, LocalStore, QueryError};
use crate::nar::{dump_path, parse_nar, DumpError, NarVisitor, ParseNarError};
use crate::{Hash, HashAlgo, HashEncoding, HashSink, PathInfo, StorePath};

/// The magic between a NAR and its metadata.
const EXPORT_MAGIC: u64 = 0x4558_494e;
/// Longest accepted string (a store path or deriver) in the metadata.
const MAX_STRING: u64 = 4096;

/// Why exporting failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A path is not valid or the database failed.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Serialising a path failed.
    #[error(transparent)]
    Dump(#[from] DumpError),
    /// Writing the output failed.
    #[error("writing export stream: {0}")]
    Io(#[from] io::Error),
    /// The store that serialised the path failed (another store than the local one).
    #[error(transparent)]
    Source(Box<dyn std::error::Error + Send + Sync>),
    /// The path's contents no longer match its registered NAR hash.
    #[error("hash of path '{path}' has changed from '{expected}' to '{got}'!")]
    Modified {
        /// The path.
        path: String,
        /// The registered hash.
        expected: String,
        /// The hash of what is on disk.
        got: String,
    },
}

/// Why importing failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Reading the stream failed or it ended early.
    #[error("reading import stream: {0}")]
    Io(#[from] io::Error),
    /// A NAR in the stream is malformed.
    #[error(transparent)]
    Nar(#[from] ParseNarError),
    /// The stream does not follow the export format.
    #[error("input doesn't look like something created by 'nix-store --export': {0}")]
    Format(String),
    /// Adding a path failed.
    #[error(transparent)]
    Add(#[from] AddError),
}

fn write_u64(out: &mut dyn Write, n: u64) -> io::Result<()> {
    out.write_all(&n.to_le_bytes())
}

fn write_str(out: &mut dyn Write, s: &[u8]) -> io::Result<()> {
    write_u64(out, s.len() as u64)?;
    out.write_all(s)?;
    out.write_all(&[0u8; 8][..(8 - s.len() % 8) % 8])
}

/// Hashes a copy of everything written through it.
struct Tee<'w> {
    out: &'w mut dyn Write,
    sink: HashSink,
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.sink.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Writes `paths` (references before referrers) to `out` in the export format.
pub fn export_paths(
    store: &LocalStore,
    paths: &BTreeSet<StorePath>,
    out: &mut dyn Write,
) -> Result<(), ExportError> {
    let dir = store.store_dir();
    for path in store.topo_sort(paths)? {
        let info = store
            .query_path_info(&path)?
            .ok_or_else(|| QueryError::NotValid(dir.print_path(&path)))?;
        let real = store.real_path(&path);
        write_export_record(dir, &info, out, &mut |mut w| Ok(dump_path(&real, &mut w)?))?;
    }
    write_export_end(out)
}

/// Writes one path of an export stream: its NAR, which `dump` writes (from any store) and
/// which must match `info`'s NAR hash, then its metadata. Paths go references first;
/// [`write_export_end`] ends the stream.
pub fn write_export_record(
    dir: &crate::StoreDir,
    info: &PathInfo,
    out: &mut dyn Write,
    dump: &mut dyn FnMut(&mut dyn Write) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    write_u64(out, 1)?;
    let mut tee = Tee {
        out: &mut *out,
        sink: HashSink::new(HashAlgo::Sha256),
    };
    dump(&mut tee)?;
    let (got, _) = tee.sink.finish();
    if got != info.nar_hash {
        return Err(ExportError::Modified {
            path: dir.print_path(&info.path),
            expected: info.nar_hash.encode(HashEncoding::Nix32, false),
            got: got.encode(HashEncoding::Nix32, false),
        });
    }
    write_u64(out, EXPORT_MAGIC)?;
    write_str(out, dir.print_path(&info.path).as_bytes())?;
    write_u64(out, info.references.len() as u64)?;
    for r in &info.references {
        write_str(out, dir.print_path(r).as_bytes())?;
    }
    let deriver = info
        .deriver
        .as_ref()
        .map(|d| dir.print_path(d))
        .unwrap_or_default();
    write_str(out, deriver.as_bytes())?;
    write_u64(out, 0)?;
    Ok(())
}

/// Ends an export stream.
pub fn write_export_end(out: &mut dyn Write) -> Result<(), ExportError> {
    Ok(write_u64(out, 0)?)
}

fn read_u64(input: &mut dyn Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    input.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn read_str(input: &mut dyn Read) -> Result<String, ImportError> {
    let len = read_u64(input)?;
    if len > MAX_STRING {
        return Err(ImportError::Format(format!("string of {len} bytes")));
    }
    let mut buf = vec![0u8; (len as usize).next_multiple_of(8)];
    input.read_exact(&mut buf)?;
    if buf[len as usize..].iter().any(|&b| b != 0) {
        return Err(ImportError::Format("non-zero padding".into()));
    }
    buf.truncate(len as usize);
    String::from_utf8(buf).map_err(|_| ImportError::Format("string is not UTF-8".into()))
}

/// Copies every byte read into a buffer.
struct Recorder<'r> {
    inner: &'r mut dyn Read,
    bytes: Vec<u8>,
}

impl Read for Recorder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

struct Ignore;

impl NarVisitor for Ignore {
    fn directory(&mut self, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
    fn regular_file(&mut self, _: &[u8], _: bool, _: u64, c: &mut dyn Read) -> io::Result<()> {
        io::copy(c, &mut io::sink()).map(|_| ())
    }
    fn symlink(&mut self, _: &[u8], _: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

/// One path read from an export stream: its metadata (NAR hash and size computed from the
/// NAR) and its NAR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedPath {
    /// The path's metadata as the stream gives it.
    pub info: PathInfo,
    /// The path's NAR, checked to be well-formed.
    pub nar: Vec<u8>,
}

/// Reads the next path of an export stream whose paths live in `store_dir`; `None` at the
/// stream's end marker. Touches no store: [`import_paths`] adds what this reads.
pub fn read_exported_path(
    store_dir: &crate::StoreDir,
    input: &mut dyn Read,
) -> Result<Option<ExportedPath>, ImportError> {
    let parse = |s: &str| {
        store_dir
            .parse_path(s)
            .map_err(|e| ImportError::Format(e.to_string()))
    };
    match read_u64(input)? {
        0 => return Ok(None),
        1 => {}
        n => return Err(ImportError::Format(format!("unexpected marker {n}"))),
    }
    let mut rec = Recorder {
        inner: &mut *input,
        bytes: Vec::new(),
    };
    parse_nar(&mut rec, &mut Ignore)?;
    let nar = rec.bytes;
    if read_u64(input)? != EXPORT_MAGIC {
        return Err(ImportError::Format("missing magic".into()));
    }
    let path = parse(&read_str(input)?)?;
    let count = read_u64(input)?;
    if count > 1 << 20 {
        return Err(ImportError::Format(format!("{count} references")));
    }
    let mut references = BTreeSet::new();
    for _ in 0..count {
        references.insert(parse(&read_str(input)?)?);
    }
    let deriver = read_str(input)?;
    if read_u64(input)? != 0 {
        return Err(ImportError::Format(
            "legacy signatures are not supported".into(),
        ));
    }
    let mut info = PathInfo::new(path, Hash::digest(HashAlgo::Sha256, &nar), nar.len() as u64);
    info.references = references;
    info.deriver = if deriver.is_empty() {
        None
    } else {
        Some(parse(&deriver)?)
    };
    Ok(Some(ExportedPath { info, nar }))
}

/// Reads an export stream and adds every path in it; returns them in stream order.
pub fn import_paths(
    store: &LocalStore,
    input: &mut dyn Read,
) -> Result<Vec<StorePath>, ImportError> {
    let dir = store.store_dir().clone();
    let mut imported = Vec::new();
    while let Some(ExportedPath { info, nar }) = read_exported_path(&dir, input)? {
        store.add_nar(&info, &mut nar.as_slice())?;
        imported.push(info.path);
    }
    Ok(imported)
}
