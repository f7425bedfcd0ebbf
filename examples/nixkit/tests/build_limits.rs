//! Build limits set on the command line (`--max-log-size`, `--option NAME VALUE`) reach
//! the sandbox: a builder that logs without end fails with CppNix's `max-log-size`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::process::Command;

fn usable() -> bool {
    let ok = Path::new("/bin/busybox").exists()
        && Command::new("/bin/busybox")
            .args(["unshare", "-Ur", "true"])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipped: needs busybox-static and user namespaces");
    }
    ok
}

const CHATTY: &str = r#"
let bb = builtins.path { path = BUSYBOX_DIR; name = "busybox"; filter = p: t: baseNameOf p == "busybox"; };
in derivation {
  name = "chatty";
  system = builtins.currentSystem;
  builder = "${bb}/busybox";
  args = [ "sh" "-c" "yes a-line-of-log" ];
}
"#;

/// The directory holding the busybox binary itself (`/bin` may be a link to `usr/bin`).
fn busybox_dir() -> &'static str {
    if Path::new("/usr/bin/busybox").exists() {
        "/usr/bin"
    } else {
        "/bin"
    }
}

fn build(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .current_dir(dir)
        .args(["build", "--no-out-link", "-E"])
        .arg(CHATTY.replace("BUSYBOX_DIR", busybox_dir()))
        .args(["--store", &dir.join("store").to_string_lossy()])
        .args(["--timeout", "120"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn max_log_size_from_the_command_line() {
    if !usable() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["--max-log-size", "20000"][..],
        &["--option", "max-log-size", "20000"][..],
    ] {
        let (ok, stderr) = build(tmp.path(), args);
        assert!(!ok);
        assert!(
            stderr.contains("was killed after writing more than 20000 bytes of log output"),
            "{args:?}: {stderr}"
        );
    }
    let (ok, stderr) = build(tmp.path(), &["--option", "build-memory-max", "lots"]);
    assert!(!ok);
    assert!(
        stderr.contains("invalid value 'lots' for setting 'build-memory-max'"),
        "{stderr}"
    );
}
