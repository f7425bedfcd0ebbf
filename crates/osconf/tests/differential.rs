//! The module system against nixpkgs lib's `evalModules`: every case in
//! `tests/modules/*.nix` (a list of modules) is evaluated with osconf's
//! `evalModules` and with nixpkgs lib's, and the `config` values (deepSeq'd, as JSON,
//! without `_module`) must be equal. Cases named `err-*` must fail under both, and
//! osconf's message must contain every line of the case's `.expect` file (`@DIR@` is
//! the cases' directory): the option's name, the defining files and positions.
//!
//! nixpkgs lib is found in the corpus (`NIXKIT_CORPUS`, default `../shared/corpus`
//! next to the repository): `nixpkgs-lib` is run by nixkit's evaluator,
//! `nixpkgs-lib-2022` by CppNix 2.8's `nix-instantiate` when it is on `PATH`.
//! Each test prints `skipped: ...` when what it needs is absent.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a failed unwrap is a failed test.

use std::path::{Path, PathBuf};
use std::process::Command;

use nixkit_osconf::{eval_json, nix_dir, nix_string};
use serde_json::Value;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/modules")
}

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("NIXKIT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    let dir = dir.canonicalize().unwrap_or(dir);
    if dir.join("nixpkgs-lib/lib/modules.nix").is_file() {
        Some(dir)
    } else {
        println!(
            "skipped: nixpkgs lib not found in {} (set NIXKIT_CORPUS)",
            dir.display()
        );
        None
    }
}

/// The case names (file stems), ordinary and `err-` ones, sorted.
fn cases() -> (Vec<String>, Vec<String>) {
    let mut ok = Vec::new();
    let mut err = Vec::new();
    for entry in std::fs::read_dir(cases_dir()).expect("cases directory") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|e| e == "nix") {
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            if stem.starts_with("err-") {
                err.push(stem);
            } else {
                ok.push(stem);
            }
        }
    }
    ok.sort();
    err.sort();
    (ok, err)
}

/// An expression evaluating the cases with the `evalModules` of the library at
/// `lib_dir`: a set from case name to its config without `_module` (derivations as
/// their paths), or, with `only_success`, to whether evaluating it succeeded.
fn cases_expr(lib_dir: &Path, names: &[String], only_success: bool) -> String {
    let mut entries = String::new();
    for name in names {
        let file = cases_dir().join(format!("{name}.nix"));
        let run = format!("run (import {})", nix_string(&file.to_string_lossy()));
        let value = if only_success {
            format!("(builtins.tryEval (builtins.deepSeq ({run}) true)).success")
        } else {
            run
        };
        entries.push_str(&format!("{} = {value};\n", nix_string(name)));
    }
    format!(
        "let
           lib = import {lib};
           strip = v:
             if builtins.isAttrs v then
               (if v ? outPath then v.outPath
                else builtins.mapAttrs (n: strip) (builtins.removeAttrs v [ \"_module\" ]))
             else if builtins.isList v then map strip v
             else v;
           run = modules: strip (lib.evalModules {{ inherit modules; }}).config;
         in {{ {entries} }}",
        lib = nix_string(&lib_dir.to_string_lossy()),
    )
}

fn osconf_lib() -> PathBuf {
    nix_dir().join("lib")
}

fn nixkit_eval(expr: &str) -> Result<Value, String> {
    let out = eval_json(expr, &cases_dir()).map_err(|e| e.to_string())?;
    serde_json::from_str(&out).map_err(|e| format!("bad JSON {out}: {e}"))
}

fn cppnix_eval(expr: &str) -> Option<Result<Value, String>> {
    let out = Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json", "--expr", expr])
        .current_dir(cases_dir())
        .output()
        .ok()?;
    if !out.status.success() {
        return Some(Err(String::from_utf8_lossy(&out.stderr).into_owned()));
    }
    Some(serde_json::from_slice(&out.stdout).map_err(|e| e.to_string()))
}

/// The cases whose values differ (or are missing on one side), with both values.
fn differences(left: &Value, right: &Value, names: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for name in names {
        let (l, r) = (left.get(name), right.get(name));
        if l.is_none() || l != r {
            found.push(format!("{name}:\n  osconf:  {l:?}\n  nixpkgs: {r:?}"));
        }
    }
    found
}

fn compare_all(label: &str, osconf: Result<Value, String>, nixpkgs: Result<Value, String>) {
    let (ok, err) = cases();
    assert!(ok.len() >= 35, "too few module cases: {}", ok.len());
    let osconf = osconf.unwrap_or_else(|e| panic!("osconf failed on the cases ({label}):\n{e}"));
    let nixpkgs =
        nixpkgs.unwrap_or_else(|e| panic!("nixpkgs lib failed on the cases ({label}):\n{e}"));
    let diffs = differences(&osconf, &nixpkgs, &ok);
    assert!(
        diffs.is_empty(),
        "{label}: {} of {} cases differ:\n{}",
        diffs.len(),
        ok.len(),
        diffs.join("\n")
    );
    println!(
        "{label}: {} cases agree ({} error cases exist)",
        ok.len(),
        err.len()
    );
}

#[test]
fn osconf_agrees_with_nixpkgs_lib_under_nixkit() {
    let Some(corpus) = corpus_dir() else { return };
    let (ok, _) = cases();
    let osconf = nixkit_eval(&cases_expr(&osconf_lib(), &ok, false));
    let nixpkgs = nixkit_eval(&cases_expr(&corpus.join("nixpkgs-lib/lib"), &ok, false));
    compare_all("nixkit", osconf, nixpkgs);
}

#[test]
fn osconf_agrees_with_nixpkgs_lib_2022_under_cppnix() {
    let Some(corpus) = corpus_dir() else { return };
    let lib2022 = corpus.join("nixpkgs-lib-2022/lib");
    if !lib2022.is_dir() {
        println!("skipped: {} not found", lib2022.display());
        return;
    }
    let (ok, _) = cases();
    let Some(nixpkgs) = cppnix_eval(&cases_expr(&lib2022, &ok, false)) else {
        println!("skipped: nix-instantiate (CppNix) not on PATH");
        return;
    };
    // osconf's library under CppNix too: it is plain Nix, and must not depend on nixkit.
    let osconf_cppnix =
        cppnix_eval(&cases_expr(&osconf_lib(), &ok, false)).expect("CppNix ran once");
    let osconf = nixkit_eval(&cases_expr(&osconf_lib(), &ok, false));
    compare_all(
        "osconf (nixkit) vs nixpkgs-lib-2022 (CppNix)",
        osconf,
        nixpkgs.clone(),
    );
    compare_all(
        "osconf (CppNix) vs nixpkgs-lib-2022 (CppNix)",
        osconf_cppnix,
        nixpkgs,
    );
}

/// Every error case fails under both libraries.
#[test]
fn error_cases_fail_under_both() {
    let Some(corpus) = corpus_dir() else { return };
    let (_, err) = cases();
    assert!(err.len() >= 10, "too few error cases: {}", err.len());
    for (label, lib) in [
        ("osconf", osconf_lib()),
        ("nixpkgs", corpus.join("nixpkgs-lib/lib")),
    ] {
        for name in &err {
            let result = nixkit_eval(&cases_expr(&lib, std::slice::from_ref(name), false));
            assert!(
                result.is_err(),
                "{label}: error case {name} evaluated: {result:?}"
            );
        }
    }
}

/// osconf's error messages name the option, the defining files and their positions,
/// in NixOS's words.
#[test]
fn error_messages_name_option_and_files() {
    let (_, err) = cases();
    let dir = cases_dir();
    let mut checked = 0;
    for name in &err {
        let Ok(expect) = std::fs::read_to_string(dir.join(format!("{name}.expect"))) else {
            continue;
        };
        let message = match nixkit_eval(&cases_expr(
            &osconf_lib(),
            std::slice::from_ref(name),
            false,
        )) {
            Ok(v) => panic!("error case {name} evaluated to {v}"),
            Err(e) => e,
        };
        for line in expect.lines().filter(|l| !l.is_empty()) {
            let line = line.replace("@DIR@", &dir.to_string_lossy());
            assert!(
                message.contains(&line),
                "{name}: message lacks {line:?}:\n{message}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 10, "too few wording checks: {checked}");
}

/// The comparison itself reports a differing, a missing and an extra-field case.
#[test]
fn differences_are_reported() {
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
    let left: Value =
        serde_json::from_str(r#"{"a": {"x": 1}, "b": [1, 2], "c": {"y": 1, "z": 2}}"#).unwrap();
    let right: Value =
        serde_json::from_str(r#"{"a": {"x": 1}, "b": [2, 1], "c": {"y": 1}}"#).unwrap();
    let found = differences(&left, &right, &names);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("b:") && found[1].starts_with("c:"));
    let missing = differences(&serde_json::json!({}), &right, &names);
    assert_eq!(missing.len(), 3);
}

/// osconf's option modules use only the interface nixpkgs lib shares, so the sample
/// configuration evaluates to the same config under both libraries' `evalModules`.
#[test]
fn sample_configuration_agrees_with_nixpkgs_lib() {
    let Some(corpus) = corpus_dir() else { return };
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config/configuration.nix");
    let expr = |lib: &Path| {
        format!(
            "(import {} {{ configuration = {}; lib = import {}; }}).json",
            nix_string(&nix_dir().join("eval-config.nix").to_string_lossy()),
            nix_string(&sample.to_string_lossy()),
            nix_string(&lib.to_string_lossy()),
        )
    };
    let osconf = nixkit_eval(&expr(&osconf_lib())).expect("osconf evaluates the sample");
    let nixpkgs = nixkit_eval(&expr(&corpus.join("nixpkgs-lib/lib")))
        .expect("nixpkgs lib evaluates the sample");
    assert!(osconf["system"]["build"]["users"]["passwd"].is_string());
    assert_eq!(osconf, nixpkgs);
}

/// The benchmark's generated configuration (benches/osconf) evaluates to the same config
/// under both libraries, so the benchmark compares like with like.
#[test]
fn benchmark_configuration_agrees_with_nixpkgs_lib() {
    let Some(corpus) = corpus_dir() else { return };
    let bench = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches/osconf/eval.nix");
    let expr = |lib: &Path| {
        format!(
            "import {} {{ n = 30; lib = {}; }}",
            nix_string(&bench.to_string_lossy()),
            nix_string(&lib.to_string_lossy()),
        )
    };
    let osconf = nixkit_eval(&expr(&osconf_lib())).expect("osconf evaluates the benchmark");
    let nixpkgs =
        nixkit_eval(&expr(&corpus.join("nixpkgs-lib/lib"))).expect("nixpkgs lib evaluates it");
    assert_eq!(
        osconf["users"]["users"].as_object().map(|u| u.len()),
        Some(30 + 3)
    );
    assert_eq!(osconf, nixpkgs);
}
