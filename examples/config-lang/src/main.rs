//! nixkit as a configuration language.
//!
//! Evaluates a `.nix` configuration file in pure mode with a sandboxed file
//! system (only the configuration's directory can be read), one builtin
//! written in Rust (`env`) and one in Nix (`mkService`), a call-depth limit,
//! a step budget and a watchdog that cancels evaluation from another thread;
//! then deserializes the result into [`Config`] with serde and prints it.
//!
//! ```text
//! cargo run -p nixkit-example-config -- examples/config-lang/config/app.nix
//! ```

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nixkit_eval::{EvalError, EvalIo, EvalPath, Evaluator, FileType, StdIo, Value};
use serde::Deserialize;

/// The application's configuration, as Rust sees it.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // Fields are only printed.
struct Config {
    name: String,
    stage: String,
    services: BTreeMap<String, Service>,
    log: LogLevel,
    motd: String,
}

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Service {
    port: u16,
    replicas: u8,
    tls: bool,
    url: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum LogLevel {
    Warn,
    Verbose(u8),
}

/// File access confined to one directory (symlinks are resolved first, so
/// they cannot lead outside); no environment variables.
struct SandboxIo {
    root: PathBuf,
}

impl SandboxIo {
    fn check(&self, path: EvalPath<'_>) -> io::Result<()> {
        // A missing file is reported as missing (so `pathExists` works).
        let real = std::fs::canonicalize(path.to_os_path())?;
        if real.starts_with(&self.root) {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "access outside the configuration directory {} is not allowed",
                    self.root.display()
                ),
            ))
        }
    }
}

impl EvalIo for SandboxIo {
    fn read_file(&self, path: EvalPath<'_>) -> io::Result<Vec<u8>> {
        self.check(path)?;
        StdIo.read_file(path)
    }
    fn read_dir(&self, path: EvalPath<'_>) -> io::Result<Vec<(String, FileType)>> {
        self.check(path)?;
        StdIo.read_dir(path)
    }
    fn file_type(&self, path: EvalPath<'_>, follow: bool) -> io::Result<FileType> {
        self.check(path)?;
        StdIo.file_type(path, follow)
    }
    fn is_executable(&self, path: EvalPath<'_>) -> io::Result<bool> {
        self.check(path)?;
        StdIo.is_executable(path)
    }
    fn read_link(&self, path: EvalPath<'_>) -> io::Result<String> {
        self.check(path)?;
        StdIo.read_link(path)
    }
    fn get_env(&self, _name: &str) -> Option<String> {
        None
    }
}

/// `env name default`: the host variable `APP_<name>`, or `default`. The
/// only way configuration code sees the environment.
fn env_builtin(s: &mut nixkit_eval::EvalState, args: &[Value]) -> Result<Value, EvalError> {
    let name: String = nixkit_eval::serde::from_value(s, &args[0])
        .map_err(|e| EvalError::eval(format!("env: {e}")))?;
    match std::env::var(format!("APP_{name}")) {
        Ok(v) => Ok(Value::string(v)),
        Err(_) => s.force(&args[1]),
    }
}

/// `mkService { port, replicas ? 1, tls ? false }`, written in Nix.
const MK_SERVICE: &str = r#"
  { port, replicas ? 1, tls ? false }: {
    inherit port replicas tls;
    url = "${if tls then "https" else "http"}://localhost:${toString port}";
  }
"#;

fn run(file: &Path) -> Result<Config, String> {
    let file = std::fs::canonicalize(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let root = file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));

    // A watchdog cancels evaluation that runs too long.
    let cancel = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(5));
            cancel.store(true, Ordering::Relaxed);
        })
    };
    drop(watchdog); // Detached: it only ever sets the flag.

    let mut ev = Evaluator::builder()
        .pure(true)
        .io(Arc::new(SandboxIo { root }))
        // File access is confined to the configuration's directory: fetching is off too.
        .fetcher(Arc::new(nixkit_fetch::NoFetcher))
        .search_path([(
            "config".to_string(),
            file.parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        )])
        .max_call_depth(500)
        .max_steps(1_000_000)
        .cancel_flag(cancel)
        .builtin("env", 2, env_builtin)
        .builtin_nix("mkService", MK_SERVICE)
        .build();

    let path = file.to_string_lossy().into_owned();
    let value = ev.eval_file(&path).map_err(|e| e.render(false))?;
    nixkit_eval::serde::from_value_named(ev.state(), &value, "config").map_err(|e| {
        match e.eval_error() {
            Some(eval) => format!("{e}\n{}", eval.render(false)),
            None => e.to_string(),
        }
    })
}

/// Evaluate a Nix configuration file in a sandbox and print it as a typed configuration.
#[derive(clap::Parser)]
#[command(name = "nixkit-example-config")]
struct Args {
    /// The configuration file (only its directory can be read).
    config: PathBuf,
}

fn main() {
    let args = <Args as clap::Parser>::parse();
    match run(&args.config) {
        Ok(config) => println!("{config:#?}"),
        Err(e) => {
            let e = e.trim_end();
            if e.starts_with("error:") {
                eprintln!("{e}");
            } else {
                eprintln!("error: {e}");
            }
            std::process::exit(1);
        }
    }
}
