//! The local store's SQLite database: CppNix's schema (version 10: `ValidPaths`, `Refs`,
//! `DerivationOutputs`, the `DeleteSelfRefs` trigger) in WAL mode, with busy handling so
//! several processes can share it, and typed decoding of every row.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use crate::{ContentAddress, Hash, HashAlgo, PathInfo, StoreDir, StorePath};

/// The schema version CppNix 2.8 writes to `db/schema`.
pub(crate) const SCHEMA_VERSION: u32 = 10;

/// A number naming [`SCHEMA`]'s text (FNV-1a, 31 bits, never 0): kept in the database's
/// `user_version` once the schema is in place.
fn schema_marker() -> i64 {
    let mut h: u32 = 0x811c_9dc5;
    for b in SCHEMA.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    i64::from((h & 0x7fff_ffff).max(1))
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS ValidPaths (
    id               INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    path             TEXT UNIQUE NOT NULL,
    hash             TEXT NOT NULL,
    registrationTime INTEGER NOT NULL,
    deriver          TEXT,
    narSize          INTEGER,
    ultimate         INTEGER,
    sigs             TEXT,
    ca               TEXT
);
CREATE TABLE IF NOT EXISTS Refs (
    referrer  INTEGER NOT NULL,
    reference INTEGER NOT NULL,
    PRIMARY KEY (referrer, reference),
    FOREIGN KEY (referrer) REFERENCES ValidPaths(id) ON DELETE CASCADE,
    FOREIGN KEY (reference) REFERENCES ValidPaths(id) ON DELETE RESTRICT
);
CREATE INDEX IF NOT EXISTS IndexReferrer ON Refs(referrer);
CREATE INDEX IF NOT EXISTS IndexReference ON Refs(reference);
CREATE TRIGGER IF NOT EXISTS DeleteSelfRefs BEFORE DELETE ON ValidPaths
BEGIN
    DELETE FROM Refs WHERE referrer = old.id AND reference = old.id;
END;
CREATE TABLE IF NOT EXISTS DerivationOutputs (
    drv  INTEGER NOT NULL,
    id   TEXT NOT NULL,
    path TEXT NOT NULL,
    PRIMARY KEY (drv, id),
    FOREIGN KEY (drv) REFERENCES ValidPaths(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS IndexDerivationOutputs ON DerivationOutputs(path);
";

/// A database failure, or a row whose contents do not decode.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite reported an error.
    #[error("store database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A row holds a value that is not what the schema promises.
    #[error("store database row for '{row}' has an invalid {column}: {reason}")]
    CorruptRow {
        /// The path (or row id) of the row.
        row: String,
        /// The column.
        column: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A reference of a path being registered is not valid.
    #[error("cannot register '{path}': its reference '{reference}' is not valid")]
    MissingReference {
        /// The path being registered.
        path: String,
        /// The invalid reference.
        reference: String,
    },
    /// The path still has referrers, so it cannot be invalidated.
    #[error("cannot invalidate '{0}': it is still referenced by other valid paths")]
    StillReferenced(String),
}

/// An open connection to the store database.
pub(crate) struct Db {
    conn: Connection,
    store_dir: StoreDir,
}

fn corrupt(row: &str, column: &'static str, reason: impl ToString) -> DbError {
    DbError::CorruptRow {
        row: row.to_owned(),
        column,
        reason: reason.to_string(),
    }
}

/// How long a statement waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(600);

/// Puts the database in WAL mode, which the file then keeps. Switching a new database takes
/// an exclusive lock, and SQLite reports a busy database there at once instead of calling the
/// busy handler: with many connections opening a new store together (a daemon's first
/// clients), all but one would fail. The switch is retried until `timeout` instead.
pub(crate) fn use_wal(conn: &Connection, timeout: Duration) -> Result<(), rusqlite::Error> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        let mode: Result<String, _> = conn.pragma_query_value(None, "journal_mode", |r| r.get(0));
        let result = match mode {
            Ok(m) if m.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(_) => conn.pragma_update(None, "journal_mode", "wal"),
            Err(e) => Err(e),
        };
        match result {
            Err(rusqlite::Error::SqliteFailure(f, _))
                if f.code == rusqlite::ErrorCode::DatabaseBusy && started.elapsed() < timeout =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

impl Db {
    /// Opens (creating if needed) the database at `file`.
    pub(crate) fn open(file: &Path, store_dir: StoreDir) -> Result<Self, DbError> {
        let conn = Connection::open(file)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // WAL keeps readers and one writer concurrent; with synchronous=NORMAL a committed
        // transaction survives the death of the process (the WAL is in the kernel's hands).
        use_wal(&conn, BUSY_TIMEOUT)?;
        conn.pragma_update(None, "synchronous", "normal")?;
        conn.pragma_update(None, "foreign_keys", "on")?;
        let db = Self { conn, store_dir };
        // The schema is created once: `user_version` records which schema text made the
        // tables, so a later open skips parsing and running the batch (a few percent of a
        // short command such as `pkgman install`).
        let marker = schema_marker();
        let made: i64 = db
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?;
        if made != marker {
            // An immediate transaction waits for a writer that got there first; a deferred one
            // that read the schema and then wrote would fail at once with "database is locked"
            // (its snapshot is stale), which a daemon opening the store on many connections at
            // once hit. The marker is read again under the lock: that writer may have made it.
            let tx = db.immediate()?;
            let made: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
            if made != marker {
                tx.execute_batch(SCHEMA)?;
                tx.pragma_update(None, "user_version", marker)?;
            }
            tx.commit()?;
        }
        Ok(db)
    }

    fn immediate(&self) -> Result<rusqlite::Transaction<'_>, DbError> {
        // `unchecked_transaction` starts a deferred transaction; take the write lock at once so
        // a busy database waits here (under busy_timeout) instead of failing on upgrade.
        Ok(rusqlite::Transaction::new_unchecked(
            &self.conn,
            TransactionBehavior::Immediate,
        )?)
    }

    fn print(&self, path: &StorePath) -> String {
        self.store_dir.print_path(path)
    }

    fn parse(&self, row: &str, column: &'static str, s: &str) -> Result<StorePath, DbError> {
        self.store_dir
            .parse_path(s)
            .map_err(|e| corrupt(row, column, e))
    }

    fn id_of(&self, path: &StorePath) -> Result<Option<i64>, DbError> {
        Ok(self
            .conn
            .prepare_cached("SELECT id FROM ValidPaths WHERE path = ?1")?
            .query_row([self.print(path)], |r| r.get(0))
            .optional()?)
    }

    /// The registered path whose hash part is `hash_part` (CppNix's `queryPathFromHashPart`:
    /// the first path at or after `<store>/<hash_part>`, through the unique path index).
    pub(crate) fn path_from_hash_part(
        &self,
        hash_part: &str,
    ) -> Result<Option<StorePath>, DbError> {
        let prefix = format!("{}/{hash_part}", self.store_dir.as_str());
        let found: Option<String> = self
            .conn
            .prepare_cached("SELECT path FROM ValidPaths WHERE path >= ?1 ORDER BY path LIMIT 1")?
            .query_row([&prefix], |r| r.get(0))
            .optional()?;
        match found {
            Some(p)
                if p.strip_prefix(&prefix)
                    .is_some_and(|rest| rest.starts_with('-')) =>
            {
                Ok(Some(self.parse(&p, "path", &p)?))
            }
            _ => Ok(None),
        }
    }

    /// The registered paths whose NAR hash is `nar_hash` (a scan: there is no index on it).
    pub(crate) fn paths_with_nar_hash(&self, nar_hash: &Hash) -> Result<Vec<StorePath>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT path FROM ValidPaths WHERE hash = ?1")?;
        let text = format!("sha256:{}", nar_hash.to_base16());
        let rows = stmt.query_map([&text], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            let p = row?;
            out.push(self.parse(&p, "path", &p)?);
        }
        Ok(out)
    }

    /// True if `path` is registered.
    pub(crate) fn is_valid(&self, path: &StorePath) -> Result<bool, DbError> {
        Ok(self.id_of(path)?.is_some())
    }

    /// The metadata of `path`, if registered.
    pub(crate) fn query_info(&self, path: &StorePath) -> Result<Option<PathInfo>, DbError> {
        type Row = (i64, String, i64, Option<String>, Option<i64>, Option<i64>);
        type Row2 = (Option<String>, Option<String>);
        let found: Option<(Row, Row2)> = self
            .conn
            .prepare_cached(
                "SELECT id, hash, registrationTime, deriver, narSize, ultimate, sigs, ca \
                 FROM ValidPaths WHERE path = ?1",
            )?
            .query_row([self.print(path)], |r| {
                Ok((
                    (
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ),
                    (r.get(6)?, r.get(7)?),
                ))
            })
            .optional()?;
        let Some(((id, hash, time, deriver, size, ultimate), (sigs, ca))) = found else {
            return Ok(None);
        };
        let row = self.print(path);
        let nar_hash = Hash::parse_with_algo(&hash).map_err(|e| corrupt(&row, "hash", e))?;
        if nar_hash.algo() != HashAlgo::Sha256 {
            return Err(corrupt(&row, "hash", "not a sha256 hash"));
        }
        let nar_size = u64::try_from(size.unwrap_or(0)).map_err(|e| corrupt(&row, "narSize", e))?;
        let deriver = match deriver.as_deref() {
            None | Some("") => None,
            Some(d) => Some(self.parse(&row, "deriver", d)?),
        };
        let ca = match ca.as_deref() {
            None | Some("") => None,
            Some(c) => Some(ContentAddress::parse(c).map_err(|e| corrupt(&row, "ca", e))?),
        };
        let sigs = sigs
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let mut references = BTreeSet::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT path FROM Refs JOIN ValidPaths ON reference = id WHERE referrer = ?1",
        )?;
        for r in stmt.query_map([id], |r| r.get::<_, String>(0))? {
            references.insert(self.parse(&row, "reference", &r?)?);
        }
        Ok(Some(PathInfo {
            path: path.clone(),
            nar_hash,
            nar_size,
            references,
            deriver,
            registration_time: time,
            ultimate: ultimate.unwrap_or(0) != 0,
            sigs,
            ca,
        }))
    }

    /// Registers `infos` in one transaction (references may point among them). Paths that
    /// are already valid are left as they are.
    pub(crate) fn register(&self, infos: &[PathInfo]) -> Result<(), DbError> {
        self.register_with_outputs(infos, None)
    }

    /// [`Db::register`], and in the same transaction, when `drv_outputs` is given and the
    /// derivation is valid, records those outputs of that derivation: all or nothing.
    pub(crate) fn register_with_outputs(
        &self,
        infos: &[PathInfo],
        drv_outputs: Option<(&StorePath, &BTreeMap<String, StorePath>)>,
    ) -> Result<(), DbError> {
        let tx = self.immediate()?;
        let mut ids = BTreeMap::new();
        for info in infos {
            if self.id_of(&info.path)?.is_some() {
                continue;
            }
            let sigs: Vec<&str> = info.sigs.iter().map(String::as_str).collect();
            tx.prepare_cached(
                "INSERT INTO ValidPaths (path, hash, registrationTime, deriver, narSize, \
                 ultimate, sigs, ca) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                self.print(&info.path),
                format!("sha256:{}", info.nar_hash.to_base16()),
                info.registration_time,
                info.deriver.as_ref().map(|d| self.print(d)),
                i64::try_from(info.nar_size).unwrap_or(i64::MAX),
                i64::from(info.ultimate),
                (!sigs.is_empty()).then(|| sigs.join(" ")),
                info.ca.map(|c| c.to_string()),
            ])?;
            ids.insert(&info.path, tx.last_insert_rowid());
        }
        for info in infos {
            let Some(&referrer) = ids.get(&info.path) else {
                continue;
            };
            for reference in &info.references {
                let target = match ids.get(reference) {
                    Some(&id) => id,
                    None => self
                        .id_of(reference)?
                        .ok_or_else(|| DbError::MissingReference {
                            path: self.print(&info.path),
                            reference: self.print(reference),
                        })?,
                };
                tx.prepare_cached(
                    "INSERT OR REPLACE INTO Refs (referrer, reference) VALUES (?1, ?2)",
                )?
                .execute([referrer, target])?;
            }
        }
        if let Some((drv, outputs)) = drv_outputs {
            if let Some(id) = self.id_of(drv)? {
                for (name, path) in outputs {
                    tx.prepare_cached(
                        "INSERT OR REPLACE INTO DerivationOutputs (drv, id, path) VALUES (?1, ?2, ?3)",
                    )?
                    .execute(params![id, name, self.print(path)])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records the outputs of derivation `drv` (which must be valid).
    pub(crate) fn set_derivation_outputs(
        &self,
        drv: &StorePath,
        outputs: &BTreeMap<String, StorePath>,
    ) -> Result<(), DbError> {
        let tx = self.immediate()?;
        let id = self.id_of(drv)?.ok_or_else(|| DbError::MissingReference {
            path: self.print(drv),
            reference: self.print(drv),
        })?;
        for (name, path) in outputs {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO DerivationOutputs (drv, id, path) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![id, name, self.print(path)])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The recorded outputs of derivation `drv`.
    pub(crate) fn derivation_outputs(
        &self,
        drv: &StorePath,
    ) -> Result<BTreeMap<String, StorePath>, DbError> {
        let row = self.print(drv);
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.id, d.path FROM DerivationOutputs d JOIN ValidPaths v ON d.drv = v.id \
             WHERE v.path = ?1",
        )?;
        let mut out = BTreeMap::new();
        for r in stmt.query_map([&row], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })? {
            let (name, path) = r?;
            out.insert(name, self.parse(&row, "output path", &path)?);
        }
        Ok(out)
    }

    /// The valid paths that refer to `path` (not counting itself).
    pub(crate) fn referrers(&self, path: &StorePath) -> Result<BTreeSet<StorePath>, DbError> {
        let row = self.print(path);
        let mut stmt = self.conn.prepare_cached(
            "SELECT r.path FROM Refs JOIN ValidPaths r ON referrer = r.id \
             JOIN ValidPaths t ON reference = t.id WHERE t.path = ?1",
        )?;
        let mut out = BTreeSet::new();
        for r in stmt.query_map([&row], |r| r.get::<_, String>(0))? {
            out.insert(self.parse(&row, "referrer", &r?)?);
        }
        Ok(out)
    }

    /// Every registered path, in database order. Rows whose path does not parse are returned
    /// as `Err` entries so callers can report them without losing the rest.
    pub(crate) fn valid_paths(&self) -> Result<Vec<Result<StorePath, DbError>>, DbError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, path FROM ValidPaths ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, path) = row?;
            out.push(self.parse(&format!("id {id}"), "path", &path));
        }
        Ok(out)
    }

    /// Unregisters `path`, which must have no referrers other than itself.
    pub(crate) fn invalidate(&self, path: &StorePath) -> Result<(), DbError> {
        let tx = self.immediate()?;
        let row = self.print(path);
        let result = tx.execute("DELETE FROM ValidPaths WHERE path = ?1", [&row]);
        match result {
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(DbError::StillReferenced(row));
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit()?;
        Ok(())
    }

    /// Runs SQLite's own consistency check; returns the problems it found.
    pub(crate) fn integrity_check(&self) -> Result<Vec<String>, DbError> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut problems = Vec::new();
        for r in rows {
            let r = r?;
            if r != "ok" {
                problems.push(r);
            }
        }
        Ok(problems)
    }

    /// The raw connection, for tests that need to corrupt rows.
    #[cfg(test)]
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }
}
