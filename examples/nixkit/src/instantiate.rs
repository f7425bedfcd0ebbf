//! `nixkit instantiate` / `nix-instantiate`: `--parse` mode here, everything
//! else through [`crate::eval_cli`]. Flag parsing is shared with evaluation
//! (`nixkit_eval::cli::parse_args`).

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nixkit_eval::cli::{parse_args, EvalCliOptions};
use nixkit_syntax::{ParseOptions, SourceName};

/// Entry point of the `instantiate` command; returns the exit status.
pub(crate) fn main(argv: Vec<String>) -> i32 {
    if !argv.iter().any(|a| a == "--parse") {
        return crate::eval_cli::run_eval(&crate::eval_cli::EvalCliOptions { args: argv });
    }
    let rest: Vec<&String> = argv.iter().filter(|a| *a != "--parse").collect();
    match parse_args(&rest) {
        Ok(opts) => run_parse(&opts),
        Err(e) => {
            eprintln!("error: {e}\nTry 'nix-instantiate --help' for more information.");
            1
        }
    }
}

/// Reads what to parse: `(source name, base directory, text)` for each input.
fn read_inputs(opts: &EvalCliOptions) -> Result<Vec<(SourceName, PathBuf, Vec<u8>)>, String> {
    let cwd =
        std::env::current_dir().map_err(|e| format!("cannot get the current directory: {e}"))?;
    let mut out = Vec::new();
    if opts.installables.from_expr {
        for e in &opts.installables.inputs {
            out.push((SourceName::String, cwd.clone(), e.clone().into_bytes()));
        }
        return Ok(out);
    }
    let inputs = if opts.installables.inputs.is_empty() {
        vec!["-".to_owned()]
    } else {
        opts.installables.inputs.clone()
    };
    for input in inputs {
        if input == "-" {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| format!("reading standard input: {e}"))?;
            out.push((SourceName::Stdin, cwd.clone(), buf));
        } else {
            // Back to the argument's bytes (see `crate::arg_text`).
            let raw = nixkit_syntax::encode_bytes(&input);
            let mut path = cwd.join(std::ffi::OsStr::from_bytes(&raw));
            if path.is_dir() {
                path = path.join("default.nix");
            }
            let text = std::fs::read(&path)
                .map_err(|e| format!("opening file '{}': {e}", path.display()))?;
            let dir = path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| cwd.clone());
            out.push((SourceName::Path(path.display().to_string()), dir, text));
        }
    }
    Ok(out)
}

fn run_parse(opts: &EvalCliOptions) -> i32 {
    let inputs = match read_inputs(opts) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let pure = opts.pure == Some(true);
    for (name, dir, text) in inputs {
        let mut parse_opts = ParseOptions::new(dir.display().to_string());
        if !pure {
            if let Ok(home) = std::env::var("HOME") {
                parse_opts = parse_opts.with_home(home);
            }
        }
        let parsed = nixkit_syntax::parse_bytes(&text, &parse_opts);
        if let Some(err) = parsed.errors().first() {
            eprint!("{}", err.render(&parsed.source(name)));
            return 1;
        }
        let printed = format!("{}\n", parsed.to_cppnix_string());
        if let Err(e) = crate::output::bytes(&nixkit_syntax::encode_bytes(&printed)) {
            return crate::output::write_failed(&e);
        }
    }
    0
}
