//! Hostile input: the parser returns a tree or a located error — never a
//! panic, a stack overflow or a hang.
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::time::{Duration, Instant};

use nixkit_syntax::{parse, parse_bytes, ParseErrorKind, ParseOptions};

fn opts() -> ParseOptions {
    ParseOptions::new("/base")
}

/// Parses on a thread with a modest stack (like a small worker thread) and
/// within a time bound; returns whether there were errors.
fn parse_bounded(input: Vec<u8>, limit: Duration) -> bool {
    let start = Instant::now();
    let handle = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let p = parse_bytes(&input, &opts());
            for e in p.errors() {
                // Every error is located inside the (decoded) input.
                assert!(e.span.start as usize <= p.text().len());
            }
            !p.errors().is_empty()
        })
        .unwrap();
    let had_errors = handle.join().expect("parser panicked");
    assert!(start.elapsed() < limit, "took {:?}", start.elapsed());
    had_errors
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for (open, close) in [
        ("(", ")"),
        ("[", "]"),
        ("{a=", ";}"),
        ("\"${", "}\""),
        ("let a = ", " in a"),
    ] {
        let src = format!("{}1{}", open.repeat(100_000), close.repeat(100_000));
        assert!(
            parse_bounded(src.into_bytes(), Duration::from_secs(20)),
            "{open}: accepted"
        );
    }
    let p = parse(
        &format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000)),
        &opts(),
    );
    assert!(matches!(p.errors()[0].kind, ParseErrorKind::TooDeep));
}

#[test]
fn long_chains_are_bounded() {
    for unit in [
        "+1", "-1", ".a", " ++ [1]", "|| true", " a", " + 1", " // {}",
    ] {
        let src = format!("x: x{}", unit.repeat(100_000));
        // Also with separators, which keeps every token short.
        parse_bounded(src.into_bytes(), Duration::from_secs(60));
    }
    for prefix in ["-", "!", "x: ", "assert true; ", "with {}; "] {
        let src = format!("{}1", prefix.repeat(100_000));
        parse_bounded(src.into_bytes(), Duration::from_secs(30));
    }
}

#[test]
fn moderate_nesting_still_parses() {
    let src = format!("{}1{}", "[".repeat(300), "]".repeat(300));
    assert!(!parse_bounded(src.into_bytes(), Duration::from_secs(10)));
    let src = format!("x: x{}", " + 1".repeat(3000));
    assert!(!parse_bounded(src.into_bytes(), Duration::from_secs(10)));
}

#[test]
fn huge_string_parses() {
    let mut src = Vec::with_capacity(50_000_010);
    src.push(b'"');
    src.extend(std::iter::repeat_n(b'a', 50_000_000));
    src.push(b'"');
    assert!(!parse_bounded(src, Duration::from_secs(60)));
}

#[test]
fn invalid_bytes_and_unterminated_constructs() {
    let cases: &[&[u8]] = &[
        b"\xff\xfe\xfd",
        b"\"abc\xff\"",
        b"1 \x00 2",
        b"\x00",
        b"\"unterminated",
        b"''unterminated",
        b"{ a = 1;",
        b"[ 1 2",
        b"( 1",
        b"let a = 1;",
        b"/* comment",
        b"\"${",
        b"''${",
        b"x: ",
        b"{ a, b",
        b"a.",
        b"a ? ",
        b"if a then",
        b"<nixpkgs",
        b"./a/${",
        b"",
        b"   ",
    ];
    for c in cases {
        parse_bounded(c.to_vec(), Duration::from_secs(5));
    }
}
