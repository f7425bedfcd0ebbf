//! The generation commands of the system profile: `list-generations`,
//! `switch-generation N` (the profile moved, then the generation activated),
//! `delete-generations old|+N|Nd|N...` (as `nix-env --delete-generations`; the current
//! generation stays) and `gc` (the target's store collected; every generation left, and
//! `/run/current-system`, keeps its closure).

use nixkit_profile::{GenerationError, Manager};
use nixkit_store::local::{GcError, GcOptions, GcResult, LocalStore, OpenError};
use nixkit_store::profiles::ProfileError;

use crate::activation::{ActivateError, Activator};
use crate::commands::rebuild::{lock, RebuildError};
use crate::generations::SystemGeneration;
use crate::target::Target;

/// Why a generation command failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerationsError {
    /// The profile could not be read or changed.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// Deleting generations failed (or a specification is not valid).
    #[error(transparent)]
    Delete(#[from] GenerationError),
    /// The lock could not be taken.
    #[error(transparent)]
    Lock(#[from] RebuildError),
    /// The store did not open.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Collecting garbage failed.
    #[error(transparent)]
    Gc(#[from] GcError),
    /// Activating the chosen generation failed (the profile holds it).
    #[error(transparent)]
    Activate(#[from] ActivateError),
}

/// The generations, oldest first.
pub fn list_generations(target: &Target) -> Result<Vec<SystemGeneration>, GenerationsError> {
    Ok(target.profile().generations()?)
}

/// Makes generation `n` current and activates it; returns the generation it replaced.
pub fn switch_generation(
    target: &Target,
    n: u64,
    activator: &dyn Activator,
) -> Result<Option<u64>, GenerationsError> {
    let _lock = lock(target)?;
    let profile = target.profile();
    let gens = profile.generations()?;
    let from = gens.iter().find(|g| g.current).map(|g| g.number);
    let Some(chosen) = gens.iter().find(|g| g.number == n) else {
        return Err(ProfileError::NoSuchGeneration(n).into());
    };
    let system = chosen.system.to_string_lossy().into_owned();
    crate::activation::check_system(target, &system)?;
    profile.switch_to(n)?;
    let store = LocalStore::open(target.store_config().clone())?;
    store.add_indirect_root(&target.root().join("run/current-system"))?;
    activator.activate(target, &system)?;
    Ok(from)
}

/// Deletes the generations `specs` name (`old`, `+N`, `Nd`, numbers); returns their numbers.
pub fn delete_generations(target: &Target, specs: &[String]) -> Result<Vec<u64>, GenerationsError> {
    let _lock = lock(target)?;
    let manager = Manager::new(
        target.store_config().clone(),
        target.profile().profile_path(),
    );
    Ok(manager.delete_generations(specs)?)
}

/// Collects garbage in the target's store (what no generation, `/run/current-system` or
/// other root keeps).
pub fn gc(target: &Target) -> Result<GcResult, GenerationsError> {
    let _lock = lock(target)?;
    let store = LocalStore::open(target.store_config().clone())?;
    Ok(store.collect_garbage(&GcOptions::default())?)
}
