//! Memory an embedding program gets back (issue 18's goals): resident memory
//! after the 100th and the 1,000th evaluation must be within 5 % of each
//! other, for a fresh `Evaluator` per evaluation of a small module system
//! configuration (nixpkgs lib's `evalModules`) and for one `Evaluator`
//! evaluating fresh expressions. The cycle collector runs only while one
//! evaluator is alive in the process, so the two tests take turns; they print
//! the measured growth (`cargo test --release -p nixkit-eval --test
//! embedding_memory -- --nocapture`).
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::path::{Path, PathBuf};

use nixkit_eval::Evaluator;

/// Resident memory of this process, in KiB (`/proc/self/statm`).
fn rss_kib() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4)
}

fn nixpkgs_lib() -> Option<PathBuf> {
    let root = match std::env::var_os("NIXKIT_NIXPKGS_LIB") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/nixpkgs-lib"),
    };
    if root.join("lib/default.nix").is_file() {
        root.canonicalize().ok()
    } else {
        println!("skipped: nixpkgs lib not found at {}", root.display());
        None
    }
}

/// A small configuration: 300 users in a submodule, with a `config`
/// that refers to itself.
fn module_evaluation(lib: &Path) -> String {
    format!(
        r#"let
  lib = import {lib}/lib;
  inherit (lib) mkOption types;
  cfg = lib.evalModules {{
    modules = [
      {{
        options.users = mkOption {{
          type = types.attrsOf (types.submodule ({{ name, ... }}: {{
            options.uid = mkOption {{ type = types.int; }};
            options.home = mkOption {{ type = types.str; default = "/home/${{name}}"; }};
          }}));
          default = {{ }};
        }};
        options.count = mkOption {{ type = types.int; }};
      }}
      ({{ config, ... }}: {{
        users = lib.listToAttrs (map (i: lib.nameValuePair "u${{toString i}}" {{ uid = i; }})
          (lib.range 1 300));
        count = lib.length (lib.attrNames config.users);
      }})
    ];
  }};
in cfg.config.count + lib.length (lib.mapAttrsToList (n: u: u.home) cfg.config.users)"#,
        lib = lib.display()
    )
}

/// Runs `step` 1,000 times; the resident memory after the 100th and the
/// 1,000th, printed, and whether they are within 5 %.
fn bounded_growth(mut step: impl FnMut(usize)) -> bool {
    let (mut at100, mut at1000) = (0, 0);
    for i in 1..=1000 {
        step(i);
        if i == 100 {
            at100 = rss_kib().unwrap_or(0);
        }
        if i == 1000 {
            at1000 = rss_kib().unwrap_or(0);
        }
    }
    println!(
        "RSS after 100: {} KiB, after 1000: {} KiB, growth {:+.1} %",
        at100,
        at1000,
        (at1000 as f64 / at100.max(1) as f64 - 1.0) * 100.0
    );
    (at1000 as f64) <= at100 as f64 * 1.05
}

/// The tests of this file run one at a time (each needs to be the one live
/// evaluator of the process for cycles to be collected).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn fresh_evaluator_per_module_evaluation_returns_its_memory() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let Some(lib) = nixpkgs_lib() else { return };
    let text = module_evaluation(&lib);
    let ok = bounded_growth(|_| {
        let mut ev = Evaluator::builder().build();
        let v = ev.eval_str(&text, "/").unwrap();
        ev.force_deep(&v).unwrap();
    });
    assert!(ok, "resident memory grows with each evaluation");
}

#[test]
fn one_evaluator_evaluating_fresh_expressions_returns_their_memory() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut ev = Evaluator::builder().build();
    let ok = bounded_growth(|i| {
        let text = format!(
            "let s = rec {{ a = {i}; b = a + 1; self = s; xs = builtins.genList (x: x * b) 200; }}; \
             in builtins.foldl' (x: y: x + y) 0 s.self.xs"
        );
        let v = ev.eval_str(&text, "/").unwrap();
        ev.force_deep(&v).unwrap();
    });
    assert!(ok, "resident memory grows with each expression");
}
