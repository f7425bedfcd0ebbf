//! The daemon's operations: dispatch of every request, and the queries, roots and
//! per-connection settings (adding paths is in `upload`, building and collecting in
//! `build`). Permission checks follow CppNix's daemon: what only a trusted user may do
//! fails with CppNix's message for anyone else.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;

use nixkit_protocol::worker::reply::{SubstitutableInfo, WorkerReply};
use nixkit_protocol::worker::request::WorkerRequest;
use nixkit_protocol::worker::types::ClientSettings;
use nixkit_store::local::Root;
use nixkit_store::{HashEncoding, StorePath};

use crate::connection::{lock, Conn, OpError, Outcome};

fn reply(r: WorkerReply) -> Result<Outcome, OpError> {
    Ok(Outcome::Reply(r))
}

/// Carries out `request` for the connection.
pub(crate) fn handle<R: Read, W: Write + Send>(
    conn: &mut Conn<'_, R, W>,
    request: WorkerRequest,
) -> Result<Outcome, OpError> {
    use WorkerRequest as Q;
    match request {
        Q::IsValidPath(p) => reply(WorkerReply::Bool(lock(&conn.store).is_valid(&p)?)),
        Q::QueryValidPaths { paths, substitute } => {
            if substitute {
                crate::build::try_substitute(conn, &paths)?;
            }
            let store = lock(&conn.store);
            let mut valid = BTreeSet::new();
            for p in paths {
                if store.is_valid(&p)? {
                    valid.insert(p);
                }
            }
            reply(WorkerReply::Paths(valid))
        }
        Q::QueryPathInfo(p) => {
            let info = lock(&conn.store).query_path_info(&p)?;
            reply(WorkerReply::PathInfo(info.map(Box::new)))
        }
        Q::QueryReferrers(p) => reply(WorkerReply::Paths(lock(&conn.store).query_referrers(&p)?)),
        Q::QueryReferences(p) => reply(WorkerReply::Paths(lock(&conn.store).query_references(&p)?)),
        Q::QueryDeriver(p) => reply(WorkerReply::OptPath(lock(&conn.store).query_deriver(&p)?)),
        Q::QueryValidDerivers(p) => {
            let store = lock(&conn.store);
            let mut derivers = BTreeSet::new();
            if let Some(d) = store.query_deriver(&p)? {
                if store.is_valid(&d)? {
                    derivers.insert(d);
                }
            }
            reply(WorkerReply::Paths(derivers))
        }
        Q::QueryPathHash(p) => {
            let store = lock(&conn.store);
            let info = store
                .query_path_info(&p)?
                .ok_or_else(|| OpError::NotValid(store.store_dir().print_path(&p)))?;
            reply(WorkerReply::Text(
                info.nar_hash.encode(HashEncoding::Base16, false),
            ))
        }
        Q::QueryPathFromHashPart(hash) => reply(WorkerReply::OptPath(
            lock(&conn.store).query_path_from_hash_part(&hash)?,
        )),
        Q::QueryAllValidPaths => reply(WorkerReply::Paths(lock(&conn.store).valid_paths()?)),
        Q::QueryDerivationOutputs(drv) => {
            let outputs = crate::build::derivation_outputs(conn, &drv)?;
            reply(WorkerReply::Paths(outputs.into_values().collect()))
        }
        Q::QueryDerivationOutputNames(drv) => {
            let outputs = crate::build::derivation_outputs(conn, &drv)?;
            reply(WorkerReply::Strings(outputs.into_keys().collect()))
        }
        Q::QueryDerivationOutputMap(drv) => {
            let outputs = crate::build::derivation_outputs(conn, &drv)?;
            reply(WorkerReply::OutputMap(
                outputs.into_iter().map(|(n, p)| (n, Some(p))).collect(),
            ))
        }
        // The mass query: only caches that want it (`WantMassQuery: 1`) are asked.
        Q::QuerySubstitutablePaths(paths) => {
            let dir = conn.ctx.store.clone();
            let found = conn.substituters()?.substitutable(&dir, &paths);
            reply(WorkerReply::Paths(found))
        }
        Q::HasSubstitutes(path) => {
            let dir = conn.ctx.store.clone();
            let found = conn
                .substituters()?
                .substitutable(&dir, &BTreeSet::from([path]));
            reply(WorkerReply::Bool(!found.is_empty()))
        }
        Q::QuerySubstitutablePathInfos(paths) => {
            let dir = conn.ctx.store.clone();
            let paths: BTreeSet<StorePath> = paths.into_iter().map(|(p, _)| p).collect();
            let infos = conn.substituters()?.infos(&dir, &paths);
            reply(WorkerReply::SubstitutableInfos(
                infos
                    .into_values()
                    .map(|n| SubstitutableInfo {
                        download_size: n.file_size.unwrap_or(0),
                        nar_size: n.info.nar_size,
                        references: n.info.references,
                        deriver: n.info.deriver,
                        path: n.info.path,
                    })
                    .collect(),
            ))
        }
        Q::AddTempRoot(p) => {
            lock(&conn.store)
                .add_temp_root(&p)
                .map_err(OpError::io("adding a temporary root"))?;
            reply(WorkerReply::Done)
        }
        Q::AddIndirectRoot(link) => {
            lock(&conn.store).add_indirect_root(Path::new(&link))?;
            reply(WorkerReply::Done)
        }
        Q::FindRoots => {
            let roots = lock(&conn.store).find_roots()?;
            let roots = roots
                .into_iter()
                .map(|(root, path)| {
                    let name = match root {
                        Root::Link(p) => p.display().to_string(),
                        t @ Root::Temp(_) => t.to_string(),
                    };
                    (name, path)
                })
                .collect();
            reply(WorkerReply::Roots(roots))
        }
        Q::SyncWithGC => reply(WorkerReply::Done),
        Q::SetOptions(settings) => {
            set_options(conn, &settings)?;
            reply(WorkerReply::Nothing)
        }
        Q::NarFromPath(p) => {
            let store = lock(&conn.store);
            if !store.is_valid(&p)? {
                return Err(OpError::NotValid(store.store_dir().print_path(&p)));
            }
            Ok(Outcome::Nar(p))
        }
        Q::EnsurePath(p) => {
            crate::build::ensure_valid(conn, &p)?;
            reply(WorkerReply::Done)
        }
        Q::AddSignatures { .. } => {
            conn.require_trust("you are not privileged to add signatures")?;
            Err(OpError::Unsupported(
                "adding signatures to valid paths is not supported by nixkit's daemon".into(),
            ))
        }
        Q::OptimiseStore => Err(OpError::Unsupported(
            "optimising the store is not supported by nixkit's daemon".into(),
        )),
        Q::VerifyStore {
            check_contents,
            repair,
        } => {
            if repair {
                conn.require_trust("you are not privileged to repair paths")?;
                return Err(OpError::Unsupported(
                    "repairing the store is not supported by nixkit's daemon".into(),
                ));
            }
            let messages = {
                let store = lock(&conn.store);
                let report = store.verify(check_contents)?;
                report.messages(&store)
            };
            let failed = !messages.is_empty();
            for m in messages {
                conn.say(format!("{m}\n"))?;
            }
            reply(WorkerReply::Bool(failed))
        }
        Q::RegisterDrvOutput(_) => Err(OpError::Unsupported(
            "experimental Nix feature 'ca-derivations' is disabled".into(),
        )),
        Q::QueryRealisation(_) => reply(WorkerReply::Strings(Vec::new())),
        Q::AddToStoreNar {
            info,
            repair: _,
            dont_check_sigs,
        } => crate::upload::add_to_store_nar(conn, info, dont_check_sigs),
        Q::AddToStore {
            name,
            method,
            references,
            repair: _,
        } => crate::upload::add_to_store(conn, &name, &method, &references),
        Q::AddTextToStore {
            name,
            text,
            references,
        } => {
            let path = lock(&conn.store).add_text_to_store(&name, &text, &references)?;
            reply(WorkerReply::Path(path))
        }
        Q::AddMultipleToStore {
            repair: _,
            dont_check_sigs,
        } => crate::upload::add_multiple_to_store(conn, dont_check_sigs),
        Q::ImportPaths => crate::upload::import_paths(conn),
        Q::AddBuildLog(drv) => crate::upload::add_build_log(conn, &drv),
        Q::BuildPaths { paths, mode } => crate::build::build_paths(conn, &paths, mode, false),
        Q::BuildPathsWithResults { paths, mode } => {
            crate::build::build_paths(conn, &paths, mode, true)
        }
        Q::BuildDerivation {
            drv_path,
            drv,
            mode,
        } => crate::build::build_derivation(conn, &drv_path, drv, mode),
        Q::QueryMissing(targets) => crate::build::query_missing(conn, &targets),
        Q::CollectGarbage(options) => crate::build::collect_garbage(conn, &options),
        // Requests the protocol crate reads but this match does not know yet.
        #[allow(unreachable_patterns)]
        other => Err(OpError::Unsupported(format!(
            "operation {} is not supported by nixkit's daemon",
            other.op().name()
        ))),
    }
}

/// Settings a client that is not trusted may still set, as CppNix allows them.
const UNRESTRICTED: &[&str] = &[
    "build-timeout",
    "max-silent-time",
    "connect-timeout",
    "keep-failed",
    "keep-going",
    "fallback",
    "max-jobs",
    "cores",
    "verbose-build",
    "build-verbosity",
    "narinfo-cache-negative-ttl",
    "narinfo-cache-positive-ttl",
];

/// Applies a client's `SetOptions` to the connection.
fn set_options<R: Read, W: Write + Send>(
    conn: &mut Conn<'_, R, W>,
    settings: &ClientSettings,
) -> Result<(), OpError> {
    conn.keep_going = settings.keep_going;
    conn.jobs = usize::try_from(settings.max_build_jobs)
        .unwrap_or(usize::MAX)
        .clamp(1, 64);
    for (name, value) in &settings.overrides {
        let allowed =
            matches!(conn.trust, crate::Trust::Trusted) || UNRESTRICTED.contains(&name.as_str());
        if !allowed {
            conn.say(format!(
                "warning: ignoring the client-specified setting '{name}', because it is a \
                 restricted setting and you are not a trusted user"
            ))?;
            continue;
        }
        match name.as_str() {
            "max-jobs" => {
                if let Ok(n) = value.parse::<usize>() {
                    conn.jobs = n.clamp(1, 64);
                }
            }
            "keep-going" => conn.keep_going = value == "true",
            other => {
                // The substitution and signature settings; a bad value is warned about and
                // ignored, as CppNix's daemon does with a client's unknown or bad setting.
                let mut substitution = conn.substitution.clone();
                let mut signatures = conn.signatures.clone();
                let applied = match signatures.set(other, value) {
                    Ok(false) => substitution.set(other, value),
                    known => known,
                };
                if let Err(e) = applied {
                    conn.say(format!("warning: {e}"))?;
                }
                if substitution != conn.substitution || signatures != conn.signatures {
                    conn.substitution = substitution;
                    conn.signatures = signatures;
                    conn.substituters = None;
                }
            }
        }
    }
    if settings.use_substitutes != conn.substitution.use_substitutes {
        conn.substitution.use_substitutes = settings.use_substitutes;
        conn.substituters = None;
    }
    Ok(())
}
