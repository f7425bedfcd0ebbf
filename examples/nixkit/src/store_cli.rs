//! `nixkit store` / `nix-store`: argument handling only; the work is in `nixkit_store`
//! (`local`, `export`, `binary_cache`, `nar`).
//!
//! Operations: `--add`, `--add-fixed [--recursive] ALGO`, `--dump`, `--restore`,
//! `--query|-q` with `--references/--referrers/--requisites|-R/--deriver|-d/--hash/--size/
//! --outputs/--roots`, `--verify [--check-contents]`, `--gc [--print-roots|--print-live|
//! --print-dead] [--max-freed N]`, `--delete`, `--realise|-r` (substitution only), `--export`,
//! `--import`, `--generate-binary-cache-key`, `--serve [--write]` (in `daemon_cli`), and nixkit's `--copy-to URL [--sign-key FILE]
//! [--compression xz|zstd|none]`. Global: `--store SPEC` (`StoreConfig::from_spec`: a path,
//! `local?root=DIR`, `auto`; else `NIXKIT_STORE`), `--option NAME VALUE` (substituters,
//! trusted-public-keys, require-sigs, store, fsync-store-paths). Operands are file names
//! (`OsString`): any bytes.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::fmt::Display;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use nixkit_store::binary_cache::{
    open_cache, Compression, FileCache, PublicKey, SecretKey, Substituters,
};
use nixkit_store::local::{GcOptions, GcResult, LocalStore, StoreConfig};
use nixkit_store::{export, nar, FileIngestionMethod, HashAlgo, HashEncoding, StoreDir, StorePath};

const USAGE: &str = "usage: nix-store [--store DIR] OPERATION [OPTIONS] [ARGS...]
operations: --add --add-fixed --dump --restore --query --verify --gc --delete --realise
            --export --import --generate-binary-cache-key --copy-to URL";

#[derive(Default)]
struct Opts {
    op: Option<String>,
    query: Option<String>,
    recursive: bool,
    check_contents: bool,
    gc_print: Option<String>,
    max_freed: Option<u64>,
    store: Option<String>,
    substituters: Vec<String>,
    trusted_keys: Vec<String>,
    require_sigs: bool,
    sign_key: Option<PathBuf>,
    compression: Option<String>,
    copy_to: Option<String>,
    fsync: bool,
    /// File names or store paths: any bytes.
    operands: Vec<OsString>,
}

/// Why a `nix-store` operation failed.
enum CliError {
    /// Reported as `error: MESSAGE`.
    Message(String),
    /// Standard output failed (see [`crate::output::write_failed`]).
    Stdout(io::Error),
}

impl From<String> for CliError {
    fn from(message: String) -> Self {
        Self::Message(message)
    }
}

impl From<&str> for CliError {
    fn from(message: &str) -> Self {
        Self::Message(message.to_owned())
    }
}

type CliResult<T> = Result<T, CliError>;

/// Writes one line of results; a failure ends the operation.
fn out(text: impl Display) -> CliResult<()> {
    crate::output::line(text).map_err(CliError::Stdout)
}

fn fail(error: CliError) -> i32 {
    match error {
        CliError::Message(msg) => {
            eprintln!("error: {msg}");
            1
        }
        CliError::Stdout(e) => crate::output::write_failed(&e),
    }
}

/// An argument that must be text.
fn utf8(arg: OsString) -> Result<String, String> {
    arg.into_string()
        .map_err(|a| format!("argument '{}' is not valid UTF-8", a.to_string_lossy()))
}

/// Runs `nix-store` with `args` (after the command name); returns the exit code.
pub(crate) fn main(args: Vec<OsString>) -> i32 {
    if args.iter().any(|a| a == "--serve") {
        return crate::daemon_cli::serve_main(args);
    }
    let mut o = Opts {
        require_sigs: true,
        fsync: true,
        ..Opts::default()
    };
    let mut it = args.into_iter();
    while let Some(raw) = it.next() {
        // Flags are text; an operand may be any file name.
        let Some(arg) = raw.to_str().map(str::to_owned) else {
            o.operands.push(raw);
            continue;
        };
        let mut value_os = |name: &str| {
            it.next()
                .ok_or_else(|| format!("flag '{name}' requires an argument"))
        };
        let r: Result<(), String> = (|| {
            let mut value = |name: &str| value_os(name).and_then(utf8);
            match arg.as_str() {
                "--add"
                | "--add-fixed"
                | "--dump"
                | "--restore"
                | "--verify"
                | "--gc"
                | "--delete"
                | "--export"
                | "--import"
                | "--generate-binary-cache-key" => o.op = Some(arg.clone()),
                "--query" | "-q" => o.op = Some("--query".into()),
                "--realise" | "-r" => o.op = Some("--realise".into()),
                "--copy-to" => {
                    o.op = Some("--copy-to".into());
                    o.copy_to = Some(value("--copy-to")?);
                }
                "--references" | "--referrers" | "--requisites" | "-R" | "--deriver" | "-d"
                | "--hash" | "--size" | "--outputs" | "--roots" => o.query = Some(arg.clone()),
                "--recursive" => o.recursive = true,
                "--check-contents" => o.check_contents = true,
                "--print-roots" | "--print-live" | "--print-dead" => o.gc_print = Some(arg.clone()),
                "--max-freed" => {
                    o.max_freed = Some(value("--max-freed")?.parse().map_err(|e| format!("{e}"))?)
                }
                "--store" => o.store = Some(value("--store")?),
                "--sign-key" => o.sign_key = Some(value_os("--sign-key")?.into()),
                "--compression" => o.compression = Some(value("--compression")?),
                "--option" => {
                    let name = value("--option")?;
                    let v = value("--option")?;
                    let list = || v.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
                    match name.as_str() {
                        "substituters" | "extra-substituters" => o.substituters.extend(list()),
                        "trusted-public-keys" | "extra-trusted-public-keys" => {
                            o.trusted_keys.extend(list())
                        }
                        "require-sigs" => o.require_sigs = v == "true",
                        "fsync-store-paths" => o.fsync = v == "true",
                        "store" => o.store = Some(v),
                        _ => eprintln!("warning: unknown setting '{name}'"),
                    }
                }
                "--help" | "-h" => o.op = Some("--help".into()),
                s if s.starts_with('-') && s.len() > 1 => {
                    return Err(format!("unrecognised flag '{s}'"))
                }
                _ => o.operands.push(raw.clone()),
            }
            Ok(())
        })();
        if let Err(e) = r {
            return fail(e.into());
        }
    }
    match run(&o) {
        Ok(code) => code,
        Err(e) => fail(e),
    }
}

fn open_store(o: &Opts) -> Result<LocalStore, String> {
    let dir = StoreDir::default();
    let config = match o.store.as_deref() {
        Some(spec) => StoreConfig::from_spec(spec, dir),
        None => StoreConfig::from_env(dir),
    }
    .map_err(|e| e.to_string())?;
    LocalStore::open(config.with_fsync(o.fsync)).map_err(|e| e.to_string())
}

/// Resolves an operand to a store path: a store path (or a path inside one), or a symlink
/// chain (such as `./result`) that leads to one.
fn resolve(store: &LocalStore, arg: &OsStr) -> Result<StorePath, String> {
    let mut current = PathBuf::from(arg);
    for _ in 0..16 {
        let s = current.to_string_lossy().into_owned();
        if let Ok((p, _)) = store.store_dir().parse_path_prefix(&s) {
            return Ok(p);
        }
        match std::fs::read_link(&current) {
            Ok(t) if t.is_relative() => {
                current = current.parent().unwrap_or(Path::new(".")).join(t);
            }
            Ok(t) => current = t,
            Err(_) => break,
        }
    }
    Err(format!(
        "path '{}' is not in the Nix store",
        Path::new(arg).display()
    ))
}

fn resolve_all(store: &LocalStore, o: &Opts) -> Result<BTreeSet<StorePath>, String> {
    o.operands.iter().map(|a| resolve(store, a)).collect()
}

fn print_gc_result(store: &LocalStore, r: &GcResult) -> CliResult<()> {
    for p in &r.deleted {
        eprintln!("deleting '{}'", store.store_dir().print_path(p));
    }
    out(format_args!(
        "{} store paths deleted, {:.2} MiB freed",
        r.deleted.len(),
        r.bytes_freed as f64 / (1024.0 * 1024.0)
    ))
}

fn run(o: &Opts) -> CliResult<i32> {
    let op = o.op.as_deref().ok_or("no operation specified")?;
    let e = |e: &dyn Display| e.to_string();
    match op {
        "--help" => {
            out(USAGE)?;
            Ok(0)
        }
        "--dump" => {
            let [path] = o.operands.as_slice() else {
                return Err("'--dump' requires one argument".into());
            };
            let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
            nar::dump_path(Path::new(path), &mut out).map_err(|x| e(&x))?;
            out.flush().map_err(|x| e(&x))?;
            Ok(0)
        }
        "--restore" => {
            let [path] = o.operands.as_slice() else {
                return Err("'--restore' requires one argument".into());
            };
            nar::restore_path(&mut io::stdin().lock(), Path::new(path)).map_err(|x| e(&x))?;
            Ok(0)
        }
        "--generate-binary-cache-key" => {
            let [name, sk, pk] = o.operands.as_slice() else {
                return Err("'--generate-binary-cache-key' requires three arguments".into());
            };
            let name = utf8(name.clone())?;
            let key = SecretKey::generate(&name).map_err(|x| e(&x))?;
            write_new_file(Path::new(sk), key.to_text().as_bytes(), 0o600)?;
            write_new_file(Path::new(pk), key.public_key().to_text().as_bytes(), 0o644)?;
            Ok(0)
        }
        _ => run_with_store(o, op, &open_store(o)?),
    }
}

/// Writes `data` to `path`, created with `mode` (never wider: the file is made with that
/// mode, not changed afterwards, so a secret key is never readable by others); an existing
/// file is replaced.
fn write_new_file(path: &Path, data: &[u8], mode: u32) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |x: io::Error| format!("writing '{}': {x}", path.display());
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

fn run_with_store(o: &Opts, op: &str, store: &LocalStore) -> CliResult<i32> {
    let e = |e: &dyn Display| e.to_string();
    let dir = store.store_dir().clone();
    let p = |path: &StorePath| dir.print_path(path);
    match op {
        "--add" | "--add-fixed" => {
            let (method, algo, files) = if op == "--add" {
                (
                    FileIngestionMethod::Recursive,
                    HashAlgo::Sha256,
                    &o.operands[..],
                )
            } else {
                let (algo, files) = o
                    .operands
                    .split_first()
                    .ok_or("'--add-fixed' requires an algorithm")?;
                let method = if o.recursive {
                    FileIngestionMethod::Recursive
                } else {
                    FileIngestionMethod::Flat
                };
                let algo = utf8(algo.clone())?;
                (method, algo.parse::<HashAlgo>().map_err(|x| e(&x))?, files)
            };
            for f in files {
                let path = Path::new(f.as_os_str());
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let added = store
                    .add_to_store(&name, path, method, algo)
                    .map_err(|x| e(&x))?;
                out(p(&added))?;
            }
            Ok(0)
        }
        "--query" => query(o, store),
        "--verify" => {
            eprintln!("reading the Nix store...");
            if o.check_contents {
                eprintln!("checking hashes...");
            }
            let report = store.verify(o.check_contents).map_err(|x| e(&x))?;
            for m in report.messages(store) {
                eprintln!("error: {m}");
            }
            Ok(i32::from(!report.is_ok()))
        }
        "--gc" => {
            let opts = GcOptions {
                max_freed: o.max_freed,
                ..GcOptions::default()
            };
            match o.gc_print.as_deref() {
                Some("--print-roots") => {
                    for (root, path) in store.find_roots().map_err(|x| e(&x))? {
                        out(format_args!("{root} -> {}", p(&path)))?;
                    }
                }
                Some("--print-live") => {
                    for path in store.live_paths(&opts).map_err(|x| e(&x))? {
                        out(p(&path))?;
                    }
                }
                Some(_) => {
                    for path in store.dead_paths(&opts).map_err(|x| e(&x))? {
                        out(p(&path))?;
                    }
                }
                None => print_gc_result(store, &store.collect_garbage(&opts).map_err(|x| e(&x))?)?,
            }
            Ok(0)
        }
        "--delete" => {
            let paths = resolve_all(store, o)?;
            print_gc_result(store, &store.delete_paths(&paths).map_err(|x| e(&x))?)?;
            Ok(0)
        }
        "--export" => {
            let paths = resolve_all(store, o)?;
            let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
            export::export_paths(store, &paths, &mut out).map_err(|x| e(&x))?;
            out.flush().map_err(|x| e(&x))?;
            Ok(0)
        }
        "--import" => {
            let mut input = io::BufReader::with_capacity(1 << 16, io::stdin().lock());
            for path in export::import_paths(store, &mut input).map_err(|x| e(&x))? {
                record_drv_outputs(store, &path);
                out(p(&path))?;
            }
            let mut rest = Vec::new();
            let _ = input.read_to_end(&mut rest);
            Ok(0)
        }
        "--realise" => realise(o, store),
        "--copy-to" => {
            let url = o.copy_to.as_deref().unwrap_or_default();
            let cache = FileCache::new(url, dir.clone()).map_err(|x| e(&x))?;
            let key = match &o.sign_key {
                Some(f) => {
                    let text = std::fs::read_to_string(f)
                        .map_err(|x| format!("reading '{}': {x}", f.display()))?;
                    Some(SecretKey::parse(&text).map_err(|x| e(&x))?)
                }
                None => None,
            };
            let compression = match o.compression.as_deref() {
                None => Compression::Xz,
                Some(c) => {
                    Compression::parse(c).ok_or_else(|| format!("unknown compression '{c}'"))?
                }
            };
            let paths = resolve_all(store, o)?;
            for path in cache
                .copy_closure(store, &paths, compression, key.as_ref())
                .map_err(|x| e(&x))?
            {
                eprintln!("copying path '{}' to '{url}'", p(&path));
            }
            Ok(0)
        }
        _ => Err(format!("unknown operation '{op}'").into()),
    }
}

/// Records a `.drv`'s output paths in the database, as CppNix does when registering one.
fn record_drv_outputs(store: &LocalStore, path: &StorePath) {
    let Some(name) = path.name().strip_suffix(".drv") else {
        return;
    };
    let Ok(text) = std::fs::read(store.real_path(path)) else {
        return;
    };
    let dir = store.store_dir();
    let Ok(drv) = nixkit_derivation::parse_derivation(dir, name, &text) else {
        return;
    };
    let outputs = drv
        .outputs
        .keys()
        .filter_map(|o| Some((o.clone(), drv.output_path(dir, o).ok()??)))
        .collect();
    let _ = store.set_derivation_outputs(path, &outputs);
}

fn query(o: &Opts, store: &LocalStore) -> CliResult<i32> {
    let e = |e: &dyn Display| e.to_string();
    let dir = store.store_dir().clone();
    let p = |path: &StorePath| dir.print_path(path);
    let paths: Vec<StorePath> = o
        .operands
        .iter()
        .map(|a| resolve(store, a))
        .collect::<Result<_, _>>()?;
    let line = out;
    let valid = |path: &StorePath| -> Result<_, String> {
        store
            .query_path_info(path)
            .map_err(|x| e(&x))?
            .ok_or_else(|| format!("path '{}' is not valid", p(path)))
    };
    match o.query.as_deref().unwrap_or("--outputs") {
        "--references" | "--referrers" => {
            let mut all = BTreeSet::new();
            for path in &paths {
                all.extend(if o.query.as_deref() == Some("--references") {
                    valid(path)?.references
                } else {
                    store.query_referrers(path).map_err(|x| e(&x))?
                });
            }
            all.iter().try_for_each(|r| line(p(r)))?;
        }
        "--requisites" | "-R" => {
            let set: BTreeSet<StorePath> = paths.iter().cloned().collect();
            let closure = store.query_closure(&set).map_err(|x| e(&x))?;
            for r in store.topo_sort(&closure).map_err(|x| e(&x))? {
                line(p(&r))?;
            }
        }
        "--deriver" | "-d" => {
            for path in &paths {
                line(
                    valid(path)?
                        .deriver
                        .map_or_else(|| "unknown-deriver".into(), |d| p(&d)),
                )?;
            }
        }
        "--hash" => {
            for path in &paths {
                line(valid(path)?.nar_hash.encode(HashEncoding::Nix32, true))?;
            }
        }
        "--size" => {
            for path in &paths {
                line(valid(path)?.nar_size.to_string())?;
            }
        }
        "--roots" => {
            let set: BTreeSet<StorePath> = paths.iter().cloned().collect();
            for (root, target) in store.find_roots().map_err(|x| e(&x))? {
                let closure = store
                    .query_closure(&BTreeSet::from([target.clone()]))
                    .map_err(|x| e(&x))?;
                if closure.iter().any(|c| set.contains(c)) {
                    line(format!("{root} -> {}", p(&target)))?;
                }
            }
        }
        _ => {
            for path in &paths {
                if path.name().ends_with(".drv") {
                    valid(path)?;
                    for out in store
                        .query_derivation_outputs(path)
                        .map_err(|x| e(&x))?
                        .values()
                    {
                        line(p(out))?;
                    }
                } else {
                    line(p(path))?;
                }
            }
        }
    }
    Ok(0)
}

fn realise(o: &Opts, store: &LocalStore) -> CliResult<i32> {
    let e = |e: &dyn Display| e.to_string();
    let dir = store.store_dir().clone();
    let keys: Vec<PublicKey> = o
        .trusted_keys
        .iter()
        .map(|k| PublicKey::parse(k).map_err(|x| e(&x)))
        .collect::<Result<_, _>>()?;
    let caches = o
        .substituters
        .iter()
        .map(|u| open_cache(u, dir.clone()).map_err(|x| e(&x)))
        .collect::<Result<_, _>>()?;
    let substituters = Substituters::new(caches, keys, o.require_sigs);
    for arg in &o.operands {
        let path = resolve(store, arg)?;
        let wanted = if path.name().ends_with(".drv") && store.is_valid(&path).map_err(|x| e(&x))? {
            store
                .query_derivation_outputs(&path)
                .map_err(|x| e(&x))?
                .into_values()
                .collect()
        } else {
            vec![path]
        };
        for w in wanted {
            if !store.is_valid(&w).map_err(|x| e(&x))? {
                if substituters.is_empty() {
                    return Err(format!(
                        "path '{}' is required, but there is no substituter that can build it",
                        dir.print_path(&w)
                    )
                    .into());
                }
                let (from, added) = substituters.substitute_from(store, &w).map_err(|x| e(&x))?;
                for a in &added {
                    record_drv_outputs(store, a);
                    eprintln!("copying path '{}' from '{from}'...", dir.print_path(a));
                }
            }
            out(dir.print_path(&w))?;
        }
    }
    Ok(0)
}
