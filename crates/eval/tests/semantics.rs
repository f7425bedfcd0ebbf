//! Data-driven checks of evaluation semantics at the language's edges
//! (strict JSON, equality, XML, printing of cycles, auto-calling, ...):
//! every `tests/semantics/*.cases` file holds expressions with the output
//! CppNix gives for them, and nixkit must give the same.
//!
//! A case is a header line `=== FLAGS`, the expression (one or more lines),
//! a line `---`, and the expected result: standard output on success
//! (after the `trace:` lines of standard error), or
//! `error: MESSAGE` (the innermost error line of standard error) on failure.
//! FLAGS are `nix-instantiate` flags put before `--eval ... -E EXPR`; a
//! leading `modern` marks a case whose expectation was written from modern
//! CppNix's behaviour because CppNix 2.8 differs, so it is not regenerated.
//!
//! `NIXKIT_REGEN_SEMANTICS=1 cargo test -p nixkit-eval --test semantics`
//! rewrites the expectations of the other cases with the `nix-instantiate`
//! on `PATH` (CppNix 2.8 on the reference machine).

use std::path::{Path, PathBuf};
use std::process::Command;

use nixkit_eval::cli::{parse_args, run, CliEnv};

struct Case {
    flags: Vec<String>,
    modern: bool,
    expr: String,
    expected: String,
}

fn parse_cases(text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(header) = line.strip_prefix("===") else {
            continue;
        };
        let mut flags: Vec<String> = header.split_whitespace().map(str::to_string).collect();
        let modern = flags.first().is_some_and(|f| f == "modern");
        if modern {
            flags.remove(0);
        }
        let mut expr = Vec::new();
        for l in lines.by_ref() {
            if l == "---" {
                break;
            }
            expr.push(l);
        }
        let mut expected = Vec::new();
        while let Some(l) = lines.peek() {
            if l.starts_with("===") {
                break;
            }
            expected.push(*l);
            lines.next();
        }
        while expected.last().is_some_and(|l| l.is_empty()) {
            expected.pop();
        }
        cases.push(Case {
            flags,
            modern,
            expr: expr.join("\n"),
            expected: expected.join("\n"),
        });
    }
    cases
}

/// The comparable part of a run: the `trace:` lines of stderr and stdout,
/// or the innermost error line.
fn outcome(code: i32, stdout: &str, stderr: &str) -> String {
    if code == 0 {
        let mut out: String = stderr
            .lines()
            .filter(|l| l.starts_with("trace: "))
            .map(|l| format!("{l}\n"))
            .collect();
        out.push_str(stdout);
        return out.trim_end_matches('\n').to_string();
    }
    let last_error = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| l.starts_with("error:"))
        .unwrap_or(stderr.trim());
    let message = match last_error.find(" (use '--show-trace'") {
        Some(cut) => &last_error[..cut],
        None => last_error,
    };
    message.to_string()
}

fn args_for(case: &Case) -> Vec<String> {
    let mut args = vec!["--eval".to_string()];
    args.extend(case.flags.iter().cloned());
    args.push("-E".to_string());
    args.push(case.expr.clone());
    args
}

fn nixkit_outcome(case: &Case, dir: &Path) -> String {
    // As the binary reads its arguments and writes its output: bytes, kept
    // in nixkit's text as `nixkit_syntax::decode_bytes` makes it.
    let args: Vec<String> = args_for(case)
        .iter()
        .map(|a| nixkit_syntax::decode_bytes(a.as_bytes()).into_owned())
        .collect();
    let opts = match parse_args(&args) {
        Ok(opts) => opts,
        Err(e) => return format!("error: bad flags: {e}"),
    };
    let (mut out, mut err) = (String::new(), String::new());
    let code = run(
        &opts,
        &CliEnv::new(dir.to_string_lossy()),
        &mut out,
        &mut err,
    );
    let bytes =
        |text: &str| String::from_utf8_lossy(&nixkit_syntax::encode_bytes(text)).into_owned();
    outcome(code, &bytes(&out), &bytes(&err))
}

fn cppnix_outcome(case: &Case, dir: &Path) -> Option<String> {
    let output = Command::new("nix-instantiate")
        .args(args_for(case))
        .current_dir(dir)
        .output()
        .ok()?;
    Some(outcome(
        output.status.code().unwrap_or(1),
        &String::from_utf8_lossy(&output.stdout),
        &String::from_utf8_lossy(&output.stderr),
    ))
}

fn case_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("tests/semantics exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cases"))
        .collect();
    files.sort();
    files
}

fn render(cases: &[Case], header: &str) -> String {
    let mut out = header.to_string();
    for case in cases {
        out.push_str("===");
        if case.modern {
            out.push_str(" modern");
        }
        for f in &case.flags {
            out.push(' ');
            out.push_str(f);
        }
        out.push('\n');
        out.push_str(&case.expr);
        out.push_str("\n---\n");
        out.push_str(&case.expected);
        out.push_str("\n\n");
    }
    out
}

#[test]
fn semantics_cases() {
    // Deep values (nested JSON, long lists) want the stack a binary's main
    // thread has, not a test thread's.
    let checker = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(check_all_cases)
        .expect("thread starts");
    if let Err(panic) = checker.join() {
        std::panic::resume_unwind(panic);
    }
}

fn check_all_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/semantics");
    let regen = std::env::var_os("NIXKIT_REGEN_SEMANTICS").is_some();
    let mut failures = Vec::new();
    let mut count = 0;
    for file in case_files(&dir) {
        let text = std::fs::read_to_string(&file).expect("readable case file");
        let mut cases = parse_cases(&text);
        if regen {
            let header: String = text
                .lines()
                .take_while(|l| !l.starts_with("==="))
                .map(|l| format!("{l}\n"))
                .collect();
            for case in cases.iter_mut().filter(|c| !c.modern) {
                match cppnix_outcome(case, &dir) {
                    Some(expected) => case.expected = expected,
                    None => {
                        println!("skipped: regeneration needs nix-instantiate on PATH");
                        return;
                    }
                }
            }
            std::fs::write(&file, render(&cases, &header)).expect("writable case file");
        }
        for case in &cases {
            count += 1;
            let got = nixkit_outcome(case, &dir);
            if got != case.expected {
                failures.push(format!(
                    "{}: {} {}\n   got: {got}\n  want: {}",
                    file.file_name().unwrap_or_default().to_string_lossy(),
                    case.flags.join(" "),
                    case.expr,
                    case.expected
                ));
            }
        }
    }
    assert!(count > 0, "no cases found");
    assert!(
        failures.is_empty(),
        "{} of {count} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
