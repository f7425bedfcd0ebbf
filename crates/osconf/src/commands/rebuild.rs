//! `osconf install` and `osconf rebuild ACTION` (as `nixos-install` and `nixos-rebuild`):
//! build the configuration into the target's store, then, by action, make it a new
//! generation of the system profile (`switch`, `boot`), activate it (`switch`, `test`),
//! link it as `./result` (`build`), or only report (`dry-build`, `dry-activate`).
//! `--rollback` takes the generation before the current one instead of building.
//!
//! Nothing on the target changes before the build succeeded: a configuration that does not
//! evaluate (wrong type, undeclared option, failed assertion) or a failing build leaves
//! profile and root as they were. The profile then moves by one rename and activation is
//! atomic per step, so a process killed at any point leaves the old or the new generation,
//! and running the command again converges. Changing commands hold the target's lock.

use std::io;
use std::path::{Path, PathBuf};

use nixkit_sandbox::Event;
use nixkit_store::local::{GcError, LocalStore, OpenError};
use nixkit_store::profiles::ProfileError;

use crate::activation::{ActivateError, Activator};
use crate::build::{evaluate, realise_system, would_build, BuildError, BuildSettings};
use crate::diff::{dry_activate, ActivationDiff, DiffError};
use crate::lock::{LockError, LockFile};
use crate::target::Target;

/// What `rebuild` does with the built system (nixos-rebuild's actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebuildAction {
    /// New generation, activated.
    Switch,
    /// New generation, activated at the next boot only.
    Boot,
    /// Activated, no new generation.
    Test,
    /// Built and linked as `./result`.
    Build,
    /// What would be built.
    DryBuild,
    /// What activation would change.
    DryActivate,
}

/// Options of `rebuild` and `install`.
#[derive(Clone, Default)]
pub struct RebuildOptions {
    /// How the configuration is evaluated and built.
    pub build: BuildSettings,
    /// Use the generation before the current one instead of the configuration.
    pub rollback: bool,
    /// The link `build` makes (default `./result`).
    pub out_link: Option<PathBuf>,
}

/// Why `rebuild` or `install` failed.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    /// Building failed; nothing changed.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The store did not open.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The profile could not be read or changed.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// Activation failed (the profile holds the new generation: `--rollback` returns).
    #[error(transparent)]
    Activate(#[from] ActivateError),
    /// dry-activate could not read a system.
    #[error(transparent)]
    Diff(#[from] DiffError),
    /// A GC root could not be made.
    #[error(transparent)]
    Root(#[from] GcError),
    /// The lock could not be taken.
    #[error("cannot lock '{path}': {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// `--rollback` with an action that builds nothing to roll back to.
    #[error("--rollback does not apply to '{0}'")]
    RollbackAction(&'static str),
    /// `--rollback` with no generation before the current one.
    #[error("there is no generation before the current one to roll back to")]
    NoPrevious,
    /// The working directory (where `build` links `result`) is not known.
    #[error("cannot get the current directory: {0}")]
    Cwd(#[source] io::Error),
    /// `install` on a target that has no configuration.
    #[error("no configuration at '{0}' (run 'osconf generate-config --root {1}' first)")]
    NoConfig(PathBuf, String),
}

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RebuildOutcome {
    /// The system built or chosen.
    pub system: String,
    /// The generation now current, when the action made or chose one.
    pub generation: Option<u64>,
    /// `dry-build`: the derivations that would be built.
    pub would_build: Vec<String>,
    /// `dry-activate`: what would change.
    pub diff: Option<ActivationDiff>,
}

/// The target's activation lock (see [`crate::lock`]), held while a command changes it.
#[derive(Debug)]
pub struct TargetLock {
    _lock: LockFile,
}

/// Takes the target's activation lock, waiting for another osconf command (or a booting
/// container) to finish.
pub fn lock(target: &Target) -> Result<TargetLock, RebuildError> {
    lock_logged(target, &mut |_| {})
}

/// As [`lock`], telling `log` whom it waits for when the lock is taken.
pub fn lock_logged(target: &Target, log: &mut dyn FnMut(&str)) -> Result<TargetLock, RebuildError> {
    let lock = LockFile::open(&target.lock_path())?;
    if !lock.try_lock()? {
        log(&format!(
            "waiting for the lock '{}' on '{}', held by {}...",
            lock.path().display(),
            target.root().display(),
            lock.holder()
        ));
        lock.lock()?;
    }
    let what = std::env::args().take(3).collect::<Vec<_>>().join(" ");
    lock.set_holder(std::process::id(), &what)?;
    Ok(TargetLock { _lock: lock })
}

impl From<LockError> for RebuildError {
    fn from(e: LockError) -> RebuildError {
        match e {
            LockError::Io { path, source } => RebuildError::Lock { path, source },
        }
    }
}

/// The generation before the current one and its system.
fn previous_generation(target: &Target) -> Result<(u64, String), RebuildError> {
    let gens = target.profile().generations()?;
    let current = gens.iter().find(|g| g.current).map(|g| g.number);
    let prev = gens
        .iter()
        .rev()
        .find(|g| current.is_some_and(|c| g.number < c))
        .ok_or(RebuildError::NoPrevious)?;
    Ok((prev.number, prev.system.to_string_lossy().into_owned()))
}

/// Activates `system` and registers `/run/current-system` as a GC root of the target.
fn activate(
    target: &Target,
    store: &LocalStore,
    activator: &dyn Activator,
    system: &str,
) -> Result<(), RebuildError> {
    // The root exists before activation moves the link, so the system stays alive.
    store.add_indirect_root(&target.root().join("run/current-system"))?;
    activator.activate(target, system)?;
    Ok(())
}

/// `osconf rebuild ACTION`. `progress` shows the build; `log` gets one-line messages.
pub fn rebuild(
    target: &Target,
    action: RebuildAction,
    opts: &RebuildOptions,
    activator: &dyn Activator,
    progress: &(dyn Fn(Event<'_>) + Sync),
    log: &mut dyn FnMut(&str),
) -> Result<RebuildOutcome, RebuildError> {
    use RebuildAction as A;
    if opts.rollback {
        return rollback(target, action, activator, log);
    }
    let dry = matches!(action, A::DryBuild | A::DryActivate | A::Build);
    let _lock = if dry {
        None
    } else {
        Some(lock_logged(target, log)?)
    };
    log("building the system configuration...");
    let (evaluated, store) = evaluate(target, &opts.build)?;
    let mut outcome = RebuildOutcome {
        system: evaluated.out_path.clone(),
        ..RebuildOutcome::default()
    };
    if action == A::DryBuild {
        outcome.would_build = would_build(&store, &evaluated)?;
        return Ok(outcome);
    }
    let (store, system) = realise_system(store, &evaluated, &opts.build.realise, progress)?;
    outcome.system = system.clone();
    match action {
        A::Build => {
            let link = match &opts.out_link {
                Some(l) => l.clone(),
                None => std::env::current_dir()
                    .map_err(RebuildError::Cwd)?
                    .join("result"),
            };
            let path = store
                .store_dir()
                .parse_path(&system)
                .map_err(|_| BuildError::NotAStorePath(system.clone()))?;
            store.add_perm_root(&path, &link)?;
        }
        A::DryActivate => outcome.diff = Some(dry_activate(target, None, &system)?),
        A::Switch | A::Boot => {
            let n = target.profile().add(Path::new(&system))?;
            outcome.generation = Some(n);
            if action == A::Switch {
                log(&format!("activating the configuration (generation {n})..."));
                activate(target, &store, activator, &system)?;
            }
        }
        A::Test => {
            log("activating the configuration...");
            activate(target, &store, activator, &system)?;
        }
        A::DryBuild => {}
    }
    Ok(outcome)
}

fn rollback(
    target: &Target,
    action: RebuildAction,
    activator: &dyn Activator,
    log: &mut dyn FnMut(&str),
) -> Result<RebuildOutcome, RebuildError> {
    use RebuildAction as A;
    let name = match action {
        A::Build => "build",
        A::DryBuild => "dry-build",
        A::Switch | A::Boot | A::Test | A::DryActivate => "",
    };
    if !name.is_empty() {
        return Err(RebuildError::RollbackAction(name));
    }
    let _lock = if action == A::DryActivate {
        None
    } else {
        Some(lock_logged(target, log)?)
    };
    let (n, system) = previous_generation(target)?;
    let mut outcome = RebuildOutcome {
        system: system.clone(),
        ..RebuildOutcome::default()
    };
    match action {
        A::DryActivate => outcome.diff = Some(dry_activate(target, None, &system)?),
        A::Switch | A::Boot => {
            target.profile().switch_to(n)?;
            outcome.generation = Some(n);
            log(&format!("switching the system profile to generation {n}"));
            if action == A::Switch {
                let store = LocalStore::open(target.store_config().clone())?;
                activate(target, &store, activator, &system)?;
            }
        }
        A::Test => {
            let store = LocalStore::open(target.store_config().clone())?;
            activate(target, &store, activator, &system)?;
        }
        A::Build | A::DryBuild => {}
    }
    Ok(outcome)
}

/// `osconf install --root DIR`: the configuration at `DIR/etc/osconf` (or the one given)
/// built into DIR's store, made a generation of DIR's system profile and activated.
pub fn install(
    target: &Target,
    opts: &RebuildOptions,
    activator: &dyn Activator,
    progress: &(dyn Fn(Event<'_>) + Sync),
    log: &mut dyn FnMut(&str),
) -> Result<RebuildOutcome, RebuildError> {
    let config = crate::build::config_file(target, &opts.build);
    if !config.is_file() {
        return Err(RebuildError::NoConfig(
            config,
            target.root().display().to_string(),
        ));
    }
    let opts = RebuildOptions {
        rollback: false,
        ..opts.clone()
    };
    rebuild(
        target,
        RebuildAction::Switch,
        &opts,
        activator,
        progress,
        log,
    )
}
