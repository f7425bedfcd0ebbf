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
