//! `nixkit`: one multi-call binary over the nixkit crates.
//!
//! Invoked as `nixkit instantiate ...` (or `store`, `hash`, `build`), or
//! through a symlink named like the classic CppNix command
//! (`nix-instantiate`, `nix-store`, `nix-hash`, `nix-build`), in which case
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

/// std's `eprint!`, except that a failing standard error is ignored (see `eprintln!`).
macro_rules! eprint {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

mod build_cli;
mod eval_cli;
mod hash;
mod instantiate;
mod output;
mod store_cli;

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

/// mimalloc is 5–20 % faster than the system allocator on the evaluator's
/// many small, short-lived allocations, and uses less memory
/// (crates/eval/PERFORMANCE.md); see `nixkit-alloc` for how it is called.
#[global_allocator]
static GLOBAL: nixkit_alloc::Mimalloc = nixkit_alloc::Mimalloc;

const USAGE: &str = "usage: nixkit <command> [args...]

commands:
  instantiate   evaluate or parse Nix expressions (like nix-instantiate)
  hash          compute and convert hashes (like nix-hash)
  store         manipulate the store (like nix-store)
  build         build derivations in a sandbox (like nix-build)

The binary also acts as `nix-instantiate`, `nix-hash` or `nix-store` when invoked through a
symlink of that name.";

/// An argument as text. Bytes that are not UTF-8 are kept reversibly as the escape
/// characters `nixkit_syntax` uses for such bytes in Nix strings, so they reach the
/// evaluator (and go back out) unchanged; commands that take file names use the raw
/// [`OsString`] instead.
pub(crate) fn arg_text(arg: &std::ffi::OsStr) -> String {
    use std::os::unix::ffi::OsStrExt;
    nixkit_syntax::decode_bytes(arg.as_bytes()).into_owned()
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
    let command = match called_as.as_str() {
        "nix-instantiate" => "instantiate".to_owned(),
        "nix-hash" => "hash".to_owned(),
        "nix-store" => "store".to_owned(),
        "nix-build" => "build".to_owned(),
        _ => {
            if args.len() < 2 {
                eprintln!("{USAGE}");
                return ExitCode::from(1);
            }
            arg_text(&args.remove(1))
        }
    };
    let rest = args.split_off(1);
    if matches!(command.as_str(), "instantiate" | "build") {
        nixkit_alloc::start_prefault();
    }
    let text_args = || rest.iter().map(|a| arg_text(a)).collect::<Vec<String>>();
    let status = match command.as_str() {
        "instantiate" => {
            let args = text_args();
            on_eval_stack(move || instantiate::main(args))
        }
        "hash" => hash::main(rest),
        "store" => store_cli::main(rest),
        "build" => {
            let args = text_args();
            on_eval_stack(move || build_cli::main(args))
        }
        "--help" | "-h" | "help" => match output::line(USAGE) {
            Ok(()) => 0,
            Err(e) => output::write_failed(&e),
        },
        other => {
            eprintln!("error: unknown command '{other}'\n\n{USAGE}");
            1
        }
    };
    ExitCode::from(u8::try_from(status).unwrap_or(1))
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
