//! Fuzz target: whatever parses prints to text that parses again, and the
//! printed form is stable after one more round trip (see
//! `crates/syntax/tests/roundtrip.rs` for why not immediately).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nixkit_syntax::{parse, ParseErrorKind, ParseOptions};

fn print(src: &str) -> Option<String> {
    let parsed = parse(src, &ParseOptions::new("/fuzz").with_home("/home"));
    parsed
        .errors()
        .is_empty()
        .then(|| parsed.to_cppnix_string())
}

/// Printed forms that CppNix's printer also makes unparsable: the literal
/// prefix of an interpolated path keeps its trailing slash (`(/a/ + x)`).
fn known_printer_limit(src: &str) -> bool {
    let parsed = parse(src, &ParseOptions::new("/fuzz").with_home("/home"));
    parsed
        .errors()
        .iter()
        .any(|e| matches!(e.kind, ParseErrorKind::PathTrailingSlash))
}

/// The other printer limit shared with CppNix: a path literal that
/// canonicalises to the root (`/.`, `/a/..`) prints as `/`, which is not a
/// path literal (`nix-instantiate --parse -E '/.'` prints `/` too). The
/// printer writes division as `__div`, so a bare `/` token is such a path.
fn prints_root_path(printed: &str) -> bool {
    printed
        .split(|c: char| c.is_whitespace() || "()[]{};".contains(c))
        .any(|token| token == "/")
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Some(first) = print(src) else { return };
    // Known printer limits shared with CppNix: floats print with 6 digits as
    // `1e+06` (not Nix syntax), and `assert` in argument position is not
    // re-wrapped in parentheses.
    if first.contains("e+") || first.contains("e-") || first.contains("assert") {
        return;
    }
    if known_printer_limit(&first) || prints_root_path(&first) {
        return;
    }
    let second = print(&first).unwrap_or_else(|| panic!("printed form does not parse: {first}"));
    // A home path is printed as written (`~/..` as `/home/..`, as CppNix does); read back,
    // it canonicalises, possibly to the root: the same limit one round later.
    if prints_root_path(&second) {
        return;
    }
    let third = print(&second).unwrap_or_else(|| panic!("printed form does not parse: {second}"));
    assert_eq!(second, third);
});
