//! `nixkit instantiate` / `nix-instantiate`: argument parsing and the
//! `--parse` mode.

use std::io::Read;
use std::path::{Path, PathBuf};

use nixkit_syntax::{ParseOptions, SourceName};

/// Every flag `nix-instantiate` understands that nixkit implements.
#[derive(Debug, Clone, Default)]
pub(crate) struct InstantiateArgs {
    pub(crate) parse_only: bool,
    pub(crate) eval: bool,
    pub(crate) strict: bool,
    pub(crate) json: bool,
    pub(crate) xml: bool,
    pub(crate) raw: bool,
    pub(crate) no_location: bool,
    pub(crate) show_trace: bool,
    pub(crate) impure: bool,
    pub(crate) pure_eval: bool,
    pub(crate) read_write_mode: bool,
    pub(crate) trace_verbose: bool,
    pub(crate) abort_on_warn: bool,
    pub(crate) expr_mode: bool,
    pub(crate) inputs: Vec<String>,
    pub(crate) attr_paths: Vec<String>,
    /// `--arg name expr`.
    pub(crate) args: Vec<(String, String)>,
    /// `--argstr name value`.
    pub(crate) argstrs: Vec<(String, String)>,
    /// `-I path` entries, in order.
    pub(crate) include: Vec<String>,
    /// `--option name value` and the `--name value` settings forms.
    pub(crate) options: Vec<(String, String)>,
    pub(crate) max_call_depth: Option<u32>,
    pub(crate) add_root: Option<String>,
    pub(crate) indirect: bool,
}

fn take(args: &mut std::vec::IntoIter<String>, flag: &str) -> Result<String, String> {
    args.next().ok_or_else(|| format!("flag '{flag}' requires an argument"))
}

/// Parses `nix-instantiate` arguments.
pub(crate) fn parse_args(argv: Vec<String>) -> Result<InstantiateArgs, String> {
    let mut a = InstantiateArgs::default();
    let mut it = argv.into_iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--parse" => a.parse_only = true,
            "--eval" | "--eval-only" => a.eval = true,
            "--strict" => a.strict = true,
            "--json" => a.json = true,
            "--xml" => a.xml = true,
            "--raw" => a.raw = true,
            "--no-location" => a.no_location = true,
            "--show-trace" => a.show_trace = true,
            "--no-show-trace" => a.show_trace = false,
            "--impure" => a.impure = true,
            "--pure-eval" => a.pure_eval = true,
            "--read-write-mode" => a.read_write_mode = true,
            "--readonly-mode" => a.read_write_mode = false,
            "--trace-verbose" => a.trace_verbose = true,
            "--abort-on-warn" => a.abort_on_warn = true,
            "--indirect" => a.indirect = true,
            "-E" | "--expr" => a.expr_mode = true,
            "-A" | "--attr" => a.attr_paths.push(take(&mut it, &arg)?),
            "--arg" => {
                let name = take(&mut it, &arg)?;
                a.args.push((name, take(&mut it, &arg)?));
            }
            "--argstr" => {
                let name = take(&mut it, &arg)?;
                a.argstrs.push((name, take(&mut it, &arg)?));
            }
            "-I" | "--include" => a.include.push(take(&mut it, &arg)?),
            "--option" => {
                let name = take(&mut it, &arg)?;
                a.options.push((name, take(&mut it, &arg)?));
            }
            "--max-call-depth" => {
                let v = take(&mut it, &arg)?;
                a.max_call_depth = Some(v.parse().map_err(|_| format!("invalid value '{v}' for --max-call-depth"))?);
            }
            "--add-root" => a.add_root = Some(take(&mut it, &arg)?),
            "--extra-experimental-features" | "--experimental-features" => {
                let v = take(&mut it, &arg)?;
                a.options.push((arg.trim_start_matches("--").to_owned(), v));
            }
            s if s.starts_with("--lint-") => {
                let v = take(&mut it, &arg)?;
                a.options.push((s.trim_start_matches("--").to_owned(), v));
            }
            "-" => a.inputs.push(arg),
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unrecognised flag '{s}'")),
            _ => a.inputs.push(arg),
        }
    }
    Ok(a)
}

/// Entry point of the `instantiate` command; returns the exit status.
pub(crate) fn main(argv: Vec<String>) -> i32 {
    if !argv.iter().any(|a| a == "--parse") {
        return crate::eval_cli::run_eval(&crate::eval_cli::EvalCliOptions { args: argv });
    }
    let args = match parse_args(argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}\nTry 'nix-instantiate --help' for more information.");
            return 1;
        }
    };
    if args.parse_only {
        return run_parse(&args);
    }
    eprintln!("error: evaluation is not available in this build yet");
    1
}

/// Reads what to parse: `(source name, base directory, text)` for each input.
fn read_inputs(args: &InstantiateArgs) -> Result<Vec<(SourceName, PathBuf, Vec<u8>)>, String> {
    let cwd = std::env::current_dir().map_err(|e| format!("cannot get the current directory: {e}"))?;
    let mut out = Vec::new();
    if args.expr_mode {
        for e in &args.inputs {
            out.push((SourceName::String, cwd.clone(), e.clone().into_bytes()));
        }
        return Ok(out);
    }
    let inputs = if args.inputs.is_empty() { vec!["-".to_owned()] } else { args.inputs.clone() };
    for input in inputs {
        if input == "-" {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map_err(|e| format!("reading standard input: {e}"))?;
            out.push((SourceName::Stdin, cwd.clone(), buf));
        } else {
            let mut path = cwd.join(&input);
            if path.is_dir() {
                path = path.join("default.nix");
            }
            let text = std::fs::read(&path).map_err(|e| format!("opening file '{}': {e}", path.display()))?;
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| cwd.clone());
            out.push((SourceName::Path(path.display().to_string()), dir, text));
        }
    }
    Ok(out)
}

fn run_parse(args: &InstantiateArgs) -> i32 {
    let inputs = match read_inputs(args) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    for (name, dir, text) in inputs {
        let mut opts = ParseOptions::new(dir.display().to_string());
        if !args.pure_eval {
            if let Ok(home) = std::env::var("HOME") {
                opts = opts.with_home(home);
            }
        }
        let parsed = nixkit_syntax::parse_bytes(&text, &opts);
        if let Some(err) = parsed.errors().first() {
            eprint!("{}", err.render(&parsed.source(name)));
            return 1;
        }
        println!("{}", parsed.to_cppnix_string());
    }
    0
}
