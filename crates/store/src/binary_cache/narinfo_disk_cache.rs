//! The narinfo cache on disk, shared by every process of the user (CppNix keeps one in
//! `~/.cache/nix/binary-cache-v6.sqlite`): one SQLite file holding, per cache URL and store
//! path hash, the narinfo text (a positive answer) or its absence (a negative one), and
//! each cache's `nix-cache-info`, with the time they were fetched. Only text is kept:
//! readers re-parse it and signatures are checked on every use, so the file is trusted no
//! more than the network. A file that cannot be used is ignored with a warning.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};

/// CppNix's `narinfo-cache-positive-ttl` default: 30 days.
pub const DEFAULT_POSITIVE_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// CppNix's `narinfo-cache-negative-ttl` default: 1 hour.
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(3600);
/// How long a recorded `nix-cache-info` is reused (CppNix: 7 days).
pub(super) const CACHE_INFO_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// How an HTTP cache remembers narinfo answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NarInfoCacheConfig {
    /// The SQLite file shared across processes; `None`: in memory only, per process.
    pub file: Option<PathBuf>,
    /// How long a narinfo found is remembered (`narinfo-cache-positive-ttl`; zero: always
    /// ask).
    pub positive_ttl: Duration,
    /// How long an absent narinfo is remembered (`narinfo-cache-negative-ttl`; zero:
    /// always ask).
    pub negative_ttl: Duration,
}

impl Default for NarInfoCacheConfig {
    /// In memory only, CppNix's TTLs.
    fn default() -> Self {
        Self {
            file: None,
            positive_ttl: DEFAULT_POSITIVE_TTL,
            negative_ttl: DEFAULT_NEGATIVE_TTL,
        }
    }
}

impl NarInfoCacheConfig {
    /// The user's cache file: `$XDG_CACHE_HOME/nixkit/binary-cache.sqlite`, else
    /// `$HOME/.cache/nixkit/binary-cache.sqlite`; `None` if neither variable is set.
    pub fn default_file() -> Option<PathBuf> {
        let base = match std::env::var_os("XDG_CACHE_HOME") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => PathBuf::from(std::env::var_os("HOME").filter(|h| !h.is_empty())?).join(".cache"),
        };
        Some(base.join("nixkit").join("binary-cache.sqlite"))
    }
}

/// A remembered answer: when it was fetched and the narinfo text (`None`: absent).
pub(super) type Remembered = (SystemTime, Option<String>);

/// The open cache file. Every failure after opening is reported once as a warning and
/// then the file is left alone: a broken cache never fails a substitution.
#[derive(Debug)]
pub(super) struct NarInfoDiskCache {
    path: PathBuf,
    conn: Mutex<Option<Connection>>,
}

fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn from_unix_secs(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    if let Some(dir) = path.parent() {
        // A failure shows as the open's error below.
        let _ = std::fs::create_dir_all(dir);
    }
    let conn = Connection::open(path)?;
    // Other processes may be writing: wait for them instead of failing.
    conn.busy_timeout(Duration::from_secs(60))?;
    crate::local::db::use_wal(&conn, Duration::from_secs(60))?;
    conn.pragma_update(None, "synchronous", "normal")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS caches (
             url TEXT PRIMARY KEY NOT NULL,
             info TEXT NOT NULL,
             fetched INTEGER NOT NULL);
         CREATE TABLE IF NOT EXISTS narinfos (
             cache TEXT NOT NULL,
             hash TEXT NOT NULL,
             narinfo TEXT,
             fetched INTEGER NOT NULL,
             PRIMARY KEY (cache, hash));",
    )?;
    Ok(conn)
}

impl NarInfoDiskCache {
    /// Opens (creating) the file at `path`; a file that cannot be used gives a warning and
    /// a cache that remembers nothing.
    pub(super) fn open(path: &Path) -> Self {
        let conn = match open_connection(path) {
            Ok(conn) => Some(conn),
            Err(e) => {
                warn(path, &e);
                None
            }
        };
        Self {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        }
    }

    /// Runs `f` on the connection; on failure, warns and stops using the file.
    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Option<T> {
        let mut guard = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let result = f(guard.as_ref()?);
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                warn(&self.path, &e);
                *guard = None;
                None
            }
        }
    }

    /// The remembered answer for `hash` from the cache at `url`.
    pub(super) fn narinfo(&self, url: &str, hash: &str) -> Option<Remembered> {
        self.with(|c| {
            c.query_row(
                "SELECT fetched, narinfo FROM narinfos WHERE cache = ?1 AND hash = ?2",
                params![url, hash],
                |row| Ok((from_unix_secs(row.get(0)?), row.get(1)?)),
            )
            .optional()
        })
        .flatten()
    }

    /// Remembers `answer` (the narinfo text, `None`: absent) for `hash` at `url`.
    pub(super) fn record_narinfo(&self, url: &str, hash: &str, answer: Option<&str>) {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO narinfos (cache, hash, narinfo, fetched)
                 VALUES (?1, ?2, ?3, ?4)",
                params![url, hash, answer, unix_secs(SystemTime::now())],
            )
        });
    }

    /// Forgets the answer for `hash` at `url`; true if there was one.
    pub(super) fn forget_narinfo(&self, url: &str, hash: &str) -> bool {
        self.with(|c| {
            c.execute(
                "DELETE FROM narinfos WHERE cache = ?1 AND hash = ?2",
                params![url, hash],
            )
        })
        .is_some_and(|rows| rows > 0)
    }

    /// The `nix-cache-info` text recorded for `url`, if younger than [`CACHE_INFO_TTL`].
    pub(super) fn cache_info(&self, url: &str) -> Option<String> {
        let (fetched, text) = self
            .with(|c| {
                c.query_row(
                    "SELECT fetched, info FROM caches WHERE url = ?1",
                    params![url],
                    |row| Ok((from_unix_secs(row.get(0)?), row.get::<_, String>(1)?)),
                )
                .optional()
            })
            .flatten()?;
        is_fresh(fetched, CACHE_INFO_TTL).then_some(text)
    }

    /// Records the `nix-cache-info` text of `url`.
    pub(super) fn record_cache_info(&self, url: &str, text: &str) {
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO caches (url, info, fetched) VALUES (?1, ?2, ?3)",
                params![url, text, unix_secs(SystemTime::now())],
            )
        });
    }
}

/// Whether something fetched at `at` is still to be used with time-to-live `ttl` (never
/// with a zero TTL; a time in the future, from a clock set back, counts as fresh only
/// within the TTL too).
pub(super) fn is_fresh(at: SystemTime, ttl: Duration) -> bool {
    match SystemTime::now().duration_since(at) {
        Ok(age) => age < ttl,
        Err(e) => e.duration() < ttl,
    }
}

fn warn(path: &Path, e: &rusqlite::Error) {
    eprintln!(
        "warning: ignoring the narinfo cache '{}': {e}",
        path.display()
    );
}
