//! Local fetchers agree with the path builtins: `fetchurl file://` adds the
//! file flat (like `builtins.path { recursive = false; }`), `fetchTarball`
//! adds the unpacked top-level directory as `source`, `fetchTree` with
//! `type = "path"` adds a directory, hash checks reject wrong hashes, and
//! network URLs are refused. Fixtures are made with the system `tar` (skips when
//! missing); nixkit unpacks them in-process.

use std::path::Path;
use std::process::Command;

use nixkit_eval::cli::{parse_args, run, CliEnv};

fn eval(dir: &str, expr: &str) -> (i32, String, String) {
    let opts = parse_args(&["--eval", "--strict", "-E", expr]).expect("valid flags");
    let (mut out, mut err) = (String::new(), String::new());
    let code = run(&opts, &CliEnv::new(dir), &mut out, &mut err);
    (code, out, err)
}

fn fixtures(dir: &Path) -> bool {
    std::fs::create_dir_all(dir.join("tb/pkg/sub")).expect("fixture dirs");
    std::fs::write(dir.join("file"), "hello\n").expect("fixture");
    std::fs::write(dir.join("tb/pkg/a"), "a\n").expect("fixture");
    std::fs::write(dir.join("tb/pkg/sub/b"), "b\n").expect("fixture");
    Command::new("tar")
        .arg("-czf")
        .arg(dir.join("pkg.tar.gz"))
        .arg("-C")
        .arg(dir.join("tb"))
        .arg("pkg")
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn local_fetchers() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let dir = tmp.path().canonicalize().expect("canonical");
    if !fixtures(&dir) {
        println!("skipped: no usable tar");
        return;
    }
    let d = dir.to_string_lossy().into_owned();
    let expr = format!(
        r#"[
          (builtins.fetchurl "file://{d}/file" == builtins.path {{ path = {d}/file; recursive = false; }})
          (builtins.fetchurl {{ url = "file://{d}/file"; name = "x"; }} == builtins.path {{ path = {d}/file; recursive = false; name = "x"; }})
          (builtins.fetchTarball "file://{d}/pkg.tar.gz" == builtins.path {{ path = {d}/tb/pkg; name = "source"; }})
          ((builtins.fetchTree {{ type = "path"; path = "{d}/tb"; }}).outPath == builtins.path {{ path = {d}/tb; name = "source"; }})
          ((builtins.fetchTree "file://{d}/pkg.tar.gz").outPath == builtins.fetchTarball "file://{d}/pkg.tar.gz")
        ]"#
    );
    let (code, out, err) = eval(&d, &expr);
    assert_eq!(
        (code, out.as_str()),
        (0, "[ true true true true true ]\n"),
        "{err}"
    );

    let bad = format!(
        r#"builtins.fetchurl {{ url = "file://{d}/file"; sha256 = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="; }}"#
    );
    let (code, _, err) = eval(&d, &bad);
    assert_eq!(code, 1);
    assert!(
        err.contains("hash mismatch in file downloaded from"),
        "{err}"
    );

    let (code, _, err) = eval(&d, r#"builtins.fetchurl "https://example.com/x""#);
    assert_eq!(code, 1);
    assert!(err.contains("no network access"), "{err}");
}

fn git(repo: &Path, args: &[&str]) -> bool {
    Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .status()
        .is_ok_and(|s| s.success())
}

/// `fetchGit` (through gitoxide, no `git` process) gives the same store path, NAR
/// hash, revision count and time as CppNix's `fetchGit` on the same repository,
/// at `HEAD` and at an older revision; CppNix runs against a store of its own.
#[test]
fn fetch_git_agrees_with_cppnix() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    let dir = tmp.path().canonicalize().expect("canonical");
    let repo = dir.join("repo");
    std::fs::create_dir_all(repo.join("bin")).expect("fixture dirs");
    if !git(&repo, &["init", "-q"]) {
        println!("skipped: no usable git");
        return;
    }
    std::fs::write(repo.join("a"), "one\n").expect("fixture");
    assert!(git(&repo, &["add", "-A"]) && git(&repo, &["commit", "-qm", "one"]));
    std::fs::write(repo.join("bin/run"), "#!/bin/sh\n").expect("fixture");
    Command::new("chmod")
        .arg("+x")
        .arg(repo.join("bin/run"))
        .status()
        .expect("chmod");
    std::os::unix::fs::symlink("../a", repo.join("bin/link")).expect("symlink");
    assert!(git(&repo, &["add", "-A"]) && git(&repo, &["commit", "-qm", "two"]));
    let r = repo.display();
    let expr = format!(
        r#"let
          head = builtins.fetchGit "{r}";
          old = builtins.fetchGit {{ url = "file://{r}"; rev = "${{head.rev}}"; }};
          first = builtins.fetchTree {{ type = "git"; url = "file://{r}"; rev = builtins.readFile {r}/first; }};
        in [ head.outPath head.narHash head.revCount head.lastModified head.shortRev
             (old.outPath == head.outPath) first.revCount first.narHash ]"#
    );
    let out = Command::new("git")
        .arg("-C")
        .arg(&repo)
        .args(["rev-parse", "HEAD~1"])
        .output()
        .expect("git rev-parse");
    std::fs::write(
        repo.join("first"),
        String::from_utf8_lossy(&out.stdout).trim(),
    )
    .expect("fixture");
    let d = dir.to_string_lossy().into_owned();
    let (code, ours, err) = eval(&d, &expr);
    assert_eq!(code, 0, "{err}");
    assert!(ours.contains(" 2 "), "revision count of HEAD: {ours}");

    let cppnix = Command::new("nix-instantiate")
        .arg("--store")
        .arg(dir.join("cppnix-store"))
        // fetchTree is behind the `flakes` feature in CppNix 2.8.
        .args(["--extra-experimental-features", "flakes"])
        .args(["--eval", "--strict", "-E", &expr])
        .env("HOME", &dir)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .output();
    match cppnix {
        Ok(o) if o.status.success() => {
            assert_eq!(ours, String::from_utf8_lossy(&o.stdout), "nixkit vs CppNix");
            println!("fetchGit/fetchTree agree with CppNix: {ours}");
        }
        Ok(o) => panic!("CppNix failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(_) => println!("skipped: CppNix comparison (nix-instantiate not found)"),
    }
}
