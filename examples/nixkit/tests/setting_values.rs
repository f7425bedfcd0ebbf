//! Settings given bad values on the command line (`--option http-connections abc`,
//! `--option narinfo-cache-negative-ttl -1`) are errors naming the setting and the value,
//! for `nixkit store` and `nixkit build` alike, before anything is done.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::process::{Command, Output};

fn nixkit(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .current_dir(dir)
        .env("NIXKIT_STORE", dir.join("store"))
        .env("XDG_CACHE_HOME", dir.join("xdg-cache"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn bad_setting_values_are_errors_naming_the_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("http-connections", "abc"),
        ("http-connections", "-2"),
        ("narinfo-cache-positive-ttl", "soon"),
        ("narinfo-cache-negative-ttl", "-1"),
    ];
    for (name, value) in cases {
        for command in [
            &["store", "--query", "--hash", "/nix/store/x"][..],
            &["build", "--expr", "1", "--no-out-link"][..],
        ] {
            let mut args = command.to_vec();
            args.extend(["--option", name, value]);
            let out = nixkit(tmp.path(), &args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?}: {stderr}");
            assert!(
                stderr.contains(&format!("'{name}'")) && stderr.contains(&format!("'{value}'")),
                "{args:?}: {stderr}"
            );
        }
    }
    // Good values are accepted (the command then fails for its own reasons or not).
    let out = nixkit(
        tmp.path(),
        &[
            "store",
            "--query",
            "--hash",
            "/nix/store/x",
            "--option",
            "narinfo-cache-negative-ttl",
            "0",
            "--option",
            "http-connections",
            "0",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("invalid value"), "{stderr}");
}
