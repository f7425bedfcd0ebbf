//! The package set's real software (examples/pkgs `real`): bootstrap tools staged from the
//! host, six upstream tarballs fetched through a hashed mirror, built by the stdenv in the
//! sandbox. Every output is scanned for host paths (`/usr/`, `/lib/`, `/lib64/`, `/bin/`,
//! `/sbin/` outside the store, in any file, and every ELF interpreter and RPATH), and each
//! program runs in a sandbox that holds only its closure (and a static busybox).
//!
//! Needs `NIXKIT_SOURCE_MIRROR` (a directory filled by examples/pkgs/fetch-sources.sh);
//! skipped when it is unset or empty. `NIXKIT_BOOTSTRAP_TOOLS` may name an already staged
//! bootstrap tools directory (else the test stages one with make-bootstrap-tools.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

const PACKAGES: [&str; 6] = ["hello", "tree", "bzip2", "gdbm", "lzo", "lzop"];

fn pkgs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../pkgs")
}

/// The mirror directory, or `None` (with a note) when the test cannot run here.
fn setup() -> Option<PathBuf> {
    let mirror = std::env::var_os("NIXKIT_SOURCE_MIRROR").filter(|m| !m.is_empty());
    let Some(mirror) = mirror else {
        eprintln!("skipped: NIXKIT_SOURCE_MIRROR is not set (see examples/pkgs/fetch-sources.sh)");
        return None;
    };
    let usable = Path::new("/bin/busybox").exists()
        && Command::new("/bin/busybox")
            .args(["unshare", "-Ur", "true"])
            .status()
            .is_ok_and(|s| s.success());
    if !usable {
        eprintln!("skipped: needs busybox-static and user namespaces");
        return None;
    }
    Some(PathBuf::from(mirror))
}

fn nixkit_build(dir: &Path, mirror: &Path, tools: &Path, args: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .current_dir(dir)
        .env("NIXKIT_BOOTSTRAP_TOOLS", tools)
        .arg("build")
        .args(["--store", &dir.join("store").to_string_lossy()])
        .args(["--option", "hashed-mirrors"])
        .arg(format!("file://{}", mirror.display()))
        .args(["-j", "2", "--cores", "1", "--no-out-link"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "nixkit build {args:?} failed:\n{stderr}"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Where text names a host directory: `/usr/`, `/lib/`, ... not preceded by a path
/// character (a store path's `.../bootstrap-tools/usr/lib` is inside the store).
fn host_paths(data: &[u8]) -> Vec<String> {
    let needles: [&[u8]; 5] = [b"/usr/", b"/lib/", b"/lib64/", b"/bin/", b"/sbin/"];
    let in_path = |b: u8| b.is_ascii_alphanumeric() || b"._+-/".contains(&b);
    let mut found = Vec::new();
    for needle in needles {
        let mut at = 0;
        while let Some(i) = data[at..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| i + at)
        {
            if i == 0 || !in_path(data[i - 1]) {
                let end = data[i..]
                    .iter()
                    .position(|b| !in_path(*b))
                    .map_or(data.len(), |e| e + i);
                found.push(String::from_utf8_lossy(&data[i..end]).into_owned());
            }
            at = i + 1;
        }
    }
    found
}

#[test]
fn host_path_scanner_finds_host_paths_only() {
    let text = b"#!/bin/sh\nexec /nix/store/abc-tools/usr/bin/x \"/usr/share/y\" PATH=/lib64/ld\0";
    assert_eq!(
        host_paths(text),
        vec!["/usr/share/y", "/lib64/ld", "/bin/sh"]
    );
    assert!(host_paths(b"/nix/store/abc-x/lib/libz.so:/nix/store/d-y/bin/").is_empty());
}

/// The interpreter and RPATH/RUNPATH entries of ELF file `f`, by `readelf`.
fn elf_paths(f: &Path) -> Vec<String> {
    let out = Command::new("readelf").arg("-ldW").arg(f).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut paths = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.split("program interpreter: ").nth(1) {
            paths.push(rest.trim_end_matches(']').to_owned());
        }
        if line.contains("(RPATH)") || line.contains("(RUNPATH)") {
            if let Some(list) = line.split('[').nth(1) {
                paths.extend(list.trim_end_matches(']').split(':').map(str::to_owned));
            }
        }
    }
    paths
}

fn files(root: &Path, into: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(root).unwrap() {
        let e = e.unwrap();
        let t = e.file_type().unwrap();
        if t.is_dir() {
            files(&e.path(), into);
        } else if t.is_file() {
            into.push(e.path());
        } else if t.is_symlink() {
            let target = std::fs::read_link(e.path()).unwrap();
            assert!(
                target.is_relative() || target.starts_with("/nix/store/"),
                "{} -> {}",
                e.path().display(),
                target.display()
            );
        }
    }
}

#[test]
fn real_packages_build_from_source_and_refer_to_nothing_on_the_host() {
    let Some(mirror) = setup() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let tools = match std::env::var_os("NIXKIT_BOOTSTRAP_TOOLS").filter(|t| !t.is_empty()) {
        Some(t) => PathBuf::from(t),
        None => {
            let staging = dir.join("bootstrap-tools");
            let ok = Command::new("bash")
                .arg(pkgs_dir().join("stdenv/make-bootstrap-tools.sh"))
                .arg(&staging)
                .status()
                .unwrap();
            assert!(ok.success(), "make-bootstrap-tools.sh failed");
            staging
        }
    };

    let outs = nixkit_build(
        dir,
        &mirror,
        &tools,
        &[&pkgs_dir().to_string_lossy(), "-A", "real.all"],
    );
    assert_eq!(outs.len(), PACKAGES.len(), "{outs:?}");
    let real = |p: &str| dir.join("store").join(p.trim_start_matches('/'));

    // No output refers to the host.
    let mut problems = Vec::new();
    let mut elves = 0;
    for (name, out) in PACKAGES.iter().zip(&outs) {
        assert!(
            out.ends_with(name) || out.contains(&format!("-{name}-")),
            "{out}"
        );
        let mut all = Vec::new();
        files(&real(out), &mut all);
        for f in all {
            let data = std::fs::read(&f).unwrap();
            for p in host_paths(&data) {
                problems.push(format!("{}: {p}", f.display()));
            }
            if data.starts_with(b"\x7fELF") {
                elves += 1;
                for p in elf_paths(&f) {
                    if !p.starts_with("/nix/store/") {
                        problems.push(format!("{}: ELF path {p}", f.display()));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "host references:\n{}",
        problems.join("\n")
    );
    assert!(elves >= 8, "only {elves} ELF files in the outputs");

    // Each program runs in a sandbox holding only its closure (and busybox for the
    // script): /usr, /lib and /bin do not exist there.
    let checks = dir.join("checks.nix");
    std::fs::write(
        &checks,
        format!(
            r#"let
  pkgs = import {pkgs} {{ }};
  r = pkgs.real;
  run = name: script: derivation {{
    name = "run-${{name}}";
    system = builtins.currentSystem;
    builder = "${{pkgs.busybox}}/busybox";
    PATH = "${{pkgs.tools}}/bin";
    args = [ "sh" "-e" "-c" ''
      for d in /usr /lib /lib64 /bin /sbin; do
        if [ -e $d ]; then echo "$d exists in the sandbox"; exit 1; fi
      done
      cd $TMPDIR
      ${{script}}
    '' ];
  }};
in [
  (run "hello" ''${{r.hello}}/bin/hello > $out; [ "$(cat $out)" = "Hello, world!" ]'')
  (run "tree" ''mkdir -p d/a/b d/c; touch d/a/f; ${{r.tree}}/bin/tree d > $out; grep -q "4 directories, 1 file" $out'')
  (run "bzip2" ''seq 1 5000 > in; ${{r.bzip2}}/bin/bzip2 < in > in.bz2; ${{r.bzip2}}/bin/bzip2 -d < in.bz2 | cmp - in; ${{r.bzip2}}/bin/bzgrep -c 4999 in.bz2 > $out'')
  (run "gdbm" ''printf 'store k value\nfetch k\n' | ${{r.gdbm}}/bin/gdbmtool -N -q -n db > $out; grep -qx value $out'')
  (run "cc" ''printf '#include <stdio.h>\nint main(void) {{ puts("compiled in the sandbox"); return 0; }}\n' > t.c; PATH=${{pkgs.stdenv.bootstrapTools}}/bin:$PATH; gcc -O2 -o t t.c; ./t > $out'')
  (run "lzop" ''seq 1 5000 > in; ${{r.lzop}}/bin/lzop -c in > in.lzo; ${{r.lzop}}/bin/lzop -dc in.lzo | cmp - in; ${{r.lzop}}/bin/lzop -t in.lzo; echo ok > $out'')
]
"#,
            pkgs = pkgs_dir().display()
        ),
    )
    .unwrap();
    let runs = nixkit_build(dir, &mirror, &tools, &[&checks.to_string_lossy()]);
    assert_eq!(runs.len(), 6, "{runs:?}");
    let read = |i: usize| std::fs::read_to_string(real(&runs[i])).unwrap();
    assert_eq!(read(0), "Hello, world!\n");
    assert!(read(1).contains("4 directories, 1 file"), "{}", read(1));
    assert_eq!(read(2), "1\n");
    assert_eq!(read(3), "value\n");
    // The bootstrap tools' compiler works where /usr does not exist.
    assert_eq!(read(4), "compiled in the sandbox\n");
    assert_eq!(read(5), "ok\n");
}
