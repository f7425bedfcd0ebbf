//! Pushing paths to an `http(s)://` cache that accepts `PUT` (`nixkit serve
//! --upload-token`, or any cache CppNix's `nix copy --to http://…` writes to): the NAR is
//! dumped, hashed and compressed in one pass into a temporary file (never whole in memory),
//! uploaded as `nar/<filehash>.nar<ext>`, then the narinfo (signed when a key is given) —
//! the order in which a cache can verify the NAR before the path becomes visible.

use std::collections::BTreeSet;
use std::io::{self, BufWriter, Write};

use nixkit_http::PutBody;

use super::compression::Compression;
use super::file_cache::CacheError;
use super::http_cache::HttpCache;
use super::narinfo::{sign, NarInfo};
use super::signing::SecretKey;
use super::source::BinaryCache;
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

impl HttpCache {
    /// Uploads `path` (valid in `store`) unless the cache has it; signs with `key`. Returns
    /// whether it was uploaded.
    pub fn upload(
        &self,
        store: &LocalStore,
        path: &StorePath,
        compression: Compression,
        key: Option<&SecretKey>,
    ) -> Result<bool, CacheError> {
        if self.narinfo(path)?.is_some() {
            return Ok(false);
        }
        let printed = store.store_dir().print_path(path);
        let mut info = store
            .query_path_info(path)?
            .ok_or_else(|| QueryError::NotValid(printed.clone()))?;
        let temp = tempfile::NamedTempFile::new().map_err(|source| CacheError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
        let io_err = |source| CacheError::Io {
            path: temp.path().to_path_buf(),
            source,
        };
        let file = Hashing {
            inner: BufWriter::with_capacity(1 << 16, temp.as_file()),
            sink: HashSink::new(HashAlgo::Sha256),
        };
        let mut nar = Hashing {
            inner: compression.encoder(file).map_err(io_err)?,
            sink: HashSink::new(HashAlgo::Sha256),
        };
        dump_path(&store.real_path(path), &mut nar)?;
        let (nar_hash, nar_size) = nar.sink.finish();
        let mut file = nar.inner.finish().map_err(io_err)?;
        file.flush().map_err(io_err)?;
        let Hashing { inner, sink } = file;
        drop(inner);
        let (file_hash, file_size) = sink.finish();
        if nar_hash != info.nar_hash || nar_size != info.nar_size {
            return Err(CacheError::Modified(printed));
        }
        let url = format!(
            "nar/{}.nar{}",
            file_hash.encode(HashEncoding::Nix32, false),
            compression.extension()
        );
        self.put(&url, "application/x-nix-nar", PutBody::File(temp.path()))?;
        if let Some(key) = key {
            sign(store.store_dir(), &mut info, key);
        }
        let narinfo = NarInfo {
            info,
            url,
            compression: compression.name().to_owned(),
            file_hash: Some(file_hash),
            file_size: Some(file_size),
        };
        let text = narinfo.to_text(store.store_dir());
        self.put(
            &format!("{}.narinfo", path.hash_part()),
            "text/x-nix-narinfo",
            PutBody::Bytes(text.as_bytes()),
        )?;
        self.forget_narinfo(path);
        Ok(true)
    }

    /// Uploads the closure of `paths`, dependencies first; returns the paths uploaded.
    pub fn copy_closure(
        &self,
        store: &LocalStore,
        paths: &BTreeSet<StorePath>,
        compression: Compression,
        key: Option<&SecretKey>,
    ) -> Result<Vec<StorePath>, CacheError> {
        let info = self.cache_info()?;
        if let Some(dir) = info.store_dir.filter(|d| d != store.store_dir().as_str()) {
            return Err(CacheError::StoreDirMismatch {
                cache: dir,
                ours: store.store_dir().as_str().to_owned(),
            });
        }
        super::file_cache::upload_closure(store, paths, |p| self.upload(store, p, compression, key))
    }
}
