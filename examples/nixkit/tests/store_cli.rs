//! `nixkit store` against `nix-store` (CppNix 2.8) on the same inputs, each in its own
//! temporary store: same paths, same query output, byte-identical `--export`.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn nixkit(root: &Path, args: &[&str]) -> Output {
    run(Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .arg("store")
        .env("NIXKIT_STORE", root)
        .args(args))
}

fn cppnix(root: &Path, args: &[&str]) -> Output {
    let store = format!("local?root={}", root.display());
    run(Command::new("nix-store")
        .args(["--store", &store])
        .args(args))
}

#[test]
fn store_cli_matches_cppnix() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("pkg");
    fs::create_dir_all(src.join("bin")).unwrap();
    fs::write(src.join("bin/hello"), "#!/bin/sh\necho hello\n").unwrap();
    std::os::unix::fs::symlink("bin/hello", src.join("link")).unwrap();
    let ours = tmp.path().join("ours");
    let text = |o: Output| String::from_utf8(o.stdout).unwrap();
    let added = text(nixkit(&ours, &["--add", src.to_str().unwrap()]));
    let path = added.trim();
    assert!(path.starts_with("/nix/store/") && path.ends_with("-pkg"));
    assert_eq!(text(nixkit(&ours, &["-q", "--requisites", path])), added);
    assert_eq!(
        text(nixkit(&ours, &["-q", "--deriver", path])),
        "unknown-deriver\n"
    );
    nixkit(&ours, &["--verify", "--check-contents"]);
    let dead = text(nixkit(&ours, &["--gc", "--print-dead"]));
    assert_eq!(
        dead, added,
        "an unrooted path from a finished process is dead"
    );

    if Command::new("nix-store").arg("--version").output().is_err() {
        return;
    }
    let theirs = tmp.path().join("theirs");
    assert_eq!(
        text(cppnix(&theirs, &["--add", src.to_str().unwrap()])),
        added
    );
    for q in ["--hash", "--size", "--references", "--deriver"] {
        assert_eq!(
            text(nixkit(&ours, &["-q", q, path])),
            text(cppnix(&theirs, &["-q", q, path])),
            "{q}"
        );
    }
    assert_eq!(
        nixkit(&ours, &["--export", path]).stdout,
        cppnix(&theirs, &["--export", path]).stdout
    );
    let dump = run(Command::new(env!("CARGO_BIN_EXE_nixkit")).args([
        "store",
        "--dump",
        src.to_str().unwrap(),
    ]));
    assert_eq!(
        dump.stdout,
        run(Command::new("nix-store").args(["--dump", src.to_str().unwrap()])).stdout
    );
    let deleted = String::from_utf8(nixkit(&ours, &["--delete", path]).stdout).unwrap();
    assert_eq!(deleted.lines().next().unwrap().split(' ').next(), Some("1"));
}
