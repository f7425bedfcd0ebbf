//! `dry-activate`: what activating a system would change on a target, computed from the
//! systems themselves (their `/etc` lists and links, users database, homes and
//! `services.json`) against the system the target runs now, without changing anything.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::target::Target;

/// Why the difference could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// A file of a system could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file (as the target names it).
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A system's `services.json` is not valid.
    #[error("{path}: {source}")]
    Services {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: serde_json::Error,
    },
}

/// What one kind of thing would undergo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// New ones.
    pub added: Vec<String>,
    /// Ones that go.
    pub removed: Vec<String>,
    /// Ones whose definition changes.
    pub changed: Vec<String>,
}

impl Changes {
    fn between(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Changes {
        let mut c = Changes::default();
        for (k, v) in new {
            match old.get(k) {
                None => c.added.push(k.clone()),
                Some(o) if o != v => c.changed.push(k.clone()),
                Some(_) => {}
            }
        }
        c.removed = old
            .keys()
            .filter(|k| !new.contains_key(*k))
            .cloned()
            .collect();
        c
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// What activating a system would change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivationDiff {
    /// The system the target runs now (`/run/current-system`), if any.
    pub current: Option<String>,
    /// The system that would be activated.
    pub new: String,
    /// Files of `/etc` (by target).
    pub etc: Changes,
    /// Files of `/etc` osconf never installed that would be moved aside.
    pub etc_backups: Vec<String>,
    /// Users (by name).
    pub users: Changes,
    /// Groups (by name).
    pub groups: Changes,
    /// Home directories that would be created.
    pub homes: Vec<String>,
    /// Services: started, stopped, restarted.
    pub services: Changes,
}

impl ActivationDiff {
    /// The report, one line per change, as `nixos-rebuild dry-activate` words it.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut list = |what: &str, items: &[String]| {
            if !items.is_empty() {
                out.push(format!("would {what}: {}", items.join(" ")));
            }
        };
        list("add to /etc", &self.etc.added);
        list("change in /etc", &self.etc.changed);
        list("remove from /etc", &self.etc.removed);
        list(
            "move aside files of /etc osconf did not install",
            &self.etc_backups,
        );
        list("add users", &self.users.added);
        list("change users", &self.users.changed);
        list("remove users", &self.users.removed);
        list("add groups", &self.groups.added);
        list("change groups", &self.groups.changed);
        list("remove groups", &self.groups.removed);
        list("create home directories", &self.homes);
        list("stop the following services", &self.services.removed);
        list("restart the following services", &self.services.changed);
        list("start the following services", &self.services.added);
        if self.current.as_deref() != Some(self.new.as_str()) {
            out.push(format!("would switch /run/current-system to {}", self.new));
        }
        out
    }
}

/// Reads the target's file `path` (through the root); a missing file is empty.
fn read(target: &Target, path: &Path) -> Result<String, DiffError> {
    let err = |source| DiffError::Read {
        path: path.to_path_buf(),
        source,
    };
    match target.resolve(path).and_then(std::fs::read_to_string) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(err(e)),
    }
}

/// A system's parts, keyed for comparison.
#[derive(Default)]
struct SystemParts {
    etc: BTreeMap<String, String>,
    users: BTreeMap<String, String>,
    groups: BTreeMap<String, String>,
    homes: Vec<String>,
    services: BTreeMap<String, String>,
}

/// Lines `name:rest` by name.
fn by_name(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once(':').map(|(n, _)| (n.to_owned(), l.to_owned())))
        .collect()
}

fn parts(target: &Target, system: &str) -> Result<SystemParts, DiffError> {
    let sys = Path::new(system);
    let mut p = SystemParts::default();
    // Each /etc file is its store source, copies also their mode and owner.
    let etc_dir = target
        .resolve(&sys.join("etc"))
        .map_err(|source| DiffError::Read {
            path: sys.join("etc"),
            source,
        })?;
    for f in read(target, &sys.join("etc-files"))?.lines() {
        let source = std::fs::read_link(etc_dir.join(f))
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        p.etc.insert(f.to_owned(), source);
    }
    for line in read(target, &sys.join("etc-copies"))?.lines() {
        let mut fields = line.splitn(4, ' ');
        let (Some(mode), Some(uid), Some(gid), Some(f)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if let Some(v) = p.etc.get_mut(f) {
            v.push_str(&format!(" {mode} {uid}:{gid}"));
        }
    }
    p.users = by_name(&read(target, &sys.join("users/passwd"))?);
    p.groups = by_name(&read(target, &sys.join("users/group"))?);
    p.homes = read(target, &sys.join("users/homes"))?
        .lines()
        .filter_map(|l| l.splitn(3, ' ').nth(2).map(str::to_owned))
        .collect();
    let services_path = sys.join("services.json");
    let text = read(target, &services_path)?;
    if !text.trim().is_empty() {
        let v: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(&text).map_err(|source| DiffError::Services {
                path: services_path,
                source,
            })?;
        p.services = v.into_iter().map(|(k, v)| (k, v.to_string())).collect();
    }
    Ok(p)
}

/// What activating `new` on `target` would change, against `current` (default: the
/// system the target runs now).
pub fn dry_activate(
    target: &Target,
    current: Option<&str>,
    new: &str,
) -> Result<ActivationDiff, DiffError> {
    let current = current
        .map(str::to_owned)
        .or_else(|| target.current_system());
    let old = match &current {
        Some(c) => parts(target, c)?,
        None => SystemParts::default(),
    };
    let next = parts(target, new)?;
    let managed: Vec<String> = read(target, Path::new("/etc/.osconf-files"))?
        .lines()
        .map(str::to_owned)
        .collect();
    let etc = Changes::between(&old.etc, &next.etc);
    let etc_backups = etc
        .added
        .iter()
        .filter(|f| {
            let host = target.host_path(&Path::new("/etc").join(f));
            host.symlink_metadata()
                .is_ok_and(|m| !m.file_type().is_symlink())
                && !managed.contains(f)
        })
        .cloned()
        .collect();
    Ok(ActivationDiff {
        current,
        new: new.to_owned(),
        etc,
        etc_backups,
        users: Changes::between(&old.users, &next.users),
        groups: Changes::between(&old.groups, &next.groups),
        homes: next
            .homes
            .into_iter()
            .filter(|h| !target.host_path(Path::new(h)).is_dir())
            .collect(),
        services: Changes::between(&old.services, &next.services),
    })
}
