//! `builtin:buildenv`: the user environment `nix-env` builds — one tree of symbolic links
//! to the files of the installed packages, merged directory by directory, with
//! `manifest.nix` beside them — as CppNix's built-in builder makes it.
//!
//! The derivation's `derivations` variable lists, per package, whether it is active, its
//! priority, its number of outputs and the outputs' paths; `manifest` is the manifest's
//! store path. Packages are linked in priority order (a lower number wins a collision;
//! two files of one priority are an error naming both), then the packages they ask for in
//! `nix-support/propagated-user-env-packages`, at lower priorities. Links point at the
//! logical store paths; files are read at the store's physical location, and a link is
//! only followed into the store, never out to the host.
//!
//! [`build_env`] is the one implementation of this symlink tree: the builtin builder runs
//! it for a derivation, and a package manager (nixkit-profile's user environments) calls
//! it directly.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use nixkit_derivation::Derivation;
use nixkit_store::{StoreDir, StorePath};

use crate::build::BuildError;
use crate::layout::BuildDir;

/// Why an environment could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildEnvError {
    /// Two packages of one priority provide the same file.
    #[error("Unable to build profile. There is a conflict for the following files:\n\n  {existing}\n  {new}")]
    Conflict {
        /// The file already linked (logical path).
        existing: String,
        /// The file that would replace it (logical path).
        new: String,
        /// Where in the environment, relative to its root (`bin/hello`).
        file: String,
        /// The priority both have.
        priority: i64,
    },
    /// A directory of one package where another has something else.
    #[error("collision between '{src}' and non-directory '{other}'")]
    NotADirectory {
        /// The directory being linked.
        src: String,
        /// What the environment already has there.
        other: String,
    },
    /// A file of one package where the environment already has a directory.
    #[error("collision between non-directory '{src}' and directory '{dst}'")]
    NotAFile {
        /// The file being linked.
        src: String,
        /// The directory in the environment.
        dst: String,
    },
    /// A package the caller does not allow (a path not among a derivation's inputs).
    #[error("'{0}' is not an input of the derivation")]
    NotAllowed(String),
    /// A file name that is not UTF-8.
    #[error("'{dir}' holds a name that is not UTF-8: {name:?}")]
    NotUtf8 {
        /// The directory.
        dir: String,
        /// The name.
        name: std::ffi::OsString,
    },
    /// A file system operation failed.
    #[error("{what} '{path}': {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The (logical) path.
        path: String,
        /// The underlying error.
        source: io::Error,
    },
}

fn io<'p>(what: &'static str, path: &'p str) -> impl FnOnce(io::Error) -> BuildEnvError + 'p {
    move |source| BuildEnvError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// One package output to link into an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvPackage {
    /// Its logical store path.
    pub path: String,
    /// Whether it is linked (an inactive package is left out).
    pub active: bool,
    /// Its priority: a lower number wins a collision.
    pub priority: i64,
}

/// What to build an environment of, and where.
pub struct EnvSpec<'a> {
    /// The logical store directory.
    pub store_dir: &'a StoreDir,
    /// Where the store's files are on the host.
    pub real_store: &'a Path,
    /// The packages, in any order.
    pub packages: Vec<EnvPackage>,
    /// The store path `manifest.nix` links to, if any.
    pub manifest: Option<String>,
    /// How the environment's root is named in links and messages (`$out`'s logical path).
    pub out_logical: String,
    /// Whether a package (or one it propagates) may be linked.
    pub allowed: &'a dyn Fn(&StorePath) -> bool,
}

/// Entries of a package that never enter a user environment (useless there, or a source of
/// pointless collisions).
const SKIPPED: &[&str] = &[
    "propagated-build-inputs",
    "nix-support",
    "perllocal.pod",
    "log",
    "manifest.nix",
    "manifest.json",
];

fn parse_packages(list: &str) -> Result<Vec<EnvPackage>, String> {
    let mut words = list.split_whitespace();
    let mut out = Vec::new();
    while let Some(active) = words.next() {
        let mut number = |what: &str| -> Result<i64, String> {
            let w = words
                .next()
                .ok_or_else(|| format!("'derivations' ends before a package's {what}"))?;
            w.parse()
                .map_err(|_| format!("'derivations': bad {what} '{w}'"))
        };
        let priority = number("priority")?;
        let count = number("output count")?;
        for _ in 0..count {
            let path = words
                .next()
                .ok_or("'derivations' ends before a package's outputs")?;
            out.push(EnvPackage {
                path: path.to_owned(),
                active: active != "false",
                priority,
            });
        }
    }
    Ok(out)
}

/// Builds the environment: `out` is where `$out` is written on the host.
struct Env<'a> {
    store_dir: &'a StoreDir,
    real_store: &'a Path,
    /// The logical path of `$out`, and where it is on the host.
    out_logical: String,
    out_host: PathBuf,
    /// The priority each link was made with, by its logical path.
    priorities: BTreeMap<String, i64>,
}

impl Env<'_> {
    /// Where the logical store path `p` (or a path inside one) is on the host, if it is in
    /// the store: links are only ever followed there.
    fn host_of(&self, logical: &str) -> Option<PathBuf> {
        if let Some(rest) = logical.strip_prefix(&self.out_logical) {
            return Some(self.out_host.join(rest.trim_start_matches('/')));
        }
        let (_, _) = self.store_dir.parse_path_prefix(logical).ok()?;
        let rest = logical.strip_prefix(self.store_dir.as_str())?;
        if rest.split('/').any(|c| c == "..") {
            return None;
        }
        Some(self.real_store.join(rest.trim_start_matches('/')))
    }

    /// Resolves a logical path through symbolic links (within the store only); returns
    /// the final logical path, or `None` when it leaves the store, dangles or loops.
    fn resolve(&self, logical: &str) -> Option<String> {
        let mut current = logical.to_owned();
        for _ in 0..40 {
            let host = self.host_of(&current)?;
            let meta = fs::symlink_metadata(&host).ok()?;
            if !meta.file_type().is_symlink() {
                return Some(current);
            }
            let target = fs::read_link(&host).ok()?;
            let target = target.to_str()?;
            current = if target.starts_with('/') {
                target.to_owned()
            } else {
                let parent = Path::new(&current).parent()?.to_str()?;
                normalise(&format!("{parent}/{target}"))?
            };
        }
        None
    }

    fn is_dir(&self, logical: &str) -> bool {
        self.resolve(logical)
            .and_then(|p| self.host_of(&p))
            .and_then(|h| fs::symlink_metadata(h).ok())
            .is_some_and(|m| m.is_dir())
    }

    /// Links the entries of the directory `src` (logical) into `dst` (logical, inside
    /// `$out`) at `priority`.
    fn link_dir(&mut self, src: &str, dst: &str, priority: i64) -> Result<(), BuildEnvError> {
        let Some(host) = self.resolve(src).and_then(|p| self.host_of(&p)) else {
            return Ok(());
        };
        let entries = match fs::read_dir(&host) {
            Ok(e) => e,
            // A package that is a single file is left out, as CppNix warns and does.
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(()),
            Err(e) => return Err(io("reading", src)(e)),
        };
        let mut names: Vec<String> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io("reading", src))?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|name| BuildEnvError::NotUtf8 {
                    dir: src.to_owned(),
                    name,
                })?;
            names.push(name);
        }
        names.sort();
        for name in names {
            if SKIPPED.contains(&name.as_str()) || (name == "dir" && src.ends_with("/info")) {
                continue;
            }
            let src_file = format!("{src}/{name}");
            let dst_file = format!("{dst}/{name}");
            self.link_entry(&src_file, &dst_file, priority)?;
        }
        Ok(())
    }

    fn link_entry(&mut self, src: &str, dst: &str, priority: i64) -> Result<(), BuildEnvError> {
        if self.resolve(src).is_none() {
            // Dangling, looping, or leading out of the store: skipped.
            return Ok(());
        }
        let rel = dst
            .strip_prefix(&self.out_logical)
            .unwrap_or(dst)
            .trim_start_matches('/');
        let dst_host = self.out_host.join(rel);
        let existing = match fs::symlink_metadata(&dst_host) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io("getting status of", dst)(e)),
        };
        if self.is_dir(src) {
            if let Some(meta) = existing {
                if meta.is_dir() {
                    return self.link_dir(src, dst, priority);
                }
                // A link to another package's directory: make it a real directory holding
                // both packages' entries.
                let target = fs::read_link(&dst_host).map_err(io("reading link", dst))?;
                let target = target.to_string_lossy().into_owned();
                if !self.is_dir(&target) {
                    return Err(BuildEnvError::NotADirectory {
                        src: src.to_owned(),
                        other: target,
                    });
                }
                fs::remove_file(&dst_host).map_err(io("unlinking", dst))?;
                fs::create_dir(&dst_host).map_err(io("creating directory", dst))?;
                let previous = self.priorities.get(dst).copied().unwrap_or(priority);
                self.link_dir(&target, dst, previous)?;
                return self.link_dir(src, dst, priority);
            }
        } else if let Some(meta) = existing {
            if meta.file_type().is_symlink() {
                let previous = self.priorities.get(dst).copied().unwrap_or(i64::MAX);
                if previous == priority {
                    let other = fs::read_link(&dst_host)
                        .map(|t| t.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    return Err(BuildEnvError::Conflict {
                        existing: other,
                        new: src.to_owned(),
                        file: rel.to_owned(),
                        priority,
                    });
                }
                if previous < priority {
                    return Ok(());
                }
                fs::remove_file(&dst_host).map_err(io("unlinking", dst))?;
            } else if meta.is_dir() {
                return Err(BuildEnvError::NotAFile {
                    src: src.to_owned(),
                    dst: dst.to_owned(),
                });
            }
        }
        symlink(src, &dst_host).map_err(io("creating link", dst))?;
        self.priorities.insert(dst.to_owned(), priority);
        Ok(())
    }
}

/// `a/./b/../c` without touching the file system; `None` if it climbs above the root.
fn normalise(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            c => parts.push(c),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

/// Builds the environment `spec` describes at `out_host` (created if missing): the
/// packages are linked in priority order (lowest number first, then by path), then the
/// packages they name in `nix-support/propagated-user-env-packages`, at priorities from
/// 1000 up; then `manifest.nix`.
pub fn build_env(spec: &EnvSpec<'_>, out_host: &Path) -> Result<(), BuildEnvError> {
    fs::create_dir_all(out_host).map_err(io("creating", &spec.out_logical))?;
    let mut env = Env {
        store_dir: spec.store_dir,
        real_store: spec.real_store,
        out_logical: spec.out_logical.clone(),
        out_host: out_host.to_path_buf(),
        priorities: BTreeMap::new(),
    };
    let allowed = |p: &str| -> bool {
        spec.store_dir
            .parse_path_prefix(p)
            .is_ok_and(|(sp, rest)| rest.is_empty() && (spec.allowed)(&sp))
    };
    let mut packages = spec.packages.clone();
    packages.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then_with(|| a.path.cmp(&b.path))
    });
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut postponed: BTreeSet<String> = BTreeSet::new();
    let add = |env: &mut Env<'_>,
               path: &str,
               priority: i64,
               done: &mut BTreeSet<String>,
               postponed: &mut BTreeSet<String>|
     -> Result<(), BuildEnvError> {
        if !done.insert(path.to_owned()) {
            return Ok(());
        }
        if !allowed(path) {
            return Err(BuildEnvError::NotAllowed(path.to_owned()));
        }
        env.link_dir(path, &spec.out_logical, priority)?;
        let propagated = env
            .host_of(&format!("{path}/nix-support/propagated-user-env-packages"))
            .and_then(|h| fs::read_to_string(h).ok())
            .unwrap_or_default();
        for p in propagated.split_whitespace() {
            if !done.contains(p) {
                postponed.insert(p.to_owned());
            }
        }
        Ok(())
    };
    for p in packages.iter().filter(|p| p.active) {
        add(&mut env, &p.path, p.priority, &mut done, &mut postponed)?;
    }
    let mut priority = 1000;
    while !postponed.is_empty() {
        for p in std::mem::take(&mut postponed) {
            add(&mut env, &p, priority, &mut done, &mut postponed)?;
            priority += 1;
        }
    }
    if let Some(manifest) = spec.manifest.as_deref().filter(|m| !m.is_empty()) {
        let link = env.out_host.join("manifest.nix");
        symlink(manifest, &link).map_err(io("linking", "manifest.nix"))?;
    }
    Ok(())
}

/// Runs `builtin:buildenv` for `drv`, writing `$out` into the build directory.
pub(crate) fn run(
    printed_drv: &str,
    drv: &Derivation,
    store_dir: &StoreDir,
    real_store: &Path,
    dir: &BuildDir,
    outputs: &BTreeMap<String, StorePath>,
    inputs: &BTreeSet<StorePath>,
) -> Result<(), BuildError> {
    let fail = |reason: String| BuildError::Builtin {
        drv: printed_drv.to_owned(),
        reason,
    };
    let out = outputs
        .get("out")
        .ok_or_else(|| fail("no 'out' output".into()))?;
    let packages =
        parse_packages(drv.env.get("derivations").map_or("", String::as_str)).map_err(fail)?;
    let out_logical = store_dir.print_path(out);
    let out_host = dir.host_path(&out_logical);
    // Only the derivation's inputs may be linked: their closure is what it may read.
    let spec = EnvSpec {
        store_dir,
        real_store,
        packages,
        manifest: drv.env.get("manifest").cloned(),
        out_logical,
        allowed: &|p| inputs.contains(p),
    };
    build_env(&spec, &out_host).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_list_reads_as_cppnix_writes_it() {
        let p =
            parse_packages("true 5 2 /nix/store/a-x /nix/store/b-x-bin false 3 1 /nix/store/c-y")
                .expect("parses");
        assert_eq!(p.len(), 3);
        assert!(p[0].active && p[1].active && !p[2].active);
        assert_eq!((p[0].priority, p[2].priority), (5, 3));
        assert!(parse_packages("true 5 2 /nix/store/a-x").is_err());
        assert!(parse_packages("true five 1 /nix/store/a-x").is_err());
        assert_eq!(parse_packages("").expect("empty"), vec![]);
    }

    #[test]
    fn normalising_never_climbs_above_the_root() {
        assert_eq!(normalise("/a/./b/../c").as_deref(), Some("/a/c"));
        assert_eq!(normalise("/a/../../etc"), None);
    }
}
