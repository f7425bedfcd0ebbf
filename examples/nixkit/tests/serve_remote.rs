//! `nix-store --serve --write` on nixkit's store: first with nixkit's own serve client over
//! pipes, then as CppNix uses it — through a real OpenSSH server (Debian's `sshd`, started
//! here on a loopback port with keys of its own): `nix copy --to ssh://` and CppNix 2.8's
//! `nix-build --builders ssh://… -j0`, which builds on the nixkit "remote" and copies the
//! outputs back. Skipped without sshd, CppNix, busybox or user namespaces.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{nixkit, Sshd};

use nixkit_protocol::serve::client::ServeClient;
use nixkit_protocol::Limits;
use nixkit_store::{Hash, HashAlgo, PathInfo, StoreDir};

fn have(bin: &str, args: &[&str]) -> bool {
    Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn builds_work() -> bool {
    Path::new("/bin/busybox").exists() && have("/bin/busybox", &["unshare", "-Ur", "true"])
}

#[test]
fn the_serve_protocol_adds_lists_dumps_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(nixkit())
        .args(["store", "--serve", "--write", "--store"])
        .arg(dir.path().join("store"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (stdin, stdout) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
    let mut c =
        ServeClient::connect(stdout, stdin, StoreDir::default(), Limits::default()).unwrap();
    let mut nar = Vec::new();
    nixkit_store::nar::write_flat_file_nar(b"served", false, &mut nar).unwrap();
    let dep = StoreDir::default()
        .parse_path("/nix/store/0a0x8ywlxmgcnh5fgd3r1wb2ddsl5q9k-dep")
        .unwrap();
    let top = StoreDir::default()
        .parse_path("/nix/store/1a0x8ywlxmgcnh5fgd3r1wb2ddsl5q9k-top")
        .unwrap();
    let hash = Hash::digest(HashAlgo::Sha256, &nar);
    let dep_info = PathInfo::new(dep.clone(), hash, nar.len() as u64);
    let mut top_info = PathInfo::new(top.clone(), hash, nar.len() as u64);
    top_info.references.insert(dep.clone());
    c.add_to_store_nar(&dep_info, &mut nar.as_slice()).unwrap();
    c.add_to_store_nar(&top_info, &mut nar.as_slice()).unwrap();
    let both = BTreeSet::from([dep.clone(), top.clone()]);
    assert_eq!(c.query_valid_paths(&both, true, false).unwrap(), both);
    let infos = c.query_path_infos(&both).unwrap();
    assert_eq!(infos.len(), 2);
    assert!(infos.iter().all(|i| i.nar_hash == hash));
    assert_eq!(
        c.query_closure(&BTreeSet::from([top.clone()]), false)
            .unwrap(),
        both
    );
    let mut back = Vec::new();
    c.dump_store_path(&top, &mut back).unwrap();
    assert_eq!(back, nar);
    let exported = c.export_paths(&both, 1 << 20).unwrap();
    assert_eq!(exported.len(), 2);
    assert_eq!(exported[0].path, dep, "references first");
    drop(c);
    assert!(child.wait().unwrap().success());

    // Without --write, adding is refused and the session ends with the reason.
    let mut child = Command::new(nixkit())
        .args(["store", "--serve", "--store"])
        .arg(dir.path().join("store"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (stdin, stdout) = (child.stdin.take().unwrap(), child.stdout.take().unwrap());
    let mut c =
        ServeClient::connect(stdout, stdin, StoreDir::default(), Limits::default()).unwrap();
    let mut other = dep_info.clone();
    other.path = StoreDir::default()
        .parse_path("/nix/store/2a0x8ywlxmgcnh5fgd3r1wb2ddsl5q9k-other")
        .unwrap();
    assert!(c.add_to_store_nar(&other, &mut nar.as_slice()).is_err());
    drop(c);
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--write"));
}

#[test]
fn cppnix_copies_to_and_builds_on_a_nixkit_remote_over_ssh() {
    if !have("nix-store", &["--version"]) || !builds_work() {
        eprintln!("skipped: needs CppNix, busybox-static and user namespaces");
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
    // nix copy --to ssh://: a path added to CppNix's store arrives in nixkit's.
    let file = local.path().join("greeting.txt");
    std::fs::write(&file, "over ssh\n").unwrap();
    let added = Command::new("nix-store")
        .arg("--store")
        .arg(local.path().join("store"))
        .env("NIX_STATE_DIR", local.path().join("state"))
        .env("NIX_CONF_DIR", local.path().join("conf"))
        .arg("--add")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let added = String::from_utf8(added.stdout).unwrap().trim().to_owned();
    let target = format!("ssh://{}@127.0.0.1", sshd.user);
    let copy = sshd
        .cpp("nix", local.path())
        .args(["copy", "--to", &target, &added])
        .output()
        .unwrap();
    assert!(
        copy.status.success(),
        "{}",
        String::from_utf8_lossy(&copy.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(sshd.remote_real(&added)).unwrap(),
        "over ssh\n"
    );

    // nix-build with the nixkit machine as its only builder (-j0: nothing builds locally).
    let key = sshd.dir.path().join("id");
    let builders = format!(
        "ssh://{}@127.0.0.1 {}-linux {} 2",
        sshd.user,
        std::env::consts::ARCH,
        key.display()
    );
    let pkgs = concat!(env!("CARGO_MANIFEST_DIR"), "/../pkgs");
    let build = sshd
        .cpp("nix-build", local.path())
        .current_dir(local.path())
        .args([pkgs, "-A", "hello", "-j0", "--builders", &builders])
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let out = String::from_utf8(build.stdout).unwrap().trim().to_owned();
    // Built remotely by nixkit, copied back into CppNix's store.
    assert!(
        sshd.remote_real(&out).join("bin/hello").exists(),
        "built on the remote"
    );
    let local_copy = local
        .path()
        .join("store")
        .join(out.trim_start_matches('/'))
        .join("bin/hello");
    let script = std::fs::read_to_string(local_copy).unwrap();
    assert!(script.contains("Hello, world!"), "{script}");
    let verify = Command::new("nix-store")
        .arg("--store")
        .arg(local.path().join("store"))
        .env("NIX_STATE_DIR", local.path().join("state"))
        .env("NIX_CONF_DIR", local.path().join("conf"))
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
fn nixkit_builds_across_a_nixkit_and_a_cppnix_remote() {
    if !have("nix-store", &["--version"]) || !builds_work() {
        eprintln!("skipped: needs CppNix, busybox-static and user namespaces");
        return;
    }
    let Some(ours) = Sshd::start() else {
        eprintln!("skipped: no usable sshd (openssh-server)");
        return;
    };
    // The second machine runs CppNix's own nix-store on a store of its own.
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
    let builders = format!("ssh://nixkit-remote {system} - 1; ssh://cppnix-remote {system} - 1");
    let pkgs = concat!(env!("CARGO_MANIFEST_DIR"), "/../pkgs");
    let build = |store: &Path, remote: bool| {
        let mut c = Command::new(nixkit());
        c.current_dir(work.path())
            .args(["build", pkgs, "-A", "all", "--no-out-link", "--store"])
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
    let hash = |store: &Path, p: &str| {
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
    };
    for p in remote_outs.lines() {
        assert_eq!(hash(&remote_store, p), hash(&local_store, p), "{p}");
    }
    // hello and multi are ready together and each machine takes one build at a time, so
    // both machines built something; nothing but built-in fetches was built here.
    let built_on = |root: &Path| {
        remote_outs
            .lines()
            .filter(|p| root.join(p.trim_start_matches('/')).exists())
            .count()
    };
    assert!(
        built_on(&ours.dir.path().join("remote")) >= 1,
        "nixkit remote used"
    );
    assert!(
        built_on(&theirs.dir.path().join("cppremote")) >= 1,
        "CppNix remote used"
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
fn a_machine_that_fails_mid_copy_is_left_for_another() {
    if !builds_work() {
        eprintln!("skipped: needs busybox-static and user namespaces");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    // A remote whose nix-store may write only tiny files: it dies (SIGXFSZ) while the
    // inputs are copied to it.
    let faulty_bin = work.path().join("faulty-bin");
    std::fs::create_dir(&faulty_bin).unwrap();
    let script = faulty_bin.join("nix-store");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nulimit -f 1\nexec {} \"$@\"\n", nixkit()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let Some(faulty) = Sshd::start_with(|d| {
        format!(
            "PATH={}:/usr/bin:/bin NIXKIT_STORE={}/remote",
            faulty_bin.display(),
            d.display()
        )
    }) else {
        eprintln!("skipped: no usable sshd (openssh-server)");
        return;
    };
    let Some(good) = Sshd::start() else {
        eprintln!("skipped: no usable sshd (openssh-server)");
        return;
    };
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = work.path().join("ssh_config");
    let host = |name: &str, port: u16, dir: &Path| {
        format!(
            "Host {name}\n  HostName 127.0.0.1\n  Port {port}\n  IdentityFile {}/id\n",
            dir.display()
        )
    };
    std::fs::write(
        &config,
        format!(
            "{}{}{}Host *\n  User {}\n  StrictHostKeyChecking no\n  \
             UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  ConnectTimeout 5\n",
            host("faulty-remote", faulty.port, faulty.dir.path()),
            host("good-remote", good.port, good.dir.path()),
            host("nowhere-remote", closed, good.dir.path()),
            good.user
        ),
    )
    .unwrap();
    let system = format!("{}-linux", std::env::consts::ARCH);
    let pkgs = concat!(env!("CARGO_MANIFEST_DIR"), "/../pkgs");
    let build = |store: &Path, builders: &str| {
        Command::new(nixkit())
            .current_dir(work.path())
            .args([
                "build",
                pkgs,
                "-A",
                "hello",
                "--no-out-link",
                "-j",
                "0",
                "--store",
            ])
            .arg(store)
            .args(["--builders", builders])
            .env("NIX_SSHOPTS", format!("-F {}", config.display()))
            .output()
            .unwrap()
    };
    let out = build(
        &work.path().join("store"),
        &format!("ssh://faulty-remote {system} - 1; ssh://good-remote {system} - 1"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("machine 'ssh://faulty-remote' failed")
            && stderr.contains("trying elsewhere"),
        "{stderr}"
    );
    let hello = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(
        good.remote_real(&hello).exists(),
        "built on the good machine"
    );
    // The faulty machine registered nothing half-copied.
    let verify = Command::new(nixkit())
        .args(["store", "--store"])
        .arg(faulty.dir.path().join("remote"))
        .args(["--verify", "--check-contents"])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // Only unreachable machines and no local builds: a clear error, nothing built.
    let out = build(
        &work.path().join("store2"),
        &format!("ssh://nowhere-remote {system} - 1"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("machine 'ssh://nowhere-remote' failed"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "a '{system}' with features {{}} is required to build"
        )),
        "{stderr}"
    );
}
