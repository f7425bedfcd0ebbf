//! Building one derivation whose inputs are valid: compute the input closure and the
//! environment, run the builder in a fresh sandbox (or `builtin:fetchurl` in-process),
//! then process and register the outputs. [`BuildMode::Check`] rebuilds valid outputs and
//! compares them with the registered ones instead of registering.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nixkit_derivation::{parse_derivation, Derivation, ParseDerivationError};
use nixkit_store::local::{LocalStore, QueryError};
use nixkit_store::StorePath;

use crate::env::{BuilderEnv, EnvError, EnvParams};
use crate::layout::{BuildDir, SandboxSpec};
use crate::register::{commit_outputs, output_paths, stage_outputs, RegisterError, Staged};
use crate::run::{run_sandboxed, RunOptions, RunOutcome, SandboxError};

/// Settings shared by every build.
#[derive(Debug, Clone)]
pub struct BuildSettings {
    /// `NIX_BUILD_CORES`.
    pub cores: usize,
    /// `--max-silent-time`.
    pub max_silent_time: Option<Duration>,
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// `--keep-failed`: keep the build directory of failed builds.
    pub keep_failed: bool,
    /// Extra paths visible in every sandbox (host path, path inside), e.g. `/bin/sh`.
    pub sandbox_paths: Vec<(PathBuf, String)>,
    /// When building as root, build user `n` maps to host uid/gid `build_uid_base + n`.
    pub build_uid_base: u32,
    /// Where build directories go (default: `<state>/builds`).
    pub builds_dir: Option<PathBuf>,
    /// The platform builders run on (`x86_64-linux`); derivations for another fail.
    pub system: String,
    /// `max-log-size`: kill a builder that writes more than this many bytes of log.
    pub max_log_size: Option<u64>,
    /// At most this many processes (and threads) per build; a fork bomb fails its build.
    pub max_processes: Option<u64>,
    /// Fail a build whose outputs together hold more than this many bytes of file data.
    pub max_output_size: Option<u64>,
    /// `sandbox-dev-shm-size`: the size of the sandbox's `/dev/shm` tmpfs (`50%` of RAM).
    pub dev_shm_size: Option<String>,
    /// The size of the sandbox's `/tmp` tmpfs (`50%` of RAM).
    pub tmp_size: Option<String>,
    /// `use-cgroups`: run each build in a cgroup v2 of its own (killed as a whole at the
    /// end); implied by `memory_max` and `cpu_max`.
    pub use_cgroups: bool,
    /// The memory limit of a build, in bytes (a cgroup's `memory.max`).
    pub memory_max: Option<u64>,
    /// The CPU limit of a build, in cores (a cgroup's `cpu.max`).
    pub cpu_max: Option<f64>,
    /// Let builders reach abstract Unix sockets outside their sandbox (fixed-output builds
    /// share the host network, where those live); by default a Landlock scope forbids it.
    pub share_abstract_sockets: bool,
    /// `hashed-mirrors`: where `builtin:fetchurl` first looks a flat fixed-output fetch
    /// up, as `MIRROR/<algo>/<base16 hash>` (only `file://` mirrors are read).
    pub hashed_mirrors: Vec<String>,
}

/// The default of [`BuildSettings::max_processes`]: far more than any build needs, far
/// fewer than brings a host down.
pub const DEFAULT_MAX_PROCESSES: u64 = 8192;

impl Default for BuildSettings {
    fn default() -> Self {
        Self {
            cores: 1,
            max_silent_time: None,
            timeout: None,
            keep_failed: false,
            sandbox_paths: Vec::new(),
            build_uid_base: crate::DEFAULT_BUILD_UID,
            builds_dir: None,
            system: format!("{}-linux", std::env::consts::ARCH),
            max_log_size: None,
            max_processes: Some(DEFAULT_MAX_PROCESSES),
            max_output_size: None,
            dev_shm_size: None,
            tmp_size: None,
            use_cgroups: false,
            memory_max: None,
            cpu_max: None,
            share_abstract_sockets: false,
            hashed_mirrors: Vec::new(),
        }
    }
}

impl BuildSettings {
    /// Applies setting `name` (`--option NAME VALUE`), spelled as CppNix spells it where
    /// CppNix has it (`max-log-size`, `max-silent-time`, `timeout`, `cores`,
    /// `keep-failed`, `sandbox-dev-shm-size`, `use-cgroups`, `build-dir`,
    /// `hashed-mirrors` (space-separated URLs)) and
    /// `build-max-processes`, `build-max-output-size`, `build-memory-max` (bytes),
    /// `build-cpu-max` (cores), `sandbox-tmp-size` and `sandbox-share-abstract-sockets`
    /// for nixkit's own; sizes and
    /// times of 0 mean unlimited. Returns false for a setting it does not know.
    pub fn set_option(&mut self, name: &str, value: &str) -> Result<bool, String> {
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("invalid value '{value}' for setting '{name}'"))
        };
        let limit = || number().map(|n| Some(n).filter(|n| *n > 0));
        let boolean = || match value {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(format!("invalid Boolean '{value}' for setting '{name}'")),
        };
        let secs = || limit().map(|n| n.map(Duration::from_secs));
        match name {
            "max-log-size" => self.max_log_size = limit()?,
            "max-silent-time" => self.max_silent_time = secs()?,
            "timeout" => self.timeout = secs()?,
            "cores" => self.cores = usize::try_from(number()?).map_err(|e| e.to_string())?,
            "keep-failed" => self.keep_failed = boolean()?,
            "sandbox-dev-shm-size" => self.dev_shm_size = Some(value.to_owned()),
            "sandbox-tmp-size" => self.tmp_size = Some(value.to_owned()),
            "use-cgroups" => self.use_cgroups = boolean()?,
            "sandbox-share-abstract-sockets" => self.share_abstract_sockets = boolean()?,
            "build-dir" => self.builds_dir = Some(PathBuf::from(value)),
            "hashed-mirrors" => {
                self.hashed_mirrors = value.split_whitespace().map(str::to_owned).collect();
            }
            "build-max-processes" => self.max_processes = limit()?,
            "build-max-output-size" => self.max_output_size = limit()?,
            "build-memory-max" => self.memory_max = limit()?,
            "build-cpu-max" => {
                let cores = value
                    .parse::<f64>()
                    .ok()
                    .filter(|c| c.is_finite() && *c >= 0.0)
                    .ok_or_else(|| format!("invalid value '{value}' for setting '{name}'"))?;
                self.cpu_max = Some(cores).filter(|c| *c > 0.0);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// Whether to build and register, or to rebuild and compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildMode {
    /// Build and register the outputs.
    Normal,
    /// Rebuild valid outputs and compare (`--check`).
    Check,
}

/// Why a derivation could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The builder failed or was killed.
    #[error("{}", failure_message(.drv, .outcome, .tail, .log.as_deref()))]
    Failed {
        /// The derivation.
        drv: String,
        /// How the builder ended.
        outcome: RunOutcome,
        /// The last lines of its log.
        tail: Vec<String>,
        /// Where the full log is.
        log: Option<PathBuf>,
    },
    /// `--check` found a different output (CppNix's message; with `--keep-failed` the new
    /// output is kept, unregistered, as `<output>.check`).
    #[error("derivation '{drv}' may not be deterministic: output '{output}' differs{}", .kept.as_ref().map(|k| format!(" from '{}'", k.display())).unwrap_or_default())]
    NotDeterministic {
        /// The derivation.
        drv: String,
        /// The differing output (its real path, as CppNix prints it).
        output: String,
        /// Where the rebuilt output was kept, if it was.
        kept: Option<PathBuf>,
    },
    /// `--check` of a derivation whose outputs are not valid.
    #[error("some outputs of '{0}' are not valid, so checking is not possible")]
    CheckNotValid(String),
    /// The derivation is for another platform.
    #[error("a '{wanted}' with features {{}} is required to build '{drv}', but I am a '{have}'")]
    WrongSystem {
        /// The derivation.
        drv: String,
        /// Its system.
        wanted: String,
        /// Ours.
        have: String,
    },
    /// `builtin:fetchurl` failed.
    #[error("builtin:fetchurl for '{drv}': {reason}")]
    Fetch {
        /// The derivation.
        drv: String,
        /// What went wrong.
        reason: String,
    },
    /// Building on a remote machine failed.
    #[error("building '{drv}' on '{machine}': {reason}")]
    Remote {
        /// The derivation.
        drv: String,
        /// The machine's URI.
        machine: String,
        /// What went wrong.
        reason: String,
    },
    /// A remote machine could not be reached or failed while copying (not the build
    /// itself): the scheduler tries another machine, or here.
    #[error("machine '{machine}' failed while building '{drv}': {reason}")]
    RemoteUnavailable {
        /// The derivation.
        drv: String,
        /// The machine's URI.
        machine: String,
        /// What went wrong.
        reason: String,
    },
    /// No machine may build the derivation: CppNix's words for it.
    #[error("a '{system}' with features {{{features}}} is required to build '{drv}', but I am a '{local}' with features {{}}")]
    NoMachine {
        /// The derivation.
        drv: String,
        /// Its system.
        system: String,
        /// The features it asks for, comma-separated.
        features: String,
        /// The local system.
        local: String,
    },
    /// Another built-in builder (`builtin:buildenv`) failed.
    #[error("builder for '{drv}' failed: {reason}")]
    Builtin {
        /// The derivation.
        drv: String,
        /// What went wrong.
        reason: String,
    },
    /// An unknown `builtin:` builder.
    #[error("unsupported builtin builder '{0}'")]
    UnknownBuiltin(String),
    /// A `.drv` file could not be read or parsed.
    #[error("reading derivation '{path}': {reason}")]
    ReadDerivation {
        /// The `.drv` path.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A file system operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The sandbox could not be set up.
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
    /// The outputs could not be processed or registered.
    #[error(transparent)]
    Register(#[from] RegisterError),
    /// The environment could not be computed.
    #[error(transparent)]
    Env(#[from] EnvError),
    /// A store query failed.
    #[error(transparent)]
    Query(#[from] QueryError),
}

fn failure_message(
    drv: &str,
    outcome: &RunOutcome,
    tail: &[String],
    log: Option<&std::path::Path>,
) -> String {
    let mut msg = match outcome {
        RunOutcome::Exited(code) => format!("builder for '{drv}' failed with exit code {code}"),
        RunOutcome::Silent(t) => format!(
            "builder for '{drv}' timed out after {} seconds of silence",
            t.as_secs()
        ),
        RunOutcome::TimedOut(t) => format!(
            "builder for '{drv}' timed out after {} seconds",
            t.as_secs()
        ),
        RunOutcome::Interrupted => format!("build of '{drv}' was interrupted"),
        RunOutcome::OutOfMemory(max) => format!(
            "builder for '{drv}' was killed for using more than its memory limit of {max} bytes"
        ),
        RunOutcome::LogLimit(max) => format!(
            "builder for '{drv}' was killed after writing more than {max} bytes of log output"
        ),
    };
    if !tail.is_empty() {
        msg.push_str(&format!(";\nlast {} log lines:", tail.len()));
        for line in tail {
            msg.push_str("\n> ");
            msg.push_str(line);
        }
    }
    if let Some(log) = log {
        msg.push_str(&format!("\nFor full logs, see '{}'.", log.display()));
    }
    msg
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct BuiltDerivation {
    /// Output paths by name.
    pub outputs: BTreeMap<String, StorePath>,
    /// Time spent in the sandbox (zero for built-in builders).
    pub sandbox_time: Duration,
    /// Total time.
    pub elapsed: Duration,
}

/// Reads and parses the valid `.drv` at `drv_path`.
pub fn read_derivation(store: &LocalStore, drv_path: &StorePath) -> Result<Derivation, BuildError> {
    let printed = store.store_dir().print_path(drv_path);
    let text = fs::read(store.real_path(drv_path)).map_err(|e| BuildError::ReadDerivation {
        path: printed.clone(),
        reason: e.to_string(),
    })?;
    let name = drv_path
        .name()
        .strip_suffix(".drv")
        .unwrap_or(drv_path.name());
    parse_derivation(store.store_dir(), name, &text).map_err(|e: ParseDerivationError| {
        BuildError::ReadDerivation {
            path: printed,
            reason: e.to_string(),
        }
    })
}

fn lock(store: &Mutex<LocalStore>) -> std::sync::MutexGuard<'_, LocalStore> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

/// The store paths `drv` needs: its input sources and the used outputs of its input
/// derivations.
pub fn input_paths(
    store: &LocalStore,
    drv: &Derivation,
) -> Result<BTreeSet<StorePath>, BuildError> {
    let mut paths = drv.input_srcs.clone();
    for (input, outs) in &drv.input_drvs {
        let input_drv = read_derivation(store, input)?;
        let all = output_paths(store.store_dir(), &input_drv)?;
        for o in outs {
            if let Some(p) = all.get(o) {
                paths.insert(p.clone());
            }
        }
    }
    Ok(paths)
}

/// Where the log of `drv_path` is kept: `<root>/nix/var/log/nix/drvs/xx/rest`.
pub fn log_path(store: &LocalStore, drv_path: &StorePath) -> PathBuf {
    let base = drv_path.to_base_name();
    let (a, b) = base.split_at(2);
    store
        .state_dir()
        .parent()
        .unwrap_or(store.state_dir())
        .join("log/nix/drvs")
        .join(a)
        .join(b)
}

/// Builds `drv` (at `drv_path`), whose inputs must be valid. `slot` picks the build user
/// when running as root; `on_output` receives the builder's output.
pub fn build_derivation(
    store: &Mutex<LocalStore>,
    drv_path: &StorePath,
    drv: &Derivation,
    settings: &BuildSettings,
    mode: BuildMode,
    slot: u32,
    on_output: &mut dyn FnMut(&[u8]),
) -> Result<BuiltDerivation, BuildError> {
    let start = Instant::now();
    let (store_dir, real_store, builds_dir, closure, log) = {
        let s = lock(store);
        let inputs = input_paths(&s, drv)?;
        for p in &inputs {
            s.add_temp_root(p).map_err(|source| BuildError::Io {
                what: "adding a temporary root".into(),
                source,
            })?;
        }
        let closure = s.query_closure(&inputs)?;
        let builds = settings
            .builds_dir
            .clone()
            .unwrap_or_else(|| s.state_dir().join("builds"));
        (
            s.store_dir().clone(),
            s.real_store_dir().to_path_buf(),
            builds,
            closure,
            log_path(&s, drv_path),
        )
    };
    let printed_drv = store_dir.print_path(drv_path);
    let outputs = output_paths(&store_dir, drv)?;
    if mode == BuildMode::Check {
        let s = lock(store);
        for p in outputs.values() {
            if !s.is_valid(p)? {
                return Err(BuildError::CheckNotValid(printed_drv));
            }
        }
    }
    let mut dir = BuildDir::create(&builds_dir).map_err(|source| BuildError::Io {
        what: format!("creating a build directory in '{}'", builds_dir.display()),
        source,
    })?;
    let mut sandbox_time = Duration::ZERO;
    let result = if drv.builder == "builtin:buildenv" {
        crate::buildenv::run(
            &printed_drv,
            drv,
            &store_dir,
            &real_store,
            &dir,
            &outputs,
            &closure,
        )
    } else if let Some(builtin) = drv.builder.strip_prefix("builtin:") {
        let build_id = settings.build_uid_base + slot;
        crate::fetchurl::run_builtin(
            builtin,
            &printed_drv,
            drv,
            &store_dir,
            &dir,
            &outputs,
            crate::fetchurl::FetchLimits {
                timeout: settings.timeout,
                max_size: settings.max_output_size,
                build_ids: (build_id, build_id),
                hashed_mirrors: &settings.hashed_mirrors,
            },
        )
    } else {
        if drv.system != settings.system {
            return Err(BuildError::WrongSystem {
                drv: printed_drv,
                wanted: drv.system.clone(),
                have: settings.system.clone(),
            });
        }
        let out_strings: BTreeMap<String, String> = outputs
            .iter()
            .map(|(k, v)| (k.clone(), store_dir.print_path(v)))
            .collect();
        let env = BuilderEnv::new(
            drv,
            &EnvParams {
                store_dir: store_dir.as_str(),
                cores: settings.cores,
                outputs: &out_strings,
            },
        )?;
        let mut inputs: Vec<(PathBuf, String)> = closure
            .iter()
            .map(|p| (real_store.join(p.to_base_name()), store_dir.print_path(p)))
            .collect();
        inputs.extend(settings.sandbox_paths.iter().cloned());
        let spec = SandboxSpec {
            store_dir: store_dir.as_str().to_owned(),
            inputs,
            builder: drv.builder.clone(),
            args: drv.args.clone(),
            env: env.vars,
            build_files: env.files,
            network: drv.is_fixed_output(),
            build_user: Some((
                settings.build_uid_base + slot,
                settings.build_uid_base + slot,
            )),
            max_processes: settings.max_processes,
            dev_shm_size: settings.dev_shm_size.clone(),
            tmp_size: settings.tmp_size.clone(),
            cgroup: (settings.use_cgroups
                || settings.memory_max.is_some()
                || settings.cpu_max.is_some())
            .then_some(crate::CgroupLimits {
                memory_max: settings.memory_max,
                cpu_max: settings.cpu_max,
                pids_max: settings.max_processes,
            }),
            share_abstract_sockets: settings.share_abstract_sockets,
        };
        if let Some(parent) = log.parent() {
            let _ = fs::create_dir_all(parent);
        }
        let log_file = fs::File::create(&log).ok();
        let run = run_sandboxed(
            &spec,
            &dir,
            RunOptions {
                max_silent_time: settings.max_silent_time,
                timeout: settings.timeout,
                max_log_size: settings.max_log_size,
                on_output,
                log_file,
            },
        )?;
        sandbox_time = run.elapsed;
        if run.outcome.success() {
            Ok(())
        } else {
            Err(BuildError::Failed {
                drv: printed_drv.clone(),
                outcome: run.outcome,
                tail: run.tail,
                log: Some(log),
            })
        }
    };
    let keep = |dir: &mut BuildDir, on_output: &mut dyn FnMut(&[u8])| {
        if settings.keep_failed {
            dir.keep();
            on_output(
                format!("note: keeping build directory '{}'\n", dir.path().display()).as_bytes(),
            );
        }
    };
    if let Err(e) = result {
        keep(&mut dir, on_output);
        return Err(e);
    }
    let s = lock(store);
    let host_of = |p: &StorePath| dir.host_path(&store_dir.print_path(p));
    let staged = match stage_outputs(
        &s,
        drv_path,
        drv,
        &closure,
        &host_of,
        settings.max_output_size,
    ) {
        Ok(staged) => staged,
        Err(e) => {
            keep(&mut dir, on_output);
            return Err(e.into());
        }
    };
    match mode {
        BuildMode::Normal => commit_outputs(drv_path, staged)?,
        BuildMode::Check => {
            if let Err(e) = check_outputs(&s, &printed_drv, staged, settings.keep_failed) {
                keep(&mut dir, on_output);
                return Err(e);
            }
        }
    }
    drop(s);
    Ok(BuiltDerivation {
        outputs,
        sandbox_time,
        elapsed: start.elapsed(),
    })
}

/// `--check`: compares rebuilt outputs with the registered ones. The first that differs
/// fails the check; with `keep_failed` it is kept as `<output>.check` (as CppNix does).
fn check_outputs(
    store: &LocalStore,
    drv: &str,
    mut staged: Staged<'_>,
    keep_failed: bool,
) -> Result<(), BuildError> {
    for i in 0..staged.names.len() {
        let Some(out) = staged.outputs.outputs().get(i) else {
            break;
        };
        let registered = store.query_path_info(&out.info.path)?;
        if registered.map(|info| info.nar_hash) == Some(out.info.nar_hash) {
            continue;
        }
        let output = store.real_path(&out.info.path).display().to_string();
        let kept = if keep_failed {
            Some(
                staged
                    .outputs
                    .keep_unregistered(i, ".check")
                    .map_err(RegisterError::from)?,
            )
        } else {
            None
        };
        return Err(BuildError::NotDeterministic {
            drv: drv.to_owned(),
            output,
            kept,
        });
    }
    Ok(())
}
