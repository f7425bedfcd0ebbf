//! Pushing to `nixkit serve --upload-token` through the binaries, servers on 127.0.0.1 only:
//! CppNix 2.8's `nix copy --to http://…` (token as the netrc password) uploads a closure with
//! references, which CppNix then substitutes back from it; without the token it is refused;
//! `nixkit store --copy-to http://…` (token in `NIXKIT_UPLOAD_TOKEN`) pushes a nixkit closure
//! that CppNix substitutes. Skipped when `nix-store` is absent.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

const TOKEN: &str = "upload-t0ken";

fn have_nix() -> bool {
    let ok = Command::new("nix-store")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("skipped: nix-store (CppNix) is not on PATH");
    }
    ok
}

fn run(cmd: &mut Command) -> Output {
    cmd.env("NIX_CONFIG", "").output().unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(store: &Path) -> (Killed, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .args([
            "serve",
            "--store",
            store.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--upload-token", TOKEN])
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
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    (server, url)
}

fn substitute_with_cppnix(root: &Path, url: &str, path: &str) {
    let out = ok(run(Command::new("nix-store").args([
        "--store",
        &format!("local?root={}", root.display()),
        "--realise",
        path,
        "--option",
        "substituters",
        url,
        "--option",
        "require-sigs",
        "false",
        // The refused push left CppNix a cached "not there" answer for this URL.
        "--option",
        "narinfo-cache-negative-ttl",
        "0",
    ])));
    assert_eq!(out, path);
    ok(run(Command::new("nix-store").args([
        "--store",
        &format!("local?root={}", root.display()),
        "--verify",
        "--check-contents",
    ])));
}

#[test]
fn cppnix_nix_copy_and_nixkit_copy_to_push_into_nixkit_serve() {
    if !have_nix() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = |s: &str| tmp.path().join(s);
    let (_server, url) = serve(&t("served"));

    // CppNix: a closure with a reference (b → a), pushed with `nix copy`.
    let cpp = format!("local?root={}", t("cpp").display());
    let expr = r#"builtins.toFile "b" "b uses ${builtins.toFile "a" "uploaded"}""#;
    let b = ok(run(
        Command::new("nix-instantiate").args(["--store", &cpp, "--eval", "--expr", expr])
    ))
    .trim_matches('"')
    .to_owned();
    // `--eval` only computes the path; instantiating a derivation that uses it writes it.
    let drv =
        format!(r#"derivation {{ name = "d"; system = "x"; builder = "/bin/sh"; b = {expr}; }}"#);
    ok(run(
        Command::new("nix-instantiate").args(["--store", &cpp, "--expr", &drv])
    ));
    let netrc = t("netrc");
    std::fs::write(
        &netrc,
        format!("machine 127.0.0.1 login nix password {TOKEN}\n"),
    )
    .unwrap();
    let copy = |extra: &[&str]| {
        run(Command::new("nix")
            .args(["--extra-experimental-features", "nix-command", "copy"])
            .args(["--store", &cpp, "--to", &url])
            .args(["--option", "substituters", ""])
            .args(extra)
            .arg(&b))
    };
    let refused = copy(&[]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && err.contains("401"), "{err}");
    ok(copy(&["--option", "netrc-file", netrc.to_str().unwrap()]));
    substitute_with_cppnix(&t("back"), &url, &b);
    let refs = ok(run(Command::new("nix-store").args([
        "--store",
        &format!("local?root={}", t("back").display()),
        "--query",
        "--references",
        &b,
    ])));
    assert!(refs.ends_with("-a"), "{refs}");

    // nixkit: `store --copy-to`, zstd, then CppNix substitutes it.
    let ours = t("ours");
    let src = t("file");
    std::fs::write(&src, "pushed by nixkit\n").unwrap();
    let nixkit = |args: &[&str]| {
        run(Command::new(env!("CARGO_BIN_EXE_nixkit"))
            .arg("store")
            .args(["--store", ours.to_str().unwrap()])
            .args(args)
            .env("NIXKIT_UPLOAD_TOKEN", TOKEN))
    };
    let p = ok(nixkit(&["--add", src.to_str().unwrap()]));
    ok(nixkit(&["--copy-to", &url, "--compression", "zstd", &p]));
    substitute_with_cppnix(&t("back2"), &url, &p);
    let bad = run(Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .arg("store")
        .args(["--store", ours.to_str().unwrap(), "--copy-to", &url])
        .arg(ok(nixkit(&["--add", netrc.to_str().unwrap()])))
        .env("NIXKIT_UPLOAD_TOKEN", "wrong"));
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("401"));
}
