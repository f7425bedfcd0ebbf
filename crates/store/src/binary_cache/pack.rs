//! Packing a store path for a binary cache, for both backends' uploads: its NAR dumped,
//! hashed and compressed in one pass into a file (never whole in memory), checked against
//! the NAR hash the store registered, and the narinfo describing that file
//! (`nar/<filehash>.nar<ext>`, signed when a key is given).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use super::compression::Compression;
use super::file_cache::CacheError;
use super::narinfo::{sign, NarInfo};
use super::signing::SecretKey;
use crate::local::{LocalStore, QueryError};
use crate::nar::dump_path;
use crate::{HashAlgo, HashEncoding, HashSink, StorePath};

/// A writer that hashes what passes through it.
struct Hashing<W: Write> {
    inner: W,
    sink: HashSink,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sink.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `path`'s NAR (valid in `store`), compressed, into `file` (named `file_name` in
/// errors) and returns its narinfo. A path whose contents no longer match its registered
/// NAR hash and size is refused ([`CacheError::Modified`]).
pub(crate) fn pack_nar(
    store: &LocalStore,
    path: &StorePath,
    compression: Compression,
    key: Option<&SecretKey>,
    file: &File,
    file_name: &Path,
) -> Result<NarInfo, CacheError> {
    let printed = store.store_dir().print_path(path);
    let mut info = store
        .query_path_info(path)?
        .ok_or_else(|| QueryError::NotValid(printed.clone()))?;
    let io_err = |source| CacheError::Io {
        path: file_name.to_path_buf(),
        source,
    };
    let compressed = Hashing {
        inner: BufWriter::with_capacity(1 << 16, file),
        sink: HashSink::new(HashAlgo::Sha256),
    };
    let mut nar = Hashing {
        inner: compression.encoder(compressed).map_err(io_err)?,
        sink: HashSink::new(HashAlgo::Sha256),
    };
    dump_path(&store.real_path(path), &mut nar)?;
    let (nar_hash, nar_size) = nar.sink.finish();
    let mut compressed = nar.inner.finish().map_err(io_err)?;
    compressed.flush().map_err(io_err)?;
    let (file_hash, file_size) = compressed.sink.finish();
    if nar_hash != info.nar_hash || nar_size != info.nar_size {
        return Err(CacheError::Modified(printed));
    }
    if let Some(key) = key {
        sign(store.store_dir(), &mut info, key);
    }
    let url = format!(
        "nar/{}.nar{}",
        file_hash.encode(HashEncoding::Nix32, false),
        compression.extension()
    );
    Ok(NarInfo {
        info,
        url,
        compression: compression.name().to_owned(),
        file_hash: Some(file_hash),
        file_size: Some(file_size),
    })
}
