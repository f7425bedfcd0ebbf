//! The shared evaluator workloads (`../shared/bench/*.nix`, also used by
//! `benches/eval-vs-cppnix.sh`) evaluate with `nixkit instantiate --eval
//! --strict` to exactly their expected output (`*.exp`, produced by CppNix),
//! derivation and output paths included. Located through `NIXKIT_BENCH_DIR`;
//! skipped with a message when absent.
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::path::{Path, PathBuf};
use std::process::Command;

fn bench_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("NIXKIT_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: evaluator workloads not found at {} (set NIXKIT_BENCH_DIR)",
            dir.display()
        );
        None
    }
}

#[test]
fn workloads_evaluate_to_cppnix_output() {
    let Some(dir) = bench_dir() else { return };
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "nix"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty());
    let mut failures = Vec::new();
    for case in &cases {
        let out = Command::new(env!("CARGO_BIN_EXE_nixkit"))
            .args(["instantiate", "--eval", "--strict"])
            .arg(case)
            .current_dir(&dir)
            .output()
            .unwrap();
        let expected = std::fs::read(case.with_extension("exp")).unwrap();
        if !out.status.success() || out.stdout != expected {
            failures.push(format!(
                "{}: {:?}, stderr: {}",
                case.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    println!(
        "workloads: {}/{} match their .exp",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
