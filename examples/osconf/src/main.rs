//! `osconf`: an OS configurator in the manner of nixos-generate-config, nixos-install and
//! nixos-rebuild, as a thin command line over `nixkit-osconf` (argument parsing, output
//! and wiring only).

// Deny std's printing macros: they panic on a closed or full stream.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use nixkit_osconf::activation::{exec_activate, HelperActivator};
use nixkit_osconf::build::BuildSettings;
use nixkit_osconf::commands::generate_config::{generate_config, GenerateOptions};
use nixkit_osconf::commands::generations::{
    delete_generations, gc, list_generations, switch_generation,
};
use nixkit_osconf::commands::rebuild::{install, rebuild, RebuildAction, RebuildOptions};
use nixkit_osconf::container::{self, RunOptions};
use nixkit_osconf::target::Target;

/// mimalloc, as the other binaries (see `nixkit-alloc`).
#[global_allocator]
static GLOBAL: nixkit_alloc::Mimalloc = nixkit_alloc::Mimalloc;

#[derive(Parser)]
#[command(
    name = "osconf",
    version,
    about = "Configure a whole system from one configuration.nix, as NixOS does"
)]
struct Cli {
    /// The target system's root directory; its store is ROOT/nix/store.
    #[arg(long, global = true, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// The package set given to modules as `pkgs` (default: $OSCONF_PKGS, else examples/pkgs).
    #[arg(long, global = true, value_name = "DIR")]
    pkgs: Option<PathBuf>,
    /// Builds at once.
    #[arg(long = "max-jobs", short = 'j', global = true, default_value_t = 1)]
    jobs: usize,
    /// Do not show build output.
    #[arg(long = "no-build-output", short = 'Q', global = true)]
    quiet: bool,
    /// Show the whole trace of an evaluation error.
    #[arg(long, global = true)]
    show_trace: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct ConfigArgs {
    /// The configuration (default: ROOT/etc/osconf/configuration.nix).
    #[arg(long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// `osconf-config=FILE`: the configuration, as nixos-rebuild's `-I nixos-config=`.
    #[arg(short = 'I', value_name = "osconf-config=FILE")]
    include: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Action {
    /// Build, make the default generation and activate it.
    Switch,
    /// Build and make the default generation, without activating it.
    Boot,
    /// Build and activate, without a new generation.
    Test,
    /// Build and link the result as ./result.
    Build,
    /// Show what would be built.
    DryBuild,
    /// Build and show what activation would change.
    DryActivate,
}

#[derive(Subcommand)]
enum Command {
    /// Write ROOT/etc/osconf/hardware-configuration.nix (from the mounts under ROOT) and a
    /// configuration.nix template (kept when it exists, unless --force).
    GenerateConfig {
        /// Overwrite an existing configuration.nix.
        #[arg(long)]
        force: bool,
        /// Print the hardware configuration instead of writing files.
        #[arg(long)]
        show_hardware_config: bool,
    },
    /// Build ROOT's configuration into ROOT's store, make generation 1 and activate it.
    Install {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Build the configuration and switch to it (or boot, test, build, dry-build, dry-activate).
    Rebuild {
        /// What to do with the built system.
        #[arg(value_enum)]
        action: Action,
        /// Go back to the generation before the current one (switch, boot, test, dry-activate).
        #[arg(long)]
        rollback: bool,
        /// The link `build` makes (default ./result).
        #[arg(long = "out-link", short = 'o', value_name = "PATH")]
        out_link: Option<PathBuf>,
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// List the generations of the system profile.
    ListGenerations,
    /// Make generation N the current one and activate it.
    SwitchGeneration {
        /// The generation.
        number: u64,
    },
    /// Delete generations: `old`, `+N` (keep the last N), `Nd` (older than N days), numbers.
    DeleteGenerations {
        /// What to delete.
        #[arg(required = true)]
        specs: Vec<String>,
    },
    /// Delete what no generation (and no other root) of ROOT's store keeps.
    Gc,
    /// Boot ROOT's current system in a container (user, mount, pid, uts and ipc
    /// namespaces; the host's network) with the system's own init as pid 1; in the
    /// foreground until the system stops or Ctrl-C stops it, or `--detach`ed.
    Run {
        /// Return once the init runs, printing its host pid; stop it with `osconf stop`.
        #[arg(long)]
        detach: bool,
        /// Seconds the system has to stop its services before it is killed.
        #[arg(long, default_value_t = 20)]
        stop_timeout: u64,
    },
    /// Stop the container running ROOT's system.
    Stop {
        /// Seconds the system has to stop its services before it is killed.
        #[arg(long, default_value_t = 20)]
        timeout: u64,
    },
    /// Runs SYSTEM/activate on ROOT with ROOT's store (used by osconf itself).
    #[command(hide = true)]
    ActivateHelper {
        /// The target root.
        root: PathBuf,
        /// The system.
        system: String,
    },
}

/// Writes a line to standard output; a closed pipe ends quietly.
fn line(text: &str) -> Result<(), String> {
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("writing to standard output: {e}")),
    }
}

/// Writes a message line to standard error.
fn err_line(text: &str) {
    let _ = writeln!(io::stderr(), "{text}");
}

fn config_file(c: &ConfigArgs) -> Result<Option<PathBuf>, String> {
    let mut file = c.config.clone();
    for entry in &c.include {
        match entry.split_once('=') {
            Some(("osconf-config", path)) => file = Some(PathBuf::from(path)),
            _ => return Err(format!("-I {entry}: only 'osconf-config=FILE' is known")),
        }
    }
    Ok(file)
}

fn settings(cli: &Cli, config: &ConfigArgs) -> Result<BuildSettings, String> {
    let mut s = BuildSettings {
        config_file: config_file(config)?,
        pkgs: cli.pkgs.clone(),
        show_trace: cli.show_trace,
        ..BuildSettings::default()
    };
    s.realise.jobs = cli.jobs.max(1);
    Ok(s)
}

fn activator() -> Result<HelperActivator, String> {
    let program =
        std::env::current_exe().map_err(|e| format!("cannot find the osconf program: {e}"))?;
    Ok(HelperActivator {
        program,
        args: vec!["activate-helper".into()],
    })
}

/// `YYYY-MM-DD HH:MM:SS` (UTC).
fn format_time(t: std::time::SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .map(|ts| ts.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|_| "?".into())
}

fn run_rebuild(
    cli: &Cli,
    target: &Target,
    action: Option<Action>,
    opts: &RebuildOptions,
) -> Result<(), String> {
    nixkit_sandbox::install_interrupt_handler().map_err(|e| e.to_string())?;
    let progress = nixkit_core::progress::Progress::new(cli.quiet);
    let store_dir = target.store_config().store_dir.clone();
    let on_event = |e: nixkit_sandbox::Event<'_>| progress.event(&store_dir, e);
    let mut log = |m: &str| err_line(m);
    let activator = activator()?;
    let result = match action {
        None => install(target, opts, &activator, &on_event, &mut log),
        Some(a) => {
            let a = match a {
                Action::Switch => RebuildAction::Switch,
                Action::Boot => RebuildAction::Boot,
                Action::Test => RebuildAction::Test,
                Action::Build => RebuildAction::Build,
                Action::DryBuild => RebuildAction::DryBuild,
                Action::DryActivate => RebuildAction::DryActivate,
            };
            rebuild(target, a, opts, &activator, &on_event, &mut log)
        }
    };
    progress.finish();
    let outcome = result.map_err(|e| e.to_string())?;
    match action {
        Some(Action::Build) => line(&outcome.system)?,
        Some(Action::DryBuild) => {
            if outcome.would_build.is_empty() {
                err_line("nothing would be built");
            } else {
                err_line(&format!(
                    "these {} derivations would be built:",
                    outcome.would_build.len()
                ));
                for d in &outcome.would_build {
                    err_line(&format!("  {d}"));
                }
            }
        }
        Some(Action::DryActivate) => {
            for l in outcome.diff.map(|d| d.lines()).unwrap_or_default() {
                line(&l)?;
            }
        }
        _ => {
            if let Some(n) = outcome.generation {
                err_line(&format!("system generation {n}: {}", outcome.system));
            }
        }
    }
    Ok(())
}

fn run(cli: &Cli) -> Result<(), String> {
    let target = Target::new(&cli.root).map_err(|e| e.to_string())?;
    let e = |e: &dyn std::fmt::Display| e.to_string();
    match &cli.command {
        Command::ActivateHelper { .. } => Err("activate-helper must be run first".into()),
        Command::GenerateConfig {
            force,
            show_hardware_config,
        } => {
            let opts = GenerateOptions {
                force: *force,
                show_hardware_config: *show_hardware_config,
                mountinfo: None,
            };
            let g = generate_config(&target, &opts).map_err(|x| e(&x))?;
            if *show_hardware_config {
                return line(g.hardware.trim_end());
            }
            for f in &g.written {
                err_line(&format!("writing {}", f.display()));
            }
            if let Some(f) = &g.kept {
                err_line(&format!("not overwriting existing {}", f.display()));
            }
            Ok(())
        }
        Command::Install { config } => {
            let opts = RebuildOptions {
                build: settings(cli, config)?,
                ..RebuildOptions::default()
            };
            run_rebuild(cli, &target, None, &opts)
        }
        Command::Rebuild {
            action,
            rollback,
            out_link,
            config,
        } => {
            let opts = RebuildOptions {
                build: settings(cli, config)?,
                rollback: *rollback,
                out_link: out_link.clone(),
            };
            run_rebuild(cli, &target, Some(*action), &opts)
        }
        Command::ListGenerations => {
            for g in list_generations(&target).map_err(|x| e(&x))? {
                let current = if g.current { "   (current)" } else { "" };
                line(&format!(
                    "{:4}   {}   {}{current}",
                    g.number,
                    format_time(g.created),
                    g.system.display()
                ))?;
            }
            Ok(())
        }
        Command::SwitchGeneration { number } => {
            let from = switch_generation(&target, *number, &activator()?).map_err(|x| e(&x))?;
            err_line(&format!(
                "switching the system profile from generation {} to {number}",
                from.map_or("-".into(), |f| f.to_string())
            ));
            Ok(())
        }
        Command::DeleteGenerations { specs } => {
            for n in delete_generations(&target, specs).map_err(|x| e(&x))? {
                err_line(&format!("removing system generation {n}"));
            }
            Ok(())
        }
        Command::Run {
            detach,
            stop_timeout,
        } => {
            let opts = RunOptions::new(&cli.root);
            let refused = container::refused_when_unprivileged(&cli.root);
            if !refused.is_empty() {
                err_line(&format!(
                    "osconf: warning: running unprivileged, the container has only your user \
                     id (as its root), so these services, declared with other users or groups, \
                     will not start: {}",
                    refused.join(", ")
                ));
            }
            if *detach {
                let running = container::run(&opts).map_err(|x| e(&x))?;
                return line(&running.pid().to_string());
            }
            nixkit_sandbox::install_interrupt_handler().map_err(|x| e(&x))?;
            let mut out = io::stdout().lock();
            container::run_foreground(
                &opts,
                &mut out,
                &nixkit_sandbox::run::interrupted,
                Duration::from_secs(*stop_timeout),
            )
            .map_err(|x| e(&x))
        }
        Command::Stop { timeout } => {
            container::stop(&cli.root, Duration::from_secs(*timeout)).map_err(|x| e(&x))
        }
        Command::Gc => {
            let r = gc(&target).map_err(|x| e(&x))?;
            line(&format!(
                "{} store paths deleted, {:.2} MiB freed",
                r.deleted.len(),
                r.bytes_freed as f64 / 1_048_576.0
            ))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Activation's namespaces need this process to be single-threaded: first thing.
    if let Command::ActivateHelper { root, system } = &cli.command {
        let err = exec_activate(root, system);
        err_line(&format!("error: {err}"));
        return ExitCode::FAILURE;
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let text = e.trim_end();
            if text.starts_with("error:") {
                err_line(text);
            } else {
                err_line(&format!("error: {text}"));
            }
            ExitCode::FAILURE
        }
    }
}
