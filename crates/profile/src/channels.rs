//! Channels: named package sets. A package set is a directory with `default.nix`, or a
//! tarball of one (gzip, xz, bzip2, zstd or plain; a single top-level directory is
//! entered). `update` snapshots each channel into the store (a content-addressed copy,
//! kept alive by a GC root beside the channel list), so what a generation was made from
//! stays fixed: its store path and NAR hash are recorded per package in the manifest.
//!
//! The list is `channels.json` in pkgman's state directory.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use nixkit_store::local::{AddError, GcError, LocalStore, QueryError};
use nixkit_store::{FileIngestionMethod, HashAlgo};
use serde::{Deserialize, Serialize};

/// Why a channel operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// Reading or writing the channel list failed.
    #[error("channels '{path}': {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The channel list is not valid JSON of the expected shape.
    #[error("channel list '{path}' is malformed: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// No channel of that name.
    #[error("no channel named '{0}'")]
    Unknown(String),
    /// A name that cannot be a channel (empty, or not a valid store path name).
    #[error("invalid channel name '{0}' (letters, digits, '-', '_', '.', '+' only)")]
    InvalidName(String),
    /// The source is neither a directory with `default.nix` nor a tarball of one.
    #[error(
        "'{0}' is not a package set: expected a directory with default.nix or a tarball of one"
    )]
    NotAPackageSet(PathBuf),
    /// Unpacking a tarball failed.
    #[error("unpacking '{path}': {message}")]
    Unpack {
        /// The tarball.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Adding the snapshot to the store failed.
    #[error(transparent)]
    Add(#[from] AddError),
    /// Registering the GC root failed.
    #[error(transparent)]
    Root(#[from] GcError),
    /// A store query failed.
    #[error(transparent)]
    Query(#[from] QueryError),
}

/// One channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Its name (`-A NAME.attr` selects from it).
    pub name: String,
    /// Where the package set comes from (a directory or a tarball on the host).
    pub source: PathBuf,
    /// The store path of the last snapshot, if updated.
    #[serde(default)]
    pub store_path: Option<String>,
    /// The snapshot's NAR hash (SRI).
    #[serde(default)]
    pub nar_hash: Option<String>,
}

/// The channel list of one pkgman state directory.
#[derive(Debug, Clone)]
pub struct Channels {
    dir: PathBuf,
    /// The channels, in the order they were added.
    pub list: Vec<Channel>,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ChannelError + '_ {
    move |source| ChannelError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Channels {
    /// Reads the list in `dir` (empty if there is none yet).
    pub fn load(dir: &Path) -> Result<Self, ChannelError> {
        let file = dir.join("channels.json");
        let list = match fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ChannelError::Malformed {
                path: file.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io_err(&file)(e)),
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            list,
        })
    }

    /// Writes the list atomically (a temporary file renamed over it).
    pub fn save(&self) -> Result<(), ChannelError> {
        fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
        let file = self.dir.join("channels.json");
        let tmp = self
            .dir
            .join(format!(".channels.json.{}", std::process::id()));
        let text = serde_json::to_vec_pretty(&self.list).map_err(|e| ChannelError::Malformed {
            path: file.clone(),
            message: e.to_string(),
        })?;
        fs::write(&tmp, text).map_err(io_err(&tmp))?;
        fs::rename(&tmp, &file).map_err(io_err(&file))
    }

    /// The channel called `name`.
    pub fn get(&self, name: &str) -> Result<&Channel, ChannelError> {
        self.list
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| ChannelError::Unknown(name.to_owned()))
    }

    /// Adds (or replaces) channel `name` with `source` and snapshots it.
    pub fn add(
        &mut self,
        store: &LocalStore,
        name: &str,
        source: &Path,
    ) -> Result<(), ChannelError> {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'))
            && !name.starts_with('.');
        if !valid {
            return Err(ChannelError::InvalidName(name.to_owned()));
        }
        let source = std::path::absolute(source).map_err(io_err(source))?;
        let mut channel = Channel {
            name: name.to_owned(),
            source,
            store_path: None,
            nar_hash: None,
        };
        self.snapshot(store, &mut channel)?;
        self.list.retain(|c| c.name != name);
        self.list.push(channel);
        self.save()
    }

    /// Removes channel `name` (and its GC root).
    pub fn remove(&mut self, name: &str) -> Result<(), ChannelError> {
        self.get(name)?;
        self.list.retain(|c| c.name != name);
        let link = self.root_link(name);
        match fs::remove_file(&link) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&link)(e)),
        }
        self.save()
    }

    /// Snapshots every channel (or only `only`) again; returns the names whose snapshot
    /// changed.
    pub fn update(
        &mut self,
        store: &LocalStore,
        only: Option<&str>,
    ) -> Result<Vec<String>, ChannelError> {
        if let Some(n) = only {
            self.get(n)?;
        }
        let mut changed = Vec::new();
        let mut list = std::mem::take(&mut self.list);
        let mut result = Ok(());
        for c in list
            .iter_mut()
            .filter(|c| only.map_or(true, |n| n == c.name))
        {
            let before = c.store_path.clone();
            if let Err(e) = self.snapshot(store, c) {
                result = Err(e);
                break;
            }
            if c.store_path != before {
                changed.push(c.name.clone());
            }
        }
        self.list = list;
        result?;
        self.save()?;
        Ok(changed)
    }

    fn root_link(&self, name: &str) -> PathBuf {
        self.dir.join("channel-roots").join(name)
    }

    fn snapshot(&self, store: &LocalStore, c: &mut Channel) -> Result<(), ChannelError> {
        let unpacked;
        let tree = if c.source.is_dir() {
            if !c.source.join("default.nix").is_file() {
                return Err(ChannelError::NotAPackageSet(c.source.clone()));
            }
            c.source.clone()
        } else if c.source.is_file() {
            unpacked = tempfile::tempdir().map_err(io_err(&c.source))?;
            let top =
                nixkit_fetch::archive::unpack_file(&c.source, unpacked.path()).map_err(|e| {
                    ChannelError::Unpack {
                        path: c.source.clone(),
                        message: e.to_string(),
                    }
                })?;
            if !top.join("default.nix").is_file() {
                return Err(ChannelError::NotAPackageSet(c.source.clone()));
            }
            top
        } else {
            return Err(ChannelError::NotAPackageSet(c.source.clone()));
        };
        let path = store.add_to_store(
            &format!("{}-channel", c.name),
            &tree,
            FileIngestionMethod::Recursive,
            HashAlgo::Sha256,
        )?;
        let info = store
            .query_path_info(&path)?
            .ok_or_else(|| QueryError::NotValid(store.store_dir().print_path(&path)))?;
        let link = self.root_link(&c.name);
        let parent = self.dir.join("channel-roots");
        fs::create_dir_all(&parent).map_err(io_err(&parent))?;
        store.add_perm_root(&path, &link)?;
        c.store_path = Some(store.store_dir().print_path(&path));
        c.nar_hash = Some(info.nar_hash.to_sri());
        Ok(())
    }
}
