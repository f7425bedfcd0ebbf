//! Failing builds: a clear error, no registered output, no stray process.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;
use std::time::{Duration, Instant};

use common::*;
use nixkit_sandbox::{BuildError, RealiseError, RealiseOptions, RunOutcome};
use nixkit_store::{Hash, HashAlgo};

fn single_failure(r: Result<nixkit_sandbox::Realised, RealiseError>) -> BuildError {
    match r {
        Err(RealiseError::BuildsFailed(mut f)) if f.len() == 1 => f.remove(0).1,
        other => panic!("expected one failure, got {other:?}"),
    }
}

/// Host processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(marker) && !cmd.contains("cargo") {
                found.push(format!("{}: {cmd}", e.file_name().to_string_lossy()));
            }
        }
    }
    found
}

#[test]
fn builder_exits_1() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    let a = t.drv(
        "fail",
        "echo about to fail; echo partial > $out; exit 1",
        &[],
        &["out"],
        &[],
    );
    let e = single_failure(t.build(&a));
    let msg = e.to_string();
    assert!(
        matches!(
            e,
            BuildError::Failed {
                outcome: RunOutcome::Exited(1),
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.starts_with(&format!(
            "builder for '{}' failed with exit code 1",
            t.print(&a)
        )),
        "{msg}"
    );
    assert!(msg.contains("> about to fail"), "{msg}");
    assert!(!t.is_valid(&t.out(&a, "out")));
    // The log was kept.
    let log = nixkit_sandbox::build::log_path(&t.store.lock().unwrap(), &a);
    assert_eq!(std::fs::read_to_string(log).unwrap(), "about to fail\n");
}

#[test]
fn silent_builder_is_killed() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    let a = t.drv(
        "silent",
        "echo start; sleep 4243.5; touch $out",
        &[],
        &["out"],
        &[],
    );
    let mut opts = RealiseOptions::default();
    opts.settings.max_silent_time = Some(Duration::from_secs(1));
    let start = Instant::now();
    let e = single_failure(t.build_with(std::slice::from_ref(&a), &opts));
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(
        matches!(
            e,
            BuildError::Failed {
                outcome: RunOutcome::Silent(_),
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("timed out after 1 seconds of silence"),
        "{e}"
    );
    assert!(!t.is_valid(&t.out(&a, "out")));
    assert_eq!(processes_with("4243.5"), Vec::<String>::new());
}

#[test]
fn runaway_process_tree_is_killed() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    // Daemonised grandchildren that outlive the builder, then a failure.
    let script = "for i in 1 2 3 4 5 6 7 8; do (setsid sleep 4244.5 &) ; ( (sleep 4244.5 &) & ) ; done; sleep 4244.5 & echo spawned; exit 1";
    let a = t.drv("runaway", script, &[], &["out"], &[]);
    let e = single_failure(t.build(&a));
    assert!(
        matches!(
            e,
            BuildError::Failed {
                outcome: RunOutcome::Exited(1),
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(processes_with("4244.5"), Vec::<String>::new());
    // And a tree that keeps running is killed by --timeout.
    let b = t.drv(
        "forever",
        "while true; do sleep 4245.5 & sleep 0.1; done",
        &[],
        &["out"],
        &[],
    );
    let mut opts = RealiseOptions::default();
    opts.settings.timeout = Some(Duration::from_secs(2));
    let e = single_failure(t.build_with(std::slice::from_ref(&b), &opts));
    assert!(
        matches!(
            e,
            BuildError::Failed {
                outcome: RunOutcome::TimedOut(_),
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(processes_with("4245.5"), Vec::<String>::new());
    assert!(!t.is_valid(&t.out(&b, "out")));
}

#[test]
fn wrong_fixed_output_hash() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    let wanted = Hash::digest(HashAlgo::Sha256, b"expected\n");
    let a = t.fod("fod", "echo actual > $out", wanted);
    let e = single_failure(t.build(&a));
    let got = Hash::digest(HashAlgo::Sha256, b"actual\n");
    assert_eq!(
        e.to_string(),
        format!(
            "hash mismatch in fixed-output derivation '{}':\n  specified: {}\n     got:    {}",
            t.print(&a),
            wanted.to_sri(),
            got.to_sri()
        )
    );
    assert!(!t.is_valid(&t.out(&a, "out")));
}

#[test]
fn keep_going_and_dependency_failure() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    let bad = t.drv("bad", "exit 3", &[], &["out"], &[]);
    let dep = t.drv("dep", "touch $out", &[], &["out"], &[(&bad, &["out"])]);
    let good = t.drv("good", "sleep 0.5; touch $out", &[], &["out"], &[]);
    let opts = RealiseOptions {
        keep_going: true,
        jobs: 2,
        ..Default::default()
    };
    let r = t.build_with(&[dep.clone(), good.clone()], &opts);
    assert!(
        matches!(r, Err(RealiseError::BuildsFailed(ref f)) if f.len() == 1),
        "{r:?}"
    );
    assert!(t.is_valid(&t.out(&good, "out")));
    assert!(!t.is_valid(&t.out(&dep, "out")));
}
