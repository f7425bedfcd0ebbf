//! Limits bound nesting, never width: generated shapes that CppNix 2.8
//! parses (wide formals, `inherit` lists, applications; nesting up to
//! CppNix's own depths) parse without error at several sizes, on a thread
//! with a small stack, in bounded time; deeper nesting is a located error.
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::time::{Duration, Instant};

use nixkit_syntax::{parse, ParseErrorKind, ParseOptions};

/// Parses `src` on a thread with a 1 MiB stack; the errors' kinds and offsets.
fn parse_small_stack(src: String) -> Vec<(ParseErrorKind, u32)> {
    let start = Instant::now();
    let len = src.len();
    let errors = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            let p = parse(&src, &ParseOptions::new("/base"));
            p.errors()
                .iter()
                .map(|e| (e.kind.clone(), e.span.start))
                .collect::<Vec<_>>()
        })
        .unwrap()
        .join()
        .expect("parser panicked");
    println!("{len} bytes: {:?}", start.elapsed());
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "took {:?}",
        start.elapsed()
    );
    errors
}

fn assert_parses(what: &str, src: String) {
    let errors = parse_small_stack(src);
    assert!(errors.is_empty(), "{what}: {errors:?}");
}

/// Nesting of each kind, up to the depth CppNix 2.8's parser takes (found by
/// experiment: its Bison stack of 10,000 entries ends each of these).
fn nested(kind: &str, n: usize) -> String {
    match kind {
        "parens" => format!("{}1{}", "(".repeat(n), ")".repeat(n)),
        "lists" => format!("{}1{}", "[".repeat(n), "]".repeat(n)),
        "sets" => format!("{}1{}", "{ a = ".repeat(n), "; }".repeat(n)),
        "recs" => format!("{}1{}", "rec { a = ".repeat(n), "; }".repeat(n)),
        "lets" => format!("{}a", "let a = 1; in ".repeat(n)),
        "withs" => format!("{}1", "with {}; ".repeat(n)),
        "lambdas" => format!("{}1", "x: ".repeat(n)),
        "ifs" => format!("{}1{}", "if true then ".repeat(n), " else 2".repeat(n)),
        "asserts" => format!("{}1", "assert true; ".repeat(n)),
        "interpolations" => format!("\"{}x{}\"", "${\"".repeat(n), "\"}".repeat(n)),
        _ => unreachable!("{kind}"),
    }
}

#[test]
fn nesting_as_deep_as_cppnix_parses() {
    // CppNix 2.8's deepest accepted nesting of each kind.
    for (kind, cppnix) in [
        ("parens", 9995),
        ("lists", 4998),
        ("sets", 2496),
        ("recs", 2496),
        ("lets", 3331),
        ("withs", 3325),
        ("lambdas", 4997),
        ("ifs", 3000),
        ("asserts", 3000),
        ("interpolations", 2000),
    ] {
        for n in [cppnix / 10, cppnix / 2, cppnix] {
            assert_parses(&format!("{kind} {n}"), nested(kind, n));
        }
    }
}

#[test]
fn deeper_nesting_is_a_located_error() {
    for kind in ["parens", "sets", "lets", "withs", "lambdas", "lists"] {
        let src = nested(kind, 20_000);
        let len = src.len() as u32;
        let errors = parse_small_stack(src);
        assert!(
            matches!(errors.first(), Some((ParseErrorKind::TooDeep, at)) if *at <= len),
            "{kind}: {errors:?}"
        );
    }
}

#[test]
fn wide_constructs_parse_at_any_width() {
    for n in [1_000, 3_000, 9_000, 40_000] {
        let formals: Vec<String> = (0..n).map(|i| format!("a{i} ? {i}")).collect();
        assert_parses(
            &format!("{n} formals with defaults"),
            format!("({{ {} }}: a0) {{}}", formals.join(", ")),
        );
        let bare: Vec<String> = (0..n).map(|i| format!("a{i}")).collect();
        assert_parses(
            &format!("{n} formals"),
            format!("{{ {}, ... }}: a0", bare.join(", ")),
        );
        let names = bare.join(" ");
        assert_parses(
            &format!("inherit (x) with {n} names"),
            format!("x: {{ inherit (x) {names}; }}"),
        );
        assert_parses(
            &format!("let inherit with {n} names"),
            format!("x: let inherit (x) {names}; inherit x; in a0"),
        );
        let bindings: String = (0..n).map(|i| format!("a{i} = {i}; ")).collect();
        assert_parses(&format!("set of {n}"), format!("{{ {bindings} }}"));
        let elements: String = (0..n).map(|i| format!("{i} ")).collect();
        assert_parses(&format!("list of {n}"), format!("[ {elements}]"));
    }
    // An application's arguments nest in rnix's tree but lower to one
    // call: as many as an expression may have terms.
    for n in [1_000, 9_000, 40_000] {
        let args: String = (0..n).map(|i| format!(" {i}")).collect();
        assert_parses(&format!("application to {n}"), format!("f: f{args}"));
    }
}
