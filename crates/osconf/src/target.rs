//! The target of osconf's commands: a root directory (`/` for the running system, or a
//! system being installed or kept under `--root DIR`) with its store at `DIR/nix/store`
//! (state in `DIR/nix/var/nix`, paths named `/nix/store/...` as inside the target), its
//! system profile, its configuration, and the reading of its files through the root
//! (a link to `/nix/store/...` or `/etc/...` is followed inside the target, not the host).

use std::io;
use std::path::{Component, Path, PathBuf};

use nixkit_store::local::StoreConfig;
use nixkit_store::StoreDir;

use crate::generations::SystemProfile;

/// Why a target could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The root directory does not exist.
    #[error("the target root '{0}' is not a directory")]
    NoRoot(PathBuf),
    /// The root could not be made absolute.
    #[error("the target root '{path}': {source}")]
    Io {
        /// The root as given.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

/// A target root directory and its store.
#[derive(Debug, Clone)]
pub struct Target {
    root: PathBuf,
    store: StoreConfig,
}

/// Symbolic links followed at most while resolving one path (as the kernel's 40).
const MAX_LINKS: usize = 40;

impl Target {
    /// The target at `root` (an existing directory).
    pub fn new(root: &Path) -> Result<Target, TargetError> {
        let abs = std::path::absolute(root).map_err(|source| TargetError::Io {
            path: root.to_path_buf(),
            source,
        })?;
        if !abs.is_dir() {
            return Err(TargetError::NoRoot(abs));
        }
        let store = StoreConfig::new(abs.clone(), StoreDir::default());
        Ok(Target { root: abs, store })
    }

    /// The root directory (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the target is the running system (root `/`).
    pub fn is_host(&self) -> bool {
        self.root == Path::new("/")
    }

    /// The target's store.
    pub fn store_config(&self) -> &StoreConfig {
        &self.store
    }

    /// The target's system profile and id map.
    pub fn profile(&self) -> SystemProfile {
        SystemProfile::new(&self.root)
    }

    /// `ROOT/etc/osconf`, where the configuration lives.
    pub fn config_dir(&self) -> PathBuf {
        self.root.join("etc/osconf")
    }

    /// `ROOT/etc/osconf/configuration.nix`.
    pub fn default_config_file(&self) -> PathBuf {
        self.config_dir().join("configuration.nix")
    }

    /// The lock every changing command holds (`ROOT/nix/var/nix/osconf.lock`).
    pub fn lock_path(&self) -> PathBuf {
        self.store.state_dir().join("osconf.lock")
    }

    /// Where the target's absolute path `path` is on this machine (no links followed).
    pub fn host_path(&self, path: &Path) -> PathBuf {
        let rel = path.strip_prefix("/").unwrap_or(path);
        self.root.join(rel)
    }

    /// Where the target's absolute path `path` is on this machine, every symbolic link
    /// on the way followed inside the target (an absolute link target is the target's).
    pub fn resolve(&self, path: &Path) -> io::Result<PathBuf> {
        let mut todo: Vec<std::ffi::OsString> = Vec::new();
        push_components(&mut todo, path);
        let mut logical = PathBuf::from("/");
        let mut links = 0;
        while let Some(part) = todo.pop() {
            if part == ".." {
                logical.pop();
                continue;
            }
            let next = logical.join(&part);
            let host = self.host_path(&next);
            match std::fs::symlink_metadata(&host) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(io::Error::other(format!(
                            "too many levels of symbolic links at {}",
                            next.display()
                        )));
                    }
                    let target = std::fs::read_link(&host)?;
                    if target.is_absolute() {
                        logical = PathBuf::from("/");
                    }
                    push_components(&mut todo, &target);
                }
                Ok(_) => logical = next,
                Err(e) if e.kind() == io::ErrorKind::NotFound && todo.is_empty() => {
                    // A missing last component resolves to where it would be.
                    logical = next;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(self.host_path(&logical))
    }

    /// The system `ROOT/run/current-system` names (as the target sees it), if any.
    pub fn current_system(&self) -> Option<String> {
        std::fs::read_link(self.root.join("run/current-system"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned())
    }
}

/// Pushes `path`'s components onto `todo` so that the first is popped first.
fn push_components(todo: &mut Vec<std::ffi::OsString>, path: &Path) {
    let mut parts: Vec<std::ffi::OsString> = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => parts.push(n.to_owned()),
            Component::ParentDir => parts.push("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    todo.extend(parts.into_iter().rev());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn links_resolve_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("nix/store/abc-etc/etc")).unwrap();
        std::fs::write(root.join("nix/store/abc-etc/etc/motd"), "hi").unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::os::unix::fs::symlink("/nix/store/abc-etc/etc", root.join("etc/static")).unwrap();
        std::os::unix::fs::symlink("/etc/static/motd", root.join("etc/motd")).unwrap();
        std::os::unix::fs::symlink("static/../motd", root.join("etc/rel")).unwrap();
        let t = Target::new(root).unwrap();
        let real = t.resolve(Path::new("/etc/motd")).unwrap();
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "hi");
        assert!(real.starts_with(root));
        // `..` after a link is taken from the link's target, as the kernel does.
        assert_eq!(
            t.resolve(Path::new("/etc/rel")).unwrap(),
            root.join("nix/store/abc-etc/motd")
        );
        std::os::unix::fs::symlink("loop", root.join("etc/loop")).unwrap();
        assert!(t.resolve(Path::new("/etc/loop")).is_err());
        assert_eq!(
            t.resolve(Path::new("/etc/missing")).unwrap(),
            root.join("etc/missing")
        );
    }
}
