//! pkgman with real software built from source: the example package set's `real.*`
//! packages (GNU hello 2.10, lzo and lzop linked to it) compiled in the sandbox from their
//! upstream tarballs, fetched through a hashed mirror, installed into a profile and run
//! from it; a rollback takes the last one out again.
//!
//! Needs `NIXKIT_SOURCE_MIRROR` (filled by examples/pkgs/fetch-sources.sh; skipped when
//! unset or empty). `NIXKIT_BOOTSTRAP_TOOLS` may name staged bootstrap tools (else the
//! test stages them with examples/pkgs/stdenv/make-bootstrap-tools.sh).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::World;

/// The staged bootstrap tools: `NIXKIT_BOOTSTRAP_TOOLS`, else staged into `dir`.
fn bootstrap_tools(dir: &Path) -> PathBuf {
    if let Some(t) = std::env::var_os("NIXKIT_BOOTSTRAP_TOOLS").filter(|t| !t.is_empty()) {
        return PathBuf::from(t);
    }
    let staging = dir.join("bootstrap-tools");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../pkgs/stdenv/make-bootstrap-tools.sh");
    let ok = Command::new("bash")
        .arg(script)
        .arg(&staging)
        .status()
        .unwrap();
    assert!(ok.success(), "make-bootstrap-tools.sh failed");
    staging
}

#[test]
fn install_real_software_from_source_run_it_and_roll_back() {
    if !common::usable() {
        return;
    }
    let Some(mirror) = std::env::var_os("NIXKIT_SOURCE_MIRROR").filter(|m| !m.is_empty()) else {
        eprintln!("skipped: NIXKIT_SOURCE_MIRROR is not set (see examples/pkgs/fetch-sources.sh)");
        return;
    };
    let w = World::new();
    let tools = bootstrap_tools(w.dir());
    let mirror = format!("file://{}", PathBuf::from(mirror).display());
    let pkgman = |args: &[&str]| {
        let mut all = vec!["--option", "hashed-mirrors", mirror.as_str(), "-j", "2"];
        all.extend_from_slice(args);
        let out = w
            .cmd(&all)
            .env("NIXKIT_BOOTSTRAP_TOOLS", &tools)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pkgman {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let chan = w.channel();
    pkgman(&["channel", "add", "main", chan.to_str().unwrap()]);

    // GNU hello, compiled from its upstream tarball, runs from the profile.
    pkgman(&["install", "-A", "real.hello"]);
    assert_eq!(w.installed(), ["hello-2.10"]);
    assert_eq!(w.enter(&["hello"]), "Hello, world!\n");
    assert_eq!(
        w.enter(&["hello", "--greeting=bonjour"]),
        "bonjour\n",
        "hello's own options"
    );

    // lzop, built against lzo (a build dependency) and linked to its shared library.
    pkgman(&["install", "-A", "real.lzop"]);
    assert_eq!(w.installed(), ["hello-2.10", "lzop-1.04"]);
    let version = w.enter(&["lzop", "--version"]);
    assert!(version.contains("lzop 1.04"), "{version}");
    assert!(version.contains("LZO library"), "{version}");
    // A round trip through it, in the profile's environment.
    let roundtrip = w.enter(&[
        "sh",
        "-c",
        "printf 'real software\\n' > /tmp/pkgman-lzop-$$ && lzop -c /tmp/pkgman-lzop-$$ \
         | lzop -dc; rm -f /tmp/pkgman-lzop-$$",
    ]);
    assert_eq!(roundtrip, "real software\n");

    // Rollback: lzop is gone, hello stays.
    assert_eq!(w.generations(), [(1, false), (2, true)]);
    pkgman(&["rollback"]);
    assert_eq!(w.installed(), ["hello-2.10"]);
    assert_eq!(w.enter(&["hello"]), "Hello, world!\n");
}
