//! Fetching sources for Nix evaluation, behind one trait the embedder chooses.
//!
//! The evaluator (`nixkit-eval`) does no IO of its own: `builtins.fetchurl`,
//! `fetchTarball`, `fetchGit` and `fetchTree` ask a [`Fetcher`] for a local file or
//! tree, then hash it and add it to the store through the evaluator's own traits.
//! [`LocalFetcher`] is the default implementation: `file://` URLs and local paths,
//! archives unpacked in-process ([`archive`], on the `tar` crate), and Git repositories
//! exported through gitoxide ([`git`]). Other URLs are refused with
//! [`FetchError::NoNetwork`]. [`HttpFetcher`] (feature `http`) adds `http://` and
//! `https://` URLs through the workspace's HTTP client; an embedder that wants none at all
//! uses [`NoFetcher`] or supplies its own implementation.
//!
//! ```
//! use nixkit_fetch::{Fetcher, LocalFetcher};
//! let dir = tempfile::tempdir().unwrap();
//! std::fs::write(dir.path().join("f"), "hi").unwrap();
//! let url = format!("file://{}/f", dir.path().display());
//! let got = LocalFetcher.fetch_file(&url).unwrap();
//! assert_eq!(std::fs::read(got.path()).unwrap(), b"hi");
//! ```

#[cfg(feature = "archive")]
pub mod archive;
#[cfg(feature = "git")]
pub mod git;
#[cfg(feature = "http")]
mod http;

#[cfg(feature = "http")]
pub use http::{HttpFetcher, ProgressFn};
#[cfg(feature = "http")]
pub use nixkit_http::HttpConfig;

use std::path::{Path, PathBuf};

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL needs network access, which this fetcher does not have.
    #[error("cannot fetch '{0}': this evaluator has no network access (only file:// URLs and local paths can be fetched)")]
    NoNetwork(String),
    /// An HTTP download failed (the error names the URL).
    #[cfg(feature = "http")]
    #[error("{source}")]
    Http {
        /// The underlying error.
        source: nixkit_http::HttpError,
    },
    /// This fetcher does not fetch this kind of source at all.
    #[error("cannot fetch '{url}': {what} are not supported by this evaluator")]
    Unsupported {
        /// The URL asked for.
        url: String,
        /// What is not supported ("Git repositories", "archives", ...).
        what: &'static str,
    },
    /// Reading the source or writing the temporary copy failed.
    #[error("unable to download '{url}': {source}")]
    Io {
        /// The URL asked for.
        url: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The archive could not be unpacked.
    #[cfg(feature = "archive")]
    #[error("unpacking '{url}': {source}")]
    Archive {
        /// The URL asked for.
        url: String,
        /// The underlying error.
        source: archive::UnpackError,
    },
    /// The Git repository could not be exported.
    #[cfg(feature = "git")]
    #[error("fetching Git repository '{url}': {source}")]
    Git {
        /// The repository asked for.
        url: String,
        /// The underlying error.
        source: git::GitError,
    },
}

/// A fetched file or directory tree. A temporary copy (an unpacked archive, an exported
/// repository) is removed when this is dropped; a local file fetched in place is not.
#[derive(Debug)]
pub struct Fetched {
    path: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl Fetched {
    /// Where the fetched file or tree is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A Git repository exported at one commit.
#[derive(Debug)]
pub struct FetchedGit {
    /// The exported tree (no `.git`).
    pub tree: Fetched,
    /// The commit's full hexadecimal id.
    pub rev: String,
    /// The number of commits reachable from it, itself included (`git rev-list --count`).
    pub rev_count: u64,
    /// The commit's committer time, in seconds since the epoch.
    pub last_modified: i64,
}

/// Where sources come from. Implementations must be safe to share between evaluators
/// on several threads.
pub trait Fetcher: Send + Sync {
    /// A file's content, as a local file.
    fn fetch_file(&self, url: &str) -> Result<Fetched, FetchError>;
    /// An archive, unpacked; the result is its single top-level directory when it has
    /// exactly one, else the directory it was unpacked into.
    fn fetch_tarball(&self, url: &str) -> Result<Fetched, FetchError>;
    /// A Git repository's tree at `rev` (a commit id or anything that names one), or at
    /// `HEAD` when `rev` is `None`.
    fn fetch_git(&self, url: &str, rev: Option<&str>) -> Result<FetchedGit, FetchError>;
}

/// Fetches nothing: every call fails with [`FetchError::Unsupported`].
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFetcher;

impl Fetcher for NoFetcher {
    fn fetch_file(&self, url: &str) -> Result<Fetched, FetchError> {
        Err(FetchError::Unsupported {
            url: url.to_owned(),
            what: "fetches",
        })
    }
    fn fetch_tarball(&self, url: &str) -> Result<Fetched, FetchError> {
        Err(FetchError::Unsupported {
            url: url.to_owned(),
            what: "fetches",
        })
    }
    fn fetch_git(&self, url: &str, _rev: Option<&str>) -> Result<FetchedGit, FetchError> {
        Err(FetchError::Unsupported {
            url: url.to_owned(),
            what: "fetches",
        })
    }
}

/// Fetches `file://` URLs and local paths only: files in place, archives unpacked into a
/// temporary directory, Git repositories exported into one.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalFetcher;

/// The local file a `file://` URL names.
fn local_file(url: &str) -> Result<PathBuf, FetchError> {
    url.strip_prefix("file://")
        .map(PathBuf::from)
        .ok_or_else(|| FetchError::NoNetwork(url.to_owned()))
}

/// The local repository a Git URL names: `git+file://`, `file://` or an absolute path.
#[cfg_attr(not(feature = "git"), allow(dead_code))]
fn local_repo(url: &str) -> Result<PathBuf, FetchError> {
    let p = url
        .strip_prefix("git+file://")
        .or_else(|| url.strip_prefix("file://"))
        .unwrap_or(url);
    if p.starts_with('/') {
        Ok(PathBuf::from(p))
    } else {
        Err(FetchError::NoNetwork(url.to_owned()))
    }
}

#[cfg_attr(not(any(feature = "git", feature = "archive")), allow(dead_code))]
fn temp_dir(url: &str) -> Result<tempfile::TempDir, FetchError> {
    tempfile::Builder::new()
        .prefix("nixkit-fetch-")
        .tempdir()
        .map_err(|source| FetchError::Io {
            url: url.to_owned(),
            source,
        })
}

impl Fetcher for LocalFetcher {
    fn fetch_file(&self, url: &str) -> Result<Fetched, FetchError> {
        let path = local_file(url)?;
        // Fail here, with the URL, rather than later in whoever reads it.
        std::fs::metadata(&path).map_err(|source| FetchError::Io {
            url: url.to_owned(),
            source,
        })?;
        Ok(Fetched { path, _temp: None })
    }

    #[cfg(feature = "archive")]
    fn fetch_tarball(&self, url: &str) -> Result<Fetched, FetchError> {
        let file = local_file(url)?;
        let temp = temp_dir(url)?;
        let path =
            archive::unpack_file(&file, temp.path()).map_err(|source| FetchError::Archive {
                url: url.to_owned(),
                source,
            })?;
        Ok(Fetched {
            path,
            _temp: Some(temp),
        })
    }

    #[cfg(not(feature = "archive"))]
    fn fetch_tarball(&self, url: &str) -> Result<Fetched, FetchError> {
        Err(FetchError::Unsupported {
            url: url.to_owned(),
            what: "archives",
        })
    }

    #[cfg(feature = "git")]
    fn fetch_git(&self, url: &str, rev: Option<&str>) -> Result<FetchedGit, FetchError> {
        let repo = local_repo(url)?;
        let temp = temp_dir(url)?;
        let out = temp.path().join("tree");
        let export = git::export(&repo, rev, &out).map_err(|source| FetchError::Git {
            url: url.to_owned(),
            source,
        })?;
        Ok(FetchedGit {
            tree: Fetched {
                path: out,
                _temp: Some(temp),
            },
            rev: export.rev,
            rev_count: export.rev_count,
            last_modified: export.last_modified,
        })
    }

    #[cfg(not(feature = "git"))]
    fn fetch_git(&self, url: &str, _rev: Option<&str>) -> Result<FetchedGit, FetchError> {
        Err(FetchError::Unsupported {
            url: url.to_owned(),
            what: "Git repositories",
        })
    }
}
