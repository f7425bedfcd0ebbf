//! Freeing a value nested a million levels deep (lists, sets, chains of
//! thunks, closures capturing closures) does not recurse once per level:
//! it is dropped on a thread with a 256 KiB stack, which a recursive drop
//! overflows.
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use nixkit_eval::{Evaluator, Value};

const DEPTH: usize = 1_000_000;

/// Evaluates `expr` (a fold of `DEPTH` steps), forced to weak head normal
/// form, and returns the value alone (the evaluator is gone).
fn build(expr: &str) -> Value {
    let expr = expr.replace("DEPTH", &DEPTH.to_string());
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let mut ev = Evaluator::builder().build();
            let v = ev.eval_str(&expr, "/").unwrap();
            ev.force(&v).unwrap()
        })
        .unwrap()
        .join()
        .unwrap()
}

fn drop_on_small_stack(v: Value) {
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || drop(v))
        .unwrap()
        .join()
        .unwrap();
}

fn range() -> &'static str {
    "(builtins.genList (i: i) DEPTH)"
}

#[test]
fn deep_lists_drop_iteratively() {
    drop_on_small_stack(build(&format!(
        "builtins.foldl' (acc: i: [ i acc ]) [ ] {}",
        range()
    )));
}

#[test]
fn deep_sets_drop_iteratively() {
    drop_on_small_stack(build(&format!(
        "builtins.foldl' (acc: i: {{ a = acc; b = i; }}) {{ }} {}",
        range()
    )));
}

#[test]
fn thunk_chains_drop_iteratively() {
    // Each element is an unevaluated thunk whose scope holds the previous
    // list.
    drop_on_small_stack(build(&format!(
        "builtins.foldl' (acc: i: [ (builtins.head acc) ]) [ 0 ] {}",
        range()
    )));
}

#[test]
fn closure_chains_drop_iteratively() {
    drop_on_small_stack(build(&format!(
        "builtins.foldl' (acc: i: (x: acc x)) (x: x) {}",
        range()
    )));
}
