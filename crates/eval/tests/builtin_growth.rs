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

/// callPackage's `intersectAttrs (functionArgs f) pool`: 10,000 calls with a
/// few names against a pool of `pool_size`, in both argument orders.
fn intersect_attrs_program(pool_size: u32) -> String {
    let last = pool_size - 1;
    format!(
        r#"
      let
        pool = builtins.listToAttrs
          (builtins.genList (i: {{ name = "p${{toString i}}"; value = i; }}) {pool_size});
        args = {{ p5 = false; p{last} = true; missing = false; }};
        calls = builtins.genList (i:
          builtins.attrValues (builtins.intersectAttrs args pool)
          ++ builtins.attrValues (builtins.intersectAttrs pool args)) 10000;
      in [ (builtins.length (builtins.concatLists calls)) (builtins.elemAt calls 0) ]
    "#
    )
}

#[test]
fn intersect_attrs_cost_follows_the_smaller_set() {
    // Walking the pool on each call is 2 x 10^9 steps for a pool of 100,000
    // and 100 times fewer for a pool of 1,000; searching the few names in it
    // costs the same for both, plus building the larger pool. The two runs
    // are compared with each other, not with a clock, so a loaded machine
    // slows both alike.
    let (small_out, small) = eval_timed(&intersect_attrs_program(1_000));
    let (big_out, big) = eval_timed(&intersect_attrs_program(100_000));
    // Values from the second set: the pool's for the first order, args' for the second.
    assert_eq!(small_out, "[ 40000 [ 5 999 false true ] ]");
    assert_eq!(big_out, "[ 40000 [ 5 99999 false true ] ]");
    assert!(
        big < small * 15 + Duration::from_secs(2),
        "10,000 intersectAttrs against a pool of 100,000 took {big:?}, \
         against a pool of 1,000 {small:?}: the cost follows the larger set"
    );
}
