//! Nix store foundations: nixbase32, hashes, store paths and their computation, NAR
//! serialisation and parsing, and reference scanning — all compatible with CppNix.
//!
//! With the default features it is also the store itself: [`local`] (a SQLite-backed local
//! store in CppNix's schema and layout, with atomic registration, GC and temporary roots),
//! [`profiles`] (generations), [`export`] (`nix-store --export/--import`) and
//! `binary_cache` (narinfo, ed25519 signatures, `file://` caches and substitution).
//!
//! ## Feature flags
//! - `local` (default): the local store, profiles and the export format (SQLite, flock).
//! - `binary-cache` (default, implies `local`): binary caches (ed25519, xz, zstd).
//!
//! ```
//! use std::collections::BTreeSet;
//! use nixkit_store::{Hash, HashAlgo, StoreDir};
//!
//! // The path `builtins.toFile "x" "y"` gets in the default store.
//! let store = StoreDir::default();
//! let hash = Hash::digest(HashAlgo::Sha256, b"y");
//! let path = store.make_text_path("x", &hash, &BTreeSet::new()).unwrap();
//! assert_eq!(path.name(), "x");
//! assert_eq!(store.parse_path(&store.print_path(&path)).unwrap(), path);
//!
//! // Every hash form CppNix prints parses back.
//! let sri = hash.to_sri();
//! assert_eq!(Hash::parse_any(&sri, None).unwrap(), hash);
//! assert_eq!(Hash::parse_any(&hash.to_nix32(), Some(HashAlgo::Sha256)).unwrap(), hash);
//! ```

pub mod base64;
pub mod content_address;
pub mod hash;
pub mod hash_path;
mod hash_sink;
pub mod nar;
pub mod nixbase32;
mod path_info;
pub mod refscan;
pub mod store_path;
#[cfg(feature = "local")]
mod topo;
#[cfg(feature = "local")]
pub use topo::topo_sort;

#[cfg(feature = "binary-cache")]
pub mod binary_cache;
#[cfg(feature = "local")]
pub mod export;
#[cfg(feature = "local")]
pub mod local;
#[cfg(feature = "local")]
pub mod profiles;

pub use content_address::{
    output_path_name, ContentAddress, ContentAddressMethod, FileIngestionMethod, MakePathError,
};
pub use hash::{Hash, HashAlgo, HashEncoding, ParseHashError};
pub use hash_sink::HashSink;
pub use path_info::PathInfo;
pub use refscan::{scan_for_references, RefScanner};
pub use store_path::{InvalidName, ParseStorePathError, StoreDir, StorePath};
