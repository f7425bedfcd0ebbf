//! Shapes of real code at several sizes (issue 18): wide constructs and
//! nesting as deep as CppNix parses evaluate, and `max-call-depth` counts
//! what modern CppNix counts — one level per function call, however many
//! arguments it applies (CppNix 2.8 has no such limit, only its C stack).
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::path::{Path, PathBuf};

use nixkit_eval::{ErrorKind, Evaluator, Value};

/// Evaluates `text` deeply with a fresh evaluator on a thread with a 2 MiB
/// stack (the evaluator grows its own).
fn eval(text: String) -> Result<Value, ErrorKind> {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let mut ev = Evaluator::builder().build();
            let v = ev.eval_str(&text, "/").map_err(|e| e.kind())?;
            ev.force_deep(&v).map_err(|e| e.kind())?;
            Ok(v)
        })
        .unwrap()
        .join()
        .expect("evaluation panicked")
}

fn int(text: String) -> i64 {
    match eval(text.clone()) {
        Ok(Value::Int(i)) => i,
        other => panic!("{}: {other:?}", &text[..text.len().min(80)]),
    }
}

#[test]
fn wide_constructs_evaluate() {
    for n in [1_000, 3_000, 9_000, 40_000] {
        let formals: Vec<String> = (0..n).map(|i| format!("a{i} ? {i}")).collect();
        let last = n as i64 - 1;
        assert_eq!(
            int(format!("({{ {} }}: a{last}) {{}}", formals.join(", "))),
            last
        );
        let names: Vec<String> = (0..n).map(|i| format!("a{i}")).collect();
        let bindings: String = (0..n).map(|i| format!("a{i} = {i}; ")).collect();
        assert_eq!(
            int(format!(
                "let x = {{ {bindings} }}; in (rec {{ inherit (x) {}; }}).a{last}",
                names.join(" ")
            )),
            last
        );
        let args: String = (0..n).map(|i| format!(" {i}")).collect();
        assert_eq!(
            int(format!("let f = x: f; in builtins.seq (f{args}) {n}")),
            n as i64
        );
    }
}

#[test]
fn nesting_as_deep_as_cppnix_parses_evaluates() {
    for (n, text) in [
        (
            9_995,
            format!("{}1{}", "(".repeat(9_995), ")".repeat(9_995)),
        ),
        (3_325, format!("{}1", "with { x = 1; }; ".repeat(3_325))),
        (3_331, format!("{}a", "let a = 1; in ".repeat(3_331))),
        (
            2_496,
            format!("{}1{}", "{ a = ".repeat(2_496), "; }".repeat(2_496)),
        ),
        (
            4_997,
            format!("({}1) {}", "x: ".repeat(4_997), "0 ".repeat(4_997)),
        ),
    ] {
        let v = eval(text);
        assert!(v.is_ok(), "{n}: {v:?}");
    }
}

/// A recursion `calls` function calls deep per level, `levels` deep: under
/// the default max-call-depth (10,000) exactly when calls × levels fits.
#[test]
fn a_call_counts_one_level_whatever_its_arguments() {
    for (args, pat) in [(1, "n"), (2, "a: n"), (4, "a: b: c: n")] {
        let pass: String = [" 1"; 4][..args - 1].concat();
        let f = format!("let f = {pat}: if n == 0 then 0 else 1 + f{pass} (n - 1); in f{pass}");
        assert_eq!(int(format!("{f} 9990")), 9990, "{args} arguments");
        assert_eq!(
            eval(format!("{f} 10001")).map(|_| ()),
            Err(ErrorKind::StackOverflow),
            "{args} arguments"
        );
    }
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

/// nixpkgs lib's `foldr` (2 calls a level) and `foldAttrs` (6: the outer
/// `fold'`, `op`, the inner `foldr`, its `fold'` and `op`, and the inner
/// `fold'` that returns the outer accumulator) reach max-call-depth where
/// modern CppNix's per-call count does: 5,000 and about 1,666 sets.
#[test]
fn nixpkgs_folds_reach_the_depth_cppnix_counts() {
    let Some(root) = nixpkgs_lib() else { return };
    let lib = format!("import {}/lib", root.display());
    let foldr =
        |n: usize| format!("let lib = {lib}; in lib.foldr (x: acc: acc + x) 0 (lib.range 1 {n})");
    assert_eq!(int(foldr(4_900)), 4_900 * 4_901 / 2);
    assert_eq!(
        eval(foldr(5_001)).map(|_| ()),
        Err(ErrorKind::StackOverflow)
    );
    let fold_attrs = |n: usize| {
        format!(
            "let lib = {lib}; in builtins.length (lib.foldAttrs (x: acc: [x] ++ acc) [] \
             (map (i: {{ a = i; }}) (lib.range 1 {n}))).a"
        )
    };
    for n in [100, 1_000, 1_600] {
        assert_eq!(int(fold_attrs(n)), n as i64);
    }
    for n in [1_700, 4_000, 10_000] {
        assert_eq!(
            eval(fold_attrs(n)).map(|_| ()),
            Err(ErrorKind::StackOverflow)
        );
    }
}
