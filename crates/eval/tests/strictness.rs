//! The evaluator's shortcuts must not be observable: arguments computed
//! early (strict-first calls), evaluated thunks passed as values, reused
//! scopes and the inline arithmetic all give CppNix's results and traces.

use std::sync::{Arc, Mutex};

use nixkit_eval::Evaluator;

fn eval_with_traces(text: &str) -> (String, Vec<String>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let mut ev = Evaluator::builder()
        .pure(true)
        .messages(Arc::new(move |l: &str| {
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(l.to_string())
        }))
        .build();
    let out = match ev.eval_str(text, "/").and_then(|v| ev.print(&v, true)) {
        Ok(s) => s,
        Err(e) => format!("error: {e}"),
    };
    let traces = lines.lock().unwrap_or_else(|e| e.into_inner()).clone();
    (out, traces)
}

/// Asserts that evaluating `text` fails with a message starting `prefix`.
fn assert_fails(text: &str, prefix: &str) {
    let (out, _) = eval_with_traces(text);
    assert!(
        out.strip_prefix("error: ")
            .is_some_and(|m| m.starts_with(prefix)),
        "{text}: {out}"
    );
}

#[test]
fn unforced_arguments_stay_thunks() {
    // `f`'s body does not force `x` first, so `y + 1` must stay a thunk.
    let (out, traces) = eval_with_traces("let f = x: builtins.trace [ x ] x; y = 3; in f (y + 1)");
    assert_eq!(out, "4");
    assert_eq!(traces, ["trace: [ «thunk» ]"]);
}

#[test]
fn strict_first_arguments_are_computed_early_but_invisibly() {
    // `g` forces `n` first: passing `y - 1` as a value cannot be seen.
    let (out, traces) = eval_with_traces(
        "let g = n: if n < 0 then [ ] else builtins.trace [ n ] n; y = 3; in g (y - 1)",
    );
    assert_eq!(out, "2");
    assert_eq!(traces, ["trace: [ 2 ]"]);
    // Curried: the inner body forces `b` (the second argument) first; `a`
    // is not forced by then and stays a thunk.
    let (out, traces) = eval_with_traces(
        "let k = a: b: if b < 0 then 0 else builtins.trace [ a b ] (a + b); y = 3; in k (y * 2) (y - 1)",
    );
    assert_eq!(out, "8");
    assert_eq!(traces, ["trace: [ «thunk» 2 ]"]);
}

#[test]
fn overflow_and_division_by_zero_stay_lazy() {
    // Not computed early: the error only happens if the argument is used.
    assert_fails(
        "let f = n: if n == 0 then 1 else 2; z = 0; in f (1 / z)",
        "division by zero",
    );
    let (out, _) = eval_with_traces("let f = n: m: m; z = 0; in f (1 / z) 5");
    assert_eq!(out, "5");
    assert_fails(
        "let f = n: n; m = 9223372036854775807; in f (m + 1)",
        "integer overflow",
    );
}

#[test]
fn reused_scopes_do_not_leak_between_calls() {
    // `map` calls the same closure repeatedly (scope reuse); closures that
    // capture their scope must keep their own argument.
    let (out, _) = eval_with_traces(
        "let fs = map (x: y: x + y) [ 1 2 3 ]; s = builtins.foldl' (a: b: a + b) 0 (map (x: x * 2) [ 1 2 3 ]); \
         in [ (builtins.elemAt fs 0 10) (builtins.elemAt fs 2 10) s ]",
    );
    assert_eq!(out, "[ 11 13 12 ]");
}

#[test]
fn kept_scopes_take_the_closure_of_the_new_call() {
    // A kept scope is reused for a call of another closure of the same
    // lambda: it must see the new closure's variables, one- and
    // two-argument alike, also when calls nest (several kept scopes).
    let (out, _) = eval_with_traces(
        "let mk = k: (x: x + k); mk2 = k: (a: b: a * b + k); \
         fs = map mk [ 1 2 3 ]; gs = map mk2 [ 10 20 ]; \
         deep = n: if n == 0 then 0 else (mk n) n + deep (n - 1) + (mk 1) 0; \
         in [ (map (f: f 1) fs) (map (g: g 2 3) gs) (deep 20) ]",
    );
    assert_eq!(out, "[ [ 2 3 4 ] [ 16 26 ] 440 ]");
}

#[test]
fn inherit_from_sources_of_every_kind() {
    // The source an attribute is inherited from may be an evaluated set, a
    // thunk, or (an error when forced) another value; unused attributes
    // stay unforced.
    let (out, _) = eval_with_traces(
        "let s = { a = 1; }; l = { a = 2; } // { c = 3; }; \
         in [ { inherit (s) a b; }.a ({ inherit (l) a c; }) (rec { inherit (t) a; t = { a = 5; }; }.a) ]",
    );
    assert_eq!(out, "[ 1 { a = 2; c = 3; } 5 ]");
    assert_fails(
        "let s = { a = 1; }; in { inherit (s) b; }.b",
        "attribute 'b' missing",
    );
    assert_fails(
        "let n = null; in { inherit (n) x; }.x",
        "expected a set but found null",
    );
    assert_fails("let s = throw \"boom\"; in { inherit (s) a; }.a", "boom");
}

#[test]
fn addition_keeps_its_errors_and_types() {
    let (out, _) = eval_with_traces("let a = 1; b = 2.5; s = \"x\"; p = /tmp; in [ (a + b + a) (b + a) (s + \"y\") (p + s) (p + \"/z\") ]");
    assert_eq!(out, "[ 4.5 3.5 \"xy\" /tmpx /tmp/z ]");
    assert_fails(
        "let a = 1; in a + \"x\"",
        "cannot add a string to an integer",
    );
    assert_fails("let a = 1.5; in a + {}", "cannot add a set to a float");
    assert_fails(
        "let a = 9223372036854775807; in 0 + a + 1",
        "integer overflow in adding 9223372036854775807 + 1",
    );
    assert_fails("\"a\" + 1", "cannot coerce an integer to a string");
}

#[test]
fn inline_arithmetic_reports_the_builtins_errors() {
    assert_fails(
        "let x = \"a\"; in x - 1",
        "expected an integer but found a string",
    );
    assert_fails(
        "let x = 1; in x < \"a\"",
        "cannot compare an integer with a string",
    );
    // A shadowed `__sub` is called, as in CppNix.
    let (out, _) = eval_with_traces("let __sub = a: b: 42; in 5 - 3");
    assert_eq!(out, "42");
}

#[test]
fn selections_of_evaluated_values_stay_thunks() {
    // CppNix makes a thunk for `x.b` even when `x.b` is already evaluated
    // (only a variable is passed on as its value), so an unforced
    // selection prints as a thunk.
    let (out, traces) =
        eval_with_traces("let x = { b = 1; }; in builtins.seq x.b (builtins.trace [ x.b x ] 1)");
    assert_eq!(out, "1");
    assert_eq!(traces, ["trace: [ «thunk» { b = 1; } ]"]);
    // And likewise string interpolation of known strings.
    let (_, traces) =
        eval_with_traces("let s = \"a\"; in builtins.seq s (builtins.trace [ \"${s}b\" ] 1)");
    assert_eq!(traces, ["trace: [ «thunk» ]"]);
}

#[test]
fn interpolated_to_string_of_known_values_matches_the_builtin() {
    // `"${toString x}"` with `x` evaluated is appended directly; the same
    // through `builtins.toString` (a selection, so the builtin is called)
    // must give the same strings and contexts.
    let cases = [
        "let i = 42; in \"a${toString i}b\"",
        "let i = -9223372036854775807 - 1; in \"${toString i}\"",
        "let s = \"x\"; in builtins.seq s \"<${toString s}>\"",
        "let f = \"1.5\"; d = builtins.toFile \"d\" \"\"; s = \"p${d}\"; in builtins.seq s (builtins.getContext \"${toString s}-\")",
        "let x = 1.5; in \"${toString x}\"",
        "let x = null; in \"${toString x}|${toString true}\"",
    ];
    for case in cases {
        let fast = eval_with_traces(case).0;
        let slow = eval_with_traces(&case.replace("toString", "builtins.toString")).0;
        assert_eq!(fast, slow, "{case}");
        assert!(!fast.starts_with("error"), "{case}: {fast}");
    }
    // Through a variable bound to the builtin (nixpkgs' `inherit (builtins) toString`).
    let fast = eval_with_traces("let inherit (builtins) toString; i = 7; s = \"z\"; in builtins.seq s \"${toString i}${toString s}\"").0;
    let slow = eval_with_traces(
        "let i = 7; s = \"z\"; in builtins.seq s \"${builtins.toString i}${builtins.toString s}\"",
    )
    .0;
    assert_eq!((fast.as_str(), slow.as_str()), ("\"7z\"", "\"7z\""));
}

#[test]
fn released_scopes_keep_everything_that_escaped() {
    // A `let` (or a call with defaults) whose unforced bindings are dropped
    // when nothing else refers to its scope; anything that escaped keeps
    // working.
    let cases = [
        ("let f = x: let a = x; b = throw \"never\"; c = b; in a; in map f [ 1 2 3 ]", "[ 1 2 3 ]"),
        ("let mk = n: let a = n; b = a + 1; in { get = _: b; }; in (mk 1).get null", "2"),
        ("let mk = n: let a = n; b = a + 1; in { inherit b; }; in (mk 4).b", "5"),
        ("let mk = n: let a = n + 1; b = a; in [ b ]; in builtins.elemAt (mk 7) 0", "8"),
        ("let s = let a = 1; b = a + 1; in rec { c = b; d = c; }; in s.d", "2"),
        ("({ a ? b, b ? 5, c }: c) { c = 1; }", "1"),
        ("(({ a ? b, b ? 5 }: x: a) { }) 0", "5"),
        ("let f = { a ? b, b ? throw \"no\" }: a; in f { b = 3; }", "3"),
        (
            "let loop = i: acc: if i == 0 then acc else loop (i - 1) (acc + (let a = i; b = a * 2; in i)); in loop 1000 0",
            "500500",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(eval_with_traces(text).0, want, "{text}");
    }
    // A binding under evaluation is not taken for unused: its own scope is
    // still referred to while the body runs.
    assert_fails("let a = a; in a", "infinite recursion encountered");
}

#[test]
fn variables_across_long_runs_of_with_scopes() {
    // Distant variables jump over runs of `with` scopes: every variable of
    // a deep mix of `let`, `with` and calls must still resolve to its own
    // binding (lets before withs, the innermost `with` for `c`), from the
    // body and from thunks created in it and forced later.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..30 {
        let mut text = String::new();
        let mut names: Vec<(String, i64)> = Vec::new();
        let mut innermost_with = None;
        let levels = 5 + round * 3;
        for i in 0..levels {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            match seed % 4 {
                0 => {
                    text.push_str(&format!("let x{i} = {i}; in "));
                    names.push((format!("x{i}"), i as i64));
                }
                1 => {
                    text.push_str(&format!("(y{i}: ",));
                    names.push((format!("y{i}"), 1000 + i as i64));
                }
                _ => {
                    text.push_str(&format!("with {{ w{i} = {i}; c = {i}; }}; "));
                    names.push((format!("w{i}"), i as i64));
                    innermost_with = Some(i as i64);
                }
            }
        }
        let body: Vec<String> = names.iter().map(|(n, _)| n.clone()).collect();
        let mut expr = format!("[ {} ]", body.join(" "));
        if innermost_with.is_some() {
            expr = format!("[ ({expr}) c ]");
        }
        // Close the calls from the inside out.
        let mut closing = String::new();
        for (n, v) in names.iter().rev() {
            if n.starts_with('y') {
                closing.push_str(&format!(") {v}"));
            }
        }
        let text = format!("{text}{expr}{closing}");
        let mut want = format!(
            "[ {} ]",
            names
                .iter()
                .map(|(_, v)| v.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        if let Some(c) = innermost_with {
            want = format!("[ {want} {c} ]");
        }
        assert_eq!(eval_with_traces(&text).0, want, "{text}");
    }
}

#[test]
fn let_bound_functions_behave_as_closures_over_their_scope() {
    // A `let`-bound lambda is stored without a reference to its own scope
    // (no cycle) and bound to the scope wherever it is read: called by
    // name, passed on, returned, compared, aliased, at any distance.
    let cases = [
        ("let f = x: x + 1; in f 2", "3"),
        ("let f = x: x + 1; g = f; in [ (g 1) (f 2) ]", "[ 2 3 ]"),
        ("let go = n: if n == 0 then 0 else go (n - 1); in go 10", "0"),
        ("let add = a: b: a + b; in add 1 2", "3"),
        ("let add3 = a: b: c: a + b + c; in add3 1 2 3", "6"),
        ("let f = { a, b ? 2 }: a + b; in f { a = 1; }", "3"),
        ("let mk = x: let f = y: x + y; in f; in (mk 1) 2", "3"),
        ("let mk = x: let f = y: x + y; in { inherit f; }; in (mk 1).f 5", "6"),
        ("let f = x: x; in [ f ] == [ f ]", "true"),
        ("let f = x: x; in { a = f; } == { a = f; }", "true"),
        ("let f = x: x; g = f; in [ f ] == [ g ]", "true"),
        ("let f = x: x; in f == f", "false"),
        ("let f = x: x * 2; in map f [ 1 2 3 ]", "[ 2 4 6 ]"),
        ("let f = { a ? 1 }: a; in builtins.functionArgs f", "{ a = true; }"),
        ("let f = x: x; in builtins.isFunction f", "true"),
        ("let f = x: y: x - y; in builtins.foldl' f 10 [ 1 2 ]", "7"),
        ("let even = n: if n == 0 then true else odd (n - 1); odd = n: if n == 0 then false else even (n - 1); in even 9", "false"),
        ("let f = x: x; in let g = y: f y; in with { h = 1; }; g h", "1"),
        ("let s = rec { f = x: if x == 0 then 0 else f (x - 1); }; in s.f 3", "0"),
        ("let inherit (builtins) map; f = x: x; in map f [ 1 ]", "[ 1 ]"),
        ("let f = x: x; in (let inherit f; in f 4)", "4"),
        ("(let f = x: x; in f) 5", "5"),
        // The same for a recursive set's functions, in its scope.
        ("let s = rec { f = x: x; g = [ f ]; h = [ f ]; }; in s.g == s.h", "true"),
        ("(rec { even = n: if n == 0 then true else odd (n - 1); odd = n: if n == 0 then false else even (n - 1); }).odd 7", "true"),
        ("let s = rec { f = x: x + 1; a = f 1; b = map f [ 1 ]; c = f; }; in [ s.a s.b (s.c 5) (s.f 6) ]", "[ 2 [ 2 ] 6 7 ]"),
        ("let s = rec { f = a: b: a * b; g = f 3 4; }; in s.g", "12"),
    ];
    for (text, want) in cases {
        assert_eq!(eval_with_traces(text).0, want, "{text}");
    }
    // Far away (16 or more scopes out, through `with` runs too).
    let mut text = String::from("let f = x: x + 100; in ");
    for i in 0..40 {
        text.push_str(&format!("with {{ w{i} = {i}; }}; "));
    }
    text.push_str("[ (f w3) (builtins.head (map f [ w39 ])) ]");
    assert_eq!(eval_with_traces(&text).0, "[ 103 139 ]");
    // An error raised inside reports the function's name, as before.
    assert_fails(
        "let f = x: x + \"a\"; in f 1",
        "cannot add a string to an integer",
    );
}
