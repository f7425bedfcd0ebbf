//! The project's own parser tests: `test_data/parse/ok/*.nix` must parse
//! without errors and print (like `nix-instantiate --parse`) as the matching
//! `.exp`; `test_data/parse/err/*.nix` must be rejected with the error in the
//! matching `.err`. `UPDATE_EXPECT=1` rewrites the expected files.
//!
//! Inputs are parsed as standard input from `/base/dir` with home `/home/test`,
//! except names containing `pure`, which are parsed without a home directory.
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::path::{Path, PathBuf};

use nixkit_syntax::{parse_bytes, ParseOptions, SourceName};

fn cases(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("test_data/parse")
        .join(kind);
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "nix"))
        .collect();
    v.sort();
    v
}

fn options(case: &Path) -> ParseOptions {
    let opts = ParseOptions::new("/base/dir");
    let name = case.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.contains("pure") {
        opts
    } else {
        opts.with_home("/home/test")
    }
}

fn check(case: &Path, actual: &str, ext: &str, failures: &mut Vec<String>) {
    let exp_path = case.with_extension(ext);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&exp_path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&exp_path).unwrap_or_default();
    if expected != actual {
        failures.push(format!(
            "{}:\n got: {actual}\nwant: {expected}",
            case.display()
        ));
    }
}

#[test]
fn ok_cases_parse_and_print() {
    let mut failures = Vec::new();
    let cases = cases("ok");
    assert!(cases.len() >= 20);
    for case in &cases {
        let parsed = parse_bytes(&std::fs::read(case).unwrap(), &options(case));
        if let Some(e) = parsed.errors().first() {
            failures.push(format!(
                "{}: unexpected error {}",
                case.display(),
                e.render(&parsed.source(SourceName::Stdin))
            ));
            continue;
        }
        check(
            case,
            &format!("{}\n", parsed.to_cppnix_string()),
            "exp",
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn err_cases_are_rejected() {
    let mut failures = Vec::new();
    let cases = cases("err");
    assert!(cases.len() >= 20);
    for case in &cases {
        let parsed = parse_bytes(&std::fs::read(case).unwrap(), &options(case));
        match parsed.errors().first() {
            None => failures.push(format!(
                "{}: accepted as {}",
                case.display(),
                parsed.to_cppnix_string()
            )),
            Some(e) => check(
                case,
                &e.render(&parsed.source(SourceName::Stdin)),
                "err",
                &mut failures,
            ),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
