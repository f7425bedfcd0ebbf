//! The project's own evaluation tests: every `tests/data/X.nix` is evaluated
//! with `--eval --strict` and its output compared with `X.exp`.

use std::path::Path;

use nixkit_eval::cli::{parse_args, run, CliEnv};

#[test]
fn data_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut failures = Vec::new();
    let mut count = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/data exists")
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("nix") {
            continue;
        }
        count += 1;
        let expected = std::fs::read_to_string(path.with_extension("exp")).unwrap_or_default();
        let opts =
            parse_args(&["--eval", "--strict", &path.to_string_lossy()]).expect("valid flags");
        let (mut out, mut err) = (String::new(), String::new());
        let code = run(
            &opts,
            &CliEnv::new(dir.to_string_lossy()),
            &mut out,
            &mut err,
        );
        if code != 0 || out != expected {
            failures.push(format!(
                "{}: exit {code}\n got: {out}\n err: {err}\n expected: {expected}",
                path.display()
            ));
        }
    }
    assert!(count > 0, "no test data found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn infinite_recursion_is_reported() {
    let opts = parse_args(&["--eval", "-E", "let x = x + 1; in x"]).expect("valid flags");
    let (mut out, mut err) = (String::new(), String::new());
    assert_eq!(run(&opts, &CliEnv::new("/"), &mut out, &mut err), 1);
    assert!(err.contains("infinite recursion encountered"), "{err}");
}

#[test]
fn call_depth_is_limited() {
    let opts = parse_args(&[
        "--eval",
        "--max-call-depth",
        "100",
        "-E",
        "let f = n: f (n + 1) + 1; in f 0",
    ])
    .expect("valid flags");
    let (mut out, mut err) = (String::new(), String::new());
    assert_eq!(run(&opts, &CliEnv::new("/"), &mut out, &mut err), 1);
    assert!(
        err.contains("stack overflow; max-call-depth exceeded"),
        "{err}"
    );
}

#[test]
fn json_and_xml_output() {
    let run_with = |args: &[&str]| {
        let opts = parse_args(args).expect("valid flags");
        let (mut out, mut err) = (String::new(), String::new());
        let code = run(&opts, &CliEnv::new("/"), &mut out, &mut err);
        (code, out)
    };
    assert_eq!(
        run_with(&["--eval", "--json", "-E", "{ b = [ 1 2.5 ]; a = \"x\\n\"; }"]),
        (0, "{\"a\":\"x\\n\",\"b\":[1,2.5]}\n".to_string())
    );
    let (code, xml) = run_with(&["--eval", "--xml", "--no-location", "-E", "[ null ]"]);
    assert_eq!(code, 0);
    assert_eq!(xml, "<?xml version='1.0' encoding='utf-8'?>\n<expr>\n  <list>\n    <null />\n  </list>\n</expr>\n");
}
