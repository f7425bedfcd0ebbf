//! `nix-store --query`: the path queries over a store (local or a daemon).

use std::collections::BTreeSet;
use std::io::Write;

use nixkit_store::{HashEncoding, PathInfo, StorePath};

use super::access::StoreAccess;
use super::ops::{out, QueryKind, Result, StoreCommand, StoreCommandError};
use super::resolve_store_path;

pub(super) fn query(
    cmd: &StoreCommand,
    store: &dyn StoreAccess,
    stdout: &mut dyn Write,
) -> Result<i32> {
    let dir = store.store_dir().clone();
    let p = |path: &StorePath| dir.print_path(path);
    let paths: Vec<StorePath> = cmd
        .operands
        .iter()
        .map(|a| resolve_store_path(&dir, a))
        .collect::<std::result::Result<_, _>>()?;
    let valid = |path: &StorePath| -> Result<PathInfo> {
        store
            .query_path_info(path)?
            .ok_or_else(|| StoreCommandError::NotValid(p(path)))
    };
    match cmd.query {
        QueryKind::References | QueryKind::Referrers => {
            let mut all = BTreeSet::new();
            for path in &paths {
                all.extend(if cmd.query == QueryKind::References {
                    valid(path)?.references
                } else {
                    store.query_referrers(path)?
                });
            }
            all.iter().try_for_each(|r| out(stdout, p(r)))?;
        }
        QueryKind::Requisites => {
            let set: BTreeSet<StorePath> = paths.iter().cloned().collect();
            let closure = store.query_closure(&set)?;
            for r in store.topo_sort(&closure)? {
                out(stdout, p(&r))?;
            }
        }
        QueryKind::Deriver => {
            for path in &paths {
                let deriver = valid(path)?.deriver;
                out(
                    stdout,
                    deriver.map_or_else(|| "unknown-deriver".into(), |d| p(&d)),
                )?;
            }
        }
        QueryKind::Hash => {
            for path in &paths {
                out(
                    stdout,
                    valid(path)?.nar_hash.encode(HashEncoding::Nix32, true),
                )?;
            }
        }
        QueryKind::Size => {
            for path in &paths {
                out(stdout, valid(path)?.nar_size)?;
            }
        }
        QueryKind::Roots => {
            let set: BTreeSet<StorePath> = paths.iter().cloned().collect();
            for (root, target) in store.find_roots()? {
                let closure = store.query_closure(&BTreeSet::from([target.clone()]))?;
                if closure.iter().any(|c| set.contains(c)) {
                    out(stdout, format!("{root} -> {}", p(&target)))?;
                }
            }
        }
        QueryKind::Outputs => {
            for path in &paths {
                if path.name().ends_with(".drv") {
                    valid(path)?;
                    for o in store.query_derivation_outputs(path)?.values() {
                        out(stdout, p(o))?;
                    }
                } else {
                    out(stdout, p(path))?;
                }
            }
        }
    }
    Ok(0)
}
