//! CppNix's nix-env and pkgman on one store and profile: nix-env lists what pkgman
//! installed (run inside `pkgman enter`, where the store's files are at /nix/store, since
//! nix-env 2.8 reads a profile's manifest through the host's /nix/store), changes it, and
//! pkgman reads nix-env's manifest back; `--rollback` and `--list-generations` there and
//! `rollback` / `list-generations` here agree.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::process::Command;

use common::World;

fn nix_env_present() -> bool {
    let ok = Command::new("nix-env")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: nix-env is not installed");
    }
    ok
}

/// nix-env's generations as (number, current).
fn nix_env_generations(w: &World) -> Vec<(u64, bool)> {
    let out = Command::new("nix-env")
        .arg("--store")
        .arg(w.store())
        .arg("--profile")
        .arg(w.profile())
        .arg("--list-generations")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let n = l.split_whitespace().next().unwrap().parse().unwrap();
            (n, l.trim_end().ends_with("(current)"))
        })
        .collect()
}

fn nix_env(w: &World, args: &[&str]) -> String {
    let store = w.store();
    let profile = w.profile();
    let mut all = vec![
        "nix-env",
        "--store",
        store.to_str().unwrap(),
        "--profile",
        profile.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    w.enter(&all)
}

#[test]
fn nix_env_reads_and_changes_what_pkgman_installed() {
    if !common::usable() || !nix_env_present() {
        return;
    }
    let w = World::new();
    w.ok(&["channel", "add", "main", w.channel().to_str().unwrap()]);
    w.ok(&["install", "hello"]);
    w.ok(&["install", "-A", "main.greeter"]);
    w.ok(&["install", "multi"]);

    let mut listed: Vec<String> = nix_env(&w, &["-q"]).lines().map(str::to_owned).collect();
    listed.sort();
    assert_eq!(listed, w.installed());
    assert_eq!(listed, ["greeter-1.0", "hello-1.0", "multi-1.0"]);
    assert_eq!(nix_env_generations(&w), w.generations());

    // nix-env removes a package; pkgman reads its manifest and builds on it.
    nix_env(&w, &["-e", "greeter"]);
    assert_eq!(w.installed(), ["hello-1.0", "multi-1.0"]);
    w.ok(&["install", "-A", "main.greeter"]);
    assert_eq!(w.installed(), ["greeter-1.0", "hello-1.0", "multi-1.0"]);
    assert_eq!(w.enter(&["greet"]), "Greetings from a tarball!\n");
    assert_eq!(nix_env_generations(&w), w.generations());

    // Rollback there, seen here; and the other way round.
    let out = Command::new("nix-env")
        .arg("--store")
        .arg(w.store())
        .arg("--profile")
        .arg(w.profile())
        .arg("--rollback")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(nix_env_generations(&w), w.generations());
    assert_eq!(w.installed(), ["hello-1.0", "multi-1.0"]);
    w.ok(&["rollback"]);
    assert_eq!(nix_env_generations(&w), w.generations());
    let mut listed: Vec<String> = nix_env(&w, &["-q"]).lines().map(str::to_owned).collect();
    listed.sort();
    assert_eq!(listed, w.installed());
}
