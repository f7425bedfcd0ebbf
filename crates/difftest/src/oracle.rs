//! The two evaluators: nixkit in-process (with a step budget, panics caught)
//! and CppNix's `nix-instantiate --eval --strict` as a child process (with a
//! time limit), each giving an [`Outcome`].

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nixkit_eval::{ErrorKind, Evaluator};

use crate::outcome::{classify, ErrorClass, Outcome};

/// Evaluation steps nixkit may take per expression before it counts as a timeout.
pub const NIXKIT_STEP_BUDGET: u64 = 20_000_000;

/// Evaluates `text` with nixkit as `nix-instantiate --eval --strict -E` does
/// and prints the result.
pub fn eval_nixkit(text: &str) -> Outcome {
    let run = catch_unwind(AssertUnwindSafe(|| {
        let mut ev = Evaluator::builder()
            .max_steps(NIXKIT_STEP_BUDGET)
            .messages(Arc::new(|_: &str| {}))
            .build();
        match ev.eval_str(text, "/tmp").and_then(|v| ev.print(&v, true)) {
            Ok(printed) => Outcome::from_run(true, &printed, ""),
            Err(e) => {
                let line = e.message().lines().next().unwrap_or("").trim().to_string();
                let class = match e.kind() {
                    ErrorKind::StepLimit | ErrorKind::Cancelled => ErrorClass::Timeout,
                    ErrorKind::StackOverflow => ErrorClass::CallDepth,
                    ErrorKind::InfiniteRecursion => ErrorClass::InfiniteRecursion,
                    ErrorKind::Abort => ErrorClass::Abort,
                    ErrorKind::Assert => ErrorClass::Assert,
                    ErrorKind::Throw => ErrorClass::Throw,
                    // CppNix reports undefined variables while parsing too.
                    ErrorKind::Parse if classify(&line) != ErrorClass::UndefinedVariable => {
                        ErrorClass::Syntax
                    }
                    _ => classify(&line),
                };
                Outcome::Error(class, line)
            }
        }
    }));
    run.unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Outcome::Error(ErrorClass::Panic, format!("nixkit panicked: {msg}"))
    })
}

/// Failure to run CppNix at all.
#[derive(Debug, thiserror::Error)]
pub enum OracleError {
    /// The program could not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// Waiting for or reading from the program failed.
    #[error("reading from {program}: {source}")]
    Io {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
}

/// CppNix's `nix-instantiate`, run once per evaluation.
#[derive(Clone, Debug)]
pub struct CppNix {
    /// The program (`nix-instantiate` by default).
    pub program: String,
    /// How long one evaluation may take.
    pub timeout: Duration,
}

impl Default for CppNix {
    fn default() -> Self {
        CppNix {
            program: "nix-instantiate".to_string(),
            timeout: Duration::from_secs(20),
        }
    }
}

impl CppNix {
    /// Whether the program runs at all (`--version`).
    pub fn available(&self) -> bool {
        Command::new(&self.program)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// The names of the oracle's builtins (`builtins.attrNames builtins`).
    pub fn builtin_names(&self) -> Result<BTreeSet<String>, OracleError> {
        let (ok, out, _) =
            self.run("builtins.concatStringsSep \" \" (builtins.attrNames builtins)")?;
        if !ok {
            return Ok(BTreeSet::new());
        }
        Ok(out
            .trim()
            .trim_matches('"')
            .split_whitespace()
            .map(str::to_string)
            .collect())
    }

    /// Evaluates `text` (`--eval --strict`, the expression read from standard input).
    pub fn eval(&self, text: &str) -> Result<Outcome, OracleError> {
        let (ok, out, err) = self.run(text)?;
        if !ok && err.is_empty() {
            return Ok(Outcome::Error(
                ErrorClass::Timeout,
                "timed out or killed".to_string(),
            ));
        }
        Ok(Outcome::from_run(ok, &out, &err))
    }

    fn run(&self, text: &str) -> Result<(bool, String, String), OracleError> {
        let io = |source| OracleError::Io {
            program: self.program.clone(),
            source,
        };
        let mut child = Command::new(&self.program)
            .args(["--eval", "--strict", "-"])
            .env("NIX_PATH", "")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| OracleError::Spawn {
                program: self.program.clone(),
                source,
            })?;
        let stdin = child.stdin.take();
        let input = text.as_bytes().to_vec();
        let writer = std::thread::spawn(move || {
            if let Some(mut s) = stdin {
                // A closed pipe (the program exited early) is not an error here.
                let _ = s.write_all(&input);
            }
        });
        let stdout_reader = child.stdout.take().map(spawn_reader);
        let stderr_reader = child.stderr.take().map(spawn_reader);
        let deadline = Instant::now() + self.timeout;
        let status = loop {
            if let Some(status) = child.try_wait().map_err(io)? {
                break Some(status);
            }
            if Instant::now() > deadline {
                // Already exited is fine; the outcome is a timeout either way.
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let _ = writer.join();
        let out = stdout_reader
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let err = stderr_reader
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        match status {
            Some(s) => Ok((s.success(), out, err)),
            None => Ok((false, out, String::new())),
        }
    }
}

fn spawn_reader<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        // A read error leaves what was read so far.
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}
