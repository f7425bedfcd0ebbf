//! `nix-instantiate --eval` (and instantiate mode): a thin wrapper over
//! [`nixkit_eval::cli`], which holds the flag parsing and the run itself.
//! Instantiate mode (no `--eval`, no `--readonly-mode`) evaluates against the
//! local store ([`nixkit_eval::local_store`]; `--store DIR`, `NIX_REMOTE`,
//! `NIXKIT_STORE` or the default root), so `.drv` files are written.

use std::io::{IsTerminal, Read, Write};
use std::sync::Arc;

use nixkit_eval::cli::{self, CliEnv};
use nixkit_eval::local_store::LocalEvalStore;

/// Options for [`run_eval`]: the raw arguments after the command name.
pub(crate) struct EvalCliOptions {
    pub(crate) args: Vec<String>,
}

/// Runs an evaluation as `nix-instantiate` does; returns the exit status.
pub(crate) fn run_eval(opts: &EvalCliOptions) -> i32 {
    let parsed = match cli::parse_args(&opts.args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}\nTry 'nix-instantiate --help' for more information.");
            return 1;
        }
    };
    let cwd = match std::env::current_dir() {
        Ok(d) => d.to_string_lossy().into_owned(),
        Err(e) => {
            eprintln!("error: cannot get the current directory: {e}");
            return 1;
        }
    };
    let mut env = CliEnv::new(cwd);
    env.nix_path = std::env::var("NIX_PATH").ok();
    env.home = std::env::var("HOME").ok();
    env.io = Arc::new(nixkit_eval::StdIo);
    // Instantiate mode writes the `.drv` closure into the local store, as
    // CppNix does; `--eval` and `--readonly-mode` (or a `dummy://` store)
    // only compute paths.
    // `NIX_REMOTE` counts when it names a local store root or `dummy://`.
    let remote = std::env::var("NIX_REMOTE").ok().filter(|s| {
        s.starts_with('/') || s.starts_with("local?root=") || s.starts_with("dummy://")
    });
    let store_spec = parsed.store.clone().or(remote);
    let dummy = store_spec
        .as_deref()
        .is_some_and(|s| s.starts_with("dummy://"));
    if !parsed.eval && !parsed.read_only && !dummy {
        // `auto`, `daemon`, '' and the rest: `StoreConfig::from_spec` decides.
        let spec = store_spec.as_deref();
        match LocalEvalStore::open(spec) {
            Ok(store) => env.store = Some(Arc::new(store)),
            Err(e) => {
                eprintln!("error: opening the store: {e}");
                return 1;
            }
        }
    }
    let reads_stdin =
        !parsed.installables.from_expr && (parsed.installables.inputs.is_empty() || parsed.installables.inputs.iter().any(|i| i == "-"));
    if reads_stdin {
        let mut text = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut text) {
            eprintln!("error: reading standard input: {e}");
            return 1;
        }
        env.stdin = Some(text);
    }
    let (mut out, mut err) = (String::new(), String::new());
    let code = cli::run(&parsed, &env, &mut out, &mut err);
    // Bytes that were not UTF-8 in the input go out as they came in.
    let written = crate::output::bytes(&nixkit_syntax::encode_bytes(&out));
    // Like CppNix, keep colours only for a terminal.
    let err = if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        err
    } else {
        cli::strip_ansi_escapes(&err)
    };
    let _ = std::io::stderr().write_all(&nixkit_syntax::encode_bytes(&err));
    match written {
        Err(e) if !out.is_empty() => crate::output::write_failed(&e).max(code),
        _ => code,
    }
}
