//! Git repositories exported at one commit through gitoxide: the commit's tree written
//! out as files (executable bits and symbolic links kept, submodules as empty
//! directories, as `git archive` does), with the commit's id, its number of ancestors
//! and its time. No `git` process is spawned.

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use gix::object::tree::EntryKind;

/// Why a repository could not be exported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GitError {
    /// Not a Git repository, or one gitoxide cannot open.
    #[error("not a usable Git repository: {0}")]
    Open(Box<gix::open::Error>),
    /// The revision names no commit.
    #[error("cannot find revision '{rev}': {message}")]
    Revision {
        /// The revision asked for.
        rev: String,
        /// Why.
        message: String,
    },
    /// Reading objects or walking history failed (a corrupt repository).
    #[error("{0}")]
    Read(String),
    /// A tree entry whose name would not stay inside the export (`..`, `/`, NUL).
    #[error("refusing tree entry with unsafe path '{0}'")]
    UnsafePath(String),
    /// Writing the exported tree failed.
    #[error("writing '{path}': {source}")]
    Write {
        /// The file written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// What an export found out about the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// The commit's full hexadecimal id.
    pub rev: String,
    /// The number of commits reachable from it, itself included.
    pub rev_count: u64,
    /// The committer time in seconds since the epoch.
    pub last_modified: i64,
}

fn read_error(e: impl std::fmt::Display) -> GitError {
    GitError::Read(e.to_string())
}

/// Writes the tree of `rev` (or of `HEAD`) of the repository at `repo` into `out`, which
/// must not exist yet.
pub fn export(repo: &Path, rev: Option<&str>, out: &Path) -> Result<Export, GitError> {
    let repo = gix::open(repo).map_err(|e| GitError::Open(Box::new(e)))?;
    let spec = rev.unwrap_or("HEAD");
    let revision_error = |message: String| GitError::Revision {
        rev: spec.to_owned(),
        message,
    };
    let id = repo
        .rev_parse_single(spec)
        .map_err(|e| revision_error(e.to_string()))?;
    let commit = id
        .object()
        .map_err(|e| revision_error(e.to_string()))?
        .peel_to_commit()
        .map_err(|e| revision_error(e.to_string()))?;
    let mut rev_count = 0u64;
    for ancestor in commit.ancestors().all().map_err(read_error)? {
        ancestor.map_err(read_error)?;
        rev_count += 1;
    }
    let last_modified = commit.time().map_err(read_error)?.seconds;
    let tree = commit.tree().map_err(read_error)?;
    let mut recorder = gix::traverse::tree::Recorder::default();
    tree.traverse()
        .breadthfirst(&mut recorder)
        .map_err(read_error)?;

    let write_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| GitError::Write { path, source }
    };
    std::fs::create_dir(out).map_err(write_error(out))?;
    // Directories first (breadth-first: parents before children), then files, then
    // symbolic links last, so that no write ever passes through a link of the tree.
    let mut links = Vec::new();
    let mut files = Vec::new();
    for entry in &recorder.records {
        let path = safe_join(out, &entry.filepath)?;
        match entry.mode.kind() {
            EntryKind::Tree | EntryKind::Commit => {
                std::fs::create_dir(&path).map_err(write_error(&path))?
            }
            EntryKind::Blob => files.push((path, entry.oid, false)),
            EntryKind::BlobExecutable => files.push((path, entry.oid, true)),
            EntryKind::Link => links.push((path, entry.oid)),
        }
    }
    for (path, oid, executable) in files {
        let blob = repo.find_object(oid).map_err(read_error)?;
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if executable { 0o755 } else { 0o644 })
            .open(&path)
            .map_err(write_error(&path))?;
        file.write_all(&blob.data).map_err(write_error(&path))?;
    }
    for (path, oid) in links {
        let blob = repo.find_object(oid).map_err(read_error)?;
        let target = OsStr::from_bytes(&blob.data);
        std::os::unix::fs::symlink(target, &path).map_err(write_error(&path))?;
    }
    Ok(Export {
        rev: id.to_string(),
        rev_count,
        last_modified,
    })
}

/// `out` joined with a tree path, every component checked to stay inside `out`.
fn safe_join(out: &Path, tree_path: &[u8]) -> Result<PathBuf, GitError> {
    let unsafe_path = || GitError::UnsafePath(String::from_utf8_lossy(tree_path).into_owned());
    let mut path = out.to_path_buf();
    for component in tree_path.split(|&b| b == b'/') {
        if component.is_empty() || component == b"." || component == b".." || component.contains(&0)
        {
            return Err(unsafe_path());
        }
        path.push(OsStr::from_bytes(component));
    }
    Ok(path)
}
