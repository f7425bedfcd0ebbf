//! Profiles and generations as CppNix keeps them: generation `N` of profile `P` is the
//! symlink `P-N-link` to a store path, and `P` is a symlink to the relative name
//! `P-N-link`. Switching is atomic (a temporary `.<pid>_<name>` symlink renamed over `P`);
//! changes hold `P.lock`. The current generation is never deleted.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::local::lock_file;

/// Why a profile operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// A file system operation failed.
    #[error("profile '{path}': {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The profile path has no file name.
    #[error("'{0}' is not a valid profile path")]
    InvalidProfile(PathBuf),
    /// Rollback with no older generation.
    #[error("no profile version older than the current ({0}) exists")]
    NoOlderGeneration(u64),
    /// Switching to (or deleting) a generation that does not exist.
    #[error("generation {0} does not exist")]
    NoSuchGeneration(u64),
    /// Deleting the current generation.
    #[error("cannot delete current version of profile '{0}'")]
    DeleteCurrent(PathBuf),
}

/// One generation of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// Its number.
    pub number: u64,
    /// The `P-N-link` symlink.
    pub link: PathBuf,
    /// What it points to (a store path).
    pub target: PathBuf,
    /// When the link was created.
    pub created: SystemTime,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ProfileError + '_ {
    move |source| ProfileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn split(profile: &Path) -> Result<(PathBuf, String), ProfileError> {
    let name = profile
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| ProfileError::InvalidProfile(profile.to_path_buf()))?;
    let dir = profile.parent().unwrap_or(Path::new(".")).to_path_buf();
    Ok((dir, name))
}

fn link_name(name: &str, n: u64) -> String {
    format!("{name}-{n}-link")
}

/// The generations of `profile` (ascending) and the current one, if any.
pub fn list_generations(profile: &Path) -> Result<(Vec<Generation>, Option<u64>), ProfileError> {
    let (dir, name) = split(profile)?;
    let mut gens = Vec::new();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((gens, None)),
        Err(e) => return Err(io_err(&dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_err(&dir))?;
        let file = entry.file_name().to_string_lossy().into_owned();
        let number = file
            .strip_prefix(&name)
            .and_then(|r| r.strip_prefix('-'))
            .and_then(|r| r.strip_suffix("-link"))
            .and_then(|n| n.parse::<u64>().ok());
        if let Some(number) = number {
            let link = entry.path();
            let meta = fs::symlink_metadata(&link).map_err(io_err(&link))?;
            let target = fs::read_link(&link).map_err(io_err(&link))?;
            let created = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            gens.push(Generation {
                number,
                link,
                target,
                created,
            });
        }
    }
    gens.sort_by_key(|g| g.number);
    let current = fs::read_link(profile).ok().and_then(|t| {
        let t = t.file_name()?.to_string_lossy().into_owned();
        gens.iter()
            .find(|g| link_name(&name, g.number) == t)
            .map(|g| g.number)
    });
    Ok((gens, current))
}

fn lock(profile: &Path) -> Result<impl Sized, ProfileError> {
    let mut lock = profile.as_os_str().to_owned();
    lock.push(".lock");
    let lock = PathBuf::from(lock);
    lock_file(&lock).map_err(io_err(&lock))
}

fn switch_unlocked(profile: &Path, n: u64) -> Result<(), ProfileError> {
    let (_, name) = split(profile)?;
    crate::local::replace_symlink(Path::new(&link_name(&name, n)), profile).map_err(io_err(profile))
}

/// Makes a new generation pointing to `target` and switches to it; returns its number. If
/// the current generation already points to `target`, nothing is created.
pub fn create_generation(profile: &Path, target: &Path) -> Result<u64, ProfileError> {
    let (dir, name) = split(profile)?;
    fs::create_dir_all(&dir).map_err(io_err(&dir))?;
    let _lock = lock(profile)?;
    let (gens, current) = list_generations(profile)?;
    if let Some(cur) = current.and_then(|c| gens.iter().find(|g| g.number == c)) {
        if cur.target == target {
            return Ok(cur.number);
        }
    }
    let n = gens.last().map_or(1, |g| g.number + 1);
    let link = dir.join(link_name(&name, n));
    crate::local::replace_symlink(target, &link).map_err(io_err(&link))?;
    switch_unlocked(profile, n)?;
    Ok(n)
}

/// Switches `profile` to generation `n`.
pub fn switch_generation(profile: &Path, n: u64) -> Result<(), ProfileError> {
    let _lock = lock(profile)?;
    let (gens, _) = list_generations(profile)?;
    if !gens.iter().any(|g| g.number == n) {
        return Err(ProfileError::NoSuchGeneration(n));
    }
    switch_unlocked(profile, n)
}

/// Switches to the highest generation below the current one; returns its number.
pub fn rollback(profile: &Path) -> Result<u64, ProfileError> {
    let _lock = lock(profile)?;
    let (gens, current) = list_generations(profile)?;
    let cur = current.unwrap_or(0);
    let prev = gens
        .iter()
        .rev()
        .find(|g| g.number < cur)
        .ok_or(ProfileError::NoOlderGeneration(cur))?;
    switch_unlocked(profile, prev.number)?;
    Ok(prev.number)
}

/// Deletes generation `n`, which must not be the current one.
pub fn delete_generation(profile: &Path, n: u64) -> Result<(), ProfileError> {
    let _lock = lock(profile)?;
    let (gens, current) = list_generations(profile)?;
    if current == Some(n) {
        return Err(ProfileError::DeleteCurrent(profile.to_path_buf()));
    }
    let gen = gens
        .iter()
        .find(|g| g.number == n)
        .ok_or(ProfileError::NoSuchGeneration(n))?;
    fs::remove_file(&gen.link).map_err(io_err(&gen.link))
}

/// Deletes every generation except the current one; returns the numbers deleted.
pub fn delete_old_generations(profile: &Path) -> Result<Vec<u64>, ProfileError> {
    let _lock = lock(profile)?;
    let (gens, current) = list_generations(profile)?;
    let mut deleted = Vec::new();
    for g in gens.iter().filter(|g| Some(g.number) != current) {
        fs::remove_file(&g.link).map_err(io_err(&g.link))?;
        deleted.push(g.number);
    }
    Ok(deleted)
}
