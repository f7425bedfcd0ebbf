//! The operations of a package manager on one profile, as nix-env has them: install,
//! remove, upgrade, set-priority (each builds a user environment and makes it a new
//! generation, atomically), the queries, and generation bookkeeping (rollback,
//! switch-generation, list, delete, gc).
//!
//! Changing operations hold `P.pkgman.lock` from reading the current manifest to
//! switching, so two processes on one profile serialise; the switch itself is
//! profiles.rs's atomic symlink rename, so a process killed at any point leaves the
//! profile at the old or the new generation.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use nixkit_sandbox::{realise, Event, RealiseError, RealiseOptions};
use nixkit_store::local::{GcError, GcOptions, GcResult, LocalStore, OpenError, StoreConfig};
use nixkit_store::profiles::{self, Generation, ProfileError};

use crate::manifest::{self, ManifestError, Package};
use crate::packages::{Available, PackageSet, PackageSetError, SetSource};
use crate::userenv::{build_user_env, BuildEnvError};
use crate::version::{compare_versions, parse_drv_name, Selector};

/// Why reading the installed packages failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryInstalledError {
    /// The store could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The manifest could not be read.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The profile could not be read.
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

/// Why install, remove, upgrade or set-priority failed (the profile is unchanged).
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The store could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The installed packages could not be read.
    #[error(transparent)]
    Installed(#[from] QueryInstalledError),
    /// The package set could not be evaluated, or a package not found in it.
    #[error(transparent)]
    PackageSet(#[from] PackageSetError),
    /// Building (or substituting) the packages failed.
    #[error("building the packages: {0}")]
    Build(#[from] RealiseError),
    /// Nothing installed matches a selector.
    #[error("selector '{0}' matches no installed package")]
    NotInstalled(String),
    /// The user environment could not be built.
    #[error(transparent)]
    Env(#[from] BuildEnvError),
    /// The new generation could not be made.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The new generation's GC root could not be registered.
    #[error(transparent)]
    Root(#[from] GcError),
    /// A derivation path from the evaluator was not a store path.
    #[error("'{0}' is not a store path")]
    BadDrvPath(String),
}

/// Why a generation operation (or gc) failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerationError {
    /// The profile's generations could not be read or changed.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// A `delete-generations` argument that is not `old`, `+N`, `Nd` or a number.
    #[error("invalid generation specification '{0}' (expected 'old', '+N', 'Nd' or numbers)")]
    BadSpec(String),
    /// The store could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Collecting garbage failed.
    #[error(transparent)]
    Gc(#[from] GcError),
}

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Packages added (names).
    pub installed: Vec<String>,
    /// Packages taken out (names).
    pub removed: Vec<String>,
    /// Upgrades (old name, new name).
    pub upgraded: Vec<(String, String)>,
    /// The generation now current (`None` for a dry run or nothing to do).
    pub generation: Option<u64>,
}

/// A package manager acting on one profile of one store.
pub struct Manager {
    /// The store.
    pub store: StoreConfig,
    /// The profile (`P`; generations are `P-N-link` beside it).
    pub profile: PathBuf,
    /// How packages are built or substituted.
    pub realise: RealiseOptions,
    /// Called with build progress.
    pub progress: Box<dyn Fn(Event<'_>) + Sync>,
}

impl Manager {
    /// A manager of `profile` in the store `store`, building with default options.
    pub fn new(store: StoreConfig, profile: PathBuf) -> Self {
        // Roots name the profile's links by absolute path.
        let profile = std::path::absolute(&profile).unwrap_or(profile);
        Self {
            store,
            profile,
            realise: RealiseOptions::default(),
            progress: Box::new(|_| {}),
        }
    }

    fn open(&self) -> Result<LocalStore, OpenError> {
        LocalStore::open(self.store.clone())
    }

    /// The store the package set evaluated with, else the store opened again.
    pub fn reuse(&self, set: PackageSet) -> Result<LocalStore, OpenError> {
        set.into_store().map_or_else(|| self.open(), Ok)
    }

    fn lock(&self) -> Result<nix::fcntl::Flock<std::fs::File>, ProfileError> {
        let mut name = self.profile.as_os_str().to_owned();
        name.push(".pkgman.lock");
        let path = PathBuf::from(name);
        let io = |source| ProfileError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, errno)| {
            ProfileError::Io {
                path: path.clone(),
                source: errno.into(),
            }
        })
    }

    /// The link of generation `n` (`P-N-link`).
    fn generation_link(&self, n: u64) -> PathBuf {
        let name = self
            .profile
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.profile.with_file_name(format!("{name}-{n}-link"))
    }

    /// The store path the current generation points to, if any.
    pub fn current_env(&self) -> Result<Option<PathBuf>, ProfileError> {
        let (gens, current) = profiles::list_generations(&self.profile)?;
        Ok(current.and_then(|c| gens.into_iter().find(|g| g.number == c).map(|g| g.target)))
    }

    /// The host path of a path in the store (`/nix/store/...`).
    pub fn host_path(&self, logical: &Path) -> PathBuf {
        crate::userenv::host_path(
            &self.store.store_dir,
            &self.store.real_store_dir(),
            &logical.to_string_lossy(),
        )
    }

    /// The installed packages (of the current generation).
    pub fn installed(&self) -> Result<Vec<Package>, QueryInstalledError> {
        let Some(env) = self.current_env()? else {
            return Ok(Vec::new());
        };
        let link = self.host_path(&env).join("manifest.nix");
        let file = match std::fs::read_link(&link) {
            Ok(target) => self.host_path(&target),
            Err(_) => link,
        };
        if !file.exists() {
            return Ok(Vec::new());
        }
        Ok(manifest::read(&file)?)
    }

    /// Builds (or substitutes) every output of the derivations `drvs` with this manager's
    /// options and progress; gives the store back.
    pub fn build_drvs(
        &self,
        store: LocalStore,
        drvs: &[String],
    ) -> Result<LocalStore, ChangeError> {
        let mut paths = Vec::new();
        for d in drvs {
            let p = store
                .store_dir()
                .parse_path(d)
                .map_err(|_| ChangeError::BadDrvPath(d.clone()))?;
            if !paths.contains(&p) {
                paths.push(p);
            }
        }
        let store = Mutex::new(store);
        realise(&store, &paths, &self.realise, &|e| (self.progress)(e))?;
        Ok(store.into_inner().unwrap_or_else(|e| e.into_inner()))
    }

    /// Makes `packages` the new generation; returns its number.
    fn commit(&self, store: &LocalStore, packages: &[Package]) -> Result<u64, ChangeError> {
        let env = build_user_env(store, packages)?;
        let target = PathBuf::from(store.store_dir().print_path(&env));
        // The next generation's link is registered as a root before it exists, so that no
        // moment leaves the new generation without one (this process's temporary root
        // covers the user environment until then). A root whose link is missing is ignored.
        let (gens, _) = profiles::list_generations(&self.profile)?;
        let next = gens.last().map_or(1, |g| g.number + 1);
        store.add_indirect_root(&self.generation_link(next))?;
        let n = profiles::create_generation(&self.profile, &target)?;
        if n != next {
            store.add_indirect_root(&self.generation_link(n))?;
        }
        Ok(n)
    }

    /// Installs the packages `selectors` choose (by name, or by attribute path when
    /// `by_attr`) from `source`, replacing installed packages of the same names.
    pub fn install(
        &self,
        source: &SetSource,
        selectors: &[String],
        by_attr: bool,
    ) -> Result<Change, ChangeError> {
        let _lock = self.lock()?;
        let mut current = self.installed()?;
        let mut set = PackageSet::open(&self.store, source)?;
        let chosen = choose(&mut set, selectors, by_attr)?;
        let mut new = Vec::new();
        let mut drvs = Vec::new();
        for a in &chosen {
            let (pkg, drv) = set.resolve(a)?;
            new.push(pkg);
            drvs.push(drv);
        }
        let store = self.build_drvs(self.reuse(set)?, &drvs)?;
        let names: BTreeSet<String> = new.iter().map(|p| parse_drv_name(&p.name).pname).collect();
        let mut removed = Vec::new();
        current.retain(|p| {
            let keep = !names.contains(&parse_drv_name(&p.name).pname);
            if !keep {
                removed.push(p.name.clone());
            }
            keep
        });
        let installed = new.iter().map(|p| p.name.clone()).collect();
        current.extend(new);
        let n = self.commit(&store, &current)?;
        Ok(Change {
            installed,
            removed,
            upgraded: Vec::new(),
            generation: Some(n),
        })
    }

    /// The packages `selectors` choose from `source`, built (or substituted), without
    /// touching the profile: what `shell -p` puts on `PATH`.
    pub fn realise_packages(
        &self,
        source: &SetSource,
        selectors: &[String],
        by_attr: bool,
    ) -> Result<Vec<Package>, ChangeError> {
        let mut set = PackageSet::open(&self.store, source)?;
        let chosen = choose(&mut set, selectors, by_attr)?;
        let mut pkgs = Vec::new();
        let mut drvs = Vec::new();
        for a in &chosen {
            let (pkg, drv) = set.resolve(a)?;
            pkgs.push(pkg);
            drvs.push(drv);
        }
        self.build_drvs(self.reuse(set)?, &drvs)?;
        Ok(pkgs)
    }

    /// Removes the installed packages matching `selectors`.
    pub fn remove(&self, selectors: &[String]) -> Result<Change, ChangeError> {
        let _lock = self.lock()?;
        let mut current = self.installed()?;
        let sels: Vec<Selector> = selectors.iter().map(|s| Selector::new(s)).collect();
        for s in &sels {
            if !current.iter().any(|p| s.matches(&p.name)) {
                return Err(ChangeError::NotInstalled(s.as_str().to_owned()));
            }
        }
        let mut removed = Vec::new();
        current.retain(|p| {
            let keep = !sels.iter().any(|s| s.matches(&p.name));
            if !keep {
                removed.push(p.name.clone());
            }
            keep
        });
        let store = self.open()?;
        let n = self.commit(&store, &current)?;
        Ok(Change {
            installed: Vec::new(),
            removed,
            upgraded: Vec::new(),
            generation: Some(n),
        })
    }

    /// Upgrades the installed packages matching `selector` (all without one) to a newer
    /// version of the same name from `source`; with `dry_run`, only reports what it would do.
    pub fn upgrade(
        &self,
        source: &SetSource,
        selector: Option<&str>,
        dry_run: bool,
    ) -> Result<Change, ChangeError> {
        let _lock = self.lock()?;
        let mut current = self.installed()?;
        let sel = selector.map(Selector::new);
        if let Some(s) = &sel {
            if !current.iter().any(|p| s.matches(&p.name)) {
                return Err(ChangeError::NotInstalled(s.as_str().to_owned()));
            }
        }
        let mut set = PackageSet::open(&self.store, source)?;
        let mut plan = Vec::new();
        for (i, p) in current.iter().enumerate() {
            if sel.as_ref().is_some_and(|s| !s.matches(&p.name)) {
                continue;
            }
            let name = parse_drv_name(&p.name);
            let Some(best) = set.newest(&name.pname)? else {
                continue;
            };
            let newer = compare_versions(&parse_drv_name(&best.name).version, &name.version)
                == Ordering::Greater;
            if newer {
                plan.push((i, best));
            }
        }
        let upgraded: Vec<(String, String)> = plan
            .iter()
            .map(|(i, a)| (current[*i].name.clone(), a.name.clone()))
            .collect();
        if dry_run || plan.is_empty() {
            return Ok(Change {
                installed: Vec::new(),
                removed: Vec::new(),
                upgraded,
                generation: None,
            });
        }
        let mut drvs = Vec::new();
        let mut replacements = Vec::new();
        for (i, a) in &plan {
            let (mut pkg, drv) = set.resolve(a)?;
            // A priority set with set-priority stays with the package.
            if let Some(prio) = current[*i].meta_value("priority").cloned() {
                pkg.meta.retain(|(k, _)| k != "priority");
                pkg.meta.push(("priority".into(), prio));
                pkg.meta.sort_by(|a, b| a.0.cmp(&b.0));
            }
            replacements.push((*i, pkg));
            drvs.push(drv);
        }
        let store = self.build_drvs(self.reuse(set)?, &drvs)?;
        for (i, pkg) in replacements {
            current[i] = pkg;
        }
        let n = self.commit(&store, &current)?;
        Ok(Change {
            installed: Vec::new(),
            removed: Vec::new(),
            upgraded,
            generation: Some(n),
        })
    }

    /// Sets `meta.priority` of the installed packages matching `selector`.
    pub fn set_priority(&self, priority: i64, selector: &str) -> Result<Change, ChangeError> {
        let _lock = self.lock()?;
        let mut current = self.installed()?;
        let sel = Selector::new(selector);
        let mut changed = Vec::new();
        for p in current.iter_mut().filter(|p| sel.matches(&p.name)) {
            p.set_priority(priority);
            changed.push(p.name.clone());
        }
        if changed.is_empty() {
            return Err(ChangeError::NotInstalled(selector.to_owned()));
        }
        let store = self.open()?;
        let n = self.commit(&store, &current)?;
        Ok(Change {
            installed: changed,
            removed: Vec::new(),
            upgraded: Vec::new(),
            generation: Some(n),
        })
    }

    /// The generations, ascending, and the current one.
    pub fn generations(&self) -> Result<(Vec<Generation>, Option<u64>), GenerationError> {
        Ok(profiles::list_generations(&self.profile)?)
    }

    /// Switches to the previous generation; returns its number.
    pub fn rollback(&self) -> Result<u64, GenerationError> {
        let _lock = self.lock()?;
        Ok(profiles::rollback(&self.profile)?)
    }

    /// Switches to generation `n`.
    pub fn switch_generation(&self, n: u64) -> Result<(), GenerationError> {
        let _lock = self.lock()?;
        Ok(profiles::switch_generation(&self.profile, n)?)
    }

    /// Deletes generations as `nix-env --delete-generations` does: `old` (all but the
    /// current), `+N` (keep the current one and the N-1 before it, and any newer), `Nd`
    /// (older than N days, keeping the one that was current then), or numbers. The current generation is never deleted. Returns the
    /// numbers deleted.
    pub fn delete_generations(&self, specs: &[String]) -> Result<Vec<u64>, GenerationError> {
        let _lock = self.lock()?;
        let (gens, current) = profiles::list_generations(&self.profile)?;
        let mut doomed = BTreeSet::new();
        for spec in specs {
            let bad = || GenerationError::BadSpec(spec.clone());
            if spec == "old" {
                doomed.extend(gens.iter().map(|g| g.number));
            } else if let Some(n) = spec.strip_prefix('+') {
                let keep: usize = n.parse().ok().filter(|&k| k > 0).ok_or_else(bad)?;
                doomed.extend(keep_last(&gens, current, keep));
            } else if let Some(days) = spec.strip_suffix('d') {
                let days: u64 = days.parse().map_err(|_| bad())?;
                doomed.extend(older_than(&gens, days));
            } else {
                let n: u64 = spec.parse().map_err(|_| bad())?;
                if !gens.iter().any(|g| g.number == n) {
                    return Err(ProfileError::NoSuchGeneration(n).into());
                }
                doomed.insert(n);
            }
        }
        if let Some(c) = current {
            doomed.remove(&c);
        }
        for &n in &doomed {
            profiles::delete_generation(&self.profile, n)?;
        }
        Ok(doomed.into_iter().collect())
    }

    /// Collects garbage in the store, first deleting this profile's generations older than
    /// `delete_older_than_days` if given. What any remaining generation uses stays.
    pub fn gc(&self, delete_older_than_days: Option<u64>) -> Result<GcResult, GenerationError> {
        if let Some(days) = delete_older_than_days {
            self.delete_generations(&[format!("{days}d")])?;
        }
        let store = self.open()?;
        Ok(store.collect_garbage(&GcOptions::default())?)
    }

    /// The packages of `source`, with their attribute paths.
    pub fn available(&self, source: &SetSource) -> Result<Vec<Available>, PackageSetError> {
        let mut set = PackageSet::open(&self.store, source)?;
        Ok(set.all()?.to_vec())
    }
}

/// The packages `selectors` name: attribute paths, or names (newest version).
fn choose(
    set: &mut PackageSet,
    selectors: &[String],
    by_attr: bool,
) -> Result<Vec<Available>, PackageSetError> {
    if !by_attr {
        let sels: Vec<Selector> = selectors.iter().map(|s| Selector::new(s)).collect();
        return set.select(&sels);
    }
    let mut out = Vec::new();
    for s in selectors {
        let found = set.by_attr_path(s)?;
        if found.is_empty() {
            return Err(PackageSetError::NoDerivations(s.clone()));
        }
        out.extend(found);
    }
    Ok(out)
}

/// Generations to delete for `+N`: the current one and the `keep - 1` before it stay, as
/// do any newer than the current one.
fn keep_last(gens: &[Generation], current: Option<u64>, keep: usize) -> Vec<u64> {
    let Some(cur) = current else {
        return Vec::new();
    };
    gens.iter()
        .rev()
        .filter(|g| g.number < cur)
        .skip(keep - 1)
        .map(|g| g.number)
        .collect()
}

/// Generations older than `days`, except the newest of them (it was current at the cutoff).
fn older_than(gens: &[Generation], days: u64) -> Vec<u64> {
    let cutoff = SystemTime::now()
        .checked_sub(Duration::from_secs(days.saturating_mul(86_400)))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let old: Vec<u64> = gens
        .iter()
        .filter(|g| g.created < cutoff)
        .map(|g| g.number)
        .collect();
    old.split_last()
        .map(|(_, rest)| rest.to_vec())
        .unwrap_or_default()
}
