//! Pushing to `nixkit serve --upload-token` through the binaries, servers on 127.0.0.1 only:
//! CppNix 2.8's `nix copy --to http://…` (token as the netrc password) uploads a closure with
//! references, which CppNix then substitutes back from it; without the token it is refused;
//! `nixkit store --copy-to http://…` (token in `NIXKIT_UPLOAD_TOKEN`) pushes a nixkit closure
//! that CppNix substitutes. Skipped when `nix-store` is absent. A second `--copy-to` of the
//! same paths asks the server nothing about them (the narinfo cache on disk remembers what
//! was uploaded), counted in `nixkit serve --access-log`'s lines.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

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

/// Runs `cmd`, with an empty narinfo cache (`XDG_CACHE_HOME`) unless it names one: CppNix
/// remembers answers by cache URL for days, and a loopback port used by an earlier test
/// would otherwise answer from that memory.
fn run(cmd: &mut Command) -> Output {
    let cache_home = tempfile::tempdir().unwrap();
    if !cmd.get_envs().any(|(k, _)| k == "XDG_CACHE_HOME") {
        cmd.env("XDG_CACHE_HOME", cache_home.path());
    }
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
    let (server, url, _) = serve_logged(store, &[]);
    (server, url)
}

/// `nixkit serve` with uploads and `extra` arguments; its further lines of standard error
/// (with `--access-log`: one per request) are collected.
fn serve_logged(store: &Path, extra: &[&str]) -> (Killed, String, Arc<Mutex<Vec<String>>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .args([
            "serve",
            "--store",
            store.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--upload-token", TOKEN])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let server = Killed(child);
    let mut reader = BufReader::new(stderr);
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    let url = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let collected = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in reader.lines() {
            let Ok(line) = line else { return };
            collected.lock().unwrap().push(line);
        }
    });
    (server, url, lines)
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

/// `--copy-to http://…` twice with one narinfo cache: the second asks nothing about the
/// paths the first uploaded (nor about `nix-cache-info`); with a fresh narinfo cache a copy
/// asks about each path again (and uploads none).
#[test]
fn second_copy_to_asks_nothing_about_uploaded_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let t = |s: &str| tmp.path().join(s);
    let (_server, url, log) = serve_logged(&t("served"), &["--access-log"]);
    let ours = t("ours");
    let nixkit = |args: &[&str], cache: &str| {
        run(Command::new(env!("CARGO_BIN_EXE_nixkit"))
            .arg("store")
            .args(["--store", ours.to_str().unwrap()])
            .args(args)
            .env("NIXKIT_UPLOAD_TOKEN", TOKEN)
            .env("XDG_CACHE_HOME", t(cache)))
    };
    let mut paths = Vec::new();
    for i in 0..3 {
        let src = t(&format!("file{i}"));
        std::fs::write(&src, format!("pushed {i}\n")).unwrap();
        paths.push(ok(nixkit(&["--add", src.to_str().unwrap()], "c1")));
    }
    let copy = |cache: &str| {
        let mut args = vec!["--copy-to", url.as_str()];
        args.extend(paths.iter().map(String::as_str));
        ok(nixkit(&args, cache));
    };
    let count =
        |pred: &dyn Fn(&str) -> bool| log.lock().unwrap().iter().filter(|l| pred(l)).count();
    let narinfo_gets = |status: &str| {
        count(&|l: &str| l.starts_with("GET /") && l.contains(".narinfo ") && l.ends_with(status))
    };
    let wait_for = |what: &dyn Fn() -> bool| {
        for _ in 0..100 {
            if what() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    copy("c1");
    wait_for(&|| count(&|l: &str| l.starts_with("PUT ")) >= 6);
    assert_eq!(narinfo_gets(" 404"), 3, "{:?}", log.lock().unwrap());
    assert_eq!(count(&|l: &str| l.starts_with("PUT ")), 6);
    let info_gets = count(&|l: &str| l.starts_with("GET /nix-cache-info "));
    copy("c1");
    copy("c2");
    wait_for(&|| narinfo_gets(" 200") >= 3);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let lines = log.lock().unwrap().clone();
    // Only the copy with the fresh cache (`c2`) asked, once per path; nothing was uploaded
    // again.
    assert_eq!(narinfo_gets(" 200"), 3, "{lines:?}");
    assert_eq!(narinfo_gets(" 404"), 3, "{lines:?}");
    assert_eq!(count(&|l: &str| l.starts_with("PUT ")), 6, "{lines:?}");
    assert_eq!(
        count(&|l: &str| l.starts_with("GET /nix-cache-info ")),
        info_gets + 1,
        "{lines:?}"
    );
}
