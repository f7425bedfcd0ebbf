//! `ssh-ng://` remote builders: the daemon's worker protocol over `ssh HOST nix-daemon
//! --stdio`, through a real OpenSSH server. nixkit builds the example package set with
//! `-j0` on one machine running CppNix's `nix-daemon --stdio` and one running `nixkit
//! daemon --stdio`, with outputs identical to a local build; and CppNix 2.8's `nix-build
//! --builders ssh-ng://…` builds on the nixkit machine. Skipped without sshd, CppNix,
//! busybox or user namespaces.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{nixkit, Sshd};

fn usable() -> bool {
    let runs = |bin: &str, args: &[&str]| {
        Command::new(bin)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let ok = runs("nix-daemon", &["--version"])
        && Path::new("/bin/busybox").exists()
        && runs("/bin/busybox", &["unshare", "-Ur", "true"]);
    if !ok {
        eprintln!("skipped: needs CppNix (nix-daemon), busybox-static and user namespaces");
    }
    ok
}

fn pkgs() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../pkgs")
}

fn hash(store: &Path, p: &str) -> String {
    let out = Command::new(nixkit())
        .args(["store", "--store"])
        .arg(store)
        .args(["-q", "--hash", p])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn nixkit_builds_on_a_nixkit_and_a_cppnix_ssh_ng_machine() {
    if !usable() {
        return;
    }
    let Some(ours) = Sshd::start() else {
        eprintln!("skipped: no usable sshd (openssh-server)");
        return;
    };
    // The second machine runs CppNix's own nix-daemon on a store of its own.
    let Some(theirs) = Sshd::start_with(|d| {
        format!(
            "PATH=/usr/bin:/bin NIX_REMOTE={d}/cppremote NIX_CONF_DIR={d}",
            d = d.display()
        )
    }) else {
        eprintln!("skipped: no usable sshd (openssh-server)");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "Host nixkit-remote\n  HostName 127.0.0.1\n  Port {}\n  IdentityFile {}/id\n\
             Host cppnix-remote\n  HostName 127.0.0.1\n  Port {}\n  IdentityFile {}/id\n\
             Host *\n  User {}\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n\
               LogLevel ERROR\n",
            ours.port,
            ours.dir.path().display(),
            theirs.port,
            theirs.dir.path().display(),
            ours.user
        ),
    )
    .unwrap();
    let system = format!("{}-linux", std::env::consts::ARCH);
    let builders =
        format!("ssh-ng://nixkit-remote {system} - 1; ssh-ng://cppnix-remote {system} - 1");
    let build = |store: &Path, remote: bool| {
        let mut c = Command::new(nixkit());
        c.current_dir(work.path())
            .args(["build", pkgs(), "-A", "all", "--no-out-link", "--store"])
            .arg(store)
            .env("NIX_SSHOPTS", format!("-F {}", config.display()));
        if remote {
            c.args(["-j", "0", "--builders", &builders]);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let remote_store = work.path().join("remote-built");
    let local_store = work.path().join("local-built");
    let remote_outs = build(&remote_store, true);
    let local_outs = build(&local_store, false);
    assert_eq!(remote_outs, local_outs, "the same output paths");
    for p in remote_outs.lines() {
        assert_eq!(hash(&remote_store, p), hash(&local_store, p), "{p}");
    }
    let built_on = |root: &Path| {
        remote_outs
            .lines()
            .filter(|p| root.join(p.trim_start_matches('/')).exists())
            .count()
    };
    assert!(
        built_on(&ours.dir.path().join("remote")) >= 1,
        "nixkit machine used"
    );
    assert!(
        built_on(&theirs.dir.path().join("cppremote")) >= 1,
        "CppNix machine used"
    );
    let verify = Command::new(nixkit())
        .args(["store", "--store"])
        .arg(&remote_store)
        .args(["--verify", "--check-contents"])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[test]
fn cppnix_builds_on_a_nixkit_daemon_over_ssh_ng() {
    if !usable() {
        return;
    }
    let Some(sshd) = Sshd::start() else {
        eprintln!("skipped: no usable sshd (openssh-server)");
        return;
    };
    let local = tempfile::tempdir().unwrap();
    for sub in ["state", "conf", "home"] {
        std::fs::create_dir_all(local.path().join(sub)).unwrap();
    }
    std::fs::write(
        local.path().join("conf/nix.conf"),
        "experimental-features = nix-command\nsubstituters =\n",
    )
    .unwrap();
    let builders = format!(
        "ssh-ng://{}@127.0.0.1 {}-linux {}/id 2",
        sshd.user,
        std::env::consts::ARCH,
        sshd.dir.path().display()
    );
    let build = sshd
        .cpp("nix-build", local.path())
        .current_dir(local.path())
        .args([pkgs(), "-A", "hello", "-j0", "--builders", &builders])
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let out = String::from_utf8(build.stdout).unwrap().trim().to_owned();
    assert!(
        sshd.remote_real(&out).join("bin/hello").exists(),
        "built on the nixkit machine"
    );
    let local_copy = local
        .path()
        .join("store")
        .join(out.trim_start_matches('/'))
        .join("bin/hello");
    let script = std::fs::read_to_string(local_copy).unwrap();
    assert!(script.contains("Hello, world!"), "{script}");
}
