//! Building and collecting through the daemon: `BuildPaths` (with or without results),
//! `BuildDerivation`, `QueryMissing`, the derivation-output queries and `CollectGarbage`.
//! Builds run in nixkit's sandbox under the daemon-wide build lock; their logs stream to
//! the client as log lines.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use nixkit_derivation::{Derivation, DerivationOutput};
use nixkit_protocol::worker::reply::{Missing, WorkerReply};
use nixkit_protocol::worker::stderr::StderrMsg;
use nixkit_protocol::worker::types::{
    BuildMode, BuildResult, DerivedPath, GcAction, GcOptions, WireDerivation,
};
use nixkit_sandbox::{realise, Event, RealiseOptions};
use nixkit_store::local::GcOptions as StoreGcOptions;
use nixkit_store::{ContentAddress, ContentAddressMethod, Hash, HashAlgo, StorePath};

use crate::connection::{lock, Conn, OpError, Outcome};
use crate::Trust;

/// CppNix's `BuildResult::Status` values used here.
pub(crate) const BUILT: u64 = 0;
const ALREADY_VALID: u64 = 2;
const PERMANENT_FAILURE: u64 = 3;

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The output paths of the valid derivation `drv`, by name.
pub(crate) fn derivation_outputs<R: Read, W: Write + Send>(
    conn: &Conn<'_, R, W>,
    drv: &StorePath,
) -> Result<BTreeMap<String, StorePath>, OpError> {
    let store = lock(&conn.store);
    if !store.is_valid(drv)? {
        return Err(OpError::NotValid(store.store_dir().print_path(drv)));
    }
    let parsed = nixkit_sandbox::read_derivation(&store, drv)?;
    nixkit_sandbox::register::output_paths(store.store_dir(), &parsed)
        .map_err(|e| OpError::Invalid(e.to_string()))
}

fn realise_options<R: Read, W: Write + Send>(
    conn: &mut Conn<'_, R, W>,
    check: bool,
) -> Result<RealiseOptions, OpError> {
    let substituters = conn.substituters()?.caches.clone();
    Ok(RealiseOptions {
        substituters,
        jobs: conn.jobs,
        keep_going: conn.keep_going,
        check,
        trusted_keys: conn.signatures.trusted_keys.clone(),
        require_sigs: conn.signatures.require_sigs,
        settings: conn.settings.build.clone(),
        ..RealiseOptions::default()
    })
}

/// Makes `path` valid: substitutes it (and its closure) if it is not
/// (`EnsurePath`, and an opaque path of `BuildPaths`).
pub(crate) fn ensure_valid<R: Read, W: Write + Send>(
    conn: &mut Conn<'_, R, W>,
    path: &StorePath,
) -> Result<(), OpError> {
    if lock(&conn.store).is_valid(path)? {
        return Ok(());
    }
    let opts = realise_options(conn, false)?;
    if opts.substituters.is_empty() {
        return Err(OpError::NotValid(conn.ctx.store.print_path(path)));
    }
    let (from, added) = {
        let store = lock(&conn.store);
        nixkit_sandbox::substitute_path(&store, path, &opts)?
    };
    for p in &added {
        conn.say(format!(
            "copying path '{}' from '{from}'",
            conn.ctx.store.print_path(p)
        ))?;
    }
    Ok(())
}

/// Tries to make the invalid ones of `paths` valid by substitution (`QueryValidPaths` with
/// its substitute flag, as CppNix's daemon does; derivations are not substituted). A path
/// that no cache has stays invalid silently; any other failure (a cache that cannot be
/// opened, a bad download, an untrusted narinfo) is a warning to the client, never an error.
pub(crate) fn try_substitute<R: Read, W: Write + Send>(
    conn: &mut Conn<'_, R, W>,
    paths: &BTreeSet<StorePath>,
) -> Result<(), OpError> {
    let mut wanted = Vec::new();
    for p in paths {
        if !p.name().ends_with(".drv") && !lock(&conn.store).is_valid(p)? {
            wanted.push(p);
        }
    }
    if wanted.is_empty() || !conn.substitution.use_substitutes {
        return Ok(());
    }
    let opts = match realise_options(conn, false) {
        Ok(opts) => opts,
        Err(e @ OpError::Protocol(_)) => return Err(e),
        Err(e) => return conn.say(format!("warning: {e}")),
    };
    if opts.substituters.is_empty() {
        return Ok(());
    }
    for path in wanted {
        let result = {
            let store = lock(&conn.store);
            nixkit_sandbox::substitute_path(&store, path, &opts)
        };
        match result {
            Ok((from, added)) => {
                for p in &added {
                    conn.say(format!(
                        "copying path '{}' from '{from}'",
                        conn.ctx.store.print_path(p)
                    ))?;
                }
            }
            Err(e) if no_cache_has(&e, &conn.ctx.store.print_path(path)) => {}
            Err(e) => conn.say(format!("warning: {e}"))?,
        }
    }
    Ok(())
}

/// True if substituting `printed` failed only because no cache has that path.
fn no_cache_has(error: &nixkit_sandbox::SubstituteError, printed: &str) -> bool {
    use nixkit_store::binary_cache::CacheError;
    match error {
        nixkit_sandbox::SubstituteError::NoSubstituter(_) => true,
        nixkit_sandbox::SubstituteError::Cache(e) => e
            .attempts
            .iter()
            .all(|(_, e)| matches!(e, CacheError::NotInCache(p) if p == printed)),
    }
}

/// Sends build progress to the client as CppNix's log lines.
fn progress_to<W: Write + Send>(
    writer: &std::sync::Mutex<W>,
    version: u64,
    store_dir: &nixkit_store::StoreDir,
    event: Event<'_>,
) {
    let text = match event {
        Event::Started { drv } => format!("building '{}'...\n", store_dir.print_path(drv)),
        Event::Output { data, .. } => String::from_utf8_lossy(data).into_owned(),
        _ => return,
    };
    let mut w = lock(writer);
    // A client that went away is noticed when the reply is written.
    let _ = StderrMsg::Next(text)
        .write(&mut *w, version)
        .map(|()| w.flush());
}

pub(crate) fn build_paths<R: Read, W: Write + Send>(
    conn: &mut Conn<'_, R, W>,
    paths: &[DerivedPath],
    mode: BuildMode,
    with_results: bool,
) -> Result<Outcome, OpError> {
    if mode != BuildMode::Normal && conn.trust != Trust::Trusted {
        return Err(OpError::NotPrivileged(
            "repairing or checking is not allowed because you are not privileged",
        ));
    }
    if mode == BuildMode::Repair {
        return Err(OpError::Unsupported(
            "repairing paths is not supported by nixkit's daemon".into(),
        ));
    }
    let mut targets = Vec::new();
    for p in paths {
        match p {
            // Substituted if it is not valid.
            DerivedPath::Opaque(path) => ensure_valid(conn, path)?,
            DerivedPath::Built { drv, .. } => targets.push(drv.clone()),
        }
    }
    let mut valid_before = BTreeSet::new();
    for drv in &targets {
        let outputs = derivation_outputs(conn, drv)?;
        let store = lock(&conn.store);
        let mut all = true;
        for o in outputs.values() {
            all &= store.is_valid(o)?;
        }
        if all && mode != BuildMode::Check {
            valid_before.insert(drv.clone());
        }
    }
    let start = now();
    let opts = realise_options(conn, mode == BuildMode::Check)?;
    let result = {
        let _builds = lock(conn.build_lock);
        let (writer, version, dir) = (&conn.writer, conn.version, &conn.ctx.store);
        realise(&conn.store, &targets, &opts, &|e| {
            progress_to(writer, version, dir, e)
        })
    };
    let stop = now();
    if !with_results {
        result?;
        return Ok(Outcome::Reply(WorkerReply::Done));
    }
    let error = result.err().map(|e| e.to_string());
    let results = paths
        .iter()
        .map(|p| {
            let (status, error_msg) = match p {
                DerivedPath::Opaque(_) => (ALREADY_VALID, String::new()),
                DerivedPath::Built { drv, .. } if valid_before.contains(drv) => {
                    (ALREADY_VALID, String::new())
                }
                DerivedPath::Built { .. } => match &error {
                    None => (BUILT, String::new()),
                    Some(e) => (PERMANENT_FAILURE, e.clone()),
                },
            };
            let res = BuildResult {
                status,
                error_msg,
                times_built: u64::from(status == BUILT),
                start_time: start,
                stop_time: stop,
                ..BuildResult::default()
            };
            (p.clone(), res)
        })
        .collect();
    Ok(Outcome::Reply(WorkerReply::BuildResults(results)))
}

/// The derivation a `BuildDerivation` request sends, as nixkit's model.
pub(crate) fn to_derivation(
    drv_path: &StorePath,
    wire: WireDerivation,
) -> Result<Derivation, OpError> {
    let mut outputs = BTreeMap::new();
    for o in wire.outputs {
        let out = if !o.hash.is_empty() {
            let (method, algo) = ContentAddressMethod::split_prefix(&o.hash_algo);
            let algo: HashAlgo = algo.parse().map_err(|_| {
                OpError::Invalid(format!(
                    "output '{}': bad hash algorithm '{}'",
                    o.name, o.hash_algo
                ))
            })?;
            let hash = Hash::parse_bare(&o.hash, algo)
                .map_err(|e| OpError::Invalid(format!("output '{}': {e}", o.name)))?;
            DerivationOutput::CaFixed(ContentAddress { method, hash })
        } else if !o.path.is_empty() && o.hash_algo.is_empty() {
            let path = StorePath::from_base_name(o.path.rsplit('/').next().unwrap_or(""))
                .map_err(|e| OpError::Invalid(format!("output '{}': {e}", o.name)))?;
            DerivationOutput::InputAddressed { path }
        } else {
            return Err(OpError::Unsupported(format!(
                "output '{}' is content-addressed without a known hash, which needs the \
                 'ca-derivations' feature",
                o.name
            )));
        };
        outputs.insert(o.name, out);
    }
    Ok(Derivation {
        name: drv_path
            .name()
            .strip_suffix(".drv")
            .unwrap_or(drv_path.name())
            .to_owned(),
        outputs,
        input_drvs: BTreeMap::new(),
        input_srcs: wire.input_srcs,
        system: wire.platform,
        builder: wire.builder,
        args: wire.args,
        env: wire.env.into_iter().collect(),
    })
}

pub(crate) fn build_derivation<R: Read, W: Write + Send>(
    conn: &mut Conn<'_, R, W>,
    drv_path: &StorePath,
    wire: WireDerivation,
    mode: BuildMode,
) -> Result<Outcome, OpError> {
    let drv = to_derivation(drv_path, wire)?;
    let input_addressed = drv
        .outputs
        .values()
        .any(|o| matches!(o, DerivationOutput::InputAddressed { .. }));
    if input_addressed && conn.trust != Trust::Trusted {
        return Err(OpError::NotPrivileged(
            "you are not privileged to build input-addressed derivations",
        ));
    }
    if mode != BuildMode::Normal {
        conn.require_trust("repairing or checking is not allowed because you are not privileged")?;
        return Err(OpError::Unsupported(
            "repairing or checking a derivation sent in full is not supported by nixkit's daemon"
                .into(),
        ));
    }
    let start = now();
    let (writer, version, dir) = (&conn.writer, conn.version, &conn.ctx.store);
    let mut on_output = |data: &[u8]| {
        progress_to(
            writer,
            version,
            dir,
            Event::Output {
                drv: drv_path,
                data,
            },
        )
    };
    let (status, error_msg) = build_basic(
        &conn.store,
        &conn.settings.build,
        conn.build_lock,
        drv_path,
        &drv,
        &mut on_output,
    )?;
    Ok(Outcome::Reply(WorkerReply::BuildResult(BuildResult {
        status,
        error_msg,
        times_built: u64::from(status == BUILT),
        start_time: start,
        stop_time: now(),
        ..BuildResult::default()
    })))
}

/// Builds a derivation sent in full (its inputs must be valid) unless its outputs are
/// valid already; returns CppNix's build status and error message.
pub(crate) fn build_basic(
    store: &std::sync::Mutex<nixkit_store::local::LocalStore>,
    settings: &nixkit_sandbox::BuildSettings,
    build_lock: &std::sync::Mutex<()>,
    drv_path: &StorePath,
    drv: &Derivation,
    on_output: &mut dyn FnMut(&[u8]),
) -> Result<(u64, String), OpError> {
    let outputs = {
        let store = lock(store);
        nixkit_sandbox::register::output_paths(store.store_dir(), drv)
            .map_err(|e| OpError::Invalid(e.to_string()))?
    };
    let mut valid = true;
    for p in outputs.values() {
        valid &= lock(store).is_valid(p)?;
    }
    if valid {
        return Ok((ALREADY_VALID, String::new()));
    }
    let _builds = lock(build_lock);
    Ok(
        match nixkit_sandbox::build_derivation(
            store,
            drv_path,
            drv,
            settings,
            nixkit_sandbox::BuildMode::Normal,
            0,
            on_output,
        ) {
            Ok(_) => (BUILT, String::new()),
            Err(e) => (PERMANENT_FAILURE, e.to_string()),
        },
    )
}

pub(crate) fn query_missing<R: Read, W: Write + Send>(
    conn: &mut Conn<'_, R, W>,
    targets: &[DerivedPath],
) -> Result<Outcome, OpError> {
    let mut missing = Missing::default();
    let mut todo: Vec<StorePath> = Vec::new();
    // Invalid paths that a cache may have: each is substituted (with its missing
    // references) or unknown.
    let mut maybe_substitute: BTreeSet<StorePath> = BTreeSet::new();
    for t in targets {
        match t {
            DerivedPath::Opaque(p) => {
                if !lock(&conn.store).is_valid(p)? {
                    maybe_substitute.insert(p.clone());
                }
            }
            DerivedPath::Built { drv, .. } => todo.push(drv.clone()),
        }
    }
    let substituters = conn.substituters()?;
    let dir = conn.ctx.store.clone();
    let mut seen = BTreeSet::new();
    while let Some(drv) = todo.pop() {
        if !seen.insert(drv.clone()) {
            continue;
        }
        if !lock(&conn.store).is_valid(&drv)? {
            missing.unknown.insert(drv);
            continue;
        }
        let outputs = derivation_outputs(conn, &drv)?;
        let mut invalid = BTreeSet::new();
        for o in outputs.values() {
            if !lock(&conn.store).is_valid(o)? {
                invalid.insert(o.clone());
            }
        }
        if invalid.is_empty() {
            continue;
        }
        // Outputs every one of which a cache has are substituted instead of built.
        if !substituters.caches.is_empty()
            && substituters.infos(&dir, &invalid).len() == invalid.len()
        {
            maybe_substitute.extend(invalid);
            continue;
        }
        let store = lock(&conn.store);
        let parsed = nixkit_sandbox::read_derivation(&store, &drv)?;
        missing.will_build.insert(drv);
        todo.extend(parsed.input_drvs.into_keys());
        for src in parsed.input_srcs {
            if !store.is_valid(&src)? {
                maybe_substitute.insert(src);
            }
        }
    }
    // The paths to substitute and their missing references, level by level.
    let mut level = maybe_substitute;
    let mut asked = BTreeSet::new();
    while !level.is_empty() {
        asked.extend(level.iter().cloned());
        let infos = if substituters.caches.is_empty() {
            BTreeMap::new()
        } else {
            substituters.infos(&dir, &level)
        };
        let mut next = BTreeSet::new();
        for p in level {
            let Some(info) = infos.get(&p) else {
                missing.unknown.insert(p);
                continue;
            };
            missing.download_size += info.file_size.unwrap_or(0);
            missing.nar_size += info.info.nar_size;
            for r in info.info.references_without_self() {
                if !asked.contains(r) && !lock(&conn.store).is_valid(r)? {
                    next.insert(r.clone());
                }
            }
            missing.will_substitute.insert(p);
        }
        level = next;
    }
    Ok(Outcome::Reply(WorkerReply::Missing(missing)))
}

pub(crate) fn collect_garbage<R: Read, W: Write + Send>(
    conn: &mut Conn<'_, R, W>,
    options: &GcOptions,
) -> Result<Outcome, OpError> {
    if options.ignore_liveness {
        return Err(OpError::NotPrivileged(
            "you are not allowed to ignore liveness",
        ));
    }
    let store = lock(&conn.store);
    let printed = |paths: &mut dyn Iterator<Item = StorePath>| -> Vec<String> {
        paths.map(|p| store.store_dir().print_path(&p)).collect()
    };
    let store_options = StoreGcOptions {
        max_freed: (options.max_freed != u64::MAX && options.max_freed != 0)
            .then_some(options.max_freed),
        ..StoreGcOptions::default()
    };
    let (paths, bytes_freed) = match options.action {
        GcAction::ReturnLive => (
            printed(&mut store.live_paths(&store_options)?.into_iter()),
            0,
        ),
        GcAction::ReturnDead => (
            printed(&mut store.dead_paths(&store_options)?.into_iter()),
            0,
        ),
        GcAction::DeleteDead => {
            let r = store.collect_garbage(&store_options)?;
            (printed(&mut r.deleted.into_iter()), r.bytes_freed)
        }
        GcAction::DeleteSpecific => {
            let r = store.delete_paths(&options.paths_to_delete)?;
            (printed(&mut r.deleted.into_iter()), r.bytes_freed)
        }
    };
    Ok(Outcome::Reply(WorkerReply::Gc { paths, bytes_freed }))
}
