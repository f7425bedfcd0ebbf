//! The checks at the top of CppNix's `lang.sh` (before the corpus loop), run
//! through [`nixkit_eval::cli`] with a read-only store as `NIX_REMOTE=dummy://`
//! gives there: `trace`, `traceVerbose` with and without `--trace-verbose`,
//! `addErrorContext`, `warn`, `--abort-on-warn`, `NIX_ABORT_ON_WARN`, the
//! `«potential infinite recursion»`/`«repeated»` markers of traced values, and
//! instantiate mode's check of `drvPath`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nixkit_eval::cli::{parse_args, run, CliEnv};
use nixkit_eval::{EnvOverlay, StdIo};

/// Which output a check greps, as the shell redirections in `lang.sh` do.
#[derive(Clone, Copy)]
enum Stream {
    /// `2>&1`.
    Both,
    /// `2>/dev/null`.
    Stdout,
    /// `expectStderr`.
    Stderr,
}

struct Outcome {
    code: i32,
    out: String,
    err: String,
}

impl Outcome {
    fn text(&self, s: Stream) -> String {
        match s {
            Stream::Both => format!("{}{}", self.out, self.err),
            Stream::Stdout => self.out.clone(),
            Stream::Stderr => self.err.clone(),
        }
    }
}

fn corpus_root() -> PathBuf {
    match std::env::var_os("NIXKIT_LANG_CORPUS") {
        Some(p) => PathBuf::from(p).join(".."),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/nix-lang"),
    }
}

fn instantiate(args: &[&str], env_vars: Vec<(&'static str, &'static str)>) -> Outcome {
    let opts = parse_args(args).unwrap_or_else(|e| panic!("{args:?}: {e}"));
    let mut env = CliEnv::new(corpus_root().to_string_lossy().into_owned());
    let io = env_vars.into_iter().fold(
        EnvOverlay::new(StdIo).unset("NIX_ABORT_ON_WARN"),
        |io, (k, v)| io.set(k, v),
    );
    env.io = Arc::new(io);
    let (mut out, mut err) = (String::new(), String::new());
    let code = run(&opts, &env, &mut out, &mut err);
    Outcome { code, out, err }
}

/// Runs `nix-instantiate ARGS`, expects exit `code`, and checks that `stream`
/// contains (or, with `present = false`, lacks) `needle`.
fn check(args: &[&str], code: i32, stream: Stream, needle: &str, present: bool) {
    check_env(args, vec![], code, stream, needle, present);
}

fn check_env(
    args: &[&str],
    env: Vec<(&'static str, &'static str)>,
    code: i32,
    stream: Stream,
    needle: &str,
    present: bool,
) {
    let o = instantiate(args, env);
    let text = o.text(stream);
    assert_eq!(
        o.code, code,
        "{args:?}: exit code; output:\n{}{}",
        o.out, o.err
    );
    assert_eq!(
        text.contains(needle),
        present,
        "{args:?}: `{needle}` present should be {present} in:\n{text}"
    );
}

#[test]
fn trace_and_trace_verbose() {
    check(
        &["--eval", "-E", r#"builtins.trace "Hello" 123"#],
        0,
        Stream::Both,
        "Hello",
        true,
    );
    check(
        &["--eval", "-E", r#"builtins.trace "Hello" 123"#],
        0,
        Stream::Stdout,
        "123",
        true,
    );
    check(
        &[
            "--trace-verbose",
            "--eval",
            "-E",
            r#"builtins.traceVerbose "Hello" 123"#,
        ],
        0,
        Stream::Both,
        "Hello",
        true,
    );
    check(
        &["--eval", "-E", r#"builtins.traceVerbose "Hello" 123"#],
        0,
        Stream::Both,
        "Hello",
        false,
    );
}

#[test]
fn add_error_context() {
    let o = instantiate(
        &["--eval", "-E", r#"builtins.addErrorContext "Hello" 123"#],
        vec![],
    );
    assert_eq!((o.code, o.out.as_str()), (0, "123\n"));
    check(
        &[
            "--show-trace",
            "--eval",
            "-E",
            r#"builtins.addErrorContext "Hello" 123"#,
        ],
        0,
        Stream::Both,
        "Hello",
        false,
    );
    check(
        &[
            "--show-trace",
            "--eval",
            "-E",
            r#"builtins.addErrorContext "Hello" (throw "Foo")"#,
        ],
        1,
        Stream::Stderr,
        "Hello",
        true,
    );
    check(
        &[
            "--show-trace",
            "--eval",
            "-E",
            r#"builtins.addErrorContext "Hello %" (throw "Foo")"#,
        ],
        1,
        Stream::Stderr,
        "Hello %",
        true,
    );
}

#[test]
fn instantiate_rejects_non_drv_drv_path() {
    if !corpus_root()
        .join("lang/non-eval-fail-bad-drvPath.nix")
        .exists()
    {
        println!("skipped: corpus not found");
        return;
    }
    check(
        &["--show-trace", "lang/non-eval-fail-bad-drvPath.nix"],
        1,
        Stream::Stderr,
        "store path '2chwzswhhmpxbgc981i2vcz7xj4d1in9-cachix-1.7.3-bin' is not a valid derivation path",
        true,
    );
}

#[test]
fn traced_cycles() {
    check(
        &[
            "--eval",
            "-E",
            "let x = builtins.trace { x = x; } true; in x",
        ],
        0,
        Stream::Both,
        "trace: { x = «potential infinite recursion»; }",
        true,
    );
    check(
        &[
            "--eval",
            "-E",
            "let x = { repeating = x; tracing = builtins.trace x true; }; in x.tracing",
        ],
        0,
        Stream::Both,
        "trace: { repeating = «repeated»; tracing = «potential infinite recursion»; }",
        true,
    );
}

#[test]
fn warn_and_abort_on_warn() {
    check(
        &["--eval", "-E", r#"builtins.warn "Hello" 123"#],
        0,
        Stream::Both,
        "warning: Hello",
        true,
    );
    let ctx = r#"builtins.addErrorContext "while doing ${"something"} interesting" (builtins.warn "Hello" 123)"#;
    check(&["--eval", "-E", ctx], 0, Stream::Stdout, "123", true);
    check(
        &[
            "--eval",
            "-E",
            "let x = builtins.warn { x = x; } true; in x",
        ],
        1,
        Stream::Stderr,
        "expected a string but found a set",
        true,
    );
    check(
        &[
            "--eval",
            "--abort-on-warn",
            "-E",
            r#"builtins.warn "Hello" 123"#,
        ],
        1,
        Stream::Stderr,
        "Hello",
        true,
    );
    check_env(
        &["--eval", "-E", ctx],
        vec![("NIX_ABORT_ON_WARN", "1")],
        1,
        Stream::Stderr,
        "while doing something interesting",
        true,
    );
    // Without the variable the same expression succeeds.
    check(
        &["--eval", "-E", ctx],
        0,
        Stream::Stderr,
        "while doing something interesting",
        false,
    );
}
