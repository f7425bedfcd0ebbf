//! `pkgman`: a package manager in the manner of `nix-env`, as a thin command line over
//! `nixkit-profile` (argument parsing, output and wiring only).

// Deny std's printing macros: they panic on a closed or full stream.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nixkit_profile::{Channels, Manager, SetSource};
use nixkit_store::binary_cache::{open_cache, PublicKey};
use nixkit_store::local::{LocalStore, StoreConfig};
use nixkit_store::StoreDir;

use output::{err_line, line};

/// mimalloc, as the other binaries (see `nixkit-alloc`).
#[global_allocator]
static GLOBAL: nixkit_alloc::Mimalloc = nixkit_alloc::Mimalloc;

#[derive(Parser)]
#[command(
    name = "pkgman",
    version,
    about = "Install, upgrade and roll back packages in profiles, as nix-env does"
)]
struct Cli {
    /// The store: a directory (its files under DIR/nix/store), `local?root=DIR`, or `auto`
    /// (default: $NIXKIT_STORE, else the per-user store).
    #[arg(long, global = true, value_name = "DIR")]
    store: Option<String>,
    /// The profile (default: profiles/per-user/$USER/profile in the store's state directory).
    #[arg(long, global = true, value_name = "PATH")]
    profile: Option<PathBuf>,
    /// Where pkgman keeps its channel list (default: $PKGMAN_STATE_DIR, else
    /// pkgman/per-user/$USER in the store's state directory).
    #[arg(long, global = true, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Builds at once.
    #[arg(long = "max-jobs", short = 'j', global = true, default_value_t = 1)]
    jobs: usize,
    /// Binary caches to substitute from (`file://` URLs, space separated).
    #[arg(long, global = true, value_name = "URLS")]
    substituters: Option<String>,
    /// Keys trusted to sign substitutes (`name:base64`, space separated).
    #[arg(long, global = true, value_name = "KEYS")]
    trusted_public_keys: Option<String>,
    /// Do not show build output.
    #[arg(long = "no-build-output", short = 'Q', global = true)]
    quiet: bool,
    /// A build setting, as nix-env's `--option NAME VALUE` (`hashed-mirrors`, `timeout`,
    /// `max-silent-time`, `cores`, ...).
    #[arg(long = "option", num_args = 2, value_names = ["NAME", "VALUE"], global = true, action = clap::ArgAction::Append)]
    option: Vec<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install packages by name (newest version), by attribute path (-A), from channels or
    /// a file (-f).
    #[command(alias = "i")]
    Install {
        /// Select by attribute path instead of by name.
        #[arg(short = 'A', long = "attr")]
        attr: bool,
        /// A Nix file (or directory with default.nix) instead of the channels.
        #[arg(short = 'f', long = "file")]
        file: Option<PathBuf>,
        /// Names (`hello`, `hello-1.0`) or attribute paths.
        #[arg(required = true)]
        packages: Vec<String>,
    },
    /// Remove installed packages by name.
    #[command(alias = "uninstall", alias = "e")]
    Remove {
        /// Names (`hello`, `hello-1.0`, `*`).
        #[arg(required = true)]
        packages: Vec<String>,
    },
    /// Upgrade installed packages to newer versions from the package set.
    #[command(alias = "u")]
    Upgrade {
        /// A Nix file instead of the channels.
        #[arg(short = 'f', long = "file")]
        file: Option<PathBuf>,
        /// Only show what would be upgraded.
        #[arg(long)]
        dry_run: bool,
        /// Only this package (default: all).
        package: Option<String>,
    },
    /// List installed (-q, the default) or available (-a) packages.
    #[command(alias = "query", alias = "q")]
    List {
        /// Installed packages.
        #[arg(short = 'q', long)]
        installed: bool,
        /// Available packages (with their attribute paths).
        #[arg(short = 'a', long)]
        available: bool,
        /// A Nix file instead of the channels (with -a).
        #[arg(short = 'f', long = "file")]
        file: Option<PathBuf>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Set the priority of an installed package (lower wins collisions).
    SetPriority {
        /// The priority.
        #[arg(allow_negative_numbers = true)]
        priority: i64,
        /// The installed package.
        package: String,
    },
    /// Switch to the previous generation.
    Rollback,
    /// Switch to generation N.
    SwitchGeneration {
        /// The generation.
        number: u64,
    },
    /// List the generations.
    ListGenerations,
    /// Delete generations: `old`, `+N` (keep the current one and the N-1 before it), `Nd`
    /// (older than N days), numbers.
    DeleteGenerations {
        /// What to delete.
        #[arg(required = true)]
        specs: Vec<String>,
    },
    /// Collect garbage (never what a generation uses).
    Gc {
        /// First delete this profile's generations older than this (`30d`).
        #[arg(long, value_name = "Nd")]
        delete_older_than: Option<String>,
    },
    /// Manage channels (named package sets).
    Channel {
        #[command(subcommand)]
        command: ChannelCommand,
    },
    /// Run a shell (or --run CMD) in a private mount namespace where the store is at
    /// /nix/store: with packages on PATH (`-p`, as `nix-shell -p`), or in the development
    /// environment of a derivation (its inputs built, its variables set, its stdenv's setup
    /// sourced; FILE defaults to shell.nix, else default.nix), as `nix-shell FILE -A ATTR`.
    Shell {
        /// The file of the derivation (without -p).
        path: Option<PathBuf>,
        /// The packages (names, or attribute paths with -A).
        #[arg(short = 'p', long = "packages", num_args = 1..)]
        packages: Vec<String>,
        /// With -p: select packages by attribute path. Else: the derivation's attribute
        /// path in FILE.
        #[arg(short = 'A', long = "attr", num_args = 0..=1, value_name = "ATTR")]
        attr: Option<Option<String>>,
        /// With -p: a Nix file instead of the channels.
        #[arg(short = 'f', long = "file")]
        file: Option<PathBuf>,
        /// Clear the environment (keeping HOME, USER, TERM, ... as nix-shell --pure); with
        /// -p only the packages are on PATH.
        #[arg(long)]
        pure: bool,
        /// With --pure, also keep this variable.
        #[arg(long, value_name = "NAME")]
        keep: Vec<String>,
        /// Run CMD (with /bin/sh -c for -p, else in the environment's bash) instead of an
        /// interactive shell; its exit status is pkgman's.
        #[arg(long, alias = "command", value_name = "CMD")]
        run: Option<String>,
    },
    /// Run a shell (or CMD) with the profile on PATH, in a private mount namespace where
    /// the store is at /nix/store.
    Enter {
        /// The command and its arguments (default: $SHELL, else sh).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
}

#[derive(Subcommand)]
enum ChannelCommand {
    /// Add a channel: a directory with default.nix, or a tarball of one.
    Add {
        /// Its name.
        name: String,
        /// The directory or tarball.
        path: PathBuf,
    },
    /// List the channels.
    List,
    /// Remove a channel.
    Remove {
        /// Its name.
        name: String,
    },
    /// Snapshot the channels (or one) into the store again.
    Update {
        /// Only this channel.
        name: Option<String>,
    },
}

fn store_config(cli: &Cli) -> Result<StoreConfig, String> {
    let dir = StoreDir::default();
    match &cli.store {
        Some(s) => StoreConfig::from_spec(s, dir),
        None => StoreConfig::from_env(dir),
    }
    .map_err(|e| e.to_string())
}

fn user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .or_else(|| {
            let uid = nix::unistd::getuid();
            nix::unistd::User::from_uid(uid)
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| nix::unistd::getuid().to_string())
}

fn state_dir(cli: &Cli, config: &StoreConfig) -> PathBuf {
    cli.state_dir
        .clone()
        .or_else(|| std::env::var_os("PKGMAN_STATE_DIR").map(PathBuf::from))
        .unwrap_or_else(|| config.state_dir().join("pkgman/per-user").join(user()))
}

fn manager(cli: &Cli, config: &StoreConfig) -> Result<Manager, String> {
    let profile = cli.profile.clone().unwrap_or_else(|| {
        config
            .state_dir()
            .join("profiles/per-user")
            .join(user())
            .join("profile")
    });
    let profile = std::path::absolute(&profile).map_err(|e| e.to_string())?;
    let mut m = Manager::new(config.clone(), profile);
    m.realise.jobs = cli.jobs.max(1);
    for url in cli.substituters.iter().flat_map(|s| s.split_whitespace()) {
        m.realise
            .substituters
            .push(open_cache(url, config.store_dir.clone()).map_err(|e| e.to_string())?);
    }
    for k in cli
        .trusted_public_keys
        .iter()
        .flat_map(|s| s.split_whitespace())
    {
        m.realise
            .trusted_keys
            .push(PublicKey::parse(k).map_err(|e| e.to_string())?);
    }
    for pair in cli.option.chunks(2) {
        if let [name, value] = pair {
            if !m.realise.settings.set_option(name, value)? {
                return Err(format!("unknown setting '{name}'"));
            }
        }
    }
    let progress = output::progress(cli.quiet);
    let dir = config.store_dir.clone();
    m.progress = Box::new(move |e| progress.event(&dir, e));
    Ok(m)
}

fn source(cli: &Cli, config: &StoreConfig, file: &Option<PathBuf>) -> Result<SetSource, String> {
    Ok(match file {
        Some(f) => SetSource::File(f.clone()),
        None => SetSource::Channels(
            Channels::load(&state_dir(cli, config))
                .map_err(|e| e.to_string())?
                .list,
        ),
    })
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) of a time.
fn format_time(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `shell.nix` in the current directory, else `default.nix`, as nix-shell chooses.
fn default_shell_file() -> Result<PathBuf, String> {
    ["shell.nix", "default.nix"]
        .into_iter()
        .map(PathBuf::from)
        .find(|f| f.exists())
        .ok_or_else(|| {
            "no shell.nix or default.nix in the current directory; give a FILE or -p".to_owned()
        })
}

fn run(cli: &Cli) -> Result<(), String> {
    let config = store_config(cli)?;
    let e = |e: &dyn std::fmt::Display| e.to_string();
    match &cli.command {
        Command::Install {
            attr,
            file,
            packages,
        } => {
            let m = manager(cli, &config)?;
            let change = m
                .install(&source(cli, &config, file)?, packages, *attr)
                .map_err(|x| e(&x))?;
            for n in &change.removed {
                err_line(&format!("replacing old '{n}'"));
            }
            for n in &change.installed {
                err_line(&format!("installing '{n}'"));
            }
        }
        Command::Remove { packages } => {
            let change = manager(cli, &config)?.remove(packages).map_err(|x| e(&x))?;
            for n in &change.removed {
                err_line(&format!("uninstalling '{n}'"));
            }
        }
        Command::Upgrade {
            file,
            dry_run,
            package,
        } => {
            let change = manager(cli, &config)?
                .upgrade(&source(cli, &config, file)?, package.as_deref(), *dry_run)
                .map_err(|x| e(&x))?;
            if *dry_run {
                err_line("(dry run; not doing anything)");
            }
            for (old, new) in &change.upgraded {
                err_line(&format!("upgrading '{old}' to '{new}'"));
            }
        }
        Command::List {
            installed: _,
            available,
            file,
            json,
        } => list(cli, &config, *available, file, *json)?,
        Command::SetPriority { priority, package } => {
            manager(cli, &config)?
                .set_priority(*priority, package)
                .map_err(|x| e(&x))?;
        }
        Command::Rollback => {
            let m = manager(cli, &config)?;
            let from = m.generations().map_err(|x| e(&x))?.1.unwrap_or(0);
            let to = m.rollback().map_err(|x| e(&x))?;
            err_line(&format!("switching profile from version {from} to {to}"));
        }
        Command::SwitchGeneration { number } => {
            let m = manager(cli, &config)?;
            let from = m.generations().map_err(|x| e(&x))?.1.unwrap_or(0);
            m.switch_generation(*number).map_err(|x| e(&x))?;
            err_line(&format!(
                "switching profile from version {from} to {number}"
            ));
        }
        Command::ListGenerations => {
            let (gens, current) = manager(cli, &config)?.generations().map_err(|x| e(&x))?;
            for g in gens {
                let cur = if Some(g.number) == current {
                    "(current)"
                } else {
                    ""
                };
                line(&format!(
                    "{:4}   {}   {cur}",
                    g.number,
                    format_time(g.created)
                ))?;
            }
        }
        Command::DeleteGenerations { specs } => {
            for n in manager(cli, &config)?
                .delete_generations(specs)
                .map_err(|x| e(&x))?
            {
                err_line(&format!("removing profile version {n}"));
            }
        }
        Command::Gc { delete_older_than } => {
            let days = match delete_older_than {
                Some(s) => Some(
                    s.strip_suffix('d')
                        .and_then(|d| d.parse::<u64>().ok())
                        .ok_or_else(|| format!("invalid age '{s}' (expected Nd, e.g. 30d)"))?,
                ),
                None => None,
            };
            let r = manager(cli, &config)?.gc(days).map_err(|x| e(&x))?;
            line(&format!(
                "{} store paths deleted, {:.2} MiB freed",
                r.deleted.len(),
                r.bytes_freed as f64 / 1_048_576.0
            ))?;
        }
        Command::Channel { command } => channel(cli, &config, command)?,
        Command::Shell {
            path,
            packages,
            attr,
            file,
            pure,
            keep,
            run,
        } => {
            let m = manager(cli, &config)?;
            if packages.is_empty() {
                let file = match path {
                    Some(p) => p.clone(),
                    None => default_shell_file()?,
                };
                let shell = nixkit_profile::dev_shell(&m, &file, attr.clone().flatten().as_deref())
                    .map_err(|x| e(&x))?;
                output::clear_progress();
                return nixkit_profile::enter::dev_shell(
                    &config,
                    &shell,
                    *pure,
                    keep,
                    run.as_deref(),
                )
                .map_err(|x| e(&x));
            }
            // `-A ATTR -p ...`: the first attribute path was taken as -A's value.
            let mut packages = packages.clone();
            if let Some(Some(first)) = attr {
                packages.insert(0, first.clone());
            }
            let pkgs = m
                .realise_packages(&source(cli, &config, file)?, &packages, attr.is_some())
                .map_err(|x| e(&x))?;
            let bins: Vec<PathBuf> = pkgs
                .iter()
                .flat_map(|p| {
                    p.outputs
                        .iter()
                        .map(|(_, path)| PathBuf::from(path).join("bin"))
                })
                .collect();
            output::clear_progress();
            return nixkit_profile::enter::shell(&config, &bins, *pure, run.as_deref())
                .map_err(|x| e(&x));
        }
        Command::Enter { command } => {
            let m = manager(cli, &config)?;
            return nixkit_profile::enter::enter(&config, &m.profile, command).map_err(|x| e(&x));
        }
    }
    Ok(())
}

fn list(
    cli: &Cli,
    config: &StoreConfig,
    available: bool,
    file: &Option<PathBuf>,
    json: bool,
) -> Result<(), String> {
    let m = manager(cli, config)?;
    if available {
        let all = m
            .available(&source(cli, config, file)?)
            .map_err(|e| e.to_string())?;
        if json {
            let mut obj = serde_json::Map::new();
            for a in &all {
                let n = nixkit_profile::parse_drv_name(&a.name);
                obj.insert(
                    a.attr_path.clone(),
                    serde_json::json!({
                        "name": a.name, "pname": n.pname, "version": n.version, "system": a.system,
                    }),
                );
            }
            return line(&serde_json::Value::Object(obj));
        }
        let width = all.iter().map(|a| a.attr_path.len()).max().unwrap_or(0);
        for a in &all {
            line(&format!("{:<width$}  {}", a.attr_path, a.name))?;
        }
        return Ok(());
    }
    let installed = m.installed().map_err(|e| e.to_string())?;
    if json {
        let mut obj = serde_json::Map::new();
        for p in &installed {
            let n = nixkit_profile::parse_drv_name(&p.name);
            let outputs: serde_json::Map<String, serde_json::Value> = p
                .outputs
                .iter()
                .map(|(o, path)| (o.clone(), serde_json::Value::String(path.clone())))
                .collect();
            obj.insert(
                p.name.clone(),
                serde_json::json!({
                    "name": p.name, "pname": n.pname, "version": n.version, "system": p.system,
                    "priority": p.priority(), "outputs": outputs, "source": p.source,
                }),
            );
        }
        return line(&serde_json::Value::Object(obj));
    }
    for p in &installed {
        line(&p.name)?;
    }
    Ok(())
}

fn channel(cli: &Cli, config: &StoreConfig, command: &ChannelCommand) -> Result<(), String> {
    let dir = state_dir(cli, config);
    let mut channels = Channels::load(&dir).map_err(|e| e.to_string())?;
    let store = || LocalStore::open(config.clone()).map_err(|e| e.to_string());
    match command {
        ChannelCommand::Add { name, path } => channels
            .add(&store()?, name, path)
            .map_err(|e| e.to_string())?,
        ChannelCommand::List => {
            for c in &channels.list {
                line(&format!(
                    "{} {} {}",
                    c.name,
                    c.source.display(),
                    c.store_path.as_deref().unwrap_or("(not updated)")
                ))?;
            }
        }
        ChannelCommand::Remove { name } => channels.remove(name).map_err(|e| e.to_string())?,
        ChannelCommand::Update { name } => {
            for n in channels
                .update(&store()?, name.as_deref())
                .map_err(|e| e.to_string())?
            {
                err_line(&format!("updated channel '{n}'"));
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = run(&cli);
    output::clear_progress();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::error(&e);
            ExitCode::FAILURE
        }
    }
}
