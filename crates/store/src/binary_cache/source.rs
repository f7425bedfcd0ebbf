//! The binary-cache backend abstraction substitution works through: a cache answers
//! `nix-cache-info`, narinfos and NAR downloads (as streams), whatever its transport
//! (`file://` directory, `http(s)://` server). Everything a backend returns is untrusted:
//! the substitution code bounds, hashes and checks it.

use std::io::Read;

use super::file_cache::CacheError;
use super::narinfo::NarInfo;
use crate::{StoreDir, StorePath};

/// The fields of a cache's `nix-cache-info` that matter to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheInfo {
    /// `StoreDir`, if given.
    pub store_dir: Option<String>,
    /// `WantMassQuery`: the cache is worth asking about many paths at once.
    pub want_mass_query: bool,
    /// `Priority`: lower is tried first (CppNix's default is 50).
    pub priority: u32,
}

/// CppNix's priority of a cache whose `nix-cache-info` names none.
pub const DEFAULT_PRIORITY: u32 = 50;

impl Default for CacheInfo {
    fn default() -> Self {
        Self {
            store_dir: None,
            want_mass_query: false,
            priority: DEFAULT_PRIORITY,
        }
    }
}

impl CacheInfo {
    /// Parses `nix-cache-info` text; unknown lines and unparsable values are ignored, as by
    /// CppNix (the last of repeated lines wins).
    pub fn parse(text: &str) -> Self {
        let mut info = Self::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "StoreDir" => info.store_dir = Some(value.to_owned()),
                "WantMassQuery" => info.want_mass_query = value == "1",
                "Priority" => {
                    if let Ok(p) = value.parse() {
                        info.priority = p;
                    }
                }
                _ => {}
            }
        }
        info
    }

    /// The `nix-cache-info` text of this info.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        if let Some(dir) = &self.store_dir {
            s.push_str(&format!("StoreDir: {dir}\n"));
        }
        s.push_str(&format!(
            "WantMassQuery: {}\nPriority: {}\n",
            u8::from(self.want_mass_query),
            self.priority
        ));
        s
    }

    /// Fails unless the cache is for `ours` (a cache that names no store directory is
    /// taken to be for any).
    pub fn check_store_dir(&self, ours: &StoreDir) -> Result<(), CacheError> {
        match &self.store_dir {
            Some(dir) if dir != ours.as_str() => Err(CacheError::StoreDirMismatch {
                cache: dir.clone(),
                ours: ours.as_str().to_owned(),
            }),
            _ => Ok(()),
        }
    }
}

/// A binary cache that paths can be substituted from.
pub trait BinaryCache: std::fmt::Debug + Send + Sync {
    /// The cache's URL, as the user gave it (for messages).
    fn url(&self) -> &str;

    /// The cache's `nix-cache-info` (defaults if it has none).
    fn cache_info(&self) -> Result<CacheInfo, CacheError>;

    /// The narinfo of `path`, if the cache has it; checked to be about `path`.
    fn narinfo(&self, path: &StorePath) -> Result<Option<NarInfo>, CacheError>;

    /// The NAR file `narinfo` points at, as it is stored (compressed), streamed. The
    /// reader may yield more bytes than the narinfo promises; the caller bounds it.
    fn nar_reader(&self, narinfo: &NarInfo) -> Result<Box<dyn Read + Send>, CacheError>;

    /// Drops any answer about `path` remembered from earlier (in memory or on disk), so
    /// that the next [`BinaryCache::narinfo`] asks the cache itself; true if there was one.
    fn forget_remembered_narinfo(&self, _path: &StorePath) -> bool {
        false
    }

    /// How many paths are substituted from this cache at once (each a download, its
    /// decompression, hashing and restore on a thread of its own).
    fn parallel_jobs(&self) -> usize {
        super::parallel::default_jobs()
    }
}
