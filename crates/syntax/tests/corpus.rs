//! CppNix's own parser tests and the whole shared corpus, run through
//! `nixkit-syntax` the way `lang.sh` runs `nix-instantiate --parse`.
//!
//! The corpus is found through `NIXKIT_CORPUS` (default `../shared/corpus`
//! next to the repository); each test says plainly when it skipped.
#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

use std::path::{Path, PathBuf};

use nixkit_syntax::{parse_bytes, ParseOptions, SourceName};

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("NIXKIT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: corpus not found at {} (set NIXKIT_CORPUS)",
            dir.display()
        );
        None
    }
}

/// `nix-instantiate --parse - < file`: (exit status, stdout, stderr).
fn parse_stdin(bytes: &[u8], base: &Path) -> (i32, String, String) {
    let opts = ParseOptions::new(base.display().to_string()).with_home("/fake-home");
    let parsed = parse_bytes(bytes, &opts);
    match parsed.errors().first() {
        Some(err) => (
            1,
            String::new(),
            err.render(&parsed.source(SourceName::Stdin)),
        ),
        None => (0, format!("{}\n", parsed.to_cppnix_string()), String::new()),
    }
}

fn lang_cases(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        name.starts_with(prefix) && name.ends_with(".nix")
    });
    v.sort();
    v
}

#[test]
fn parse_okay_cases_print_like_cppnix() {
    let Some(corpus) = corpus_dir() else { return };
    let lang = corpus.join("nix-lang/lang");
    let cases = lang_cases(&lang, "parse-okay-");
    let mut failures = Vec::new();
    for case in &cases {
        let bytes = std::fs::read(case).unwrap();
        // lang.sh runs from tests/functional, whose path it rewrites to /pwd.
        let (status, out, err) = parse_stdin(&bytes, Path::new("/pwd"));
        let exp = std::fs::read_to_string(case.with_extension("exp")).unwrap();
        if status != 0 || out != exp || !err.is_empty() {
            failures.push(format!(
                "{}:\n got: {out}{err}\nwant: {exp}",
                case.display()
            ));
        }
    }
    println!(
        "parse-okay: {}/{} pass",
        cases.len() - failures.len(),
        cases.len()
    );
    assert_eq!(
        cases.len(),
        13,
        "the corpus should have 13 parse-okay cases"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn parse_fail_cases_are_rejected_with_cppnix_errors() {
    let Some(corpus) = corpus_dir() else { return };
    let lang = corpus.join("nix-lang/lang");
    let cases = lang_cases(&lang, "parse-fail-");
    let mut failures = Vec::new();
    let mut exact = 0;
    for case in &cases {
        let bytes = std::fs::read(case).unwrap();
        let (status, _, err) = parse_stdin(&bytes, Path::new("/pwd"));
        let exp = std::fs::read_to_string(case.with_extension("err.exp")).unwrap();
        if status != 1 {
            failures.push(format!("{} was accepted", case.display()));
        } else if err == exp {
            exact += 1;
        } else {
            failures.push(format!("{}:\n got: {err}\nwant: {exp}", case.display()));
        }
    }
    println!(
        "parse-fail: {}/{} rejected, {exact} byte-exact",
        cases.len(),
        cases.len()
    );
    assert_eq!(
        cases.len(),
        41,
        "the corpus should have 41 parse-fail cases"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every `.nix` file of the corpus that CppNix accepts parses without error,
/// and every one it rejects is rejected (`tests/data/cppnix-rejects.txt`,
/// made by `tests/data/gen-cppnix-rejects.sh` with CppNix as the oracle).
#[test]
fn whole_corpus_matches_cppnix_acceptance() {
    let Some(corpus) = corpus_dir() else { return };
    let rejects_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cppnix-rejects.txt");
    let rejects: Vec<String> = std::fs::read_to_string(rejects_file)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    let mut files = Vec::new();
    collect(&corpus, &mut files);
    let mut wrong = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&corpus).unwrap().display().to_string();
        let bytes = std::fs::read(f).unwrap();
        let base = f.parent().unwrap().display().to_string();
        let parsed = parse_bytes(&bytes, &ParseOptions::new(base).with_home("/fake-home"));
        let rejected = !parsed.errors().is_empty();
        if rejected != rejects.contains(&rel) {
            let why = parsed
                .errors()
                .first()
                .map(|e| e.render(&parsed.source(SourceName::Path(rel.clone()))));
            wrong.push(format!(
                "{rel}: nixkit {} ({why:?})",
                if rejected { "rejects" } else { "accepts" }
            ));
        }
    }
    println!(
        "corpus: {} files, {} disagreements with CppNix",
        files.len(),
        wrong.len()
    );
    assert!(
        files.len() > 900,
        "expected the whole corpus, found {} files",
        files.len()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "nix") {
            out.push(p);
        }
    }
}
