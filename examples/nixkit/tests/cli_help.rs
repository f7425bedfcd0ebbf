//! Every command's `--help`, shell completions and man pages, the classic
//! multi-call names, and CppNix's answer to an unknown flag.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::path::Path;
use std::process::{Command, Output};

fn nixkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .args(args)
        .output()
        .unwrap()
}

/// The binary through a symlink named `name`.
fn as_named(dir: &Path, name: &str, args: &[&str]) -> Output {
    let link = dir.join(name);
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_nixkit"), &link).unwrap();
    }
    Command::new(link).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_command_has_help() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--help"],
            &["instantiate", "build", "store", "hash", "completions"],
        ),
        (
            &["build", "--help"],
            &["--arg <NAME> <EXPR>", "--out-link", "-A, --attr"],
        ),
        (
            &["store", "--help"],
            &["--realise", "-q, --query", "--requisites", "--gc"],
        ),
        (
            &["hash", "--help"],
            &["--type <ALGO>", "--to-sri", "--flat"],
        ),
        (
            &["instantiate", "--help"],
            &["--eval", "--argstr <NAME> <STRING>", "-I, --include"],
        ),
        (&["completions", "--help"], &["<SHELL>"]),
    ];
    for (args, wanted) in cases {
        let out = nixkit(args);
        let help = text(&out.stdout);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        for w in *wanted {
            assert!(help.contains(w), "{args:?} lacks {w:?}:\n{help}");
        }
        // Settings are flags, but not listed.
        assert!(!help.contains("--extra-substituters"), "{args:?}");
    }
    for name in ["nix-instantiate", "nix-build", "nix-store", "nix-hash"] {
        let out = as_named(tmp.path(), name, &["--help"]);
        assert!(out.status.success(), "{name}");
        assert!(
            text(&out.stdout).contains(&format!("Usage: {name}")),
            "{name}"
        );
    }
}

#[test]
fn unknown_flags_fail_as_in_cppnix() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["nix-instantiate", "nix-build", "nix-store", "nix-hash"] {
        let out = as_named(tmp.path(), name, &["--foo"]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.starts_with("error: unrecognised flag '--foo'\n"),
            "{name}: {stderr}"
        );
        assert!(
            stderr.contains(&format!("Try '{name} --help'")),
            "{name}: {stderr}"
        );
    }
    let out = as_named(
        tmp.path(),
        "nix-instantiate",
        &["--eval", "-E", "1", "--arg", "x"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: flag '--arg' requires an argument"));
    let out = nixkit(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("error: "));
}

#[test]
fn multi_call_names_take_their_commands_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let out = as_named(
        tmp.path(),
        "nix-instantiate",
        &[
            "--eval",
            "--strict",
            "--arg",
            "n",
            "-1",
            "-E",
            "{ n }: [ n ]",
        ],
    );
    assert_eq!(text(&out.stdout), "[ -1 ]\n", "{}", text(&out.stderr));
    std::fs::write(tmp.path().join("f"), "hello\n").unwrap();
    let f = tmp.path().join("f");
    let out = as_named(
        tmp.path(),
        "nix-hash",
        &[
            "--flat",
            "--type",
            "sha256",
            "--base32",
            f.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hash = text(&out.stdout);
    let out = as_named(
        tmp.path(),
        "nix-hash",
        &["--type", "sha256", "--to-base16", hash.trim()],
    );
    assert_eq!(
        text(&out.stdout),
        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03\n"
    );
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = nixkit(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for word in ["instantiate", "argstr", "requisites", "to-sri"] {
            assert!(script.contains(word), "{shell} completion lacks {word}");
        }
    }
    let out = nixkit(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn manpages_for_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man1");
    let out = nixkit(&["manpages", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for (page, wanted) in [
        ("nixkit.1", "nixkit"),
        ("nixkit-build.1", "out\\-link"),
        ("nixkit-instantiate.1", "argstr"),
        ("nix-store.1", "requisites"),
        ("nix-hash.1", "to\\-sri"),
        ("nix-instantiate.1", "eval"),
        ("nix-build.1", "attr"),
    ] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page}");
        assert!(text.contains(wanted), "{page} lacks {wanted}");
    }
}
