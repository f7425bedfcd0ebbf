//! Running programs of a profile or an environment where the store's paths resolve:
//! a private mount namespace with the store's files bind-mounted at the logical store
//! directory (`/nix/store`), as nix-user-chroot does, so that programs whose paths name
//! `/nix/store` run when the store lives elsewhere (`--store DIR`). Unprivileged users get
//! a user namespace mapping them to themselves. [`enter`] runs a command with a profile's
//! `bin` on `PATH` (`pkgman enter`), [`shell`] a shell with packages on `PATH`
//! (`pkgman shell -p`), [`dev_shell`] bash in a derivation's development environment
//! (`pkgman shell FILE -A ATTR`). Each replaces the process and only returns on failure.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{getgid, getuid};
use nixkit_store::local::StoreConfig;

use crate::devshell::{DevShell, PURE_KEEP};

/// Why a program could not be run in the private store view.
#[derive(Debug, thiserror::Error)]
pub enum EnterError {
    /// The mount (or user) namespace could not be made.
    #[error("cannot create a mount namespace: {0}")]
    Namespace(#[source] nix::Error),
    /// The user namespace's id maps could not be written.
    #[error("writing {file}: {source}")]
    IdMap {
        /// The map file.
        file: &'static str,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The mounts could not be made private.
    #[error("cannot make the mounts private: {0}")]
    Private(#[source] nix::Error),
    /// The logical store directory does not exist and cannot be made.
    #[error("'{}' does not exist and cannot be created ({source}); run as root once to create it", .path.display())]
    StoreDir {
        /// The logical store directory.
        path: PathBuf,
        /// Why it could not be made.
        source: std::io::Error,
    },
    /// The store could not be bind-mounted at its logical directory.
    #[error("cannot bind-mount '{}' at '{}': {source}", .real.display(), .logical.display())]
    Bind {
        /// Where the store's files are.
        real: PathBuf,
        /// The logical store directory.
        logical: PathBuf,
        /// Why it failed.
        source: nix::Error,
    },
    /// No shell for the development environment.
    #[error("bash is not on PATH (or set NIX_BUILD_SHELL)")]
    NoBash,
    /// The development environment's files could not be written.
    #[error("preparing the shell in '{dir}': {message}")]
    Prepare {
        /// The temporary directory's parent.
        dir: String,
        /// What went wrong.
        message: String,
    },
    /// The program could not be started.
    #[error("cannot run '{program}': {source}")]
    Exec {
        /// The program.
        program: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

/// Enters the private store view: a mount namespace (and, when not root or when root may
/// not have one alone, a user namespace mapping this user to itself) where the store's
/// files are bind-mounted at its logical directory. Nothing to do when they are already
/// there. Must be called while the process has a single thread (`unshare`).
pub fn private_store_view(config: &StoreConfig) -> Result<(), EnterError> {
    let real = config.real_store_dir();
    let logical = Path::new(config.store_dir.as_str());
    if real == logical {
        return Ok(());
    }
    let (uid, gid) = (getuid(), getgid());
    let alone = uid.is_root() && unshare(CloneFlags::CLONE_NEWNS).is_ok();
    if !alone {
        unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUSER)
            .map_err(EnterError::Namespace)?;
        let write = |file: &'static str, text: String| {
            std::fs::write(file, text).map_err(|source| EnterError::IdMap { file, source })
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
    .map_err(EnterError::Private)?;
    if !logical.is_dir() {
        std::fs::create_dir_all(logical).map_err(|source| EnterError::StoreDir {
            path: logical.to_path_buf(),
            source,
        })?;
    }
    mount(
        Some(&real),
        logical,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|source| EnterError::Bind {
        real: real.clone(),
        logical: logical.to_path_buf(),
        source,
    })
}

/// Runs `run` with `/bin/sh -c` (or an interactive `$SHELL`, else `sh`) with `bins` on
/// `PATH` (alone with `pure`) in the private store view. Only returns on failure.
pub fn shell(
    config: &StoreConfig,
    bins: &[PathBuf],
    pure: bool,
    run: Option<&str>,
) -> Result<(), EnterError> {
    private_store_view(config)?;
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
    Err(EnterError::Exec {
        program: "the shell".into(),
        source: err,
    })
}

/// The shell of development environments: `$NIX_BUILD_SHELL`, else `bash` from `PATH`.
fn build_shell() -> Result<PathBuf, EnterError> {
    if let Some(s) = std::env::var_os("NIX_BUILD_SHELL") {
        return Ok(s.into());
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("bash"))
        .find(|p| p.is_file())
        .ok_or(EnterError::NoBash)
}

/// Runs bash in the development environment `shell` (with `--pure`, in a cleared
/// environment keeping what nix-shell keeps and `keep`), running `run` and exiting with its
/// status, or interactive, in the private store view. Only returns on failure.
pub fn dev_shell(
    config: &StoreConfig,
    shell: &DevShell,
    pure: bool,
    keep: &[String],
    run: Option<&str>,
) -> Result<(), EnterError> {
    let bash = build_shell()?;
    let build_top = std::env::var("TMPDIR").unwrap_or_else(|_| "/tmp".into());
    let tz = std::env::var("TZ").ok();
    let prepared = shell
        .prepare(&build_top, pure, tz.as_deref(), run)
        .map_err(|e| EnterError::Prepare {
            dir: build_top.clone(),
            message: e.to_string(),
        })?;
    private_store_view(config)?;
    let mut cmd = Command::new(&bash);
    if run.is_some() {
        cmd.arg(&prepared.rc);
    } else {
        cmd.arg("--rcfile").arg(&prepared.rc);
    }
    if pure {
        cmd.env_clear();
        let kept = PURE_KEEP
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
    Err(EnterError::Exec {
        program: bash.display().to_string(),
        source: err,
    })
}

/// Runs `command` (default: `$SHELL`, else `sh`) in the private store view. Only returns
/// on failure.
pub fn enter(config: &StoreConfig, profile: &Path, command: &[String]) -> Result<(), EnterError> {
    private_store_view(config)?;
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
    Err(EnterError::Exec {
        program,
        source: err,
    })
}
