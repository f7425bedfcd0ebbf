//! `nix-store --verify [--check-contents]`: the database's own consistency, every row
//! decoding, every valid path present on disk, and (optionally) every path's NAR hash.

use std::path::PathBuf;

use super::db::DbError;
use super::LocalStore;
use crate::nar::nar_hash;
use crate::{Hash, HashEncoding, StorePath};

/// What verification found. An empty report means the store is consistent.
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Paths checked.
    pub checked: usize,
    /// Problems reported by SQLite's integrity check.
    pub database: Vec<String>,
    /// Rows that do not decode (path or metadata).
    pub corrupt_rows: Vec<DbError>,
    /// Valid paths whose files are missing.
    pub missing: Vec<StorePath>,
    /// Valid paths whose contents do not match: (path, expected, actual).
    pub modified: Vec<(StorePath, Hash, Hash)>,
    /// Valid paths that could not be read: (path, error).
    pub unreadable: Vec<(StorePath, String)>,
}

impl VerifyReport {
    /// True if nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.database.is_empty()
            && self.corrupt_rows.is_empty()
            && self.missing.is_empty()
            && self.modified.is_empty()
            && self.unreadable.is_empty()
    }

    /// The report as CppNix-style messages, one per problem.
    pub fn messages(&self, store: &LocalStore) -> Vec<String> {
        let p = |path: &StorePath| store.store_dir().print_path(path);
        let mut out: Vec<String> = self
            .database
            .iter()
            .map(|d| format!("database integrity: {d}"))
            .collect();
        out.extend(self.corrupt_rows.iter().map(ToString::to_string));
        out.extend(
            self.missing
                .iter()
                .map(|m| format!("path '{}' disappeared", p(m))),
        );
        out.extend(self.modified.iter().map(|(m, want, got)| {
            format!(
                "path '{}' was modified! expected hash '{}', got '{}'",
                p(m),
                want.encode(HashEncoding::Nix32, true),
                got.encode(HashEncoding::Nix32, true)
            )
        }));
        out.extend(
            self.unreadable
                .iter()
                .map(|(m, e)| format!("path '{}' cannot be read: {e}", p(m))),
        );
        out
    }
}

/// Why verification could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The database could not be read.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl LocalStore {
    /// Checks the store; with `check_contents`, rehashes every valid path.
    pub fn verify(&self, check_contents: bool) -> Result<VerifyReport, VerifyError> {
        let mut report = VerifyReport {
            database: self.db.integrity_check()?,
            ..VerifyReport::default()
        };
        for row in self.db.valid_paths()? {
            let path = match row {
                Ok(p) => p,
                Err(e) => {
                    report.corrupt_rows.push(e);
                    continue;
                }
            };
            report.checked += 1;
            let info = match self.db.query_info(&path) {
                Ok(Some(info)) => info,
                Ok(None) => continue,
                Err(e) => {
                    report.corrupt_rows.push(e);
                    continue;
                }
            };
            let real: PathBuf = self.real_path(&path);
            if std::fs::symlink_metadata(&real).is_err() {
                report.missing.push(path);
                continue;
            }
            if check_contents {
                match nar_hash(&real) {
                    Ok((got, size)) if got != info.nar_hash || size != info.nar_size => {
                        report.modified.push((path, info.nar_hash, got));
                    }
                    Ok(_) => {}
                    Err(e) => report.unreadable.push((path, e.to_string())),
                }
            }
        }
        Ok(report)
    }
}
