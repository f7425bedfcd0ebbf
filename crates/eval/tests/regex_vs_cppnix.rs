//! Random POSIX patterns and inputs through `builtins.match` and
//! `builtins.split`, compared with CppNix (`nix-instantiate` on PATH;
//! skipped otherwise). Cases are evaluated in batches, one process per batch.
//!
//! Rule for the one known class of difference (see `nixkit-regex`'s docs):
//! the C library assigns capture groups by POSIX's rules, libstdc++ by its
//! backtracking order, so for a pattern with a group inside a repetition or
//! an alternation the *groups* may differ. For such patterns only the whole
//! matches are compared (which match, where the input splits, how many
//! groups); for the others, everything.

use nixkit_eval::cli::{parse_args, run, CliEnv};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// A random pattern of the POSIX extended grammar, and whether its groups
/// are unambiguous (no group under a repetition or an alternation).
fn pattern() -> impl Strategy<Value = (String, bool)> {
    let atom = prop_oneof![
        4 => prop::sample::select(vec!["a", "b", "c", "é", "."]).prop_map(|s| (s.to_string(), true)),
        1 => prop::sample::select(vec!["[ab]", "[^a]", "[[:alpha:]]", "[a-c]", "[]a]", "[^[:space:]]", "\\.", "[é]"])
            .prop_map(|s| (s.to_string(), true)),
    ];
    let piece = atom.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            // A sequence.
            prop::collection::vec(inner.clone(), 1..4).prop_map(|v| {
                let plain = v.iter().all(|(_, p)| *p);
                (v.into_iter().map(|(s, _)| s).collect::<String>(), plain)
            }),
            // A group.
            inner.clone().prop_map(|(s, p)| (format!("({s})"), p)),
            // An alternation.
            (inner.clone(), inner.clone()).prop_map(|((a, _), (b, _))| (format!("{a}|{b}"), false)),
            // A repetition.
            (
                inner,
                prop::sample::select(vec!["*", "+", "?", "{2}", "{1,2}", "{0,}"])
            )
                .prop_map(|((s, p), q)| {
                    let grouped = s.contains('(');
                    (format!("({s}){q}"), p && !grouped)
                }),
        ]
    });
    let anchor = || prop::sample::select(vec![false, false, false, true]);
    (piece, anchor(), anchor()).prop_map(|((s, plain), caret, dollar)| {
        let s = format!(
            "{}{s}{}",
            if caret { "^" } else { "" },
            if dollar { "$" } else { "" }
        );
        let plain = plain && !s.contains('|');
        (s, plain)
    })
}

fn input() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", "c", "é", " ", "ab"]),
        0..7,
    )
    .prop_map(|v| v.concat())
}

/// `s` as a Nix string literal.
fn lit(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' | '$' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The expression for one case: the full results, or only the whole
/// matches (groups replaced by their count).
fn case_expr(re: &str, s: &str, plain: bool) -> String {
    let (re, s) = (lit(re), lit(s));
    if plain {
        format!("[ (builtins.match {re} {s}) (builtins.split {re} {s}) ]")
    } else {
        format!(
            "[ (builtins.match {re} {s} == null) (map (x: if builtins.isList x then builtins.length x else x) (builtins.split {re} {s})) ]"
        )
    }
}

fn nixkit_output(expr: &str) -> Vec<u8> {
    let opts = parse_args(&["--eval", "--strict", "-E", expr]).expect("valid flags");
    let (mut out, mut err) = (String::new(), String::new());
    let code = run(&opts, &CliEnv::new("/"), &mut out, &mut err);
    let mut bytes = nixkit_syntax::encode_bytes(&out).into_owned();
    if code != 0 {
        bytes = format!("error {err}").into_bytes();
    }
    bytes
}

fn cppnix_output(expr: &str) -> Option<Vec<u8>> {
    let out = std::process::Command::new("nix-instantiate")
        .args(["--eval", "--strict", "-E", expr])
        .output()
        .ok()?;
    Some(if out.status.success() {
        out.stdout
    } else {
        format!("error {}", String::from_utf8_lossy(&out.stderr)).into_bytes()
    })
}

#[test]
fn random_patterns_match_like_cppnix() {
    if cppnix_output("1").is_none() {
        println!("skipped: nix-instantiate (CppNix) not on PATH");
        return;
    }
    let mut runner = TestRunner::new(Config {
        cases: 12,
        failure_persistence: None,
        ..Config::default()
    });
    let batch = prop::collection::vec((pattern(), input()), 40);
    let result = runner.run(&batch, |cases| {
        let exprs: Vec<String> = cases
            .iter()
            .map(|((re, plain), s)| {
                case_expr(
                    re,
                    s,
                    *plain || std::env::var_os("REGEX_ALL_GROUPS").is_some(),
                )
            })
            .collect();
        let whole = format!("[\n{}\n]", exprs.join("\n"));
        let (ours, theirs) = (
            nixkit_output(&whole),
            cppnix_output(&whole).unwrap_or_default(),
        );
        if ours != theirs {
            // Name the first differing case.
            for e in &exprs {
                let (a, b) = (nixkit_output(e), cppnix_output(e).unwrap_or_default());
                prop_assert_eq!(
                    String::from_utf8_lossy(&a),
                    String::from_utf8_lossy(&b),
                    "{}",
                    e
                );
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
