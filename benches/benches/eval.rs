//! Evaluator micro-benchmarks: the hot paths of `nixkit-eval`, one small
#![allow(missing_docs)] // criterion_group! generates undocumented functions.
//! Nix program each, evaluated strictly in a fresh pure evaluator:
//!
//! - `calls`: recursive lambda calls with integer arithmetic (`fib`);
//! - `attr_lookup`: repeated selection from a 1000-attribute set;
//! - `update`: `//` folded over many small sets;
//! - `list_ops`: `genList`, `map`, `filter`, `foldl'`, `sort`;
//! - `strings`: interpolation, `concatStringsSep`, `substring`;
//! - `thunks`: forcing shared thunks many times (already-evaluated path).
//!
//! Each program is checked once against its expected result before timing.

use criterion::{criterion_group, criterion_main, Criterion};
use nixkit_eval::Evaluator;

const CASES: &[(&str, &str, &str)] = &[
    (
        "calls",
        "let fib = n: if n < 2 then n else fib (n - 1) + fib (n - 2); in fib 18",
        "2584",
    ),
    (
        "attr_lookup",
        r#"let s = builtins.listToAttrs (builtins.genList (i: { name = "a${toString i}"; value = i; }) 1000);
               names = builtins.attrNames s;
           in builtins.foldl' (acc: n: acc + s.${n} + s.a7) 0 (names ++ names)"#,
        "1013000",
    ),
    (
        "update",
        r#"builtins.length (builtins.attrNames (builtins.foldl'
             (acc: i: acc // { "k${toString (i - i / 200 * 200)}" = i; }) { } (builtins.genList (i: i) 3000)))"#,
        "200",
    ),
    (
        "list_ops",
        r#"let xs = builtins.genList (i: i * 7 - i / 3 * 5) 5000;
               ys = map (x: x + 1) (builtins.filter (x: x - x / 2 * 2 == 0) xs);
           in builtins.foldl' (a: b: a + b) 0 ys + builtins.head (builtins.sort builtins.lessThan xs)"#,
        "44435553",
    ),
    (
        "strings",
        r#"let items = builtins.genList (i: "item-${toString i}") 3000;
               joined = builtins.concatStringsSep "," items;
           in builtins.stringLength joined + builtins.stringLength (builtins.substring 100 50 joined)"#,
        "28939",
    ),
    (
        "thunks",
        r#"let shared = builtins.genList (i: i * 2) 100;
               sum = l: builtins.foldl' (a: b: a + b) 0 l;
           in builtins.foldl' (acc: _: acc + sum shared) 0 (builtins.genList (i: i) 300)"#,
        "2970000",
    ),
];

fn eval(text: &str) -> String {
    let mut ev = Evaluator::builder().pure(true).build();
    match ev.eval_str(text, "/").and_then(|v| ev.print(&v, true)) {
        Ok(s) => s,
        Err(e) => format!("error: {e}"),
    }
}

fn eval_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("eval");
    group.sample_size(20);
    for (name, text, expected) in CASES {
        let got = eval(text);
        if got != *expected {
            eprintln!("eval bench {name}: expected {expected}, got {got}; skipped");
            continue;
        }
        group.bench_function(*name, |b| b.iter(|| eval(text)));
    }
    group.finish();
}

criterion_group!(benches, eval_benches);
criterion_main!(benches);
