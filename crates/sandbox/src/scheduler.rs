//! Realising a graph of derivations: load the `.drv` closure of the targets, skip
//! derivations whose outputs are valid, substitute from binary caches, and build the rest
//! in dependency order with up to `jobs` builds at once. With `keep_going`, independent
//! builds continue after a failure; without it, no new build starts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use nixkit_derivation::Derivation;
use nixkit_store::binary_cache::{CacheError, FileCache, PublicKey};
use nixkit_store::local::LocalStore;
use nixkit_store::StorePath;

use crate::build::{build_derivation, read_derivation, BuildError, BuildMode, BuildSettings};
use crate::register::output_paths;

/// How to realise.
#[derive(Debug, Clone)]
pub struct RealiseOptions {
    /// Builds at once (`-j`).
    pub jobs: usize,
    /// Continue with independent builds after a failure (`--keep-going`).
    pub keep_going: bool,
    /// Rebuild the targets and compare with their valid outputs (`--check`).
    pub check: bool,
    /// Caches to substitute from, tried in order before building.
    pub substituters: Vec<FileCache>,
    /// Keys whose signatures are trusted on substitutes.
    pub trusted_keys: Vec<PublicKey>,
    /// Refuse unsigned substitutes (content-addressed paths excepted).
    pub require_sigs: bool,
    /// Settings of each build.
    pub settings: BuildSettings,
}

impl Default for RealiseOptions {
    fn default() -> Self {
        Self {
            jobs: 1,
            keep_going: false,
            check: false,
            substituters: Vec::new(),
            trusted_keys: Vec::new(),
            require_sigs: true,
            settings: BuildSettings::default(),
        }
    }
}

/// Something that happened during realisation, for progress display.
#[derive(Debug)]
pub enum Event<'a> {
    /// A build is planned (`count` derivations in all).
    Planned {
        /// Derivations to build.
        builds: usize,
    },
    /// A build started.
    Started {
        /// The derivation.
        drv: &'a StorePath,
    },
    /// Output of a running build.
    Output {
        /// The derivation.
        drv: &'a StorePath,
        /// The bytes.
        data: &'a [u8],
    },
    /// A build finished.
    Finished {
        /// The derivation.
        drv: &'a StorePath,
        /// Whether it succeeded.
        ok: bool,
        /// How long it took.
        elapsed: Duration,
    },
    /// A path was substituted.
    Substituted {
        /// The path.
        path: &'a StorePath,
    },
}

/// Why realisation failed: every derivation that failed, with its error.
#[derive(Debug, thiserror::Error)]
pub enum RealiseError {
    /// Some builds failed.
    #[error("{}", describe(.0))]
    BuildsFailed(Vec<(String, BuildError)>),
    /// The derivation graph could not be loaded.
    #[error(transparent)]
    Load(BuildError),
}

fn describe(failures: &[(String, BuildError)]) -> String {
    let mut out: Vec<String> = failures.iter().map(|(_, e)| e.to_string()).collect();
    if failures.len() > 1 {
        out.push(format!("{} derivations failed to build", failures.len()));
    }
    out.join("\nerror: ")
}

/// What realisation produced.
#[derive(Debug, Clone, Default)]
pub struct Realised {
    /// Output paths of every target, by derivation and output name.
    pub outputs: BTreeMap<StorePath, BTreeMap<String, StorePath>>,
    /// Derivations built.
    pub built: Vec<StorePath>,
    /// Paths substituted.
    pub substituted: Vec<StorePath>,
}

struct Node {
    drv: Derivation,
    deps: BTreeSet<StorePath>,
    outputs: BTreeMap<String, StorePath>,
}

#[derive(Default)]
struct State {
    pending: BTreeMap<StorePath, BTreeSet<StorePath>>,
    ready: Vec<StorePath>,
    running: usize,
    failed: BTreeSet<StorePath>,
    failures: Vec<(String, BuildError)>,
    built: Vec<StorePath>,
    stop: bool,
    free_slots: Vec<u32>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Loads the `.drv` closure of `targets`.
fn load_graph(
    store: &LocalStore,
    targets: &[StorePath],
) -> Result<BTreeMap<StorePath, Node>, BuildError> {
    let mut nodes = BTreeMap::new();
    let mut todo: Vec<StorePath> = targets.to_vec();
    while let Some(p) = todo.pop() {
        if nodes.contains_key(&p) {
            continue;
        }
        let drv = read_derivation(store, &p)?;
        let deps: BTreeSet<StorePath> = drv.input_drvs.keys().cloned().collect();
        todo.extend(deps.iter().filter(|d| !nodes.contains_key(*d)).cloned());
        let outputs = output_paths(store.store_dir(), &drv)?;
        nodes.insert(p, Node { drv, deps, outputs });
    }
    Ok(nodes)
}

/// Why a path could not be substituted.
#[derive(Debug, thiserror::Error)]
pub enum SubstituteError {
    /// No cache is configured.
    #[error("path '{0}' is required, but there is no substituter that can build it")]
    NoSubstituter(String),
    /// Every cache failed; the last one's error.
    #[error(transparent)]
    Cache(#[from] CacheError),
}

/// Substitutes `path` (and its missing references) from the first of
/// `opts.substituters` that has it, checking signatures against
/// `opts.trusted_keys`; returns the index of that cache and the paths added.
pub fn substitute_path(
    store: &LocalStore,
    path: &StorePath,
    opts: &RealiseOptions,
) -> Result<(usize, Vec<StorePath>), SubstituteError> {
    let mut last = SubstituteError::NoSubstituter(store.store_dir().print_path(path));
    for (i, cache) in opts.substituters.iter().enumerate() {
        match cache.substitute(store, path, &opts.trusted_keys, opts.require_sigs) {
            Ok(added) => return Ok((i, added)),
            Err(e) => last = SubstituteError::Cache(e),
        }
    }
    Err(last)
}

/// Tries to substitute every output of `node`; true if all are valid afterwards.
fn substitute(
    store: &LocalStore,
    node: &Node,
    opts: &RealiseOptions,
    added: &mut Vec<StorePath>,
) -> bool {
    for p in node.outputs.values() {
        if store.is_valid(p).unwrap_or(false) {
            continue;
        }
        match substitute_path(store, p, opts) {
            Ok((_, paths)) => added.extend(paths),
            Err(_) => return false,
        }
    }
    true
}

/// Realises the derivations `targets` (valid `.drv` paths) in `store`, reporting progress
/// to `progress`.
pub fn realise(
    store: &Mutex<LocalStore>,
    targets: &[StorePath],
    opts: &RealiseOptions,
    progress: &(dyn Fn(Event<'_>) + Sync),
) -> Result<Realised, RealiseError> {
    let nodes = load_graph(&lock(store), targets).map_err(RealiseError::Load)?;
    let mut result = Realised::default();
    let mut state = State::default();
    {
        let s = lock(store);
        for (p, node) in &nodes {
            let is_target = targets.contains(p);
            let valid = node
                .outputs
                .values()
                .all(|o| s.is_valid(o).unwrap_or(false));
            let needs_build = if opts.check && is_target {
                true
            } else {
                !valid && !substitute(&s, node, opts, &mut result.substituted)
            };
            if needs_build {
                state.pending.insert(p.clone(), BTreeSet::new());
            }
        }
        for p in &result.substituted {
            progress(Event::Substituted { path: p });
        }
    }
    let waiting: Vec<StorePath> = state.pending.keys().cloned().collect();
    for p in waiting {
        let deps: BTreeSet<StorePath> = nodes[&p]
            .deps
            .iter()
            .filter(|d| state.pending.contains_key(*d))
            .cloned()
            .collect();
        if deps.is_empty() {
            state.ready.push(p.clone());
        }
        state.pending.insert(p, deps);
    }
    for p in &state.ready {
        state.pending.remove(p);
    }
    progress(Event::Planned {
        builds: state.ready.len() + state.pending.len(),
    });
    let jobs = opts.jobs.max(1);
    state.free_slots = (0..u32::try_from(jobs).unwrap_or(u32::MAX)).rev().collect();
    let state = Mutex::new(state);
    let wake = Condvar::new();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| worker(store, &nodes, opts, progress, &state, &wake));
        }
    });
    let state = state.into_inner().unwrap_or_else(|e| e.into_inner());
    if !state.failures.is_empty() {
        return Err(RealiseError::BuildsFailed(state.failures));
    }
    result.built = state.built;
    for t in targets {
        result.outputs.insert(t.clone(), nodes[t].outputs.clone());
    }
    Ok(result)
}

fn worker(
    store: &Mutex<LocalStore>,
    nodes: &BTreeMap<StorePath, Node>,
    opts: &RealiseOptions,
    progress: &(dyn Fn(Event<'_>) + Sync),
    state: &Mutex<State>,
    wake: &Condvar,
) {
    loop {
        let (drv_path, slot) = {
            let mut st = lock(state);
            loop {
                if st.running == 0 && (st.stop || st.ready.is_empty()) {
                    wake.notify_all();
                    return;
                }
                if !st.stop && !st.ready.is_empty() {
                    break;
                }
                st = wake.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            let p = st.ready.remove(0);
            st.running += 1;
            let slot = st.free_slots.pop().unwrap_or(0);
            (p, slot)
        };
        let node = &nodes[&drv_path];
        progress(Event::Started { drv: &drv_path });
        let mode = if opts.check
            && node
                .outputs
                .values()
                .all(|o| lock(store).is_valid(o).unwrap_or(false))
        {
            BuildMode::Check
        } else {
            BuildMode::Normal
        };
        let mut on_output = |data: &[u8]| {
            progress(Event::Output {
                drv: &drv_path,
                data,
            })
        };
        let result = build_derivation(
            store,
            &drv_path,
            &node.drv,
            &opts.settings,
            mode,
            slot,
            &mut on_output,
        );
        let (ok, elapsed) = match &result {
            Ok(b) => (true, b.elapsed),
            Err(_) => (false, Duration::ZERO),
        };
        progress(Event::Finished {
            drv: &drv_path,
            ok,
            elapsed,
        });
        let mut st = lock(state);
        st.running -= 1;
        st.free_slots.push(slot);
        match result {
            Ok(_) => {
                st.built.push(drv_path.clone());
                let newly: Vec<StorePath> = st
                    .pending
                    .iter_mut()
                    .filter_map(|(p, deps)| {
                        (deps.remove(&drv_path) && deps.is_empty()).then(|| p.clone())
                    })
                    .collect();
                for p in newly {
                    st.pending.remove(&p);
                    st.ready.push(p);
                }
            }
            Err(e) => {
                let printed = lock(store).store_dir().print_path(&drv_path);
                st.failures.push((printed, e));
                st.failed.insert(drv_path.clone());
                // Everything depending on it, transitively, can no longer be built.
                let mut dead = vec![drv_path.clone()];
                while let Some(d) = dead.pop() {
                    let dependents: Vec<StorePath> = st
                        .pending
                        .iter()
                        .filter(|(_, deps)| deps.contains(&d))
                        .map(|(p, _)| p.clone())
                        .collect();
                    for p in dependents {
                        st.pending.remove(&p);
                        st.failed.insert(p.clone());
                        dead.push(p);
                    }
                }
                if !opts.keep_going || crate::run::interrupted() {
                    st.stop = true;
                }
            }
        }
        wake.notify_all();
    }
}
