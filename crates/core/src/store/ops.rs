//! `nix-store`'s operations over a store ([`StoreAccess`]: the local one or a
//! daemon): [`StoreCommand`] says which operation with which options and operands,
//! [`run`] does it. The work itself is in `nixkit_store` (`local`, `export`,
//! `binary_cache`, `nar`), `nixkit_sandbox::substitute_path`, or the daemon.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use nixkit_store::binary_cache::{Compression, FileCache, HttpCache, HttpConfig, SecretKey};
use nixkit_store::local::LocalStore;
use nixkit_store::{nar, FileIngestionMethod, HashAlgo, HashEncoding, HashSink, StorePath};

use super::access::{open_access, AccessError, GcOutcome, GcRequest, OpenAccessError, StoreAccess};
use super::query::query;
use super::{resolve_store_path, NotInStore, StoreOptions};
use crate::{write_line, Streams};

/// A `nix-store` operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Operation {
    /// `--add FILE…`.
    Add,
    /// `--add-fixed [--recursive] ALGO FILE…`.
    AddFixed,
    /// `--dump PATH`: a NAR to standard output.
    Dump,
    /// `--restore PATH`: a NAR from standard input.
    Restore,
    /// `--query`/`-q` (see [`QueryKind`]).
    #[default]
    Query,
    /// `--verify [--check-contents]`.
    Verify,
    /// `--verify-path PATH…`: compare the paths' contents with their recorded NAR hashes.
    VerifyPath,
    /// `--gc` (see [`GcAction`]).
    Gc,
    /// `--delete PATH…`.
    Delete,
    /// `--realise`/`-r PATH…` (substitution only).
    Realise,
    /// `--export PATH…`.
    Export,
    /// `--import`.
    Import,
    /// `--generate-binary-cache-key NAME SECRET-FILE PUBLIC-FILE`.
    GenerateBinaryCacheKey,
    /// `--copy-to URL PATH…` (nixkit's): copy closures into a `file://` cache, or upload
    /// them to an `http(s)://` one (token in `NIXKIT_UPLOAD_TOKEN`).
    CopyTo,
}

/// What `--query` prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QueryKind {
    /// `--outputs` (the default): output paths of derivations, else the paths.
    #[default]
    Outputs,
    /// `--references`.
    References,
    /// `--referrers`.
    Referrers,
    /// `--requisites`/`-R`: the closure, topologically sorted.
    Requisites,
    /// `--deriver`/`-d`.
    Deriver,
    /// `--hash`.
    Hash,
    /// `--size`.
    Size,
    /// `--roots`: the roots that keep the paths alive.
    Roots,
}

/// What `--gc` does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GcAction {
    /// Collect garbage.
    #[default]
    Collect,
    /// `--print-roots`.
    PrintRoots,
    /// `--print-live`.
    PrintLive,
    /// `--print-dead`.
    PrintDead,
}

/// One `nix-store` invocation.
#[derive(Clone, Debug, Default)]
pub struct StoreCommand {
    /// The operation.
    pub operation: Operation,
    /// With [`Operation::Query`].
    pub query: QueryKind,
    /// `--recursive` (with `--add-fixed`).
    pub recursive: bool,
    /// `--check-contents` (with `--verify`).
    pub check_contents: bool,
    /// With [`Operation::Gc`].
    pub gc: GcAction,
    /// `--max-freed N` (with `--gc`).
    pub max_freed: Option<u64>,
    /// `--copy-to URL`.
    pub copy_to: Option<String>,
    /// `--sign-key FILE` (with `--copy-to`).
    pub sign_key: Option<PathBuf>,
    /// `--compression xz|zstd|none` (with `--copy-to`; default xz).
    pub compression: Option<String>,
    /// File names or store paths: any bytes.
    pub operands: Vec<OsString>,
}

/// Why a `nix-store` operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreCommandError {
    /// Wrong operands for the operation.
    #[error("{0}")]
    Usage(String),
    /// The store did not open.
    #[error(transparent)]
    Open(#[from] OpenAccessError),
    /// A store operation failed.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// An operand is not a store path.
    #[error(transparent)]
    NotInStore(#[from] NotInStore),
    /// A path queried is not valid.
    #[error("path '{0}' is not valid")]
    NotValid(String),
    /// A file could not be read or written.
    #[error("{action} '{path}': {source}")]
    File {
        /// What was done.
        action: &'static str,
        /// The file.
        path: String,
        /// Why it failed.
        source: io::Error,
    },
    /// Substitution failed.
    #[error(transparent)]
    Substitute(#[from] nixkit_sandbox::SubstituteError),
    /// The store's options (substituters, keys) are not usable.
    #[error(transparent)]
    Options(#[from] super::StoreOptionsError),
    /// Restoring a NAR failed (`--restore`).
    #[error(transparent)]
    Restore(#[from] nixkit_store::nar::RestoreError),
    /// A binary cache failed (`--copy-to`).
    #[error(transparent)]
    Cache(#[from] nixkit_store::binary_cache::CacheError),
    /// A signing key is malformed (`--generate-binary-cache-key`, `--sign-key`).
    #[error(transparent)]
    Key(#[from] nixkit_store::binary_cache::KeyError),
    /// The hash algorithm of `--add-fixed` is unknown.
    #[error(transparent)]
    HashAlgo(#[from] nixkit_store::hash::UnknownHashAlgo),
    /// Standard output failed.
    #[error("writing to standard output: {0}")]
    Stdout(#[source] io::Error),
}

pub(super) type Result<T> = std::result::Result<T, StoreCommandError>;

/// Writes one line of results; a failure ends the operation.
pub(super) fn out(stdout: &mut dyn Write, text: impl std::fmt::Display) -> Result<()> {
    write_line(stdout, text).map_err(StoreCommandError::Stdout)
}

/// Runs `cmd` on the store `options` name; returns the exit status (1 when
/// `--verify` finds a problem).
pub fn run(cmd: &StoreCommand, options: &StoreOptions, io: &mut Streams<'_>) -> Result<i32> {
    let one = |what: &str| -> Result<&OsString> {
        match cmd.operands.as_slice() {
            [path] => Ok(path),
            _ => Err(StoreCommandError::Usage(format!(
                "'{what}' requires one argument"
            ))),
        }
    };
    match cmd.operation {
        Operation::Restore => {
            nar::restore_path(&mut io.stdin, Path::new(one("--restore")?))?;
            Ok(0)
        }
        Operation::GenerateBinaryCacheKey => {
            let [name, sk, pk] = cmd.operands.as_slice() else {
                return Err(StoreCommandError::Usage(
                    "'--generate-binary-cache-key' requires three arguments".into(),
                ));
            };
            let name = name.to_str().ok_or_else(|| {
                StoreCommandError::Usage(format!(
                    "argument '{}' is not valid UTF-8",
                    name.to_string_lossy()
                ))
            })?;
            let key = SecretKey::generate(name)?;
            write_new_file(Path::new(sk), key.to_text().as_bytes(), 0o600)?;
            write_new_file(Path::new(pk), key.public_key().to_text().as_bytes(), 0o644)?;
            Ok(0)
        }
        _ => run_with_store(cmd, options, &*open_access(options)?, io),
    }
}

/// Writes `data` to `path`, created with `mode` (never wider: the file is made with that
/// mode, not changed afterwards, so a secret key is never readable by others); an existing
/// file is replaced.
fn write_new_file(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |source: io::Error| StoreCommandError::File {
        action: "writing",
        path: path.display().to_string(),
        source,
    };
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(x) if x.kind() == io::ErrorKind::NotFound => {}
        Err(x) => return Err(failed(x)),
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(failed)?;
    file.write_all(data).map_err(failed)?;
    file.sync_all().map_err(failed)
}

fn resolve_all(store: &dyn StoreAccess, cmd: &StoreCommand) -> Result<BTreeSet<StorePath>> {
    Ok(cmd
        .operands
        .iter()
        .map(|a| resolve_store_path(store.store_dir(), a))
        .collect::<std::result::Result<_, _>>()?)
}

fn print_gc_result(r: &GcOutcome, io: &mut Streams<'_>) -> Result<()> {
    for p in &r.paths {
        let _ = writeln!(io.stderr, "deleting '{p}'");
    }
    out(
        io.stdout,
        format_args!(
            "{} store paths deleted, {:.2} MiB freed",
            r.paths.len(),
            r.bytes_freed as f64 / (1024.0 * 1024.0)
        ),
    )
}

/// The local store, for nixkit's own operations that have no daemon counterpart.
fn local_only<'a>(
    store: &'a dyn StoreAccess,
    what: &'static str,
) -> Result<std::sync::MutexGuard<'a, LocalStore>> {
    store
        .local()
        .ok_or(StoreCommandError::Access(AccessError::LocalOnly(what)))
}

fn run_with_store(
    cmd: &StoreCommand,
    options: &StoreOptions,
    store: &dyn StoreAccess,
    io: &mut Streams<'_>,
) -> Result<i32> {
    let dir = store.store_dir().clone();
    let p = |path: &StorePath| dir.print_path(path);
    match cmd.operation {
        Operation::Add | Operation::AddFixed => {
            let (method, algo, files) = if cmd.operation == Operation::Add {
                (
                    FileIngestionMethod::Recursive,
                    HashAlgo::Sha256,
                    &cmd.operands[..],
                )
            } else {
                let (algo, files) = cmd.operands.split_first().ok_or_else(|| {
                    StoreCommandError::Usage("'--add-fixed' requires an algorithm".into())
                })?;
                let method = if cmd.recursive {
                    FileIngestionMethod::Recursive
                } else {
                    FileIngestionMethod::Flat
                };
                let algo = algo.to_string_lossy().parse::<HashAlgo>()?;
                (method, algo, files)
            };
            for f in files {
                let path = Path::new(f.as_os_str());
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let added = store.add_file(&name, path, method, algo)?;
                out(io.stdout, p(&added))?;
            }
            Ok(0)
        }
        Operation::Query => query(cmd, store, io.stdout),
        Operation::Verify => {
            let _ = writeln!(io.stderr, "reading the Nix store...");
            if cmd.check_contents {
                let _ = writeln!(io.stderr, "checking hashes...");
            }
            let report = store.verify(cmd.check_contents)?;
            for m in &report.messages {
                let _ = writeln!(io.stderr, "error: {m}");
            }
            Ok(i32::from(!report.ok))
        }
        Operation::VerifyPath => {
            let mut status = 0;
            for path in resolve_all(store, cmd)? {
                let info = store
                    .query_path_info(&path)?
                    .ok_or_else(|| StoreCommandError::NotValid(p(&path)))?;
                let mut sink = HashSink::new(info.nar_hash.algo());
                store.nar(&path, &mut sink)?;
                let (actual, _) = sink.finish();
                if actual != info.nar_hash {
                    let _ = writeln!(
                        io.stderr,
                        "error: path '{}' was modified! expected hash '{}', got '{}'",
                        p(&path),
                        info.nar_hash.encode(HashEncoding::Nix32, true),
                        actual.encode(HashEncoding::Nix32, true)
                    );
                    status = 1;
                }
            }
            Ok(status)
        }
        Operation::Gc => {
            match cmd.gc {
                GcAction::PrintRoots => {
                    for (root, path) in store.find_roots()? {
                        out(io.stdout, format_args!("{root} -> {}", p(&path)))?;
                    }
                }
                GcAction::PrintLive | GcAction::PrintDead => {
                    let request = if cmd.gc == GcAction::PrintLive {
                        GcRequest::Live
                    } else {
                        GcRequest::Dead
                    };
                    for path in store.collect_garbage(request, cmd.max_freed)?.paths {
                        out(io.stdout, path)?;
                    }
                }
                GcAction::Collect => {
                    let r = store.collect_garbage(GcRequest::Collect, cmd.max_freed)?;
                    print_gc_result(&r, io)?
                }
            }
            Ok(0)
        }
        Operation::Delete => {
            let paths = resolve_all(store, cmd)?;
            let r = store.delete_paths(&paths)?;
            print_gc_result(&r, io)?;
            Ok(0)
        }
        Operation::Dump => {
            let [path] = cmd.operands.as_slice() else {
                return Err(StoreCommandError::Usage(
                    "'--dump' requires one argument".into(),
                ));
            };
            store.dump(Path::new(path), io.stdout)?;
            Ok(0)
        }
        Operation::Export => {
            let paths = resolve_all(store, cmd)?;
            store.export(&paths, io.stdout)?;
            Ok(0)
        }
        Operation::Import => {
            for path in store.import(&mut *io.stdin)? {
                out(io.stdout, p(&path))?;
            }
            // Read the rest, so that a writer into a pipe is not cut off.
            let _ = io::copy(&mut io.stdin, &mut io::sink());
            Ok(0)
        }
        Operation::Realise => {
            for arg in &cmd.operands {
                let path = resolve_store_path(&dir, arg)?;
                for w in store.realise(&path, options, io.stderr)? {
                    out(io.stdout, p(&w))?;
                }
            }
            Ok(0)
        }
        Operation::CopyTo => {
            let url = cmd.copy_to.as_deref().unwrap_or_default();
            let key = match &cmd.sign_key {
                Some(f) => {
                    let text =
                        std::fs::read_to_string(f).map_err(|source| StoreCommandError::File {
                            action: "reading",
                            path: f.display().to_string(),
                            source,
                        })?;
                    Some(SecretKey::parse(&text)?)
                }
                None => None,
            };
            let compression = match cmd.compression.as_deref() {
                None => Compression::Xz,
                Some(c) => Compression::parse(c).ok_or_else(|| {
                    StoreCommandError::Usage(format!("unknown compression '{c}'"))
                })?,
            };
            let paths = resolve_all(store, cmd)?;
            let local = local_only(store, "--copy-to")?;
            let copied = if HttpCache::is_http_url(url) {
                // The upload token of `nixkit serve --upload-token`, from the environment
                // (so it stays out of process listings).
                let config = HttpConfig {
                    authorization: std::env::var("NIXKIT_UPLOAD_TOKEN")
                        .ok()
                        .map(|t| format!("Bearer {t}")),
                    ..HttpConfig::default()
                };
                // The narinfo cache the substituters use: paths this user copied (or
                // found there) before are not asked about again.
                HttpCache::with_config(url, dir.clone(), config)
                    .map(|c| c.with_narinfo_cache(options.narinfo_cache()))
                    .and_then(|c| c.copy_closure(&local, &paths, compression, key.as_ref()))
            } else {
                FileCache::new(url, dir.clone())
                    .and_then(|c| c.copy_closure(&local, &paths, compression, key.as_ref()))
            };
            for path in copied? {
                let _ = writeln!(io.stderr, "copying path '{}' to '{url}'", p(&path));
            }
            Ok(0)
        }
        Operation::Restore | Operation::GenerateBinaryCacheKey => run(cmd, options, io),
    }
}
