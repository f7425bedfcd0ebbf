//! Local fetchers agree with the path builtins: `fetchurl file://` adds the
//! file flat (like `builtins.path { recursive = false; }`), `fetchTarball`
//! adds the unpacked top-level directory as `source`, `fetchTree` with
//! `type = "path"` adds a directory, hash checks reject wrong hashes, and
//! network URLs are refused. Uses the system `tar` (skips when missing).

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
