//! Replays inputs kept from fuzzing (`test_data/fuzz/`): each must parse to a
//! tree or a located error without panicking, and whatever parses must print
//! to text that parses again (but for two printer limits shared with CppNix).
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::path::Path;

use nixkit_syntax::{parse, parse_bytes, ParseErrorKind, ParseOptions};

#[test]
fn kept_fuzz_inputs_do_not_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/fuzz");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let opts = ParseOptions::new("/fuzz").with_home("/home");
        let parsed = parse_bytes(&bytes, &opts);
        for e in parsed.errors() {
            assert!(
                e.span.start as usize <= parsed.text().len(),
                "{}: {e:?}",
                path.display()
            );
        }
        if parsed.errors().is_empty() {
            let printed = parsed.to_cppnix_string();
            let again = parse(&printed, &opts);
            // Like CppNix's, the printer keeps the trailing slash of an
            // interpolated path's literal prefix (`(/a/ + x)`), and prints a
            // path that canonicalises to the root as `/` (division prints as
            // `__div`, so a bare `/` token is such a path); neither reads
            // back. Everything else must.
            let root_path = |printed: &str| {
                printed
                    .split(|c: char| c.is_whitespace() || "()[]{};".contains(c))
                    .any(|token| token == "/")
            };
            let reads_back = |again: &nixkit_syntax::Parse| {
                again
                    .errors()
                    .iter()
                    .all(|e| matches!(e.kind, ParseErrorKind::PathTrailingSlash))
            };
            assert!(
                root_path(&printed) || reads_back(&again),
                "{}: printed form {printed} does not parse",
                path.display()
            );
            // One round more, as the fuzz target does: a home path prints as written
            // (`~/..` as `/home/..`) and canonicalises only when read back.
            if again.errors().is_empty() {
                let second = again.to_cppnix_string();
                assert!(
                    root_path(&second) || reads_back(&parse(&second, &opts)),
                    "{}: printed form {second} does not parse",
                    path.display()
                );
            }
        }
        n += 1;
    }
    assert!(n >= 3);
}
