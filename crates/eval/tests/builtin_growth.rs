//! Builtins whose cost must follow the right input: a call that once walked
//! a large argument it only needs to search fails here by taking minutes
//! instead of a second. (`benches/complexity.sh` measures every builtin's
//! growth against CppNix; this keeps the fixed ones fixed in `cargo test`.)

use std::time::{Duration, Instant};

use nixkit_eval::Evaluator;

/// Evaluates `text` and returns its printed value and how long it took.
fn eval_timed(text: &str) -> (String, Duration) {
    let mut ev = Evaluator::builder().pure(true).build();
    let start = Instant::now();
    let out = match ev.eval_str(text, "/").and_then(|v| ev.print(&v, true)) {
        Ok(s) => s,
        Err(e) => format!("error: {e}"),
    };
    (out, start.elapsed())
}

#[test]
fn intersect_attrs_cost_follows_the_smaller_set() {
    // callPackage's `intersectAttrs (functionArgs f) pool`: 10,000 calls with
    // a few names against a pool of 100,000, in both argument orders. Walking
    // the pool on each call is 2 x 10^9 steps (seconds in a release build,
    // minutes in a debug one); searching the few names in it, milliseconds.
    let text = r#"
      let
        pool = builtins.listToAttrs
          (builtins.genList (i: { name = "p${toString i}"; value = i; }) 100000);
        args = { p5 = false; p99999 = true; missing = false; };
        calls = builtins.genList (i:
          builtins.attrValues (builtins.intersectAttrs args pool)
          ++ builtins.attrValues (builtins.intersectAttrs pool args)) 10000;
      in [ (builtins.length (builtins.concatLists calls)) (builtins.elemAt calls 0) ]
    "#;
    let (out, took) = eval_timed(text);
    // Values from the second set: the pool's for the first order, args' for the second.
    assert_eq!(out, "[ 40000 [ 5 99999 false true ] ]");
    assert!(
        took < Duration::from_secs(30),
        "10,000 intersectAttrs against a pool of 100,000 took {took:?}"
    );
}
