//! The development environment of a derivation, as `nix-shell FILE -A ATTR` makes it: the
//! derivation's inputs are built or substituted (not the derivation itself), its
//! variables are what its builder would see (`passAsFile` and structured attributes as
//! files in the shell's temporary directory), `NIX_BUILD_TOP`/`TMPDIR`/… name the user's
//! temporary directory, `IN_NIX_SHELL` is `impure` or `pure`, and a bash rc script sources
//! `$stdenv/setup` when there is a stdenv, runs `shellHook`, then the user's command.
//!
//! [`dev_shell`] computes all of that; the caller (pkgman's `shell`) writes the files and
//! the script into a temporary directory and runs bash.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use nixkit_derivation::{hash_placeholder, Derivation};
use nixkit_sandbox::{read_derivation, BuildError, BuilderEnv, EnvError, EnvParams};
use nixkit_store::local::LocalStore;

use crate::manager::{ChangeError, Manager};
use crate::packages::{PackageSet, PackageSetError, SetSource};

/// Variables `--pure` keeps from the caller's environment, as `nix-shell --pure` does.
pub const PURE_KEEP: &[&str] = &[
    "HOME",
    "XDG_RUNTIME_DIR",
    "USER",
    "LOGNAME",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "WAYLAND_SOCKET",
    "PATH",
    "TERM",
    "IN_NIX_SHELL",
    "NIX_SHELL_PRESERVE_PROMPT",
    "TZ",
    "PAGER",
    "NIX_BUILD_SHELL",
    "SHLVL",
    "http_proxy",
    "https_proxy",
    "ftp_proxy",
    "all_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "FTP_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
];

/// Why a development environment could not be made.
#[derive(Debug, thiserror::Error)]
pub enum DevShellError {
    /// The file could not be evaluated, or the attribute not found.
    #[error(transparent)]
    PackageSet(#[from] PackageSetError),
    /// The expression is not exactly one derivation.
    #[error("'{what}' evaluates to {count} derivations; nix-shell needs exactly one (choose one with -A)")]
    NotOneDerivation {
        /// The file and attribute path.
        what: String,
        /// How many derivations it holds.
        count: usize,
    },
    /// The derivation's inputs could not be built.
    #[error(transparent)]
    Build(#[from] ChangeError),
    /// The derivation could not be read back from the store.
    #[error(transparent)]
    Read(#[from] BuildError),
    /// The derivation's environment could not be computed.
    #[error(transparent)]
    Env(#[from] EnvError),
}

/// A derivation's development environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevShell {
    /// The derivation (`/nix/store/…drv`).
    pub drv_path: String,
    /// Variables set over the inherited (or, with `--pure`, cleared) environment. Values
    /// may name the shell's temporary directory as [`TMP_MARK`].
    pub vars: BTreeMap<String, String>,
    /// Files to write into the shell's temporary directory: name, contents.
    pub files: Vec<(String, Vec<u8>)>,
    /// Whether the derivation has structured attributes (`.attrs.sh` is sourced).
    pub structured: bool,
}

/// Stands for the shell's temporary directory in [`DevShell::vars`] until the caller has
/// made it ([`DevShell::place`]).
pub const TMP_MARK: &str = "@PKGMAN_SHELL_TMP@";

/// The builder-only variables the sandbox sets itself, which the shell leaves alone unless
/// the derivation sets them.
const BUILDER_ONLY: &[&str] = &[
    "PATH",
    "HOME",
    "TERM",
    "NIX_LOG_FD",
    "PWD",
    "NIX_OUTPUT_CHECKED",
];

impl DevShell {
    /// The variables with the temporary directory `tmp` in place of [`TMP_MARK`], and
    /// `NIX_BUILD_TOP`, `TMPDIR`, `TEMPDIR`, `TMP`, `TEMP` set to `build_top` (the caller's
    /// `$TMPDIR`, else `/tmp`, as nix-shell does) and `IN_NIX_SHELL`.
    pub fn place(&self, tmp: &Path, build_top: &str, pure: bool) -> BTreeMap<String, String> {
        let tmp = tmp.to_string_lossy();
        let mut vars: BTreeMap<String, String> = self
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), v.replace(TMP_MARK, &tmp)))
            .collect();
        for k in ["NIX_BUILD_TOP", "TMPDIR", "TEMPDIR", "TMP", "TEMP"] {
            vars.insert(k.to_owned(), build_top.to_owned());
        }
        vars.insert(
            "IN_NIX_SHELL".to_owned(),
            if pure { "pure" } else { "impure" }.to_owned(),
        );
        vars
    }
}

/// A development environment ready to run: its temporary directory holds the files and
/// the rc script, and is removed by the script when the shell exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedShell {
    /// The temporary directory.
    pub dir: std::path::PathBuf,
    /// The rc script in it.
    pub rc: std::path::PathBuf,
    /// The variables to set.
    pub vars: BTreeMap<String, String>,
}

impl DevShell {
    /// Makes the shell's temporary directory under `build_top` (the caller's `$TMPDIR`,
    /// else `/tmp`), writes the files and the rc script ([`rc_script`]) into it.
    pub fn prepare(
        &self,
        build_top: &str,
        pure: bool,
        tz: Option<&str>,
        command: Option<&str>,
    ) -> std::io::Result<PreparedShell> {
        let dir = tempfile::Builder::new()
            .prefix("nix-shell-")
            .tempdir_in(build_top)?
            .keep();
        for (name, contents) in &self.files {
            std::fs::write(dir.join(name), contents)?;
        }
        let rc = dir.join("rc");
        std::fs::write(&rc, rc_script(&dir, self.structured, pure, tz, command))?;
        let vars = self.place(&dir, build_top, pure);
        Ok(PreparedShell { dir, rc, vars })
    }
}

/// CppNix's shell quoting: single quotes, with `'` written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The bash script the shell runs (as `--rcfile`, or as a script with a command): clean up
/// `tmp` on exit; keep the caller's `PATH` after the environment's own unless `pure`;
/// source `.attrs.sh` and `$stdenv/setup`; run `shellHook`; then `command` and exit with
/// its status (none: stay interactive). `tz` is the caller's `TZ`.
pub fn rc_script(
    tmp: &Path,
    structured: bool,
    pure: bool,
    tz: Option<&str>,
    command: Option<&str>,
) -> String {
    let mut rc = String::new();
    let tmp = shell_quote(&tmp.to_string_lossy());
    rc.push_str(&format!(
        "_pkgman_shell_cleanup() {{ command rm -rf {tmp}; }}; trap _pkgman_shell_cleanup EXIT;\n"
    ));
    if !pure {
        rc.push_str("[ -n \"$PS1\" ] && [ -e ~/.bashrc ] && source ~/.bashrc;\n");
        rc.push_str("_pkgman_outer_path=$PATH;\n");
    }
    rc.push_str("unset PATH;\ndontAddDisableDepTrack=1;\n");
    if structured {
        rc.push_str("[ -e \"$NIX_ATTRS_SH_FILE\" ] && source \"$NIX_ATTRS_SH_FILE\";\n");
    }
    rc.push_str("[ -n \"$stdenv\" ] && [ -e \"$stdenv/setup\" ] && source \"$stdenv/setup\";\n");
    if !pure {
        rc.push_str("PATH=${PATH:+$PATH:}$_pkgman_outer_path; unset _pkgman_outer_path;\n");
    }
    rc.push_str("set +e;\n");
    rc.push_str(
        "[ -n \"$PS1\" ] && [ -z \"$NIX_SHELL_PRESERVE_PROMPT\" ] && PS1='\\n\\[\\033[1;32m\\][nix-shell:\\w]\\$\\[\\033[0m\\] ';\n",
    );
    rc.push_str(
        "if [ \"$(type -t runHook)\" = function ]; then runHook shellHook; else eval \"${shellHook:-}\"; fi;\n",
    );
    rc.push_str("unset NIX_ENFORCE_PURITY; shopt -u nullglob; unset TZ;\n");
    if let Some(tz) = tz {
        rc.push_str(&format!("export TZ={};\n", shell_quote(tz)));
    }
    rc.push_str("shopt -s execfail;\n");
    if let Some(cmd) = command {
        rc.push_str(cmd);
        rc.push_str("\nexit\n");
    }
    rc
}

/// The development environment of the derivation `attr` (none: the whole expression) of
/// `file` (a file, or a directory with `default.nix`): its inputs built or substituted
/// through `manager`'s store and options.
pub fn dev_shell(
    manager: &Manager,
    file: &Path,
    attr: Option<&str>,
) -> Result<DevShell, DevShellError> {
    let mut set = PackageSet::open(&manager.store, &SetSource::File(file.to_path_buf()))?;
    let found = set.by_attr_path(attr.unwrap_or(""))?;
    let [one] = found.as_slice() else {
        return Err(DevShellError::NotOneDerivation {
            what: match attr {
                Some(a) => format!("{}' -A '{a}", file.display()),
                None => file.display().to_string(),
            },
            count: found.len(),
        });
    };
    let drv_path = set.drv_path(one)?;
    let store = manager.reuse(set).map_err(ChangeError::from)?;
    let parsed = store
        .store_dir()
        .parse_path(&drv_path)
        .map_err(|_| ChangeError::BadDrvPath(drv_path.clone()))?;
    let drv = read_derivation(&store, &parsed)?;
    // The inputs, not the derivation itself.
    let inputs: Vec<String> = drv
        .input_drvs
        .keys()
        .map(|p| store.store_dir().print_path(p))
        .collect();
    let store = manager.build_drvs(store, &inputs)?;
    shell_env(&store, drv_path, &drv, manager.realise.settings.cores)
}

/// The variables and files of the shell of `drv` (whose inputs are valid).
fn shell_env(
    store: &LocalStore,
    drv_path: String,
    drv: &Derivation,
    cores: usize,
) -> Result<DevShell, DevShellError> {
    let store_dir = store.store_dir();
    // Outputs whose paths are not known yet (floating content-addressed) get a directory
    // in the shell's temporary directory in place of their placeholder.
    let known = drv.known_output_paths(store_dir);
    let outputs: BTreeMap<String, String> = drv
        .outputs
        .keys()
        .map(|name| {
            let path = known
                .get(name)
                .map(|p| store_dir.print_path(p))
                .unwrap_or_else(|| format!("{TMP_MARK}/outputs/{name}"));
            (name.clone(), path)
        })
        .collect();
    let env = BuilderEnv::new(
        drv,
        &EnvParams {
            store_dir: store_dir.as_str(),
            cores,
            outputs: &outputs,
        },
    )?;
    let own: BTreeSet<&str> = drv.env.keys().map(String::as_str).collect();
    let sandbox_dir = format!("{}/", nixkit_sandbox::env::SANDBOX_BUILD_DIR);
    let file_names: BTreeSet<String> = env.files.iter().map(|(n, _)| n.clone()).collect();
    let mut vars = BTreeMap::new();
    for (k, mut v) in env.vars {
        if BUILDER_ONLY.contains(&k.as_str()) && !own.contains(k.as_str()) {
            continue;
        }
        // Files the builder would find in /build are in the shell's temporary directory.
        if let Some(name) = v.strip_prefix(&sandbox_dir) {
            if file_names.contains(name) {
                v = format!("{TMP_MARK}/{name}");
            }
        }
        for (name, path) in &outputs {
            v = v.replace(&hash_placeholder(name), path);
        }
        vars.insert(k, v);
    }
    Ok(DevShell {
        drv_path,
        vars,
        files: env.files,
        structured: drv.structured_attrs().is_some(),
    })
}
