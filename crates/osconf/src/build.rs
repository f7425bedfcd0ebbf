//! Building a configuration into a target's store: `configuration.nix` evaluated with
//! osconf's modules (`nix/system.nix` over `nix/eval-config.nix`), the target's id map
//! and the package set,
//! its `system.build.toplevel` derivation written into the target's store, then realised
//! with nixkit's sandboxed scheduler (as `nixkit build --store ROOT` does). Also what a
//! build would do (`dry-build`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nixkit_eval::local_store::LocalEvalStore;
use nixkit_eval::Evaluator;
use nixkit_sandbox::{realise, BuildError as DrvReadError, Event, RealiseError, RealiseOptions};
use nixkit_store::local::{LocalStore, OpenError, QueryError};
use nixkit_store::StorePath;

use crate::generations::IdMapError;
use crate::target::Target;
use crate::{nix_dir, nix_string};

/// How a configuration is built.
#[derive(Clone, Default)]
pub struct BuildSettings {
    /// The configuration (default: the target's `etc/osconf/configuration.nix`).
    pub config_file: Option<PathBuf>,
    /// The package set's directory (default: `$OSCONF_PKGS`, else the example package set
    /// `examples/pkgs`).
    pub pkgs: Option<PathBuf>,
    /// How derivations are built.
    pub realise: RealiseOptions,
    /// Show the whole evaluation trace of an error.
    pub show_trace: bool,
}

/// Why building the system failed; the target is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// There is no configuration file.
    #[error("no configuration at '{0}' (write one, or run 'osconf generate-config')")]
    NoConfig(PathBuf),
    /// The target's store did not open.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The target's id map is unreadable.
    #[error(transparent)]
    IdMap(#[from] IdMapError),
    /// The configuration did not evaluate (the evaluator's message, naming the option and
    /// the file and line defining it).
    #[error("{0}")]
    Eval(String),
    /// The evaluation thread could not run.
    #[error("evaluation thread failed: {0}")]
    Thread(String),
    /// The evaluator returned a path that is not in the store.
    #[error("'{0}' is not a store path")]
    NotAStorePath(String),
    /// A derivation could not be read.
    #[error(transparent)]
    Derivation(#[from] DrvReadError),
    /// The store could not be queried.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Building failed.
    #[error("building the system: {0}")]
    Realise(#[from] RealiseError),
    /// The system derivation built no `out` output.
    #[error("the system derivation '{0}' has no output 'out'")]
    NoOutput(String),
}

/// A configuration's system, evaluated (its derivation is in the target's store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluatedSystem {
    /// `system.build.toplevel`'s derivation.
    pub drv_path: String,
    /// Its output, the system (`/nix/store/...-osconf-system-NAME`).
    pub out_path: String,
}

/// Stack of the evaluation thread (address space; pages are touched as used).
const EVAL_STACK: usize = 512 << 20;

/// The package set used when none is given: `$OSCONF_PKGS`, else `examples/pkgs`.
pub fn default_pkgs() -> PathBuf {
    match std::env::var_os("OSCONF_PKGS").filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => nix_dir().join("../../../examples/pkgs"),
    }
}

/// The configuration file `settings` name for `target`.
pub fn config_file(target: &Target, settings: &BuildSettings) -> PathBuf {
    settings
        .config_file
        .clone()
        .unwrap_or_else(|| target.default_config_file())
}

/// A path as a Nix path expression (any characters).
fn nix_path(p: &Path) -> String {
    format!("(/. + {})", nix_string(&p.to_string_lossy()))
}

/// Evaluates the configuration for `target` (with the target's id map, so uids and gids
/// stay stable) and writes its derivations into the target's store, which is returned
/// open (its temporary roots keep the derivations).
pub fn evaluate(
    target: &Target,
    settings: &BuildSettings,
) -> Result<(EvaluatedSystem, LocalStore), BuildError> {
    let config = std::path::absolute(config_file(target, settings))
        .map_err(|e| BuildError::Thread(e.to_string()))?;
    if !config.is_file() {
        return Err(BuildError::NoConfig(config));
    }
    let pkgs = settings.pkgs.clone().unwrap_or_else(default_pkgs);
    let pkgs = std::path::absolute(&pkgs).unwrap_or(pkgs);
    // Read here so that a damaged id map is reported as such.
    let profile = target.profile();
    profile.id_map()?;
    let expr = format!(
        "import {} {{ configuration = {}; pkgs = {}; idMap = {}; }}",
        nix_path(&nix_dir().join("system.nix")),
        nix_path(&config),
        nix_path(&pkgs),
        nix_path(&profile.id_map_path()),
    );
    let store = Arc::new(LocalEvalStore::new(LocalStore::open(
        target.store_config().clone(),
    )?));
    let theirs = store.clone();
    let show_trace = settings.show_trace;
    let base = config
        .parent()
        .unwrap_or(Path::new("/"))
        .to_string_lossy()
        .into_owned();
    let handle = std::thread::Builder::new()
        .name("osconf-eval".into())
        .stack_size(EVAL_STACK)
        .spawn(move || -> Result<(String, String), String> {
            // One evaluation per process: no cycle collection (see
            // `EvaluatorBuilder::collect_cycles`).
            let mut ev = Evaluator::builder()
                .collect_cycles(false)
                .store(theirs)
                .home(std::env::var("HOME").ok())
                .show_trace(show_trace)
                .build();
            let render = |e: nixkit_eval::EvalError| e.render(show_trace);
            let v = ev.eval_str(&expr, &base).map_err(render)?;
            let text = ev.to_raw_string(&v).map_err(render)?;
            match text.split_once(' ') {
                Some((drv, path)) => Ok((drv.to_owned(), path.to_owned())),
                None => Err(format!("system.nix gave no derivation: '{text}'")),
            }
        })
        .map_err(|e| BuildError::Thread(e.to_string()))?;
    let (drv_path, out_path) = handle
        .join()
        .map_err(|_| BuildError::Thread("evaluation panicked".into()))?
        .map_err(BuildError::Eval)?;
    let store = Arc::try_unwrap(store)
        .map_err(|_| BuildError::Thread("the evaluator still holds the store".into()))?
        .into_inner();
    Ok((EvaluatedSystem { drv_path, out_path }, store))
}

fn parse(store: &LocalStore, path: &str) -> Result<StorePath, BuildError> {
    store
        .store_dir()
        .parse_path(path)
        .map_err(|_| BuildError::NotAStorePath(path.to_owned()))
}

/// Builds `system` in `store`; returns the store and the system's output path.
pub fn realise_system(
    store: LocalStore,
    system: &EvaluatedSystem,
    opts: &RealiseOptions,
    progress: &(dyn Fn(Event<'_>) + Sync),
) -> Result<(LocalStore, String), BuildError> {
    let drv = parse(&store, &system.drv_path)?;
    let store = Mutex::new(store);
    let realised = realise(&store, std::slice::from_ref(&drv), opts, progress)?;
    let store = store.into_inner().unwrap_or_else(|e| e.into_inner());
    let out = realised
        .outputs
        .get(&drv)
        .and_then(|o| o.get("out"))
        .ok_or_else(|| BuildError::NoOutput(system.drv_path.clone()))?;
    let printed = store.store_dir().print_path(out);
    Ok((store, printed))
}

/// The derivations building `system` would build (those with an output not yet in the
/// store), the system's first.
pub fn would_build(
    store: &LocalStore,
    system: &EvaluatedSystem,
) -> Result<Vec<String>, BuildError> {
    let mut todo = vec![parse(store, &system.drv_path)?];
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    while let Some(drv) = todo.pop() {
        if !seen.insert(drv.clone()) {
            continue;
        }
        let parsed = nixkit_sandbox::read_derivation(store, &drv)?;
        let mut built = true;
        for path in parsed.known_output_paths(store.store_dir()).values() {
            built &= store.is_valid(path)?;
        }
        if parsed.outputs.is_empty() || !built {
            out.push(store.store_dir().print_path(&drv));
            todo.extend(parsed.input_drvs.into_keys());
        }
    }
    Ok(out)
}
