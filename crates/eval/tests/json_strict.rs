//! `builtins.fromJSON` against a strict reference parser: random texts
//! (valid documents, mutated documents, token soup with the fragments JSON
//! parsers disagree on) must be accepted exactly when `serde_json` accepts
//! them, with the same value, apart from the differences between
//! `serde_json` and CppNix's parser (nlohmann::json) listed in
//! [`nix_expectation`].

use std::io::Write;

use nixkit_eval::serde::from_value;
use nixkit_eval::Evaluator;
use proptest::prelude::*;
use serde_json::Value as Json;

/// Fragments that exercise the lexer's edges.
const FRAGMENTS: &[&[u8]] = &[
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b":",
    b" ",
    b"\n",
    b"\t",
    b"\r",
    b"\"a\"",
    b"\"\"",
    b"\"",
    b"\\",
    b"\\u",
    b"\\ud800",
    b"\\udc00",
    b"\\u00e9",
    b"\\n",
    b"\\x",
    b"0",
    b"01",
    b"-",
    b"-0",
    b"1.",
    b".5",
    b"1.5",
    b"1e5",
    b"1E+2",
    b"1e-2",
    b"e",
    b"1e400",
    b"+1",
    b"true",
    b"false",
    b"null",
    b"nul",
    b"tru",
    b"\x01",
    b"\x1f",
    b"\x7f",
    "é".as_bytes(),
    b"\xc3",
    b"\xff",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"99999999999999999999",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"-9223372036854775809",
    b"18446744073709551616",
    b"/",
    b"*",
];

fn token_soup() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..12).prop_map(|parts| parts.concat())
}

fn json_value() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Json::from),
        "[ -~é\u{1F600}\n\t\"\\\\]{0,6}".prop_map(Json::String),
    ];
    leaf.prop_recursive(6, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Json::Array),
            prop::collection::btree_map("[a-c]{0,2}", inner, 0..5)
                .prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid document, then a few bytes replaced, inserted or removed.
fn mutated_document() -> impl Strategy<Value = Vec<u8>> {
    (
        json_value(),
        prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                0u8..3,
                prop::sample::select(FRAGMENTS),
            ),
            0..3,
        ),
    )
        .prop_map(|(value, edits)| {
            let mut text = serde_json::to_vec(&value).unwrap_or_default();
            for (at, kind, fragment) in edits {
                let i = at.index(text.len() + 1);
                match kind {
                    0 => {
                        text.splice(i..i, fragment.iter().copied());
                    }
                    1 if i < text.len() => {
                        text.remove(i);
                    }
                    _ => {
                        let end = (i + fragment.len()).min(text.len());
                        text.splice(i..end, fragment.iter().copied());
                    }
                }
            }
            text
        })
}

fn any_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        json_value().prop_map(|v| serde_json::to_vec_pretty(&v).unwrap_or_default()),
        mutated_document(),
        token_soup(),
    ]
}

fn has_nul(v: &Json) -> bool {
    match v {
        Json::String(s) => s.contains('\0'),
        Json::Array(items) => items.iter().any(has_nul),
        Json::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

fn has_big_unsigned(v: &Json) -> bool {
    match v {
        Json::Number(n) => n.as_u64().is_some_and(|u| u > i64::MAX as u64),
        Json::Array(items) => items.iter().any(has_big_unsigned),
        Json::Object(m) => m.values().any(has_big_unsigned),
        _ => false,
    }
}

/// What `fromJSON` must give, from `serde_json`'s reading: `Ok(value)` or
/// `Err(start of the message)`. The rules where nlohmann::json (CppNix)
/// and `serde_json` differ, or where Nix adds its own:
/// - a string holding NUL (`\u0000`) is not a Nix string;
/// - an integer above `i64::MAX` that fits `u64` is an error in Nix;
/// - `serde_json` stops at 128 levels of nesting; the generators stay below.
fn nix_expectation(text: &[u8]) -> Result<Json, &'static str> {
    match serde_json::from_slice::<Json>(text) {
        Err(_) => Err("[json.exception."),
        Ok(v) if has_nul(&v) => Err("input string"),
        Ok(v) if has_big_unsigned(&v) => Err("unsigned json number"),
        Ok(v) => Ok(v),
    }
}

fn json_equal(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            (None, None) => x.as_f64() == y.as_f64(),
            // `serde_json` reads `-0` as the float -0.0, nlohmann as the integer 0.
            (None, Some(0)) => x.as_f64() == Some(0.0),
            _ => false,
        },
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && json_equal(va, vb))
        }
        _ => a == b,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn from_json_is_as_strict_as_a_strict_parser(text in any_text()) {
        let mut file = tempfile::NamedTempFile::new().expect("temporary file");
        file.write_all(&text).expect("written");
        let expr = format!("builtins.fromJSON (builtins.readFile {})", file.path().display());
        let mut ev = Evaluator::builder().build();
        let got = ev
            .eval_str(&expr, "/")
            .and_then(|v| ev.force_deep(&v).map(|()| v))
            .map_err(|e| e.message().to_string());
        match (nix_expectation(&text), got) {
            (Ok(want), Ok(v)) => {
                let got: Json = from_value(ev.state(), &v).expect("JSON-shaped value");
                prop_assert!(json_equal(&want, &got), "{:?}: want {want}, got {got}", String::from_utf8_lossy(&text));
            }
            (Err(prefix), Err(message)) => {
                prop_assert!(message.starts_with(prefix), "{:?}: {message}", String::from_utf8_lossy(&text));
            }
            (want, got) => prop_assert!(false, "{:?}: want {want:?}, got {got:?}", String::from_utf8_lossy(&text)),
        }
    }
}
