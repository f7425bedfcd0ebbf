//! `nix-instantiate --eval` as a library function: argument parsing (clap,
//! in `args.rs`) and the run itself, writing into strings so that binaries
//! and tests share it. Which values are evaluated is
//! [`crate::installable`]'s business.
//!
//! ```
//! use nixkit_eval::cli::{parse_args, run, CliEnv};
//!
//! let opts = parse_args(&["--eval", "--strict", "-E", "[ (1 + 2) ]"]).unwrap();
//! let (mut out, mut err) = (String::new(), String::new());
//! let code = run(&opts, &CliEnv::new("/"), &mut out, &mut err);
//! assert_eq!((code, out.as_str()), (0, "[ 3 ]\n"));
//! ```

use std::sync::{Arc, Mutex};

use crate::installable::{InputContext, Installables};
use crate::{EvalError, EvalIo, EvalStore, Evaluator, StdIo, Value};

mod args;

pub use crate::installable::AutoArg;
pub use args::{
    auto_args_in_order, command, options_from_matches, parse_args, ArgsError, InstallableArgs,
};

/// Options of `nix-instantiate` that concern evaluation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EvalCliOptions {
    /// `--eval` (otherwise instantiate mode: the `.drv` closure is written to
    /// [`CliEnv::store`] unless `--readonly-mode`).
    pub eval: bool,
    /// `--strict`.
    pub strict: bool,
    /// `--json`.
    pub json: bool,
    /// `--xml`.
    pub xml: bool,
    /// `--raw`.
    pub raw: bool,
    /// `--no-location` (XML output).
    pub no_location: bool,
    /// `--parse`: print the parsed expression (the binary's business; [`run`]
    /// evaluates regardless).
    pub parse: bool,
    /// Files or `-E` expressions, `-A` attribute paths, `--arg`/`--argstr`.
    pub installables: Installables,
    /// `-I` entries.
    pub include: Vec<String>,
    /// `--show-trace` (`Some(false)` for `--no-show-trace`).
    pub show_trace: Option<bool>,
    /// `--max-call-depth`.
    pub max_call_depth: Option<u32>,
    /// `--impure` / `--pure-eval`.
    pub pure: Option<bool>,
    /// `--abort-on-warn` (also set by `NIX_ABORT_ON_WARN=1`, see [`run`]).
    pub abort_on_warn: bool,
    /// `--trace-verbose`: `builtins.traceVerbose` prints.
    pub trace_verbose: bool,
    /// Enabled experimental features.
    pub features: Vec<String>,
    /// Literal lints (see [`crate::EvaluatorBuilder::lints`]).
    pub lints: [Option<bool>; 3],
    /// `--add-root`: register the `.drv` paths as garbage collector roots here.
    pub add_root: Option<String>,
    /// `--indirect` (accepted; as in CppNix, a root outside the store's
    /// `gcroots` directory is always registered indirectly, through a
    /// symlink under `gcroots/auto`).
    pub indirect: bool,
    /// `--readonly-mode`: compute store paths without writing (ignore
    /// [`CliEnv::store`]).
    pub read_only: bool,
    /// `--store URI` (or `--option store URI`): which store a binary should
    /// open as [`CliEnv::store`]; [`run`] itself does not open stores.
    pub store: Option<String>,
}

/// CppNix's store and build settings (2.8 and later), which evaluation does not
/// read. Each is accepted as `--NAME VALUE` and `--extra-NAME VALUE`, as CppNix
/// accepts every setting it knows (the ones evaluation reads are flags of their
/// own, see `args.rs`); any other flag is unrecognised, as in CppNix.
pub const IGNORED_SETTINGS: &[&str] = &[
    "accept-flake-config",
    "allow-dirty",
    "allow-import-from-derivation",
    "allow-symlinked-store",
    "allow-unsafe-native-code-during-evaluation",
    "allowed-impure-host-deps",
    "allowed-uris",
    "auto-optimise-store",
    "build-dir",
    "build-hook",
    "build-poll-interval",
    "build-users-group",
    "builders",
    "builders-use-substitutes",
    "compress-build-log",
    "connect-timeout",
    "cores",
    "diff-hook",
    "download-attempts",
    "download-speed",
    "eval-cache",
    "fallback",
    "filter-syscalls",
    "flake-registry",
    "fsync-metadata",
    "gc-reserved-space",
    "hashed-mirrors",
    "http-connections",
    "http2",
    "ignore-try",
    "impersonate-linux-26",
    "impure-env",
    "keep-build-log",
    "keep-derivations",
    "keep-env-derivations",
    "keep-failed",
    "keep-going",
    "keep-outputs",
    "log-lines",
    "max-build-log-size",
    "max-free",
    "max-jobs",
    "max-silent-time",
    "max-substitution-jobs",
    "min-free",
    "min-free-check-interval",
    "nar-buffer-size",
    "narinfo-cache-negative-ttl",
    "narinfo-cache-positive-ttl",
    "netrc-file",
    "plugin-files",
    "post-build-hook",
    "pre-build-hook",
    "preallocate-contents",
    "print-missing",
    "repeat",
    "require-drop-supplementary-groups",
    "require-sigs",
    "restrict-eval",
    "run-diff-hook",
    "sandbox",
    "sandbox-build-dir",
    "sandbox-dev-shm-size",
    "sandbox-fallback",
    "sandbox-paths",
    "secret-key-files",
    "ssl-cert-file",
    "stalled-download-timeout",
    "substitute",
    "substituters",
    "sync-before-registering",
    "system",
    "system-features",
    "tarball-ttl",
    "timeout",
    "trace-function-calls",
    "trusted-public-keys",
    "trusted-substituters",
    "trusted-users",
    "use-cgroups",
    "use-registries",
    "use-sqlite-wal",
    "user-agent-suffix",
    "warn-dirty",
];

pub(crate) fn apply_option(o: &mut EvalCliOptions, name: &str, value: &str) {
    match name {
        "max-call-depth" => o.max_call_depth = value.parse().ok(),
        "pure-eval" => o.pure = Some(value == "true"),
        "show-trace" => o.show_trace = Some(value == "true"),
        "abort-on-warn" => o.abort_on_warn = value == "true",
        "trace-verbose" => o.trace_verbose = value == "true",
        "store" => o.store = Some(value.to_string()),
        "extra-experimental-features" | "experimental-features" => o
            .features
            .extend(value.split_whitespace().map(str::to_string)),
        _ => {}
    }
}

/// The process environment a run sees.
#[derive(Clone)]
pub struct CliEnv {
    /// The working directory (absolute).
    pub cwd: String,
    /// `$NIX_PATH`.
    pub nix_path: Option<String>,
    /// `$HOME`.
    pub home: Option<String>,
    /// Standard input, if any.
    pub stdin: Option<String>,
    /// File system access.
    pub io: Arc<dyn EvalIo>,
    /// Whether `--show-trace` is the default (CppNix's test suite sets it).
    pub show_trace_default: bool,
    /// The store to evaluate against (`None`: a [`crate::ReadOnlyStore`],
    /// which computes paths without writing, like CppNix's `dummy://`).
    /// Ignored with `--readonly-mode`.
    pub store: Option<Arc<dyn EvalStore>>,
    /// Where fetchers get sources (default: [`nixkit_fetch::LocalFetcher`]).
    pub fetcher: Arc<dyn crate::Fetcher>,
    /// When the run's evaluator collects reference cycles (`None`: as
    /// `$NIXKIT_COLLECT_CYCLES` says, off unless it is `1` or `eager`).
    pub collect_cycles: Option<CycleCollection>,
    /// Where `trace:` and `warning:` lines go as the evaluation makes them, as
    /// CppNix writes them (`None`: into the run's standard error text, before
    /// the error if there is one).
    pub messages: Option<crate::MessageSink>,
}

/// When a run's evaluator collects reference cycles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CycleCollection {
    /// Never: the process exits after one evaluation, which frees everything.
    Off,
    /// As an embedder's evaluator does (to measure its cost).
    On,
    /// In the middle of evaluations every so many steps, and after every
    /// top-level call (to test that results stay the same).
    Every(u64),
}

impl CliEnv {
    /// An environment with the given working directory and nothing else set.
    pub fn new(cwd: impl Into<String>) -> CliEnv {
        CliEnv {
            cwd: cwd.into(),
            nix_path: None,
            home: None,
            stdin: None,
            io: Arc::new(StdIo),
            show_trace_default: false,
            store: None,
            fetcher: Arc::new(nixkit_fetch::LocalFetcher),
            collect_cycles: None,
            messages: None,
        }
    }

    fn absolute(&self, p: &str) -> String {
        crate::installable::absolute_path(&self.cwd, p)
    }

    fn search_entry(&self, entry: &str) -> (String, String) {
        match entry.split_once('=') {
            Some((prefix, path)) => (prefix.to_string(), self.absolute(path)),
            None => (String::new(), self.absolute(entry)),
        }
    }
}

/// Runs `nix-instantiate` with the given options; returns the exit code.
/// As in CppNix, `NIX_ABORT_ON_WARN=1` in the environment (read through
/// [`CliEnv::io`]) turns on `--abort-on-warn`.
pub fn run(opts: &EvalCliOptions, env: &CliEnv, stdout: &mut String, stderr: &mut String) -> i32 {
    let mut opts = opts.clone();
    opts.add_root = opts.add_root.map(|r| env.absolute(&r));
    let opts = &opts;
    let messages = Arc::new(Mutex::new(String::new()));
    let sink = messages.clone();
    let mut search: Vec<(String, String)> =
        opts.include.iter().map(|e| env.search_entry(e)).collect();
    if let Some(np) = &env.nix_path {
        search.extend(
            np.split(':')
                .filter(|s| !s.is_empty())
                .map(|e| env.search_entry(e)),
        );
    }
    // One evaluation, then the process exits: collecting cycles would only
    // add work (`NIXKIT_COLLECT_CYCLES=1` turns it on, to measure its cost;
    // `=eager` collects every 1,024 steps, to test that results stay the same).
    let collect = env.collect_cycles.unwrap_or_else(|| {
        match std::env::var("NIXKIT_COLLECT_CYCLES").as_deref() {
            Ok("1") => CycleCollection::On,
            Ok("eager") => CycleCollection::Every(1024),
            _ => CycleCollection::Off,
        }
    });
    let mut builder = Evaluator::builder()
        .collect_cycles(collect == CycleCollection::On)
        .collect_cycles_every(match collect {
            CycleCollection::Every(steps) => Some(steps),
            _ => None,
        })
        .pure(opts.pure.unwrap_or(false))
        .search_path(search)
        .io(env.io.clone())
        .fetcher(env.fetcher.clone())
        .home(env.home.clone())
        .abort_on_warn(
            opts.abort_on_warn
                || env
                    .io
                    .get_env("NIX_ABORT_ON_WARN")
                    .is_some_and(|v| v == "1" || v == "true"),
        )
        .trace_verbose(opts.trace_verbose)
        .lints(opts.lints)
        .toml_timestamps(opts.features.iter().any(|f| f == "parse-toml-timestamps"))
        .messages(env.messages.clone().unwrap_or_else(|| {
            Arc::new(move |line: &str| {
                let mut m = sink.lock().unwrap_or_else(|e| e.into_inner());
                m.push_str(line);
                m.push('\n');
            })
        }));
    if let Some(d) = opts.max_call_depth {
        builder = builder.max_call_depth(d);
    }
    if let Some(store) = env.store.as_ref().filter(|_| !opts.read_only) {
        builder = builder.store(store.clone());
    }
    let show_trace = opts.show_trace.unwrap_or(env.show_trace_default);
    let mut ev = builder.show_trace(show_trace).build();
    let started = std::time::Instant::now();
    let result = run_inner(opts, env, &mut ev, stdout);
    stderr.push_str(&messages.lock().unwrap_or_else(|e| e.into_inner()));
    if std::env::var_os("NIXKIT_SHOW_STATS").is_some_and(|v| !v.is_empty() && v != "0") {
        stderr.push_str(&ev.stats().to_json(started.elapsed().as_secs_f64()));
        stderr.push('\n');
        if collect != CycleCollection::Off {
            let c = ev.cycle_stats();
            stderr.push_str(&format!(
                "cycle collections: {} ({} during evaluation), emptied {}, abandoned {}\n",
                c.collections, c.during_evaluation, c.emptied, c.abandoned
            ));
        }
    }
    match result {
        Ok(()) => 0,
        Err(e) => {
            stderr.push_str(&e.render(show_trace));
            if e.kind() == crate::ErrorKind::Usage {
                stderr.push_str("Try 'nix-instantiate --help' for more information.\n");
            }
            1
        }
    }
}

/// Per-run state of instantiate mode (CppNix keeps it in statics).
#[derive(Default)]
struct InstantiateState {
    /// How many `--add-root` roots were made (the second is `ROOT-2`, …).
    roots: usize,
    /// Whether the missing `--add-root` warning was printed.
    warned: bool,
}

fn run_inner(
    opts: &EvalCliOptions,
    env: &CliEnv,
    ev: &mut Evaluator,
    stdout: &mut String,
) -> Result<(), EvalError> {
    let mut state = InstantiateState::default();
    let sel = &opts.installables;
    let ctx = InputContext {
        cwd: &env.cwd,
        stdin: Some(env.stdin.as_deref().unwrap_or("")),
        default_input: "-",
    };
    // `--eval` calls the result (a function, or a set's `__functor`) only
    // when `--arg`/`--argstr` were given; instantiating always does, as
    // finding derivations does.
    let call_result = !(opts.eval && sel.auto_args.is_empty());
    sel.for_each(ev, &ctx, call_result, |ev, v, auto_args| {
        print_result(opts, ev, &v, auto_args, &mut state, stdout)
    })
}

fn print_result(
    opts: &EvalCliOptions,
    ev: &mut Evaluator,
    v: &Value,
    auto_args: &Value,
    state: &mut InstantiateState,
    stdout: &mut String,
) -> Result<(), EvalError> {
    if opts.json {
        ev.force_deep(v)?;
        stdout.push_str(&ev.to_json(v)?);
        stdout.push('\n');
    } else if opts.xml {
        if opts.strict {
            ev.force_deep(v)?;
            stdout.push_str(&ev.to_xml_strict(v, !opts.no_location)?);
        } else {
            stdout.push_str(&ev.to_xml(v, !opts.no_location)?);
        }
    } else if opts.raw {
        stdout.push_str(&ev.to_raw_string(v)?);
    } else if opts.eval {
        stdout.push_str(&ev.print(v, opts.strict)?);
        stdout.push('\n');
    } else {
        instantiate(opts, ev, v, auto_args, state, stdout)?;
    }
    Ok(())
}

/// Instantiate mode: prints the `.drv` path of every derivation the value
/// denotes (`!output` appended for outputs other than `out`), registering
/// garbage collector roots with `--add-root`.
fn instantiate(
    opts: &EvalCliOptions,
    ev: &mut Evaluator,
    v: &Value,
    auto_args: &Value,
    state: &mut InstantiateState,
    stdout: &mut String,
) -> Result<(), EvalError> {
    let drvs = ev.derivations(v, auto_args)?;
    for d in &drvs {
        let (mut drv_path, output) = ev.drv_path_and_output(d)?;
        if output.is_empty() {
            return Err(EvalError::eval(format!(
                "derivation '{drv_path}' lacks an 'outputName' attribute"
            )));
        }
        match &opts.add_root {
            None if !state.warned => {
                state.warned = true;
                ev.state.message(
                    "warning: you did not specify '--add-root'; the result might be removed by the garbage collector",
                );
            }
            None => {}
            Some(root) => {
                let mut root = root.clone();
                state.roots += 1;
                if state.roots > 1 {
                    root = format!("{root}-{}", state.roots);
                }
                drv_path = ev.state.store.add_perm_root(&drv_path, &root)?;
            }
        }
        stdout.push_str(&drv_path);
        if output != "out" {
            stdout.push('!');
            stdout.push_str(&output);
        }
        stdout.push('\n');
    }
    Ok(())
}

/// Removes ANSI escape sequences (CSI `ESC [ … final`, OSC `ESC ] … BEL/ST`
/// and two-byte `ESC x`), as CppNix does to messages when standard error is
/// not a terminal.
pub fn strip_ansi_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                for d in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&d) {
                        break;
                    }
                }
            }
            Some(']') => {
                while let Some(d) = chars.next() {
                    if d == '\u{7}' || (d == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{parse_args, ArgsError, AutoArg};

    #[test]
    fn settings_are_flags_and_unknown_flags_are_not() {
        // As nixpkgs' lib/tests/modules.sh calls nix-instantiate.
        let ok = parse_args(&[
            "--timeout",
            "1",
            "--eval-only",
            "--show-trace",
            "--read-write-mode",
            "--json",
            "--extra-substituters",
            "x",
            "-E",
            "1",
        ]);
        assert!(ok.is_ok(), "{:?}", ok.err());
        let err = parse_args(&["--frob", "-E", "1"]).err();
        assert_eq!(err, Some(ArgsError::UnrecognisedFlag("--frob".into())));
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("unrecognised flag '--frob'")
        );
        assert!(parse_args(&["--extra-frob", "x", "-E", "1"]).is_err());
        assert_eq!(
            parse_args(&["-E", "1", "--arg", "x"]).err(),
            Some(ArgsError::MissingValue("--arg".into()))
        );
        assert_eq!(
            parse_args(&["-E", "1", "-A"]).err(),
            Some(ArgsError::MissingValue("--attr".into()))
        );
    }

    #[test]
    fn repeated_and_contradicting_flags_apply_in_order() {
        let o = parse_args(&[
            "--argstr",
            "a",
            "-1",
            "--arg",
            "b",
            "-2",
            "--argstr",
            "c",
            "--x",
            "--show-trace",
            "--no-show-trace",
            "--impure",
            "--pure-eval",
            "--option",
            "show-trace",
            "true",
            "-A",
            "x.0",
            "-A",
            "y",
            "f.nix",
            "-",
        ])
        .unwrap_or_default();
        let names: Vec<_> = o
            .installables
            .auto_args
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(o.installables.auto_args[0].1, AutoArg::Str("-1".into()));
        assert_eq!(o.installables.auto_args[1].1, AutoArg::Expr("-2".into()));
        assert_eq!(o.installables.auto_args[2].1, AutoArg::Str("--x".into()));
        // `--option show-trace true` comes last.
        assert_eq!((o.show_trace, o.pure), (Some(true), Some(true)));
        assert_eq!(o.installables.attr_paths, ["x.0", "y"]);
        assert_eq!(o.installables.inputs, ["f.nix", "-"]);
        let o =
            parse_args(&["--option", "show-trace", "true", "--no-show-trace"]).unwrap_or_default();
        assert_eq!(o.show_trace, Some(false));
        assert!(matches!(parse_args(&["--help"]), Err(ArgsError::Help(_))));
    }
}
