//! Activation: running a system's `activate` program (built by
//! `nix/modules/system/toplevel.nix`) on a target root. The program names its files by
//! their paths in the store (`/nix/store/...`); for a target other than `/` it runs in a
//! private mount namespace (and a user namespace when not root) where the target's store
//! is bind-mounted at `/nix/store`, as `nixos-enter` gives the installed system its store.
//!
//! Creating the namespaces needs a single-threaded process, so it is done by a helper
//! process that calls [`exec_activate`] first thing (the `osconf` binary's hidden
//! `activate-helper` command) and [`HelperActivator`] runs that helper. Activation goes
//! through the [`Activator`] trait, so a running container can activate live instead.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::target::{Target, TargetError};

/// Why activation failed.
#[derive(Debug, thiserror::Error)]
pub enum ActivateError {
    /// The path is not a system (no `activate` program in it).
    #[error("'{0}' is not an osconf system (it has no 'activate' program in the target's store)")]
    NotASystem(String),
    /// The target root is not usable.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// The helper could not be started.
    #[error("cannot run the activation helper '{program}': {source}")]
    Spawn {
        /// The helper program.
        program: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Activation ran and failed (its messages went to standard error).
    #[error("activating {system} failed ({status})")]
    Failed {
        /// The system.
        system: String,
        /// How the program ended.
        status: std::process::ExitStatus,
    },
    /// The private view of the store could not be set up.
    #[error("cannot give activation the target's store at {store_dir}: {reason}")]
    Namespace {
        /// The logical store directory.
        store_dir: String,
        /// What failed.
        reason: String,
    },
    /// The `activate` program could not be executed.
    #[error("cannot execute '{program}': {source}")]
    Exec {
        /// The program.
        program: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Something that installs a built system into a target (its `/etc`, users, homes,
/// services, `/run/current-system`).
pub trait Activator {
    /// Activates `system` (a store path as the target names it) on `target`.
    fn activate(&self, target: &Target, system: &str) -> Result<(), ActivateError>;
}

/// Activates through a helper process: `PROGRAM ARGS... ROOT SYSTEM`, which must call
/// [`exec_activate`] before starting any thread.
#[derive(Debug, Clone)]
pub struct HelperActivator {
    /// The helper program (e.g. the running `osconf` binary).
    pub program: PathBuf,
    /// Its arguments before ROOT and SYSTEM (e.g. `activate-helper`).
    pub args: Vec<OsString>,
}

impl Activator for HelperActivator {
    fn activate(&self, target: &Target, system: &str) -> Result<(), ActivateError> {
        check_system(target, system)?;
        let status = Command::new(&self.program)
            .args(&self.args)
            .arg(target.root())
            .arg(system)
            .status()
            .map_err(|source| ActivateError::Spawn {
                program: self.program.clone(),
                source,
            })?;
        if !status.success() {
            return Err(ActivateError::Failed {
                system: system.to_owned(),
                status,
            });
        }
        Ok(())
    }
}

/// Fails unless `system` has an `activate` program in the target's store.
pub fn check_system(target: &Target, system: &str) -> Result<(), ActivateError> {
    let activate = Path::new(system).join("activate");
    match target.resolve(&activate) {
        Ok(p) if p.is_file() && system.starts_with(target.store_config().store_dir.as_str()) => {
            Ok(())
        }
        _ => Err(ActivateError::NotASystem(system.to_owned())),
    }
}

/// Runs `SYSTEM/activate ROOT` in place of this process (returns only on failure), in a
/// private mount namespace where the store of `root` is at the logical store directory.
/// Must be called while the process has a single thread. When the activating process
/// (this one's parent) dies, activation is killed too (as a power cut would stop it;
/// each step of `activate` is atomic, so a rerun converges).
pub fn exec_activate(root: &Path, system: &str) -> ActivateError {
    use std::os::unix::process::CommandExt;
    let target = match Target::new(root) {
        Ok(t) => t,
        Err(e) => return e.into(),
    };
    if let Err(e) = check_system(&target, system) {
        return e;
    }
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
    if !target.is_host() {
        if let Err(e) = nixkit_profile::enter::private_store_view(target.store_config()) {
            return ActivateError::Namespace {
                store_dir: target.store_config().store_dir.as_str().to_owned(),
                reason: e.to_string(),
            };
        }
    }
    let program = format!("{system}/activate");
    let source = Command::new(&program).arg(target.root()).exec();
    ActivateError::Exec { program, source }
}
