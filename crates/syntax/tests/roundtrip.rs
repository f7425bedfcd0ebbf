//! Property: printed expressions parse again, and printing reaches a
//! fixpoint after one round trip. (Not after zero: like CppNix's, the printer
//! writes an interpolated string as one n-ary `(a + b + c)`, which reads back
//! as nested binary `+`.)
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use nixkit_syntax::{parse, ParseOptions};
use proptest::prelude::*;

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..10_000).prop_map(|n| n.to_string()),
        prop::sample::select(vec!["a", "b", "c", "true", "false", "null", "builtins"])
            .prop_map(String::from),
        "[a-z \\\\\"$\\n\\t{}]{0,8}".prop_map(|s| {
            let mut out = String::from("\"");
            for ch in s.chars() {
                match ch {
                    '"' | '\\' => {
                        out.push('\\');
                        out.push(ch);
                    }
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '$' => out.push_str("\\$"),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }),
        prop::sample::select(vec![
            "./p",
            "../q/r",
            "/abs/s",
            "<nixpkgs>",
            "http://x.org/y"
        ])
        .prop_map(String::from),
    ]
}

fn expr() -> impl Strategy<Value = String> {
    leaf().prop_recursive(5, 48, 4, |inner| {
        let key = prop::sample::select(vec!["k", "l", "m", "n", "\"o p\""]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!(
                "[ {} ]",
                v.iter()
                    .map(|e| format!("({e})"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
            (prop::collection::vec(inner.clone(), 0..4), any::<bool>()).prop_map(|(v, rec)| {
                let binds: String = v
                    .iter()
                    .enumerate()
                    .map(|(i, e)| format!("k{i} = {e}; "))
                    .collect();
                format!("{}{{ {binds}}}", if rec { "rec " } else { "" })
            }),
            (inner.clone(), inner.clone()).prop_map(|(v, body)| format!("let a = {v}; in {body}")),
            inner.clone().prop_map(|body| format!("(a: {body})")),
            inner
                .clone()
                .prop_map(|body| format!("({{ a, b ? 1, ... }}@c: {body})")),
            (inner.clone(), inner.clone()).prop_map(|(f, x)| format!("({f}) ({x})")),
            (
                inner.clone(),
                prop::sample::select(vec![
                    "+", "-", "*", "/", "++", "//", "==", "!=", "<", "<=", ">", ">=", "&&", "||",
                    "->"
                ]),
                inner.clone()
            )
                .prop_map(|(l, op, r)| format!("({l}) {op} ({r})")),
            (inner.clone(), key.clone(), inner.clone())
                .prop_map(|(e, k, d)| format!("({e}).{k} or ({d})")),
            (inner.clone(), key.clone()).prop_map(|(e, k)| format!("({e}) ? {k}")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(c, t, e)| format!("if {c} then {t} else {e}")),
            (inner.clone(), inner.clone()).prop_map(|(s, b)| format!("with {s}; {b}")),
            inner.clone().prop_map(|e| format!("!({e})")),
            inner.clone().prop_map(|e| format!("-({e})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("\"x${{{a}}}y${{{b}}}\"")),
            (inner.clone(), inner.clone()).prop_map(|(k, v)| format!("{{ \"${{{k}}}\" = {v}; }}")),
            inner
                .clone()
                .prop_map(|e| format!("''\n  line\n    ${{{e}}}\n''")),
        ]
    })
}

fn print(src: &str) -> Result<String, String> {
    let parsed = parse(src, &ParseOptions::new("/base").with_home("/home"));
    match parsed.errors().first() {
        Some(e) => Err(format!("{e} in {src}")),
        None => Ok(parsed.to_cppnix_string()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]
    #[test]
    fn printing_is_a_fixpoint(body in expr()) {
        // Bind the free variables the generator uses.
        let src = format!("a: b: c: {body}");
        let first = print(&src).map_err(TestCaseError::fail)?;
        let second = print(&first).map_err(TestCaseError::fail)?;
        let third = print(&second).map_err(TestCaseError::fail)?;
        prop_assert_eq!(second, third);
    }
}
