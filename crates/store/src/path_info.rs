//! What the store knows about a valid path: its NAR hash and size, references, deriver,
//! signatures and content address ([`PathInfo`]), shared by the local store, binary caches
//! and the export format.

use std::collections::BTreeSet;

use crate::{ContentAddress, Hash, StorePath};

/// The metadata of one valid store path (CppNix's `ValidPathInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathInfo {
    /// The path itself.
    pub path: StorePath,
    /// The sha256 hash of the path's NAR serialisation.
    pub nar_hash: Hash,
    /// The size of the NAR serialisation in bytes.
    pub nar_size: u64,
    /// The store paths this path refers to (possibly itself).
    pub references: BTreeSet<StorePath>,
    /// The derivation that produced the path, if known.
    pub deriver: Option<StorePath>,
    /// Seconds since the epoch at which the path was registered (0 if unknown).
    pub registration_time: i64,
    /// True if the path was built or added locally (not substituted).
    pub ultimate: bool,
    /// Signatures (`keyname:base64`).
    pub sigs: BTreeSet<String>,
    /// The content address, for content-addressed paths.
    pub ca: Option<ContentAddress>,
}

impl PathInfo {
    /// A minimal record: no references, deriver, signatures or content address.
    pub fn new(path: StorePath, nar_hash: Hash, nar_size: u64) -> Self {
        Self {
            path,
            nar_hash,
            nar_size,
            references: BTreeSet::new(),
            deriver: None,
            registration_time: 0,
            ultimate: false,
            sigs: BTreeSet::new(),
            ca: None,
        }
    }

    /// The references other than the path itself.
    pub fn references_without_self(&self) -> impl Iterator<Item = &StorePath> {
        self.references.iter().filter(move |r| **r != self.path)
    }
}
