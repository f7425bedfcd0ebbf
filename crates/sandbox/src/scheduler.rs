//! Realising a graph of derivations: load the `.drv` closure of the targets, skip
//! derivations whose outputs are valid, substitute from binary caches, and build the rest
//! in dependency order with up to `jobs` builds at once here and up to each remote
//! machine's `max_jobs` on the `builders` (`remote.rs`): a derivation goes to the fastest
//! fitting machine with a free slot, else builds here; `jobs = 0` builds only remotely
//! (built-in builders still run here). With `keep_going`, independent builds continue
//! after a failure; without it, no new build starts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use nixkit_derivation::Derivation;
use std::sync::Arc;

use nixkit_store::binary_cache::{BinaryCache, PublicKey, Substituters};
use nixkit_store::local::LocalStore;
use nixkit_store::StorePath;

use crate::build::{build_derivation, read_derivation, BuildError, BuildMode, BuildSettings};
use crate::register::output_paths;
use crate::remote::{build_remote, required_features, Machine, RemotePool};

/// How to realise.
#[derive(Debug, Clone)]
pub struct RealiseOptions {
    /// Builds at once (`-j`).
    pub jobs: usize,
    /// Continue with independent builds after a failure (`--keep-going`).
    pub keep_going: bool,
    /// Rebuild the targets and compare with their valid outputs (`--check`).
    pub check: bool,
    /// Caches to substitute from before building, tried by their priority (then in order).
    pub substituters: Vec<Arc<dyn BinaryCache>>,
    /// Keys whose signatures are trusted on substitutes.
    pub trusted_keys: Vec<PublicKey>,
    /// Refuse unsigned substitutes (content-addressed paths excepted).
    pub require_sigs: bool,
    /// Settings of each build.
    pub settings: BuildSettings,
    /// Remote machines to build on (`builders`).
    pub builders: Vec<Machine>,
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
            builders: Vec::new(),
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
    /// A path is being downloaded from a binary cache (with its closure).
    Substituting {
        /// The path.
        path: &'a StorePath,
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
    /// Builds running on each of `RealiseOptions::builders`.
    remote_busy: Vec<usize>,
    /// Machines that failed during this realisation and get no more builds.
    remote_down: Vec<bool>,
}

/// Where a ready derivation goes.
enum Placement {
    /// A local build slot.
    Local(u32),
    /// A machine of `builders`, by index.
    Remote(usize),
    /// A built-in builder: runs here, outside the local slots (even with `jobs = 0`).
    Builtin,
    /// Nowhere, ever: no machine fits and it cannot build here.
    Impossible(BuildError),
}

/// Chooses where `drv` builds now, or `None` to wait for a slot.
fn place(
    st: &mut State,
    drv: &Derivation,
    drv_path: &StorePath,
    opts: &RealiseOptions,
    store_dir: &nixkit_store::StoreDir,
) -> Option<Placement> {
    let builtin = drv.builder.starts_with("builtin:");
    let local_ok = builtin || (opts.jobs > 0 && drv.system == opts.settings.system);
    let prefer_local = builtin || drv.env.get("preferLocalBuild").is_some_and(|v| v == "1");
    let fitting: Vec<usize> = if builtin {
        Vec::new()
    } else {
        (0..opts.builders.len())
            .filter(|&i| opts.builders[i].fits(drv) && !st.remote_down[i])
            .collect()
    };
    if !local_ok && fitting.is_empty() {
        let features: Vec<String> = required_features(drv).into_iter().collect();
        return Some(Placement::Impossible(BuildError::NoMachine {
            drv: store_dir.print_path(drv_path),
            system: drv.system.clone(),
            features: features.join(", "),
            local: opts.settings.system.clone(),
        }));
    }
    if builtin {
        return Some(Placement::Builtin);
    }
    let take_local = |st: &mut State| st.free_slots.pop().map(Placement::Local);
    if prefer_local && local_ok {
        if let Some(p) = take_local(st) {
            return Some(p);
        }
    }
    let best = fitting
        .iter()
        .copied()
        .filter(|&i| st.remote_busy[i] < opts.builders[i].max_jobs)
        .min_by(|&a, &b| {
            let load = |i: usize| (st.remote_busy[i] as f64 + 1.0) / opts.builders[i].speed_factor;
            load(a).total_cmp(&load(b))
        });
    if let Some(i) = best {
        st.remote_busy[i] += 1;
        return Some(Placement::Remote(i));
    }
    if local_ok {
        return take_local(st);
    }
    None
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
    /// Every cache failed (each one's error is named).
    #[error(transparent)]
    Cache(#[from] nixkit_store::binary_cache::SubstituteError),
}

/// Substitutes `path` (and its missing references) from the first of
/// `opts.substituters` (by priority) that has it, checking signatures against
/// `opts.trusted_keys`; returns the cache it came from and the paths added.
pub fn substitute_path(
    store: &LocalStore,
    path: &StorePath,
    opts: &RealiseOptions,
) -> Result<(String, Vec<StorePath>), SubstituteError> {
    if opts.substituters.is_empty() {
        return Err(SubstituteError::NoSubstituter(
            store.store_dir().print_path(path),
        ));
    }
    let substituters = Substituters::new(
        opts.substituters.clone(),
        opts.trusted_keys.clone(),
        opts.require_sigs,
    );
    Ok(substituters.substitute_from(store, path)?)
}

/// Tries to substitute every output of `node`; true if all are valid afterwards.
/// A path no cache can substitute is built instead (the caches' errors are not fatal).
fn substitute(
    store: &LocalStore,
    node: &Node,
    substituters: &Substituters,
    added: &mut Vec<StorePath>,
    progress: &(dyn Fn(Event<'_>) + Sync),
) -> bool {
    if substituters.is_empty() {
        return false;
    }
    for p in node.outputs.values() {
        if store.is_valid(p).unwrap_or(false) {
            continue;
        }
        progress(Event::Substituting { path: p });
        match substituters.substitute(store, p) {
            Ok(paths) => added.extend(paths),
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
    let substituters = Substituters::new(
        opts.substituters.clone(),
        opts.trusted_keys.clone(),
        opts.require_sigs,
    );
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
                !valid && !substitute(&s, node, &substituters, &mut result.substituted, progress)
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
    state.free_slots = (0..u32::try_from(opts.jobs).unwrap_or(u32::MAX))
        .rev()
        .collect();
    state.remote_busy = vec![0; opts.builders.len()];
    state.remote_down = vec![false; opts.builders.len()];
    // A worker per local slot and per remote slot; built-in builders run on a worker
    // even with no local slot.
    let remote_slots: usize = opts.builders.iter().map(|m| m.max_jobs).sum();
    let jobs = (opts.jobs + remote_slots).max(1);
    let state = Mutex::new(state);
    let wake = Condvar::new();
    let pool = RemotePool::new();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| worker(store, &nodes, opts, &pool, progress, &state, &wake));
        }
    });
    drop(pool);
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
    pool: &RemotePool,
    progress: &(dyn Fn(Event<'_>) + Sync),
    state: &Mutex<State>,
    wake: &Condvar,
) {
    loop {
        let store_dir = lock(store).store_dir().clone();
        let (drv_path, placement) = {
            let mut st = lock(state);
            loop {
                if st.running == 0 && (st.stop || st.ready.is_empty()) {
                    wake.notify_all();
                    return;
                }
                if !st.stop {
                    let ready = std::mem::take(&mut st.ready);
                    let mut chosen = None;
                    let mut rest = Vec::with_capacity(ready.len());
                    for p in ready {
                        if chosen.is_none() {
                            if let Some(pl) = place(&mut st, &nodes[&p].drv, &p, opts, &store_dir) {
                                chosen = Some((p, pl));
                                continue;
                            }
                        }
                        rest.push(p);
                    }
                    st.ready = rest;
                    if let Some(c) = chosen {
                        break c;
                    }
                }
                st = wake.wait(st).unwrap_or_else(|e| e.into_inner());
            }
        };
        lock(state).running += 1;
        let node = &nodes[&drv_path];
        let slot = match placement {
            Placement::Local(slot) => slot,
            // Built-in builders that fork use the slot after the local ones.
            _ => u32::try_from(opts.jobs).unwrap_or(0),
        };
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
        let release = match &placement {
            Placement::Local(slot) => Some(Ok(*slot)),
            Placement::Remote(i) => Some(Err(*i)),
            _ => None,
        };
        let result = match placement {
            Placement::Local(slot) => build_derivation(
                store,
                &drv_path,
                &node.drv,
                &opts.settings,
                mode,
                slot,
                &mut on_output,
            ),
            Placement::Remote(i) => {
                // The remote's log arrives on a thread of the session; it is passed on
                // through a channel and shown as it comes.
                let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
                std::thread::scope(|scope| {
                    let relay = scope.spawn(|| {
                        for chunk in rx {
                            on_output(&chunk);
                        }
                    });
                    let r = build_remote(
                        store,
                        &opts.builders[i],
                        pool,
                        &drv_path,
                        &node.drv,
                        &opts.settings,
                        move |data: &[u8]| {
                            let _ = tx.send(data.to_vec());
                        },
                    );
                    let _ = relay.join();
                    r
                })
            }
            Placement::Builtin => build_derivation(
                store,
                &drv_path,
                &node.drv,
                &opts.settings,
                mode,
                slot,
                &mut on_output,
            ),
            Placement::Impossible(e) => Err(e),
        };
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
        match release {
            Some(Ok(slot)) => st.free_slots.push(slot),
            Some(Err(i)) => st.remote_busy[i] -= 1,
            None => {}
        }
        if let (Some(Err(i)), Err(e @ BuildError::RemoteUnavailable { .. })) = (release, &result) {
            // The machine failed, not the derivation: no more builds go there, and this
            // one is placed again (on another machine, or here).
            st.remote_down[i] = true;
            st.ready.insert(0, drv_path.clone());
            drop(st);
            progress(Event::Output {
                drv: &drv_path,
                data: format!("warning: {e}; trying elsewhere\n").as_bytes(),
            });
            wake.notify_all();
            continue;
        }
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
