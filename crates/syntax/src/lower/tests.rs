//! Checks that resolving variables while lowering gives exactly what a walk
//! over the finished tree gives, over the shared corpus.
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::path::Path;

use super::resolve;
use crate::error::ParseErrorKind;
use crate::ParseOptions;

fn nix_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            nix_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "nix") {
            out.push(p);
        }
    }
}

fn check(text: &str, options: &ParseOptions, what: &str) {
    let parsed = super::parse(text, options);
    let undefined_only = parsed
        .errors
        .iter()
        .all(|e| matches!(e.kind, ParseErrorKind::UndefinedVariable(_)));
    let mut again = parsed.ast.clone();
    if undefined_only {
        let mut errors = Vec::new();
        resolve::resolve(&mut again, parsed.root, &options.globals, &mut errors);
        errors.sort_by_key(|e| e.span.start);
        assert_eq!(errors, parsed.errors, "{what}: undefined variables differ");
    } else {
        resolve::unresolve(&mut again, parsed.root, &options.globals);
    }
    assert!(again == parsed.ast, "{what}: resolution differs");
    // The text is rebuilt from the tree, which must hold it unchanged.
    assert_eq!(parsed.text().as_ref(), text, "{what}: text differs");
}

#[test]
fn lowering_resolves_as_the_tree_walk_does() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    let mut files = Vec::new();
    nix_files(&corpus, &mut files);
    if files.is_empty() {
        eprintln!("skipped: corpus not found at {}", corpus.display());
    }
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let options = ParseOptions::new(f.parent().unwrap().display().to_string());
        check(&text, &options, &f.display().to_string());
    }
    // Shapes whose resolution lowering leaves to the walk, and scoping corners.
    let options = ParseOptions::new("/");
    for src in [
        "let a = 1; a = 2; in a",
        "rec { a = { b = x; }; a.c = b; x = 1; }",
        "rec { a = rec { b = 1; }; a = { c = b; }; b = 2; }",
        "let a = { x = 1; }; a.y = x; x = 2; in a",
        "rec { ${\"a\"} = 1; b = a; }",
        "let \"a\\n\" = 1; b = a; in b",
        "rec { inherit a; a = 1; }",
        "let inherit (x) a; x = { a = 1; }; in a",
        "x: y: with x; with y; z",
        "{ a ? b, b ? a }@c: [a b c d]",
        "{ a, a }: a",
        "a@{ a }: a",
        "let { body = x; x = 1; }",
        "with {}; let a = b; in rec { c = a; d = c; e = f; }",
        "__sub: 1 - 2",
        "<nixpkgs> ++ [ (x: -x) (y: y < 1) ]",
        "\0 \u{1} é $%^& \"unterminated",
        "a\rb\r\nc # lone CR\r",
        "''\n  x ${y}\n''",
        "{",
        "",
    ] {
        check(src, &options, src);
    }
}
