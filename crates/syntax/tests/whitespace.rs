//! CppNix's whitespace is space, tab, CR and LF only: any other Unicode
//! space (no-break space, vertical tab, form feed, em space, ...) between
//! tokens is an invalid token, reported where it stands; inside strings and
//! comments it is plain text.
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use nixkit_syntax::{parse, ParseErrorKind, ParseOptions};
use proptest::prelude::*;

/// Every character Rust (and so rnix) counts as whitespace that CppNix does not.
fn foreign_spaces() -> Vec<char> {
    (0..=0x10FFFFu32)
        .filter_map(char::from_u32)
        .filter(|c| c.is_whitespace() && !matches!(c, ' ' | '\t' | '\r' | '\n'))
        .collect()
}

/// Valid expressions whose ASCII spaces all stand between tokens.
const EXPRESSIONS: &[&str] = &[
    "1 + 2",
    "let a = 1 ; b = [ a 2 ] ; in b",
    "{ a = 1 ; b . c = \"x\" ; inherit ( { } ) y ; }",
    "x : { y ? 2 , ... } @ z : x",
    "if true then [ 1 2 ] else { }",
    "rec { a = b ; b = 1 ; } . a or null",
    "assert 1 < 2 ; with { } ; ! false && true || false",
    "builtins.map ( x : x ) -2 ++ [ ]",
];

fn syntax_error_at(text: &str) -> Option<(String, u32)> {
    let parsed = parse(text, &ParseOptions::new("/"));
    parsed
        .errors()
        .first()
        .map(|e| (e.kind.to_string(), e.span.start))
}

#[test]
fn every_foreign_space_is_an_invalid_token() {
    let spaces = foreign_spaces();
    assert!(spaces.len() >= 20, "{spaces:?}");
    for c in spaces {
        let text = format!("[ 1{c}2 ]");
        let (message, at) = syntax_error_at(&text).unwrap_or_default();
        assert!(
            message.starts_with("syntax error, unexpected invalid token"),
            "{c:?}: {message}"
        );
        assert_eq!(at, 3, "{c:?}");
    }
}

#[test]
fn foreign_spaces_in_strings_and_comments_are_text() {
    let parsed = parse(
        "# a\u{a0}comment\n/* \u{b}\u{c} */ [ \"a\u{a0}b\" ''\n  \u{3000}x'' ]",
        &ParseOptions::new("/"),
    );
    assert!(parsed.errors().is_empty(), "{:?}", parsed.errors());
    assert_eq!(
        parsed.to_cppnix_string(),
        "[ (\"a\u{a0}b\") (\"\u{3000}x\") ]"
    );
}

#[test]
fn the_first_foreign_space_is_reported_before_later_checks() {
    // A `let` whose bindings hold the invalid token is never reduced, so
    // there is no "dynamic attributes" error for it.
    let (message, at) = syntax_error_at("let\u{a0}a = 1; in a").unwrap_or_default();
    assert_eq!(
        (message.as_str(), at),
        (
            "syntax error, unexpected invalid token, expecting 'inherit'",
            3
        )
    );
    let kind = parse("1\u{c}+ 2", &ParseOptions::new("/")).errors()[0]
        .kind
        .clone();
    assert!(
        matches!(kind, ParseErrorKind::Syntax { ref expected, .. } if expected == &["end of file"])
    );
}

proptest! {
    #[test]
    fn a_foreign_space_between_tokens_is_rejected_where_it_stands(
        expr in prop::sample::select(EXPRESSIONS),
        gap in any::<prop::sample::Index>(),
        space in prop::sample::select(foreign_spaces()),
        allowed in prop::sample::select(vec!['\t', '\r', '\n']),
    ) {
        let gaps: Vec<usize> = expr.match_indices(' ').map(|(i, _)| i).collect();
        let at = gaps[gap.index(gaps.len())];
        let with = |c: char| format!("{}{c}{}", &expr[..at], &expr[at + 1..]);
        prop_assert!(syntax_error_at(expr).is_none());
        prop_assert!(syntax_error_at(&with(allowed)).is_none());
        let (message, reported) = syntax_error_at(&with(space)).unwrap_or_default();
        prop_assert!(message.starts_with("syntax error, unexpected invalid token"), "{}", message);
        prop_assert_eq!(reported as usize, at);
    }
}
