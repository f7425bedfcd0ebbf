//! CppNix's language conformance suite (`lang/eval-okay-*`, `lang/eval-fail-*`)
//! run through the library the way `lang.sh` runs `nix-instantiate`.
//!
//! The corpus is found through `NIXKIT_LANG_CORPUS` (default
//! `../../../shared/corpus/nix-lang/lang` from this crate). Cases listed in
//! `lang-known-failures.txt` may fail; any other failure fails the test, and
//! so does a listed case that passes (so the list only shrinks).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use nixkit_eval::cli::{parse_args, run, CliEnv, CycleCollection};
use nixkit_eval::{EnvOverlay, StdIo};

/// The real file system, with the environment `lang.sh` sets up.
fn test_io() -> EnvOverlay<StdIo> {
    EnvOverlay::new(StdIo)
        .set("TEST_VAR", "foo")
        .unset("HOME")
        .unset("NIX_PATH")
}

fn corpus_dir() -> PathBuf {
    match std::env::var_os("NIXKIT_LANG_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/nix-lang/lang"),
    }
}

/// The symlinks of the corpus (`cppnix-reference.md` §1 "Fixtures"): path
/// below `lang/` and target. A checkout without symlink support (git's
/// `core.symlinks=false`) writes each as a small regular file holding exactly
/// the target; [`restore_symlinks`] turns those back into links.
const CORPUS_SYMLINKS: &[(&str, &str)] = &[
    ("readDir/ldir", "foo"),
    ("readDir/linked", "foo/git-hates-directories"),
    ("symlink-resolution/broken", "nonexistent"),
    ("symlink-resolution/foo/overlays", "../overlays"),
];

/// Copies `from` into `to` recursively (symlinks stay symlinks, file modes
/// are kept, directories are made writable so the copy can be removed).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let ft = entry.file_type()?;
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if ft.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// Replaces flattened symlinks (see [`CORPUS_SYMLINKS`]) in a copy of the
/// corpus by real ones; returns how many were restored.
fn restore_symlinks(lang: &Path) -> std::io::Result<usize> {
    let mut restored = 0;
    for (path, target) in CORPUS_SYMLINKS {
        let p = lang.join(path);
        let Ok(md) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if md.is_file() && std::fs::read(&p)? == target.as_bytes() {
            std::fs::remove_file(&p)?;
            std::os::unix::fs::symlink(target, &p)?;
            restored += 1;
        }
    }
    Ok(restored)
}

fn known_failures() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lang-known-failures.txt"),
    )
    .unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((name, reason)) => (name.to_string(), reason.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| nixkit_syntax::decode_bytes(&b).into_owned())
        .unwrap_or_default()
}

/// Runs one case; returns `Err(description)` on mismatch.
fn run_case(lang: &Path, name: &str, collect: Option<CycleCollection>) -> Result<(), String> {
    let root = lang.parent().unwrap_or(lang);
    let pwd = root
        .canonicalize()
        .unwrap_or_else(|_| root.to_path_buf())
        .to_string_lossy()
        .into_owned();
    let file = format!("lang/{name}.nix");
    let flags_path = lang.join(format!("{name}.flags"));
    let mut env = CliEnv::new(pwd.clone());
    env.collect_cycles = collect;
    env.show_trace_default = true;
    env.io = Arc::new(test_io());
    let fix = |s: &str| s.replace(&pwd, "/pwd");
    if name.starts_with("eval-fail-") {
        // lang.sh leaves HOME as the test environment sets it (a test home).
        env.home = Some("/test-home".into());
        let flags: Vec<String> = if flags_path.exists() {
            read(&flags_path)
                .lines()
                .map(|l| l.split('#').next().unwrap_or("").to_string())
                .collect::<Vec<_>>()
                .join(" ")
                .split_whitespace()
                .map(str::to_string)
                .collect()
        } else {
            vec!["--eval".into(), "--strict".into(), "--show-trace".into()]
        };
        let mut args = flags;
        args.push(file);
        let opts = parse_args(&args).map_err(|e| format!("bad flags: {e}"))?;
        let (mut out, mut err) = (String::new(), String::new());
        let code = run(&opts, &env, &mut out, &mut err);
        if code != 1 {
            return Err(format!("exit code {code}, expected 1"));
        }
        let got = fix(&(out + &err));
        dump(name, "err", &got);
        let expected = read(&lang.join(format!("{name}.err.exp")));
        if lang.join(format!("{name}.postprocess")).exists() {
            return compare("err", &postprocess(lang, name, &got)?, &expected);
        }
        return compare("err", &got, &expected);
    }
    let (args, exp_file): (Vec<String>, String) = if lang.join(format!("{name}.exp.xml")).exists() {
        (
            vec![
                "--eval".into(),
                "--xml".into(),
                "--no-location".into(),
                "--strict".into(),
                file,
            ],
            format!("{name}.exp.xml"),
        )
    } else {
        env.nix_path = Some("lang/dir3:lang/dir4".into());
        env.home = Some("/fake-home".into());
        let mut args: Vec<String> = if flags_path.exists() {
            read(&flags_path)
                .lines()
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect()
        } else {
            Vec::new()
        };
        args.extend(["--eval".into(), "--strict".into(), file]);
        (args, format!("{name}.exp"))
    };
    let opts = parse_args(&args).map_err(|e| format!("bad flags: {e}"))?;
    let (mut out, mut err) = (String::new(), String::new());
    let code = run(&opts, &env, &mut out, &mut err);
    if code != 0 {
        let e = fix(&err);
        let msg = e.lines().rfind(|l| l.contains("error:")).unwrap_or("");
        return Err(format!("exit code {code}: {msg}"));
    }
    dump(name, "out", &fix(&out));
    dump(name, "err", &fix(&err));
    compare("out", &fix(&out), &read(&lang.join(exp_file)))?;
    if !exp_is_xml(name, lang) {
        compare(
            "err",
            &fix(&err),
            &read(&lang.join(format!("{name}.err.exp"))),
        )?;
    }
    Ok(())
}

/// With `NIXKIT_LANG_DUMP=dir`, writes what a case produced to `dir/name.what`
/// (for diffing against the corpus by hand).
fn dump(name: &str, what: &str, got: &str) {
    if let Some(dir) = std::env::var_os("NIXKIT_LANG_DUMP") {
        let _ = std::fs::write(Path::new(&dir).join(format!("{name}.{what}")), got);
    }
}

fn exp_is_xml(name: &str, lang: &Path) -> bool {
    lang.join(format!("{name}.exp.xml")).exists()
}

/// Runs the case's `.postprocess` script on what it printed, as
/// `lang.sh` does (`bash lang/NAME.postprocess DIR/NAME` edits `DIR/NAME.err`
/// in place, e.g. to hide line numbers of Nix's own files).
fn postprocess(lang: &Path, name: &str, got: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("postprocess: {e}"))?;
    let base = dir.path().join(name);
    let err_file = dir.path().join(format!("{name}.err"));
    std::fs::write(&err_file, got).map_err(|e| format!("postprocess: {e}"))?;
    let status = std::process::Command::new("bash")
        .arg(lang.join(format!("{name}.postprocess")))
        .arg(&base)
        .current_dir(lang.parent().unwrap_or(lang))
        .status()
        .map_err(|e| format!("postprocess: cannot run bash: {e}"))?;
    if !status.success() {
        return Err(format!("postprocess script failed: {status}"));
    }
    Ok(read(&err_file))
}

fn compare(what: &str, got: &str, expected: &str) -> Result<(), String> {
    if got == expected {
        return Ok(());
    }
    let first_diff = got
        .lines()
        .zip(expected.lines())
        .find(|(a, b)| a != b)
        .map(|(a, b)| format!("got `{a}`, expected `{b}`"))
        .unwrap_or_else(|| format!("length differs ({} vs {} bytes)", got.len(), expected.len()));
    Err(format!("{what} mismatch: {first_diff}"))
}

#[test]
fn lang_conformance() {
    let _turn = turn();
    conformance(None);
}

/// The collector runs only while no other evaluator is evaluating: the tests
/// of this file take turns, so the one below collects as often as it asks.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// The same cases with the cycle collector running every 16 evaluation
/// steps and after every top-level call: it must never empty anything an
/// evaluation still uses, so every result stays the same.
#[test]
fn lang_conformance_under_constant_cycle_collection() {
    let _turn = turn();
    let before = nixkit_eval::collections_in_process();
    if conformance(Some(CycleCollection::Every(16))) {
        let ran = nixkit_eval::collections_in_process() - before;
        println!("{ran} collections");
        assert!(ran > 400, "only {ran} collections ran");
    }
}

/// Runs every case; false if the corpus is absent.
fn conformance(collect: Option<CycleCollection>) -> bool {
    let corpus = corpus_dir();
    if !corpus.is_dir() {
        println!("skipped: corpus not found at {}", corpus.display());
        return false;
    }
    // Run from a private copy in which flattened symlinks are links again.
    let tmp = tempfile::tempdir().expect("temporary directory");
    let lang = tmp.path().join("lang");
    copy_tree(&corpus, &lang).expect("copying the corpus");
    let restored = restore_symlinks(&lang).expect("restoring symlinks");
    println!("restored {restored} flattened symlinks in the corpus copy");
    let known = known_failures();
    let mut names: Vec<String> = std::fs::read_dir(&lang)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    (n.starts_with("eval-okay-") || n.starts_with("eval-fail-"))
                        && n.ends_with(".nix")
                })
                .map(|n| n.trim_end_matches(".nix").to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let only = std::env::var("NIXKIT_LANG_ONLY").ok();
    let mut unexpected = Vec::new();
    let mut fixed = Vec::new();
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    // eval-fail cases that exit 1 but print something else.
    let mut wrong_output = 0;
    for name in &names {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        if lang.join(format!("{name}.exp-disabled")).exists() {
            continue;
        }
        let kind = if name.starts_with("eval-okay-") {
            "eval-okay"
        } else {
            "eval-fail"
        };
        let name_c = name.clone();
        let lang_c = lang.clone();
        let result = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || run_case(&lang_c, &name_c, collect))
            .map_err(|e| e.to_string())
            .and_then(|h| h.join().map_err(|_| "panicked".to_string()))
            .and_then(|r| r);
        let entry = counts.entry(kind).or_default();
        entry.1 += 1;
        match result {
            Ok(()) => {
                entry.0 += 1;
                if known.contains_key(name) {
                    fixed.push(name.clone());
                }
            }
            Err(why) => {
                if kind == "eval-fail" && !why.starts_with("exit code") {
                    wrong_output += 1;
                }
                if std::env::var_os("NIXKIT_LANG_VERBOSE").is_some() {
                    println!("FAIL {name}: {why}");
                }
                if !known.contains_key(name) {
                    unexpected.push(format!("{name}: {why}"));
                }
            }
        }
    }
    for (kind, (pass, total)) in &counts {
        println!("{kind}: {pass}/{total} passed");
        if *kind == "eval-fail" {
            println!("eval-fail: {}/{total} exit 1", pass + wrong_output);
        }
    }
    if !fixed.is_empty() && only.is_none() {
        println!(
            "now passing, remove from lang-known-failures.txt:\n  {}",
            fixed.join("\n  ")
        );
    }
    assert!(
        unexpected.is_empty(),
        "unexpected failures:\n{}",
        unexpected.join("\n")
    );
    assert!(
        fixed.is_empty() || only.is_some(),
        "known failures that now pass: {fixed:?}"
    );
    true
}
