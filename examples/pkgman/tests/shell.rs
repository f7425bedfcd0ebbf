//! `pkgman shell -p`: packages built first and put on `PATH` (alone with `--pure`) in a
//! private store view, the command's exit status passed on, the profile untouched.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::World;

#[test]
fn shell_puts_exactly_the_packages_on_path() {
    if !common::usable() {
        return;
    }
    let w = World::new();
    w.ok(&["channel", "add", "main", w.channel().to_str().unwrap()]);
    let out = w.ok(&[
        "-Q",
        "shell",
        "-p",
        "hello",
        "--pure",
        "--run",
        "hello; greet 2>/dev/null || echo no-greet; echo $PATH",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["Hello, world!", "no-greet"], "{out}");
    let path: Vec<&str> = lines[2].split(':').collect();
    assert_eq!(path.len(), 1, "{out}");
    assert!(path[0].starts_with("/nix/store/") && path[0].ends_with("-hello-1.0/bin"));

    // Two packages by attribute path; the inherited PATH follows without --pure.
    let out = w.ok(&[
        "-Q",
        "shell",
        "-A",
        "-p",
        "main.hello",
        "main.greeter",
        "--run",
        "hello; greet; echo $IN_NIX_SHELL",
    ]);
    assert_eq!(out, "Hello, world!\nGreetings from a tarball!\nimpure\n");

    // The command's status is the shell's; the profile was never touched.
    let status = w
        .cmd(&["shell", "-p", "hello", "--run", "exit 7"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(7));
    assert!(w.generations().is_empty());
    let err = w.fails(&["shell", "-p", "nope", "--run", "true"]);
    assert!(err.contains("'nope' matches no derivations"), "{err}");
}

/// A package set file with a fake stdenv (its `setup` puts `buildInputs`' `bin` on `PATH`
/// and defines `runHook`) and derivations whose builders must never run.
const SHELL_NIX: &str = r#"
let
  pkgs = import ./chan { };
  sh = "${pkgs.tools}/bin/sh";
  stdenv = derivation {
    name = "fake-stdenv";
    system = builtins.currentSystem;
    builder = sh;
    args = [ "-c" ''
      ${pkgs.tools}/bin/mkdir -p $out
      ${pkgs.tools}/bin/cat > $out/setup <<'SETUP'
for p in $buildInputs; do PATH=$p/bin''${PATH:+:$PATH}; done
SETUP_SOURCED=yes
runHook() { eval "''${!1:-}"; }
SETUP
    '' ];
  };
  dev = derivation {
    name = "dev-1.0";
    system = builtins.currentSystem;
    builder = "/never/built";
    inherit stdenv;
    buildInputs = [ pkgs.hello ];
    MY_VAR = "it's set";
    aList = [ 1 "two" ];
    passAsFile = [ "big" ];
    big = "a big text";
    shellHook = "HOOK_RAN=yes";
  };
in dev // { passthru = { inherit dev; plain = derivation {
  name = "plain";
  system = builtins.currentSystem;
  builder = "/never/built";
  PLAIN = "1";
}; }; }
"#;

#[test]
fn shell_file_enters_the_development_environment() {
    if !common::usable() {
        return;
    }
    let w = World::new();
    std::fs::write(w.dir().join("shell.nix"), SHELL_NIX).unwrap();
    let tmp = w.dir().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let shell = |args: &[&str]| {
        let mut all = vec!["-Q", "shell"];
        all.extend_from_slice(args);
        let mut c = w.cmd(&all);
        c.env("TMPDIR", &tmp).env("OUTSIDE", "outer");
        c.output().unwrap()
    };
    let ok = |args: &[&str]| {
        let out = shell(args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let report = "echo \"$MY_VAR|$aList|$(cat $bigPath)|$IN_NIX_SHELL|$SETUP_SOURCED|$HOOK_RAN|${OUTSIDE-unset}|$NIX_BUILD_TOP|$TMPDIR\"; echo $out; hello";

    // shell.nix in the current directory; the inputs are built, the derivation is not.
    let out = ok(&["--run", report]);
    let lines: Vec<&str> = out.lines().collect();
    let t = tmp.to_str().unwrap();
    assert_eq!(
        lines[0],
        format!("it's set|1 two|a big text|impure|yes|yes|outer|{t}|{t}"),
        "{out}"
    );
    assert!(lines[1].starts_with("/nix/store/") && lines[1].ends_with("-dev-1.0"));
    assert_eq!(lines[2], "Hello, world!");
    assert!(!w.store().join("nix/store").join(&lines[1][11..]).exists());
    // The shell's temporary directory is gone after it exits.
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);

    // --pure drops what is not kept (--keep keeps more); HOME stays.
    let pure = "echo \"${OUTSIDE-unset}|$IN_NIX_SHELL|${HOME:+home}|$SETUP_SOURCED\"; hello";
    assert_eq!(
        ok(&["--pure", "--run", pure]),
        "unset|pure|home|yes\nHello, world!\n"
    );
    assert_eq!(
        ok(&["--pure", "--keep", "OUTSIDE", "--run", pure]),
        "outer|pure|home|yes\nHello, world!\n"
    );

    // The command's status is pkgman's.
    assert_eq!(shell(&["--run", "exit 7"]).status.code(), Some(7));
    assert_eq!(shell(&["--command", "false"]).status.code(), Some(1));

    // FILE and -A: a derivation without a stdenv gets its variables and no setup.
    let out = ok(&[
        "shell.nix",
        "-A",
        "passthru.plain",
        "--run",
        "echo \"$PLAIN|${SETUP_SOURCED-none}|${MY_VAR-none}\"",
    ]);
    assert_eq!(out, "1|none|none\n");
    // An attribute holding several derivations is refused, as is a missing one.
    let err = shell(&["-A", "passthru", "--run", "true"]);
    assert!(!err.status.success());
    let text = String::from_utf8_lossy(&err.stderr);
    assert!(text.contains("2 derivations"), "{text}");
    let err = shell(&["-A", "nope", "--run", "true"]);
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).contains("'nope'"));
    assert!(w.generations().is_empty());
}
