//! osconf, an OS configurator on nixkit: this crate ships osconf's Nix code (the module
//! system in `nix/lib`, the option modules in `nix/modules`, `nix/eval-config.nix`) and
//! evaluates configurations with nixkit's evaluator; `generations` keeps the system
//! profile of a target and its id map, `target` a target root and its store, `build`
//! builds a configuration into it, `lock` holds its locks, `activation` installs a
//! built system, `diff` tells what activation would change, `container` boots a
//! target's system in a container (`osconf run`) and activates systems live inside it,
//! and `commands` are osconf's commands.

use std::path::{Path, PathBuf};

pub mod activation;
pub mod build;
pub mod commands;
pub mod container;
pub mod diff;
pub mod generations;
pub mod lock;
pub mod target;

use nixkit_eval::cli::{parse_args, run, CliEnv};

/// The directory holding osconf's Nix code (`lib/`, `modules/`, `eval-config.nix`).
pub fn nix_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("nix")
}

/// Why evaluating a Nix expression failed.
#[derive(Debug, thiserror::Error)]
pub enum EvalJsonError {
    /// The evaluation ended with an error; the text is the evaluator's rendering of it.
    #[error("{0}")]
    Eval(String),
    /// The evaluation thread could not be started or ended abnormally.
    #[error("evaluation thread failed: {0}")]
    Thread(String),
}

/// Evaluates `expr` (Nix source, resolved against `cwd`) strictly and returns its JSON
/// text, as `nix-instantiate --eval --strict --json --expr` does.
pub fn eval_json(expr: &str, cwd: &Path) -> Result<String, EvalJsonError> {
    let opts = parse_args(&["--eval", "--strict", "--json", "--expr", expr])
        .map_err(|e| EvalJsonError::Eval(e.to_string()))?;
    let env = CliEnv::new(cwd.to_string_lossy());
    // Module evaluation recurses deeply: give it the stack the command line has.
    let handle = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let (mut out, mut err) = (String::new(), String::new());
            let code = run(&opts, &env, &mut out, &mut err);
            (code, out, err)
        })
        .map_err(|e| EvalJsonError::Thread(e.to_string()))?;
    let (code, out, err) = handle
        .join()
        .map_err(|_| EvalJsonError::Thread("evaluation panicked".to_string()))?;
    if code != 0 {
        return Err(EvalJsonError::Eval(err));
    }
    Ok(out)
}

/// Evaluates the configuration in `config_file` with osconf's modules and returns its
/// `config` (without the module system's `_module`) as JSON text.
pub fn eval_config_json(config_file: &Path) -> Result<String, EvalJsonError> {
    eval_config_json_with(config_file, &[])
}

/// As [`eval_config_json`], with more modules (Nix source, e.g.
/// [`generations::IdMap::to_module`]).
pub fn eval_config_json_with(
    config_file: &Path,
    extra_modules: &[String],
) -> Result<String, EvalJsonError> {
    let expr = format!(
        "(import {} {{ configuration = {}; extraModules = [ {} ]; }}).json",
        nix_string(&nix_dir().join("eval-config.nix").to_string_lossy()),
        nix_string(&config_file.to_string_lossy()),
        extra_modules
            .iter()
            .map(|m| format!("({m})"))
            .collect::<Vec<_>>()
            .join(" "),
    );
    let cwd = config_file.parent().unwrap_or(Path::new("/"));
    eval_json(&expr, cwd)
}

/// `s` as a Nix string literal.
pub fn nix_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' | '$' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}
