//! Nix store foundations: nixbase32, hashes, store paths and their computation, NAR
//! serialisation and parsing, and reference scanning — all compatible with CppNix.
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

pub mod content_address;
pub mod hash;
pub mod hash_path;
mod hash_sink;
pub mod nar;
pub mod nixbase32;
pub mod refscan;
pub mod store_path;

pub use content_address::{
    output_path_name, ContentAddress, ContentAddressMethod, FileIngestionMethod, MakePathError,
};
pub use hash::{Hash, HashAlgo, HashEncoding, ParseHashError};
pub use hash_sink::HashSink;
pub use refscan::{scan_for_references, RefScanner};
pub use store_path::{InvalidName, ParseStorePathError, StoreDir, StorePath};
