//! Pushing paths to an `http(s)://` cache that accepts `PUT` (`nixkit serve
//! --upload-token`, or any cache CppNix's `nix copy --to http://…` writes to): the NAR is
//! packed into a temporary file ([`super::pack`]: dumped, hashed and compressed in one pass),
//! uploaded as `nar/<filehash>.nar<ext>`, then the narinfo (signed when a key is given) —
//! the order in which a cache can verify the NAR before the path becomes visible. Uploaded
//! narinfos are remembered as the cache's answers (in memory and in the narinfo cache on
//! disk, when the cache has one), as CppNix's uploads are.

use std::collections::BTreeSet;

use nixkit_http::PutBody;

use super::compression::Compression;
use super::file_cache::CacheError;
use super::http_cache::HttpCache;
use super::pack::pack_nar;
use super::signing::SecretKey;
use super::source::BinaryCache;
use crate::local::LocalStore;
use crate::StorePath;

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
        let temp = tempfile::NamedTempFile::new().map_err(|source| CacheError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
        let narinfo = pack_nar(store, path, compression, key, temp.as_file(), temp.path())?;
        self.put(
            &narinfo.url,
            "application/x-nix-nar",
            PutBody::File(temp.path()),
        )?;
        let text = narinfo.to_text(store.store_dir());
        self.put(
            &format!("{}.narinfo", path.hash_part()),
            "text/x-nix-narinfo",
            PutBody::Bytes(text.as_bytes()),
        )?;
        // The cache now has it: remembered as a positive answer (replacing the negative
        // one just fetched), so copying the closure again asks nothing about it.
        self.remember_narinfo(&text, narinfo);
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
