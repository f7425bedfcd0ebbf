//! Binary caches: the narinfo format and its ed25519 signatures (CppNix's key format),
//! NAR compression, and `file://` caches that a [`crate::local::LocalStore`] exports to and
//! substitutes from.

mod compression;
mod file_cache;
mod narinfo;
mod signing;

pub use compression::Compression;
pub use file_cache::{cache_info_store_dir, CacheError, FileCache};
pub use narinfo::{fingerprint, has_valid_signature, is_safe_nar_url, sign, NarInfo, NarInfoError};
pub use signing::{KeyError, PublicKey, SecretKey};
