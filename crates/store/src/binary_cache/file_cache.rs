//! A `file://` binary cache: `nix-cache-info`, `<hashPart>.narinfo` and `nar/<filehash>.nar[.xz|.zst]`.
//! Exports paths from a [`LocalStore`] (signing them) and substitutes paths into one
//! (checking signatures against trusted keys, the file hash and the NAR hash).

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::compression::Compression;
use super::narinfo::{is_safe_nar_url, NarInfo, NarInfoError};
use super::pack::pack_nar;
use super::signing::{PublicKey, SecretKey};
use super::source::{BinaryCache, CacheInfo};
use crate::local::{AddError, LocalStore, QueryError};
use crate::nar::DumpError;
use crate::{StoreDir, StorePath};

/// Why a binary cache operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The URL is not `file://…`, `http(s)://…` or a plain directory.
    #[error("unsupported binary cache URL '{0}' (file://, http:// and https:// are supported)")]
    UnsupportedUrl(String),
    /// An HTTP request failed (connection, timeout, unexpected status).
    #[error("HTTP request for '{url}' failed: {message}")]
    Http {
        /// The URL requested.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A file system operation failed.
    #[error("binary cache file '{path}': {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A narinfo did not parse.
    #[error("binary cache file '{path}': {source}")]
    NarInfo {
        /// The narinfo file.
        path: PathBuf,
        /// The parse error.
        source: NarInfoError,
    },
    /// The cache is for another store directory.
    #[error("binary cache is for store directory '{cache}', not '{ours}'")]
    StoreDirMismatch {
        /// The cache's `StoreDir`.
        cache: String,
        /// Ours.
        ours: String,
    },
    /// The cache does not have the path.
    #[error("path '{0}' is not available in the binary cache")]
    NotInCache(String),
    /// No signature by a trusted key.
    #[error("cannot add path '{0}' because it lacks a signature by a trusted key")]
    Untrusted(String),
    /// The NAR file's hash differs from the narinfo's `FileHash`.
    #[error(
        "NAR file '{path}' of '{store_path}' has hash '{got}', but the narinfo says '{expected}'"
    )]
    FileHashMismatch {
        /// The NAR file.
        path: PathBuf,
        /// The store path it is for.
        store_path: String,
        /// From the narinfo.
        expected: String,
        /// Of the file.
        got: String,
    },
    /// The NAR file is no valid NAR (corrupt, truncated or not what the narinfo says).
    #[error("NAR file '{path}' of '{store_path}' cannot be restored: {source}")]
    BadNar {
        /// The NAR file.
        path: PathBuf,
        /// The store path it is for.
        store_path: String,
        /// What restoring it found (boxed: the error type stays small).
        source: Box<crate::nar::RestoreError>,
    },
    /// A narinfo's `URL` does not name a file inside the cache.
    #[error("binary cache narinfo '{path}': {source}")]
    UnsafeUrl {
        /// The narinfo file.
        path: PathBuf,
        /// The check that failed.
        source: NarInfoError,
    },
    /// A cache file is larger than the narinfo (or the limit for its kind) allows.
    #[error("binary cache file '{path}' is larger than {limit} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The most that was allowed.
        limit: u64,
    },
    /// A compression this implementation does not read.
    #[error("unsupported NAR compression '{0}'")]
    UnsupportedCompression(String),
    /// The path's contents no longer match its registered hash.
    #[error("path '{0}' was modified in the local store; not exporting it")]
    Modified(String),
    /// Adding to the local store failed (including a NAR hash mismatch).
    #[error(transparent)]
    Add(#[from] AddError),
    /// Querying the local store failed.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Serialising a path failed.
    #[error(transparent)]
    Dump(#[from] DumpError),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The `StoreDir` a `nix-cache-info` text names (the last such line), if any.
pub fn cache_info_store_dir(text: &str) -> Option<&str> {
    text.lines()
        .rev()
        .find_map(|line| line.strip_prefix("StoreDir: "))
}

/// The most a narinfo or `nix-cache-info` file may hold.
const MAX_METADATA_FILE: u64 = 1 << 20;

/// Reads at most `limit` bytes of the regular file at `path` (`None` if it does not exist).
fn read_bounded(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, CacheError> {
    let Some(file) = open_regular(path)? else {
        return Ok(None);
    };
    let meta = file.metadata().map_err(io_err(path))?;
    if meta.len() > limit {
        return Err(CacheError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    let mut data = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(io_err(path))?;
    if data.len() as u64 > limit {
        return Err(CacheError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(Some(data))
}

/// Opens the regular file at `path` for reading (`None` if it does not exist): non-blocking,
/// so a FIFO planted in the cache cannot hang the reader, and refused unless it is a regular
/// file, so a device (`/dev/zero`) cannot feed it without end.
fn open_regular(path: &Path) -> Result<Option<fs::File>, CacheError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path)(e)),
    };
    let meta = file.metadata().map_err(io_err(path))?;
    if !meta.is_file() {
        return Err(io_err(path)(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a regular file",
        )));
    }
    Ok(Some(file))
}

/// Writes `data` to `path` atomically (temporary file, fsync, rename).
fn write_atomic(path: &Path, data: &[u8]) -> Result<(), CacheError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp-{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let file = fs::File::create(&tmp).map_err(io_err(&tmp))?;
    io::Write::write_all(&mut &file, data).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

/// A binary cache in a local directory.
#[derive(Debug, Clone)]
pub struct FileCache {
    url: String,
    dir: PathBuf,
    store_dir: StoreDir,
}

impl FileCache {
    /// The cache at `url` (`file:///dir` or a plain path) for store directory `store_dir`.
    pub fn new(url: &str, store_dir: StoreDir) -> Result<Self, CacheError> {
        let dir = match url.split_once("://") {
            Some(("file", rest)) => rest.split('?').next().unwrap_or(rest),
            Some(_) => return Err(CacheError::UnsupportedUrl(url.to_owned())),
            None => url,
        };
        Ok(Self {
            url: url.to_owned(),
            dir: PathBuf::from(dir),
            store_dir,
        })
    }

    /// The cache directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates the layout and `nix-cache-info` if missing; checks the store directory.
    pub fn init(&self) -> Result<(), CacheError> {
        let nar = self.dir.join("nar");
        fs::create_dir_all(&nar).map_err(io_err(&nar))?;
        let info = self.dir.join("nix-cache-info");
        if !info.exists() {
            let text = format!("StoreDir: {}\n", self.store_dir.as_str());
            write_atomic(&info, text.as_bytes())?;
        }
        self.check_store_dir()
    }

    /// Checks that `nix-cache-info` (if present) names our store directory.
    pub fn check_store_dir(&self) -> Result<(), CacheError> {
        let file = self.dir.join("nix-cache-info");
        let Some(data) = read_bounded(&file, MAX_METADATA_FILE)? else {
            return Ok(());
        };
        let text = String::from_utf8_lossy(&data);
        match cache_info_store_dir(&text) {
            Some(dir) if dir != self.store_dir.as_str() => Err(CacheError::StoreDirMismatch {
                cache: dir.to_owned(),
                ours: self.store_dir.as_str().to_owned(),
            }),
            _ => Ok(()),
        }
    }

    fn narinfo_path(&self, path: &StorePath) -> PathBuf {
        self.dir.join(format!("{}.narinfo", path.hash_part()))
    }

    /// The narinfo of `path`, if the cache has it.
    pub fn narinfo(&self, path: &StorePath) -> Result<Option<NarInfo>, CacheError> {
        let file = self.narinfo_path(path);
        let Some(data) = read_bounded(&file, MAX_METADATA_FILE)? else {
            return Ok(None);
        };
        let text = String::from_utf8(data).map_err(|_| CacheError::NarInfo {
            path: file.clone(),
            source: NarInfoError::NotUtf8,
        })?;
        let info =
            NarInfo::parse(&self.store_dir, &text).map_err(|source| CacheError::NarInfo {
                path: file.clone(),
                source,
            })?;
        if info.info.path != *path {
            return Err(CacheError::NarInfo {
                path: file,
                source: NarInfoError::BadValue {
                    field: "StorePath",
                    value: self.store_dir.print_path(&info.info.path),
                },
            });
        }
        Ok(Some(info))
    }

    /// Uploads `path` (already valid in `store`) unless the cache has it; signs with `key`.
    pub fn upload(
        &self,
        store: &LocalStore,
        path: &StorePath,
        compression: Compression,
        key: Option<&SecretKey>,
    ) -> Result<bool, CacheError> {
        if self.narinfo_path(path).exists() {
            return Ok(false);
        }
        // Packed into a temporary file beside its final name, made durable, then renamed:
        // a NAR file is complete or absent, and never whole in memory.
        let temp =
            self.dir
                .join("nar")
                .join(format!(".tmp-{}-{}", std::process::id(), path.hash_part()));
        let packed = fs::File::create(&temp)
            .map_err(io_err(&temp))
            .and_then(|file| {
                let narinfo = pack_nar(store, path, compression, key, &file, &temp)?;
                file.sync_all().map_err(io_err(&temp))?;
                let dest = self.dir.join(&narinfo.url);
                fs::rename(&temp, &dest).map_err(io_err(&dest))?;
                Ok(narinfo)
            });
        if packed.is_err() {
            let _ = fs::remove_file(&temp);
        }
        let narinfo = packed?;
        write_atomic(
            &self.narinfo_path(path),
            narinfo.to_text(&self.store_dir).as_bytes(),
        )?;
        Ok(true)
    }

    /// Uploads the closure of `paths`; returns the paths actually written.
    pub fn copy_closure(
        &self,
        store: &LocalStore,
        paths: &BTreeSet<StorePath>,
        compression: Compression,
        key: Option<&SecretKey>,
    ) -> Result<Vec<StorePath>, CacheError> {
        self.init()?;
        upload_closure(store, paths, |p| self.upload(store, p, compression, key))
    }

    /// Substitutes `path` and its closure into `store`; returns the paths added. With
    /// `require_sigs`, every narinfo needs a signature by one of `trusted`, unless its path is
    /// content-addressed (then the content is checked against the address instead).
    pub fn substitute(
        &self,
        store: &LocalStore,
        path: &StorePath,
        trusted: &[PublicKey],
        require_sigs: bool,
    ) -> Result<Vec<StorePath>, CacheError> {
        super::substitute::substitute_closure(self, store, path, trusted, require_sigs)
    }
}

impl BinaryCache for FileCache {
    fn url(&self) -> &str {
        &self.url
    }

    fn cache_info(&self) -> Result<CacheInfo, CacheError> {
        let file = self.dir.join("nix-cache-info");
        Ok(match read_bounded(&file, MAX_METADATA_FILE)? {
            Some(data) => CacheInfo::parse(&String::from_utf8_lossy(&data)),
            None => CacheInfo::default(),
        })
    }

    fn narinfo(&self, path: &StorePath) -> Result<Option<NarInfo>, CacheError> {
        FileCache::narinfo(self, path)
    }

    fn nar_reader(&self, narinfo: &NarInfo) -> Result<Box<dyn Read + Send>, CacheError> {
        if !is_safe_nar_url(&narinfo.url) {
            return Err(CacheError::UnsafeUrl {
                path: self.narinfo_path(&narinfo.info.path),
                source: NarInfoError::UnsafeUrl(narinfo.url.clone()),
            });
        }
        let file = self.dir.join(&narinfo.url);
        match open_regular(&file)? {
            Some(f) => Ok(Box::new(f)),
            None => Err(io_err(&file)(io::Error::new(
                io::ErrorKind::NotFound,
                "NAR file not found",
            ))),
        }
    }
}

/// Passes the closure of `paths` to `upload` in dependency order (a path after its
/// references); returns the paths `upload` wrote (it says false for one already there).
/// Every cache that is written to copies closures this way.
pub(crate) fn upload_closure(
    store: &LocalStore,
    paths: &BTreeSet<StorePath>,
    mut upload: impl FnMut(&StorePath) -> Result<bool, CacheError>,
) -> Result<Vec<StorePath>, CacheError> {
    let closure = store.query_closure(paths)?;
    let mut written = Vec::new();
    for p in store.topo_sort(&closure)? {
        if upload(&p)? {
            written.push(p);
        }
    }
    Ok(written)
}
