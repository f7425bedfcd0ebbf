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
mod daemon_cli;
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
  daemon        serve the store to Nix clients on a Unix socket (like nix-daemon)
  serve         serve the store as an HTTP binary cache (like nix-serve)

The binary also acts as `nix-instantiate`, `nix-hash`, `nix-store`, `nix-build` or `nix-daemon` when invoked through a
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
        "nix-daemon" => "daemon".to_owned(),
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
        "instantiate" => instantiate::main(text_args()),
        "hash" => hash::main(rest),
        "store" => store_cli::main(rest),
        "build" => build_cli::main(text_args()),
        "daemon" => daemon_cli::main(rest),
        "serve" => nixkit_serve::cli::main(&text_args()),
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
