//! Interrupting `nixkit build` (SIGINT, SIGTERM) while a builder runs: the process exits
//! non-zero promptly, no builder process survives, the build directory is removed (kept
//! with `--keep-failed`) and no output is registered.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nixkit_store::local::{LocalStore, StoreConfig};
use nixkit_store::StoreDir;

fn usable() -> bool {
    let ok = Path::new("/bin/busybox").exists()
        && Command::new("/bin/busybox")
            .args(["unshare", "-Ur", "true"])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("skipping: needs busybox-static and user namespaces");
    }
    ok
}

/// Host processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(marker) {
                found.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
            }
        }
    }
    found
}

/// Builds a derivation sleeping for `marker` seconds, sends `signal` once the builder runs,
/// and checks the aftermath. Returns the entries left in the builds directory, each with
/// whether it still holds the builder's `build/` directory.
fn interrupt(signal: &str, marker: &str, extra: &[&str]) -> Vec<(std::path::PathBuf, bool)> {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("bb")).unwrap();
    std::fs::copy("/bin/busybox", dir.join("bb/busybox")).unwrap();
    std::fs::write(
        dir.join("sleep.nix"),
        format!(
            r#"let bb = builtins.path {{ path = ./bb; name = "busybox"; }};
in derivation {{ name = "sleeper"; system = builtins.currentSystem; builder = "${{bb}}/busybox";
  args = [ "sh" "-c" "echo started; sleep {marker}; echo done > $out" ]; }}"#
        ),
    )
    .unwrap();
    let store_root = dir.join("store");
    let mut child = Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .current_dir(dir)
        .args(["build", "sleep.nix", "--no-out-link", "--store"])
        .arg(&store_root)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while processes_with(marker).is_empty() {
        assert!(Instant::now() < deadline, "the builder never started");
        assert!(
            child.try_wait().unwrap().is_none(),
            "nixkit exited before the builder started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent_ok = Command::new("/bin/busybox")
        .args(["kill", &format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent_ok.success());
    let sent = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if sent.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("nixkit did not exit within 10 s of SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!status.success(), "{stderr}");
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "took {:?} to exit",
        sent.elapsed()
    );
    assert!(stderr.contains("was interrupted"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The kernel may take a moment to reap the sandbox's processes after SIGKILL.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !processes_with(marker).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(processes_with(marker), Vec::<String>::new());
    // Nothing but the busybox source and the .drv is valid or present in the store.
    let store = LocalStore::open(StoreConfig::new(&store_root, StoreDir::default())).unwrap();
    let mut valid: Vec<String> = store
        .valid_paths()
        .unwrap()
        .iter()
        .map(|p| p.name().to_owned())
        .collect();
    valid.sort();
    assert_eq!(valid, ["busybox", "sleeper.drv"]);
    let mut present: Vec<String> = std::fs::read_dir(store.real_store_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with("-busybox") && !n.ends_with("-sleeper.drv"))
        .collect();
    present.sort();
    assert!(present.is_empty(), "{present:?}");
    let builds = store.state_dir().join("builds");
    std::fs::read_dir(builds)
        .map(|d| {
            d.flatten()
                .map(|e| (e.path(), e.path().join("build").is_dir()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn sigint_stops_the_build_and_cleans_up() {
    if !usable() {
        return;
    }
    let left = interrupt("INT", "4247.25", &[]);
    assert!(left.is_empty(), "build directory not removed: {left:?}");
}

#[test]
fn sigterm_stops_the_build_and_cleans_up() {
    if !usable() {
        return;
    }
    let left = interrupt("TERM", "4247.5", &[]);
    assert!(left.is_empty(), "build directory not removed: {left:?}");
}

#[test]
fn keep_failed_keeps_the_interrupted_build_directory() {
    if !usable() {
        return;
    }
    let left = interrupt("INT", "4247.75", &["--keep-failed"]);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].1, "{left:?}");
}
