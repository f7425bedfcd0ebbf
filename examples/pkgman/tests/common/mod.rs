//! Shared helpers of pkgman's end-to-end tests: a scratch store, profile and channel (a
//! copy of the busybox package set examples/pkgs), running pkgman, editing the channel.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Whether the sandbox can build here (busybox-static and user namespaces).
pub fn usable() -> bool {
    let ok = Path::new("/bin/busybox").exists()
        && Command::new("/bin/busybox")
            .args(["unshare", "-Ur", "true"])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: needs busybox-static and user namespaces");
    }
    ok
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// One user's world: a store, a profile outside the store's state directory (so its
/// generations are kept alive by indirect roots), pkgman's state, and a channel directory.
pub struct World {
    pub tmp: tempfile::TempDir,
}

impl World {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../pkgs")),
            &tmp.path().join("chan"),
        );
        Self { tmp }
    }

    pub fn dir(&self) -> &Path {
        self.tmp.path()
    }

    pub fn store(&self) -> PathBuf {
        self.dir().join("store")
    }

    pub fn profile(&self) -> PathBuf {
        self.dir().join("profiles/me")
    }

    pub fn channel(&self) -> PathBuf {
        self.dir().join("chan")
    }

    /// A pkgman command with this world's store, profile and state.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pkgman"));
        c.current_dir(self.dir())
            .env_remove("NIXKIT_STORE")
            .env_remove("PKGMAN_STATE_DIR")
            .arg("--store")
            .arg(self.store())
            .arg("--profile")
            .arg(self.profile())
            .arg("--state-dir")
            .arg(self.dir().join("state"))
            .args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs pkgman and requires success; returns standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "pkgman {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs pkgman and requires failure; returns standard error.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "pkgman {args:?} succeeded");
        String::from_utf8(out.stderr).unwrap()
    }

    /// The generations as (number, current).
    pub fn generations(&self) -> Vec<(u64, bool)> {
        self.ok(&["list-generations"])
            .lines()
            .map(|l| {
                let n = l.split_whitespace().next().unwrap().parse().unwrap();
                (n, l.trim_end().ends_with("(current)"))
            })
            .collect()
    }

    pub fn current(&self) -> Option<u64> {
        self.generations()
            .into_iter()
            .find(|(_, c)| *c)
            .map(|(n, _)| n)
    }

    /// The installed names, sorted.
    pub fn installed(&self) -> Vec<String> {
        let mut v: Vec<String> = self.ok(&["list"]).lines().map(str::to_owned).collect();
        v.sort();
        v
    }

    /// Runs `cmd` from the profile inside `pkgman enter`; returns its standard output.
    pub fn enter(&self, cmd: &[&str]) -> String {
        let mut args = vec!["enter"];
        args.extend_from_slice(cmd);
        self.ok(&args)
    }

    /// Replaces `from` with `to` in the channel's default.nix.
    pub fn edit_channel(&self, from: &str, to: &str) {
        let file = self.channel().join("default.nix");
        let text = fs::read_to_string(&file).unwrap();
        assert!(text.contains(from), "{from}");
        fs::write(&file, text.replacen(from, to, 1)).unwrap();
    }

    /// Adds attributes to the channel's package set.
    pub fn add_packages(&self, nix: &str) {
        self.edit_channel(
            "    all = [ hello greeter multi combined ];",
            &format!("    all = [ hello greeter multi combined ];\n{nix}"),
        );
    }
}
