//! `pkgman enter`: runs a command (or a shell) with the profile's `bin` on `PATH` in a
//! private mount namespace where the store's files are bind-mounted at the logical store
//! directory (`/nix/store`), as nix-user-chroot does, so that installed programs whose
//! paths name `/nix/store` run when the store lives elsewhere (`--store DIR`).
//! Unprivileged users get a user namespace mapping them to themselves.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{getgid, getuid};
use nixkit_store::local::StoreConfig;

fn private_store(config: &StoreConfig) -> Result<(), String> {
    let real = config.real_store_dir();
    let logical = Path::new(config.store_dir.as_str());
    if real == logical {
        return Ok(());
    }
    let (uid, gid) = (getuid(), getgid());
    let mut flags = CloneFlags::CLONE_NEWNS;
    if !uid.is_root() {
        flags |= CloneFlags::CLONE_NEWUSER;
    }
    unshare(flags).map_err(|e| format!("cannot create a mount namespace: {e}"))?;
    if !uid.is_root() {
        let write = |file: &str, text: String| {
            std::fs::write(file, text).map_err(|e| format!("writing {file}: {e}"))
        };
        write("/proc/self/setgroups", "deny".into())?;
        write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
        write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
    }
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("cannot make the mounts private: {e}"))?;
    if !logical.is_dir() {
        std::fs::create_dir_all(logical).map_err(|e| {
            format!(
                "'{}' does not exist and cannot be created ({e}); run as root once to create it",
                logical.display()
            )
        })?;
    }
    mount(
        Some(&real),
        logical,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| {
        format!(
            "cannot bind-mount '{}' at '{}': {e}",
            real.display(),
            logical.display()
        )
    })
}

/// Runs `run` with `/bin/sh -c` (or an interactive `$SHELL`, else `sh`) with `bins` on
/// `PATH` (alone with `pure`) in the private store view. Only returns on failure.
pub(crate) fn shell(
    config: &StoreConfig,
    bins: &[std::path::PathBuf],
    pure: bool,
    run: Option<&str>,
) -> Result<(), String> {
    private_store(config)?;
    crate::output::clear_progress();
    let mut path = std::ffi::OsString::new();
    for (i, b) in bins.iter().enumerate() {
        if i > 0 {
            path.push(":");
        }
        path.push(b);
    }
    if !pure {
        if let Some(old) = std::env::var_os("PATH") {
            path.push(":");
            path.push(old);
        }
    }
    let mut cmd = match run {
        Some(text) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(text);
            c
        }
        None => Command::new(std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into())),
    };
    if pure {
        cmd.env_clear();
        for keep in ["HOME", "USER", "LOGNAME", "TERM", "DISPLAY"] {
            if let Some(v) = std::env::var_os(keep) {
                cmd.env(keep, v);
            }
        }
    }
    let err = cmd
        .env("PATH", path)
        .env("IN_NIX_SHELL", if pure { "pure" } else { "impure" })
        .exec();
    Err(format!("cannot run the shell: {err}"))
}

/// The shell of development environments: `$NIX_BUILD_SHELL`, else `bash` from `PATH`.
fn build_shell() -> Result<std::path::PathBuf, String> {
    if let Some(s) = std::env::var_os("NIX_BUILD_SHELL") {
        return Ok(s.into());
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("bash"))
        .find(|p| p.is_file())
        .ok_or_else(|| "bash is not on PATH (or set NIX_BUILD_SHELL)".to_owned())
}

/// Runs bash in the development environment `shell` (with `--pure`, in a cleared
/// environment keeping what nix-shell keeps and `keep`), running `run` and exiting with its
/// status, or interactive, in the private store view. Only returns on failure.
pub(crate) fn dev_shell(
    config: &StoreConfig,
    shell: &nixkit_profile::DevShell,
    pure: bool,
    keep: &[String],
    run: Option<&str>,
) -> Result<(), String> {
    let bash = build_shell()?;
    let build_top = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into());
    let tz = std::env::var("TZ").ok();
    let prepared = shell
        .prepare(&build_top, pure, tz.as_deref(), run)
        .map_err(|e| format!("preparing the shell in '{build_top}': {e}"))?;
    private_store(config)?;
    crate::output::clear_progress();
    let mut cmd = Command::new(&bash);
    if run.is_some() {
        cmd.arg(&prepared.rc);
    } else {
        cmd.arg("--rcfile").arg(&prepared.rc);
    }
    if pure {
        cmd.env_clear();
        let kept = nixkit_profile::devshell::PURE_KEEP
            .iter()
            .copied()
            .chain(keep.iter().map(String::as_str));
        for name in kept {
            if let Some(v) = std::env::var_os(name) {
                cmd.env(name, v);
            }
        }
    }
    let err = cmd.envs(&prepared.vars).exec();
    let _ = std::fs::remove_dir_all(&prepared.dir);
    Err(format!("cannot run '{}': {err}", bash.display()))
}

/// Runs `command` (default: `$SHELL`, else `sh`) in the private store view. Only returns
/// on failure.
pub(crate) fn enter(
    config: &StoreConfig,
    profile: &Path,
    command: &[String],
) -> Result<(), String> {
    private_store(config)?;
    let path = match std::env::var_os("PATH") {
        Some(old) => {
            let mut p = profile.join("bin").into_os_string();
            p.push(":");
            p.push(old);
            p
        }
        None => profile.join("bin").into_os_string(),
    };
    let (program, args) = match command.split_first() {
        Some((p, a)) => (p.clone(), a.to_vec()),
        None => (
            std::env::var("SHELL").unwrap_or_else(|_| "sh".into()),
            Vec::new(),
        ),
    };
    let err = Command::new(&program).args(args).env("PATH", path).exec();
    Err(format!("cannot run '{program}': {err}"))
}
