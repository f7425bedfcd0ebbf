//! nixpkgs' own library tests, evaluated through the library as
//! `nix-instantiate --eval --strict` runs them: `lib/tests/misc.nix` and
//! `lib/tests/systems.nix` both evaluate to the list of failed cases, which
//! must be `[ ]`.
//!
//! The nixpkgs checkout is found through `NIXKIT_NIXPKGS_LIB` (default
//! `../../../shared/corpus/nixpkgs-lib` from this crate); the test prints
//! "skipped: ..." when it is absent. `tests/run-modules-sh.sh` runs the
//! module system suite (`lib/tests/modules.sh`), which needs a shell.

use std::path::{Path, PathBuf};

use nixkit_eval::cli::{parse_args, run, CliEnv, CycleCollection};

fn nixpkgs_root() -> PathBuf {
    match std::env::var_os("NIXKIT_NIXPKGS_LIB") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/nixpkgs-lib"),
    }
}

/// Evaluates `lib/tests/<name>` from the checkout root; returns stdout or
/// the error output.
fn eval_test_file(
    root: &Path,
    name: &str,
    collect: Option<CycleCollection>,
) -> Result<String, String> {
    let file = format!("lib/tests/{name}");
    let opts = parse_args(&["--eval", "--strict", file.as_str()]).map_err(|e| e.to_string())?;
    let mut env = CliEnv::new(root.to_string_lossy());
    env.collect_cycles = collect;
    // Deep library evaluation: give it a generous stack, as the CLI has.
    let (code, out, err) = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let (mut out, mut err) = (String::new(), String::new());
            let code = run(&opts, &env, &mut out, &mut err);
            (code, out, err)
        })
        .map_err(|e| e.to_string())?
        .join()
        .map_err(|_| "evaluation panicked".to_string())?;
    if code != 0 {
        return Err(err);
    }
    Ok(out)
}

/// The collector runs only while no other evaluator is evaluating: the tests
/// of this file take turns, so the one that asks for collections gets them.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Evaluates `lib/tests/<name>` and checks that it reports no failing case;
/// returns how many cycle collections ran meanwhile (`None`: skipped).
fn check(name: &str, collect: Option<CycleCollection>) -> Option<u64> {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let before = nixkit_eval::collections_in_process();
    let root = nixpkgs_root();
    if !root.join("lib/tests").join(name).is_file() {
        println!("skipped: nixpkgs lib not found at {}", root.display());
        return None;
    }
    let root = root.canonicalize().unwrap_or(root);
    match eval_test_file(&root, name, collect) {
        Ok(out) => assert_eq!(out, "[ ]\n", "lib/tests/{name} reported failing cases"),
        Err(err) => panic!("lib/tests/{name} failed to evaluate:\n{err}"),
    }
    Some(nixkit_eval::collections_in_process() - before)
}

#[test]
fn nixpkgs_lib_misc() {
    check("misc.nix", None);
}

/// nixpkgs lib's own tests with the cycle collector running in the middle of
/// the evaluation every 1,024 steps: the results stay the same.
#[test]
fn nixpkgs_lib_misc_under_frequent_cycle_collection() {
    if let Some(ran) = check("misc.nix", Some(CycleCollection::Every(1024))) {
        assert!(ran > 50, "only {ran} collections ran");
    }
}

#[test]
fn nixpkgs_lib_systems() {
    check("systems.nix", None);
}

/// The runner itself must be able to report failures: a file evaluating to a
/// non-empty list is not accepted.
#[test]
fn failing_cases_are_reported() {
    let dir = tempfile::tempdir().expect("temporary directory");
    std::fs::create_dir_all(dir.path().join("lib/tests")).expect("fixture directory");
    std::fs::write(
        dir.path().join("lib/tests/bad.nix"),
        "[ { name = \"x\"; expected = 1; result = 2; } ]",
    )
    .expect("fixture file");
    let out = eval_test_file(dir.path(), "bad.nix", None).expect("evaluates");
    assert_ne!(out, "[ ]\n");
}
