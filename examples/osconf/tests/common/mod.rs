//! Helpers of osconf's end-to-end tests: running the binary on a scratch root, writing
//! configurations, reading the target's files through its root.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use nixkit_osconf::target::Target;

/// Whether the tests can run here: the example package set needs busybox-static, and
/// activation a `/nix/store` directory to mount the target's store over (and, when not
/// root, user namespaces).
pub fn usable() -> bool {
    let busybox = ["/usr/bin/busybox", "/bin/busybox"]
        .iter()
        .any(|p| Path::new(p).exists());
    if !busybox {
        eprintln!("skipped: needs busybox-static (the example package set is built from it)");
        return false;
    }
    if !Path::new("/nix/store").is_dir() {
        eprintln!(
            "skipped: activation needs a /nix/store directory to mount the target's store on"
        );
        return false;
    }
    let ns = nix::unistd::getuid().is_root()
        || Command::new("unshare")
            .args(["-Urm", "true"])
            .status()
            .is_ok_and(|s| s.success());
    if !ns {
        eprintln!("skipped: needs root or user namespaces for activation");
    }
    ns
}

/// The osconf command on `root`, run in `cwd`.
pub fn command(root: &Path, cwd: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_osconf"));
    c.current_dir(cwd)
        .arg("--root")
        .arg(root)
        .args(["-Q", "-j", "2"])
        .args(args);
    c
}

/// Runs osconf; (success, stdout, stderr).
pub fn osconf(root: &Path, cwd: &Path, args: &[&str]) -> (bool, String, String) {
    let out = command(root, cwd, args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Runs osconf and fails the test unless it succeeds; its stdout.
pub fn ok(root: &Path, cwd: &Path, args: &[&str]) -> String {
    let (ok, stdout, stderr) = osconf(root, cwd, args);
    assert!(ok, "osconf {args:?} failed:\n{stderr}");
    stdout
}

/// Starts osconf without waiting.
pub fn spawn(root: &Path, cwd: &Path, args: &[&str]) -> Child {
    command(root, cwd, args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A scratch target: its root directory and a working directory beside it.
pub struct Scratch {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub cwd: PathBuf,
}

impl Scratch {
    pub fn new() -> Scratch {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let cwd = tmp.path().join("work");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&cwd).unwrap();
        Scratch {
            _tmp: tmp,
            root,
            cwd,
        }
    }

    pub fn target(&self) -> Target {
        Target::new(&self.root).unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        ok(&self.root, &self.cwd, args)
    }

    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        osconf(&self.root, &self.cwd, args)
    }

    /// The target's file `path` (links followed inside the target), or "" if missing.
    pub fn read(&self, path: &str) -> String {
        let real = self.target().resolve(Path::new(path)).unwrap();
        std::fs::read_to_string(real).unwrap_or_default()
    }

    /// Whether the target's `path` exists (links followed inside the target).
    pub fn exists(&self, path: &str) -> bool {
        self.target()
            .resolve(Path::new(path))
            .is_ok_and(|p| p.exists())
    }

    /// The link `path` of the target points to.
    pub fn link(&self, path: &str) -> String {
        std::fs::read_link(self.root.join(path.trim_start_matches('/')))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The configuration file.
    pub fn config_path(&self) -> PathBuf {
        self.root.join("etc/osconf/configuration.nix")
    }

    /// Writes `text` as a configuration file named `name` in the working directory.
    pub fn write_config(&self, name: &str, text: &str) -> PathBuf {
        let p = self.cwd.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The current generation's number and system.
    pub fn current(&self) -> Option<(u64, String)> {
        self.target()
            .profile()
            .generations()
            .unwrap()
            .into_iter()
            .find(|g| g.current)
            .map(|g| (g.number, g.system.to_string_lossy().into_owned()))
    }

    /// The user names of the target's /etc/passwd.
    pub fn users(&self) -> Vec<String> {
        self.read("/etc/passwd")
            .lines()
            .filter_map(|l| l.split(':').next().map(str::to_owned))
            .collect()
    }
}

/// A configuration importing the generated hardware configuration, with `body` added.
pub fn config_with(hardware: &Path, body: &str) -> String {
    format!(
        "{{ config, lib, pkgs, ... }}:\n{{\n  imports = [ {} ];\n  networking.hostName = \"testhost\";\n{body}\n}}\n",
        hardware.display()
    )
}

/// Everything of the target's root outside the store and the store's state: each path
/// with what it is (a link's target, a file's mode and contents, a directory's mode).
pub fn snapshot(root: &Path) -> std::collections::BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, String>) {
        use std::os::unix::fs::PermissionsExt;
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if rel == "nix" {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.insert(rel, format!("-> {}", target.display()));
            } else if meta.is_dir() {
                out.insert(rel, format!("dir {mode:o}"));
                walk(root, &path, out);
            } else {
                let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                out.insert(rel, format!("file {mode:o} {text}"));
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(root, root, &mut out);
    out
}
