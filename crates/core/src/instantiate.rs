//! `nix-instantiate`: evaluation and instantiation through
//! [`nixkit_eval::cli::run`] with the process's environment (working directory,
//! `NIX_PATH`, `HOME`, standard input) and, in instantiate mode, the store
//! (`--store`, `NIX_REMOTE`, `NIXKIT_STORE` or the default root; a daemon for
//! `daemon` or `unix://…`) so that `.drv` files are written; and `--parse`, which
//! prints the parsed expression.

use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use nixkit_eval::cli::{self, CliEnv, EvalCliOptions};
use nixkit_syntax::{ParseOptions, SourceName};

use crate::store::access::{is_daemon_spec, open_access, OpenAccessError};
use crate::store::StoreOptions;

/// Why `nix-instantiate` could not run (evaluation errors are not errors here:
/// they are written to standard error and give exit status 1, as in CppNix).
#[derive(Debug, thiserror::Error)]
pub enum InstantiateError {
    /// The working directory is not known.
    #[error("cannot get the current directory: {0}")]
    Cwd(#[source] io::Error),
    /// Standard input could not be read.
    #[error("reading standard input: {0}")]
    Stdin(#[source] io::Error),
    /// A file to parse could not be read.
    #[error("opening file '{path}': {source}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// The store did not open.
    #[error("opening the store: {0}")]
    Store(#[from] OpenAccessError),
    /// Standard output failed; the exit status the run had otherwise.
    #[error("writing to standard output: {error}")]
    Stdout {
        /// The write error.
        #[source]
        error: io::Error,
        /// The run's own exit status.
        status: i32,
    },
}

/// Where `nix-instantiate` writes its messages: shared, because `trace:` and
/// `warning:` lines are written from the evaluation as it makes them.
pub type SharedWriter = Arc<Mutex<dyn Write + Send>>;

/// Runs `nix-instantiate` (or `--parse`); returns the exit status. Results go to
/// `stdout`, bytes that were not UTF-8 in the input going out as they came in;
/// messages go to `stderr` (`trace:` and `warning:` lines as the evaluation makes
/// them, as CppNix writes them, so a long or endless evaluation shows its traces),
/// with colours only if `stderr_is_terminal` (and `NO_COLOR` is unset), as CppNix
/// does.
pub fn run(
    opts: &EvalCliOptions,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &SharedWriter,
    stderr_is_terminal: bool,
) -> Result<i32, InstantiateError> {
    let cwd = std::env::current_dir().map_err(InstantiateError::Cwd)?;
    let colours = stderr_is_terminal && std::env::var_os("NO_COLOR").is_none();
    let write_err = |text: &str| write_messages(stderr, colours, text);
    if opts.parse {
        let mut err = Vec::new();
        let status = parse(opts, &cwd, stdin, stdout, &mut err);
        write_err(&String::from_utf8_lossy(&err));
        return status;
    }
    let mut env = CliEnv::new(cwd.to_string_lossy());
    env.nix_path = std::env::var("NIX_PATH").ok();
    env.home = std::env::var("HOME").ok();
    env.fetcher = crate::fetch::network_fetcher();
    // Instantiate mode writes the `.drv` closure into the local store, as
    // CppNix does; `--eval` and `--readonly-mode` (or a `dummy://` store)
    // only compute paths. `NIX_REMOTE` counts when it names a local store
    // root, a daemon or `dummy://`.
    let remote = std::env::var("NIX_REMOTE").ok().filter(|s| {
        s.starts_with('/')
            || s.starts_with("local?root=")
            || s.starts_with("dummy://")
            || is_daemon_spec(s)
    });
    let store_spec = opts.store.clone().or(remote);
    let dummy = store_spec
        .as_deref()
        .is_some_and(|s| s.starts_with("dummy://"));
    if !opts.eval && !opts.read_only && !dummy {
        let options = StoreOptions {
            store: store_spec,
            ..StoreOptions::default()
        };
        env.store = Some(open_access(&options)?.eval_store());
    }
    let sel = &opts.installables;
    if !sel.from_expr && (sel.inputs.is_empty() || sel.inputs.iter().any(|i| i == "-")) {
        let mut text = String::new();
        stdin
            .read_to_string(&mut text)
            .map_err(InstantiateError::Stdin)?;
        env.stdin = Some(text);
    }
    let live = Arc::clone(stderr);
    env.messages = Some(Arc::new(move |line: &str| {
        write_messages(&live, colours, &format!("{line}\n"));
    }));
    let (mut out, mut err) = (String::new(), String::new());
    let status = cli::run(opts, &env, &mut out, &mut err);
    let written = stdout
        .write_all(&nixkit_syntax::encode_bytes(&out))
        .and_then(|()| stdout.flush());
    write_err(&err);
    match written {
        Err(error) if !out.is_empty() => Err(InstantiateError::Stdout { error, status }),
        _ => Ok(status),
    }
}

/// Writes `text` to `stderr`, without colours unless `colours`, with bytes that were not
/// UTF-8 going out as they came in.
fn write_messages(stderr: &SharedWriter, colours: bool, text: &str) {
    let text = if colours {
        text.to_owned()
    } else {
        cli::strip_ansi_escapes(text)
    };
    let mut w = stderr.lock().unwrap_or_else(|e| e.into_inner());
    let _ = w.write_all(&nixkit_syntax::encode_bytes(&text));
    let _ = w.flush();
}

/// Reads what to parse: `(source name, base directory, text)` for each input.
fn read_inputs(
    opts: &EvalCliOptions,
    cwd: &Path,
    stdin: &mut dyn Read,
) -> Result<Vec<(SourceName, PathBuf, Vec<u8>)>, InstantiateError> {
    let sel = &opts.installables;
    let mut out = Vec::new();
    if sel.from_expr {
        for e in &sel.inputs {
            out.push((SourceName::String, cwd.to_owned(), e.clone().into_bytes()));
        }
        return Ok(out);
    }
    let dash = ["-".to_owned()];
    let inputs = if sel.inputs.is_empty() {
        &dash[..]
    } else {
        &sel.inputs[..]
    };
    for input in inputs {
        if input == "-" {
            let mut buf = Vec::new();
            stdin
                .read_to_end(&mut buf)
                .map_err(InstantiateError::Stdin)?;
            out.push((SourceName::Stdin, cwd.to_owned(), buf));
        } else {
            // Back to the argument's bytes (arguments reach the options with
            // non-UTF-8 bytes as `nixkit_syntax`'s escape characters).
            let raw = nixkit_syntax::encode_bytes(input);
            let mut path = cwd.join(std::ffi::OsStr::from_bytes(&raw));
            if path.is_dir() {
                path = path.join("default.nix");
            }
            let text = std::fs::read(&path).map_err(|source| InstantiateError::Open {
                path: path.display().to_string(),
                source,
            })?;
            let dir = path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| cwd.to_owned());
            out.push((SourceName::Path(path.display().to_string()), dir, text));
        }
    }
    Ok(out)
}

/// `--parse`: prints each input's parsed form as CppNix shows it.
fn parse(
    opts: &EvalCliOptions,
    cwd: &Path,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<i32, InstantiateError> {
    let pure = opts.pure == Some(true);
    for (name, dir, text) in read_inputs(opts, cwd, stdin)? {
        let mut parse_opts = ParseOptions::new(dir.display().to_string());
        if !pure {
            if let Ok(home) = std::env::var("HOME") {
                parse_opts = parse_opts.with_home(home);
            }
        }
        let parsed = nixkit_syntax::parse_bytes(&text, &parse_opts);
        if let Some(err) = parsed.errors().first() {
            let _ = write!(stderr, "{}", err.render(&parsed.source(name)));
            return Ok(1);
        }
        let printed = format!("{}\n", parsed.to_cppnix_string());
        stdout
            .write_all(&nixkit_syntax::encode_bytes(&printed))
            .and_then(|()| stdout.flush())
            .map_err(|error| InstantiateError::Stdout { error, status: 0 })?;
    }
    Ok(0)
}
