//! `nixkit daemon` / `nix-daemon` and `nix-store --serve [--write]`: argument parsing and
//! wiring for `nixkit-daemon`.
//! `[--socket PATH | --stdio] [--connection-model process|thread] [--store SPEC]
//! [--option NAME VALUE]...`; the options are CppNix's `trusted-users`, `allowed-users`,
//! `trusted-public-keys`, `require-sigs`, `max-jobs`, the substitution settings
//! (`substituters`, `extra-substituters`, `http-connections`, `narinfo-cache-positive-ttl`,
//! `narinfo-cache-negative-ttl`) and the build settings of `nixkit build`. In the process model (the default, CppNix's) each connection is served by
//! `nixkit daemon --stdio` with the same store and options, the connection as its standard
//! input and output.

use std::ffi::OsString;
use std::path::PathBuf;

use nixkit_daemon::{serve_store, Daemon, DaemonSettings, ServeSettings};
use nixkit_store::binary_cache::PublicKey;
use nixkit_store::local::StoreConfig;
use nixkit_store::StoreDir;

/// The socket CppNix's clients look for under a store's state directory.
fn default_socket(store: &StoreConfig) -> PathBuf {
    store.state_dir().join("daemon-socket/socket")
}

fn words(v: &str) -> Vec<String> {
    v.split_whitespace().map(str::to_owned).collect()
}

fn apply(settings: &mut DaemonSettings, name: &str, value: &str) -> Result<(), String> {
    match name {
        "trusted-users" => settings.trust.trusted_users = words(value),
        "allowed-users" => settings.trust.allowed_users = words(value),
        "require-sigs" => settings.require_sigs = value == "true",
        "max-jobs" => {
            settings.max_jobs = value
                .parse()
                .map_err(|_| format!("invalid max-jobs '{value}'"))?
        }
        "trusted-public-keys" => {
            settings.trusted_public_keys = words(value)
                .iter()
                .map(|k| PublicKey::parse(k).map_err(|e| format!("trusted-public-keys: {e}")))
                .collect::<Result<_, _>>()?
        }
        _ => {
            if !settings.substitution.set(name, value)?
                && !settings.build.set_option(name, value)?
            {
                return Err(format!("unknown setting '{name}'"));
            }
        }
    }
    Ok(())
}

pub(crate) fn main(args: Vec<OsString>) -> i32 {
    match run(args) {
        Ok(()) => 0,
        Err(e) => {
            crate::output::error(&e);
            1
        }
    }
}

fn run(args: Vec<OsString>) -> Result<(), String> {
    let mut args = args
        .into_iter()
        .map(|a| crate::arg_text(&a).to_string_lossy().into_owned());
    let (mut socket, mut stdio, mut store, mut options) = (None, false, None, Vec::new());
    let mut processes = true;
    while let Some(a) = args.next() {
        let mut value = |what: &str| args.next().ok_or(format!("'{a}' requires {what}"));
        match a.as_str() {
            "--socket" => socket = Some(PathBuf::from(value("a path")?)),
            "--stdio" => stdio = true,
            "--connection-model" => match value("'process' or 'thread'")?.as_str() {
                "process" => processes = true,
                "thread" => processes = false,
                other => return Err(format!("unknown connection model '{other}'")),
            },
            "--store" => store = Some(value("a store")?),
            "--option" => {
                let name = value("a name and a value")?;
                options.push((name, value("a value")?));
            }
            "--daemon" => {}
            other => return Err(format!("unrecognised flag '{other}'")),
        }
    }
    let dir = StoreDir::default();
    let config = match store.as_deref() {
        Some(spec) => StoreConfig::from_spec(spec, dir),
        None => StoreConfig::from_env(dir),
    }
    .map_err(|e| e.to_string())?;
    let mut settings = DaemonSettings::new(config);
    for (name, value) in &options {
        apply(&mut settings, name, value)?;
    }
    let socket = socket.unwrap_or_else(|| default_socket(&settings.store));
    let daemon = Daemon::new(settings);
    if stdio {
        return daemon.serve_stdio();
    }
    let listener = Daemon::bind(&socket).map_err(|e| e.to_string())?;
    let on_error = |peer: &nixkit_daemon::Peer, e: String| {
        eprintln!("error processing connection of '{}': {e}", peer.name());
    };
    if !processes {
        return daemon.run(&listener, on_error).map_err(|e| e.to_string());
    }
    let exe = std::env::current_exe().map_err(|e| format!("finding this program: {e}"))?;
    let command = || {
        let mut c = std::process::Command::new(&exe);
        c.args(["daemon", "--stdio"]);
        if let Some(s) = &store {
            c.args(["--store", s]);
        }
        for (name, value) in &options {
            c.args(["--option", name, value]);
        }
        c
    };
    Daemon::run_processes(&listener, command, on_error).map_err(|e| e.to_string())
}

/// `nix-store --serve [--write] [--store SPEC] [--option NAME VALUE]...`: the serve
/// protocol on standard input and output (what `ssh://` stores run on the remote side).
pub(crate) fn serve_main(args: Vec<OsString>) -> i32 {
    let run = || -> Result<(), String> {
        let mut args = args
            .into_iter()
            .map(|a| crate::arg_text(&a).to_string_lossy().into_owned());
        let (mut write, mut store, mut build) =
            (false, None, nixkit_sandbox::BuildSettings::default());
        while let Some(a) = args.next() {
            let mut value = |what: &str| args.next().ok_or(format!("'{a}' requires {what}"));
            match a.as_str() {
                "--serve" => {}
                "--write" => write = true,
                "--store" => store = Some(value("a store")?),
                "--option" => {
                    let name = value("a name and a value")?;
                    let v = value("a value")?;
                    if !build.set_option(&name, &v)? {
                        return Err(format!("unknown setting '{name}'"));
                    }
                }
                other => return Err(format!("unrecognised flag '{other}'")),
            }
        }
        let dir = StoreDir::default();
        let config = match store.as_deref() {
            Some(spec) => StoreConfig::from_spec(spec, dir),
            None => StoreConfig::from_env(dir),
        }
        .map_err(|e| e.to_string())?;
        let settings = ServeSettings {
            store: config,
            write,
            build,
        };
        serve_store(std::io::stdin(), std::io::stdout(), &settings).map_err(|e| e.to_string())
    };
    match run() {
        Ok(()) => 0,
        Err(e) => {
            crate::output::error(&e);
            1
        }
    }
}
