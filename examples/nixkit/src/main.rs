//! `nixkit`: one multi-call binary over the nixkit crates.
//!
//! Invoked as `nixkit instantiate ...` (or `store`, `hash`, `build`, `daemon`, `serve`),
//! or through a symlink named like the classic CppNix command (`nix-instantiate`,
//! `nix-store`, `nix-hash`, `nix-build`, `nix-daemon`), in which case
//! it takes that command's flags. Only argument parsing and wiring live here;
//! all logic is in the library crates.

// Deny std's printing macros: they panic on a closed or full stream (see `output`).
#![deny(clippy::print_stdout, clippy::print_stderr)]

/// std's `eprintln!`, except that a failing standard error (closed, full) is ignored
/// instead of panicking. Textual scope: shadows the prelude macro in every module below.
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod args;
mod daemon_cli;
mod output;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::ArgMatches;
use nixkit_eval::cli::ArgsError;

/// mimalloc is 5–20 % faster than the system allocator on the evaluator's
/// many small, short-lived allocations, and uses less memory
/// (crates/eval/PERFORMANCE.md); see `nixkit-alloc` for how it is called.
#[global_allocator]
static GLOBAL: nixkit_alloc::Mimalloc = nixkit_alloc::Mimalloc;

/// An argument as text. Bytes that are not UTF-8 are kept reversibly as the escape
/// characters `nixkit_syntax` uses for such bytes in Nix strings, so they reach the
/// evaluator (and go back out) unchanged; commands that take file names use the raw
/// [`OsString`] instead.
fn arg_text(arg: &std::ffi::OsStr) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    nixkit_syntax::decode_bytes(arg.as_bytes())
        .into_owned()
        .into()
}

/// The classic command a multi-call name stands for.
fn command_of(called_as: &str) -> Option<&'static str> {
    Some(match called_as {
        "nix-instantiate" => "instantiate",
        "nix-hash" => "hash",
        "nix-store" => "store",
        "nix-build" => "build",
        "nix-daemon" => "daemon",
        _ => return None,
    })
}

fn main() -> ExitCode {
    // `args_os`: `args` panics on an argument that is not UTF-8.
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = args.first().cloned().unwrap_or_default();
    let called_as = Path::new(&argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("nixkit")
        .to_owned();
    let (command, shown_as) = match command_of(&called_as) {
        Some(command) => (command.to_owned(), called_as),
        None => match args.get(1).and_then(|a| a.to_str()).and_then(|a| {
            matches!(
                a,
                "instantiate" | "build" | "store" | "hash" | "daemon" | "serve"
            )
            .then(|| a.to_owned())
        }) {
            Some(command) => {
                args.remove(0);
                let shown = format!("nixkit {command}");
                (command, shown)
            }
            None => return ExitCode::from(status(top_level(args))),
        },
    };
    let rest = args.split_off(1);
    ExitCode::from(status(run_command(&command, &shown_as, rest)))
}

fn status(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(1)
}

/// Reports an argument error as CppNix does (`error: unrecognised flag '--foo'`,
/// exit status 1); `--help` prints the help and succeeds.
fn args_failed(error: &clap::Error, shown_as: &str) -> i32 {
    match ArgsError::from_clap(error) {
        ArgsError::Help(text) => match output::bytes(text.as_bytes()) {
            Ok(()) => 0,
            Err(e) => output::write_failed(&e),
        },
        e => {
            eprintln!("error: {e}\nTry '{shown_as} --help' for more information.");
            1
        }
    }
}

/// Parses and runs `instantiate`, `build`, `store` or `hash` (and `daemon`, `serve` and
/// `store --serve`, whose parsers are their crates' or `daemon_cli`'s).
fn run_command(command: &str, shown_as: &str, rest: Vec<OsString>) -> i32 {
    match command {
        "daemon" => return daemon_cli::main(rest),
        "serve" => {
            let text: Vec<String> = rest
                .iter()
                .map(|a| arg_text(a).to_string_lossy().into_owned())
                .collect();
            return nixkit_serve::cli::main(&text);
        }
        "store" if rest.iter().any(|a| a == "--serve") => return daemon_cli::serve_main(rest),
        _ => {}
    }
    let Some(cmd) = args::subcommand(command, shown_as) else {
        return 1;
    };
    // The evaluator's commands take text (see `arg_text`); the store's take file names.
    let rest: Vec<OsString> = if matches!(command, "instantiate" | "build") {
        nixkit_alloc::start_prefault();
        rest.iter().map(|a| arg_text(a)).collect()
    } else {
        rest
    };
    let argv = std::iter::once(OsString::from(shown_as)).chain(rest);
    let matches = match cmd.try_get_matches_from(argv) {
        Ok(m) => m,
        Err(e) => return args_failed(&e, shown_as),
    };
    let run = {
        let (command, shown_as) = (command.to_owned(), shown_as.to_owned());
        move || match run_parsed(&command, &matches) {
            Ok(code) => code,
            Err(e) => args_failed(&e, &shown_as),
        }
    };
    if matches!(command, "instantiate" | "build") {
        on_eval_stack(run)
    } else {
        run()
    }
}

/// Runs a parsed command; an `Err` is an argument error.
fn run_parsed(command: &str, m: &ArgMatches) -> Result<i32, clap::Error> {
    let mut warn = |w: &str| eprintln!("{w}");
    Ok(match command {
        "instantiate" => {
            let opts = match nixkit_eval::cli::options_from_matches(m) {
                Ok(o) => o,
                Err(e) => {
                    eprintln!("error: {e}\nTry 'nix-instantiate --help' for more information.");
                    return Ok(1);
                }
            };
            // Not locked for the run: the evaluation writes its `trace:` lines as it goes.
            let stderr: nixkit_core::instantiate::SharedWriter =
                std::sync::Arc::new(std::sync::Mutex::new(std::io::stderr()));
            let result = nixkit_core::instantiate::run(
                &opts,
                &mut std::io::stdin().lock(),
                &mut std::io::stdout().lock(),
                &stderr,
                std::io::stderr().is_terminal(),
            );
            match result {
                Ok(code) => code,
                Err(nixkit_core::instantiate::InstantiateError::Stdout { error, status }) => {
                    output::write_failed(&error).max(status)
                }
                Err(e) => {
                    output::error(&e.to_string());
                    1
                }
            }
        }
        "build" => {
            let build = args::read::<args::BuildArgs>(m)?;
            let result = build
                .into_options(m, &mut warn)
                .and_then(|o| nixkit_core::build::run(&o, &mut std::io::stdout().lock()));
            match result {
                Ok(()) => 0,
                Err(nixkit_core::build::BuildCommandError::Stdout(e)) => output::write_failed(&e),
                Err(e) => {
                    output::error(&e.to_string());
                    1
                }
            }
        }
        "store" => {
            let command = match args::read::<args::StoreArgs>(m)?.into_command(&mut warn) {
                Ok(command) => command,
                Err(e) => {
                    output::error(&e.to_string());
                    return Ok(1);
                }
            };
            let Some((cmd, options)) = command else {
                output::error("no operation specified");
                return Ok(1);
            };
            let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
            let mut streams = nixkit_core::Streams {
                stdin: &mut stdin.lock(),
                stdout: &mut stdout.lock(),
                stderr: &mut stderr.lock(),
            };
            let result = nixkit_core::store::ops::run(&cmd, &options, &mut streams);
            let flushed = streams.stdout.flush();
            match result.and_then(|code| {
                flushed
                    .map(|()| code)
                    .map_err(nixkit_core::store::ops::StoreCommandError::Stdout)
            }) {
                Ok(code) => code,
                Err(nixkit_core::store::ops::StoreCommandError::Stdout(e)) => {
                    output::write_failed(&e)
                }
                Err(e) => {
                    output::error(&e.to_string());
                    1
                }
            }
        }
        "hash" => {
            let cmd = args::read::<args::HashArgs>(m)?.into_command();
            let mut stdout = std::io::stdout().lock();
            match nixkit_core::hash::run(&cmd, &mut stdout).and_then(|()| {
                stdout
                    .flush()
                    .map_err(nixkit_core::hash::HashCommandError::Stdout)
            }) {
                Ok(()) => 0,
                Err(nixkit_core::hash::HashCommandError::Stdout(e)) => output::write_failed(&e),
                Err(e) => {
                    output::error(&e.to_string());
                    1
                }
            }
        }
        _ => 1,
    })
}

/// `nixkit` without one of the classic commands: help, completions, man pages,
/// or an error naming the unknown command.
fn top_level(args: Vec<OsString>) -> i32 {
    if args.len() < 2 {
        let help = args::cli().render_help().to_string();
        eprintln!("{help}");
        return 1;
    }
    let matches = match args::cli().try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => return args_failed(&e, "nixkit"),
    };
    let cli = match <args::Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return args_failed(&e, "nixkit"),
    };
    match cli.command {
        args::TopCommand::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut args::cli(), "nixkit", &mut out);
            match output::bytes(&out) {
                Ok(()) => 0,
                Err(e) => output::write_failed(&e),
            }
        }
        args::TopCommand::Manpages { dir } => match write_manpages(&dir) {
            Ok(()) => 0,
            Err(e) => {
                output::error(&format!("writing man pages to '{}': {e}", dir.display()));
                1
            }
        },
        // Reached only if a classic command was not routed above.
        args::TopCommand::Build(_) | args::TopCommand::Store(_) | args::TopCommand::Hash(_) => 1,
    }
}

/// Writes `nixkit.1` and a page per command (`nixkit-build.1`, ...) into `dir`,
/// plus the multi-call names' pages (`nix-build.1`, ...).
fn write_manpages(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let write = |cmd: clap::Command, file: String| -> std::io::Result<()> {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut page)?;
        std::fs::write(dir.join(file), page)
    };
    let top = args::cli();
    for sub in top.get_subcommands() {
        let name = sub.get_name().to_owned();
        write(
            sub.clone().name(format!("nixkit-{name}")),
            format!("nixkit-{name}.1"),
        )?;
    }
    for (classic, command) in [
        ("nix-instantiate", "instantiate"),
        ("nix-build", "build"),
        ("nix-store", "store"),
        ("nix-hash", "hash"),
    ] {
        if let Some(cmd) = args::subcommand(command, classic) {
            write(cmd, format!("{classic}.1"))?;
        }
    }
    write(top, "nixkit.1".to_owned())
}

/// Stack reserved for the thread that evaluates (address space only: pages are
/// committed as they are first touched).
const EVAL_STACK: usize = 512 << 20;

/// Runs an evaluating command on a thread whose stack is large from the start.
/// The evaluator grows its stack with `stacker` when it runs low, a segment at a
/// time; every crossing into a segment maps it afresh and faults its pages in,
/// and a recursion oscillating around a segment's edge does so again and again
/// (97k page faults on a library workload with the main thread's 8 MiB). On
/// this stack ordinary evaluations never reach a segment's edge. When the
/// thread cannot be made (address space limits), or with
/// `NIXKIT_EVAL_THREAD=0` (to measure the difference), runs on this thread.
fn on_eval_stack(command: impl FnOnce() -> i32 + Send + 'static) -> i32 {
    if std::env::var_os("NIXKIT_EVAL_THREAD").is_some_and(|v| v == "0") {
        return command();
    }
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(command)));
    let theirs = slot.clone();
    let spawned = std::thread::Builder::new()
        .name("eval".into())
        .stack_size(EVAL_STACK)
        .spawn(move || {
            let command = theirs.lock().ok().and_then(|mut c| c.take());
            command.map(|c| c())
        });
    match spawned {
        // `None`: the command could not be taken (cannot happen: only this
        // thread takes it); a panic was reported by the thread (exit 101, as
        // Rust's default panic).
        Ok(handle) => handle.join().map_or(101, |status| status.unwrap_or(1)),
        Err(_) => match slot.lock().ok().and_then(|mut c| c.take()) {
            Some(command) => command(),
            None => 1,
        },
    }
}
