//! `nixkit daemon --option substituters http://…` substitutes for its clients from a
//! `nixkit serve` cache, and a client's `--option narinfo-cache-negative-ttl 0` (nixkit's
//! CLI, and CppNix 2.8's `nix-store` when present) reaches the daemon's cache: a path the
//! daemon remembers as absent is asked for again and substituted. Servers on 127.0.0.1.
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn nixkit() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nixkit"));
    c.env_remove("NIX_REMOTE");
    c
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn serve(store: &Path) -> (Killed, String) {
    let mut child = nixkit()
        .args(["serve", "--store", store.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let server = Killed(child);
    let mut first = String::new();
    BufReader::new(stderr).read_line(&mut first).unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    (server, url)
}

fn daemon(dir: &Path, url: &str) -> (Killed, PathBuf) {
    let socket = dir.join("socket");
    let child = nixkit()
        .arg("daemon")
        .arg("--store")
        .arg(dir.join("root"))
        .arg("--socket")
        .arg(&socket)
        .args(["--option", "substituters", url])
        .args(["--option", "require-sigs", "false"])
        // The daemon's narinfo cache file.
        .env("XDG_CACHE_HOME", dir.join("daemon-cache"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let child = Killed(child);
    let start = Instant::now();
    while !socket.exists() {
        assert!(start.elapsed() < Duration::from_secs(20), "no daemon");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, socket)
}

fn have_nix_store() -> bool {
    Command::new("nix-store")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Realises a path (with extra arguments) through the daemon.
type Realise<'a> = dyn Fn(&str, &[&str]) -> Output + 'a;

#[test]
fn clients_negative_ttl_reaches_the_daemons_substituter() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |s: &str| tmp.path().join(s);
    let served = t("served");
    let (_server, url) = serve(&served);
    let (_daemon, socket) = daemon(tmp.path(), &url);
    let remote = format!("unix://{}", socket.display());
    let mut clients: Vec<(&str, Box<Realise<'_>>)> = vec![(
        "nixkit",
        Box::new(|path: &str, extra: &[&str]| {
            nixkit()
                .args(["store", "--store", &remote, "--realise", path])
                .args(extra)
                .output()
                .unwrap()
        }),
    )];
    if have_nix_store() {
        clients.push((
            "cppnix",
            Box::new(|path: &str, extra: &[&str]| {
                Command::new("nix-store")
                    .args(["--store", &remote, "--realise", path])
                    .args(extra)
                    .env_remove("NIX_REMOTE")
                    .env("NIX_CONFIG", "")
                    .output()
                    .unwrap()
            }),
        ));
    } else {
        println!("skipped: the CppNix client part (nix-store is not on PATH)");
    }
    for (name, realise) in &clients {
        let file = t(&format!("{name}.txt"));
        std::fs::write(&file, format!("substituted for {name}\n")).unwrap();
        let add = |store: &Path| {
            ok(nixkit()
                .args(["store", "--store", store.to_str().unwrap(), "--add"])
                .arg(&file)
                .output()
                .unwrap())
        };
        let path = add(&t("elsewhere"));
        // Not in the cache yet: the daemon remembers that (for an hour by default).
        assert!(!realise(&path, &[]).status.success(), "{name}");
        assert_eq!(add(&served), path);
        let again = realise(&path, &[]);
        assert!(
            !again.status.success(),
            "{name}: the absent answer was remembered"
        );
        let out = realise(&path, &["--option", "narinfo-cache-negative-ttl", "0"]);
        assert_eq!(ok(out), path, "{name}");
        let valid = nixkit()
            .args(["store", "--store", &remote, "--verify-path", &path])
            .output()
            .unwrap();
        assert!(valid.status.success(), "{name}");
    }
}
