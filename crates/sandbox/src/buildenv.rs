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

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use nixkit_derivation::Derivation;
use nixkit_store::{StoreDir, StorePath};

use crate::build::BuildError;
use crate::layout::BuildDir;

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

/// One package of the `derivations` list.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Package {
    path: String,
    active: bool,
    priority: i64,
}

fn parse_packages(list: &str) -> Result<Vec<Package>, String> {
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
            out.push(Package {
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
    fn link_dir(&mut self, src: &str, dst: &str, priority: i64) -> Result<(), String> {
        let Some(host) = self.resolve(src).and_then(|p| self.host_of(&p)) else {
            return Ok(());
        };
        let entries = match fs::read_dir(&host) {
            Ok(e) => e,
            // A package that is a single file is left out, as CppNix warns and does.
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(()),
            Err(e) => return Err(format!("reading '{src}': {e}")),
        };
        let mut names: Vec<String> = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| format!("reading '{src}': {e}"))?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|n| format!("'{src}' holds a name that is not UTF-8: {n:?}"))?;
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

    fn link_entry(&mut self, src: &str, dst: &str, priority: i64) -> Result<(), String> {
        if self.resolve(src).is_none() {
            // Dangling, looping, or leading out of the store: skipped.
            return Ok(());
        }
        let dst_host = self.out_host.join(
            dst.strip_prefix(&self.out_logical)
                .unwrap_or(dst)
                .trim_start_matches('/'),
        );
        let existing = match fs::symlink_metadata(&dst_host) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("getting status of '{dst}': {e}")),
        };
        if self.is_dir(src) {
            if let Some(meta) = existing {
                if meta.is_dir() {
                    return self.link_dir(src, dst, priority);
                }
                // A link to another package's directory: make it a real directory holding
                // both packages' entries.
                let target =
                    fs::read_link(&dst_host).map_err(|e| format!("reading link '{dst}': {e}"))?;
                let target = target.to_string_lossy().into_owned();
                if !self.is_dir(&target) {
                    return Err(format!(
                        "collision between '{src}' and non-directory '{target}'"
                    ));
                }
                fs::remove_file(&dst_host).map_err(|e| format!("unlinking '{dst}': {e}"))?;
                fs::create_dir(&dst_host)
                    .map_err(|e| format!("creating directory '{dst}': {e}"))?;
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
                    return Err(format!(
                        "Unable to build profile. There is a conflict for the following files:\n\n  {other}\n  {src}"
                    ));
                }
                if previous < priority {
                    return Ok(());
                }
                fs::remove_file(&dst_host).map_err(|e| format!("unlinking '{dst}': {e}"))?;
            } else if meta.is_dir() {
                return Err(format!(
                    "collision between non-directory '{src}' and directory '{dst}'"
                ));
            }
        }
        symlink(src, &dst_host).map_err(|e| format!("creating link '{dst}': {e}"))?;
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
    let manifest = drv.env.get("manifest").cloned().unwrap_or_default();
    let out_logical = store_dir.print_path(out);
    let out_host = dir.host_path(&out_logical);
    fs::create_dir_all(&out_host).map_err(|e| fail(format!("creating '{out_logical}': {e}")))?;
    let mut env = Env {
        store_dir,
        real_store,
        out_logical: out_logical.clone(),
        out_host,
        priorities: BTreeMap::new(),
    };
    // Only the derivation's inputs may be linked: their closure is what it may read.
    let allowed = |p: &str| -> bool {
        store_dir
            .parse_path_prefix(p)
            .is_ok_and(|(sp, rest)| rest.is_empty() && inputs.contains(&sp))
    };
    let mut packages = packages;
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
     -> Result<(), BuildError> {
        if !done.insert(path.to_owned()) {
            return Ok(());
        }
        if !allowed(path) {
            return Err(fail(format!("'{path}' is not an input of the derivation")));
        }
        env.link_dir(path, &out_logical, priority).map_err(fail)?;
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
    if !manifest.is_empty() {
        let link = env.out_host.join("manifest.nix");
        symlink(&manifest, &link).map_err(|e| fail(format!("linking manifest.nix: {e}")))?;
    }
    Ok(())
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
