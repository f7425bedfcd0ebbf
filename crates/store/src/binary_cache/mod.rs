//! Binary caches: the narinfo format and its ed25519 signatures (CppNix's key format),
//! NAR compression, the [`BinaryCache`] backend trait with `file://` and (feature `http`)
//! `http(s)://` backends, and streaming substitution from several caches by priority.

mod compression;
mod file_cache;
#[cfg(feature = "http")]
mod http_cache;
#[cfg(feature = "http")]
mod http_upload;
mod narinfo;
#[cfg(feature = "http")]
mod narinfo_disk_cache;
mod pack;
mod parallel;
mod pipeline;
mod signing;
mod source;
mod substitute;

pub use compression::{Compression, Encoder};
pub use file_cache::{cache_info_store_dir, CacheError, FileCache};
#[cfg(feature = "http")]
pub use http_cache::{HttpCache, HttpTimeouts};
pub use narinfo::{fingerprint, has_valid_signature, is_safe_nar_url, sign, NarInfo, NarInfoError};
#[cfg(feature = "http")]
pub use narinfo_disk_cache::{NarInfoCacheConfig, DEFAULT_NEGATIVE_TTL, DEFAULT_POSITIVE_TTL};
#[cfg(feature = "http")]
pub use nixkit_http::{HttpConfig, ProgressHook};
pub use parallel::default_jobs;
pub use signing::{KeyError, PublicKey, SecretKey};
pub use source::{BinaryCache, CacheInfo, DEFAULT_PRIORITY};
pub use substitute::{substitute_closure, SubstituteError, Substituters};

/// The cache at `url`: `file://DIR` or a plain directory, or (with feature `http`)
/// `http://…`/`https://…`.
pub fn open_cache(
    url: &str,
    store_dir: crate::StoreDir,
) -> Result<std::sync::Arc<dyn BinaryCache>, CacheError> {
    match url.split_once("://").map(|(scheme, _)| scheme) {
        #[cfg(feature = "http")]
        Some("http" | "https") => Ok(std::sync::Arc::new(HttpCache::new(url, store_dir)?)),
        _ => Ok(std::sync::Arc::new(FileCache::new(url, store_dir)?)),
    }
}
