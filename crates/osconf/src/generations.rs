//! The system profile of a target root: its generations (`ROOT/nix/var/nix/profiles/system`,
//! kept by `nixkit_store::profiles` exactly as CppNix keeps profiles) and the id map that
//! keeps uids and gids stable across generations (`ROOT/var/lib/osconf/ids.json`, written
//! by activation and read back as the next evaluation's `users.previousIds`).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use nixkit_store::profiles::{self, ProfileError};

/// Why reading the target's id map failed.
#[derive(Debug, thiserror::Error)]
pub enum IdMapError {
    /// The file exists but could not be read.
    #[error("cannot read the id map '{path}': {source}")]
    Read {
        /// The id map file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file is not an id map.
    #[error("'{path}' is not an osconf id map: {source}")]
    Parse {
        /// The id map file.
        path: PathBuf,
        /// What is wrong with it.
        source: serde_json::Error,
    },
}

/// One generation of the system profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemGeneration {
    /// Its number.
    pub number: u64,
    /// The system (`system.build.toplevel`) it points to.
    pub system: PathBuf,
    /// When it was made.
    pub created: SystemTime,
    /// Whether it is the current generation.
    pub current: bool,
}

/// The uids and gids allocated by earlier generations, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdMap {
    /// uid by user name.
    #[serde(default)]
    pub uids: BTreeMap<String, u32>,
    /// gid by group name.
    #[serde(default)]
    pub gids: BTreeMap<String, u32>,
}

impl IdMap {
    /// A module setting `users.previousIds` to this map, as Nix source.
    pub fn to_module(&self) -> String {
        let json = serde_json::json!({ "uids": self.uids, "gids": self.gids }).to_string();
        format!(
            "{{ users.previousIds = builtins.fromJSON {}; }}",
            crate::nix_string(&json)
        )
    }
}

/// The system profile and state of the target root directory `root` (`/` for the
/// running system).
#[derive(Debug, Clone)]
pub struct SystemProfile {
    root: PathBuf,
}

impl SystemProfile {
    /// The profile of the target at `root`.
    pub fn new(root: impl Into<PathBuf>) -> SystemProfile {
        SystemProfile { root: root.into() }
    }

    /// `ROOT/nix/var/nix/profiles/system`.
    pub fn profile_path(&self) -> PathBuf {
        self.root.join("nix/var/nix/profiles/system")
    }

    /// `ROOT/var/lib/osconf/ids.json`.
    pub fn id_map_path(&self) -> PathBuf {
        self.root.join("var/lib/osconf/ids.json")
    }

    /// The generations, oldest first.
    pub fn generations(&self) -> Result<Vec<SystemGeneration>, ProfileError> {
        let (gens, current) = profiles::list_generations(&self.profile_path())?;
        Ok(gens
            .into_iter()
            .map(|g| SystemGeneration {
                current: Some(g.number) == current,
                number: g.number,
                system: g.target,
                created: g.created,
            })
            .collect())
    }

    /// Makes `system` the current generation (a new one, unless the current generation
    /// already is `system`); returns its number.
    pub fn add(&self, system: &Path) -> Result<u64, ProfileError> {
        profiles::create_generation(&self.profile_path(), system)
    }

    /// Switches to generation `n`.
    pub fn switch_to(&self, n: u64) -> Result<(), ProfileError> {
        profiles::switch_generation(&self.profile_path(), n)
    }

    /// Switches to the generation before the current one; returns its number.
    pub fn rollback(&self) -> Result<u64, ProfileError> {
        profiles::rollback(&self.profile_path())
    }

    /// Deletes generation `n` (never the current one).
    pub fn delete(&self, n: u64) -> Result<(), ProfileError> {
        profiles::delete_generation(&self.profile_path(), n)
    }

    /// The ids allocated so far; empty when the target has none yet.
    pub fn id_map(&self) -> Result<IdMap, IdMapError> {
        let path = self.id_map_path();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(IdMap::default()),
            Err(source) => return Err(IdMapError::Read { path, source }),
        };
        serde_json::from_str(&text).map_err(|source| IdMapError::Parse { path, source })
    }
}
