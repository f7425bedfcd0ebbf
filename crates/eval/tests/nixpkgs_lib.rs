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

use nixkit_eval::cli::{parse_args, run, CliEnv};

fn nixpkgs_root() -> PathBuf {
    match std::env::var_os("NIXKIT_NIXPKGS_LIB") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/nixpkgs-lib"),
    }
}

/// Evaluates `lib/tests/<name>` from the checkout root; returns stdout or
/// the error output.
fn eval_test_file(root: &Path, name: &str) -> Result<String, String> {
    let file = format!("lib/tests/{name}");
    let opts = parse_args(&["--eval", "--strict", file.as_str()]).map_err(|e| e.to_string())?;
    let env = CliEnv::new(root.to_string_lossy());
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

fn check(name: &str) {
    let root = nixpkgs_root();
    if !root.join("lib/tests").join(name).is_file() {
        println!("skipped: nixpkgs lib not found at {}", root.display());
        return;
    }
    let root = root.canonicalize().unwrap_or(root);
    match eval_test_file(&root, name) {
        Ok(out) => assert_eq!(out, "[ ]\n", "lib/tests/{name} reported failing cases"),
        Err(err) => panic!("lib/tests/{name} failed to evaluate:\n{err}"),
    }
}

#[test]
fn nixpkgs_lib_misc() {
    check("misc.nix");
}

#[test]
fn nixpkgs_lib_systems() {
    check("systems.nix");
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
    let out = eval_test_file(dir.path(), "bad.nix").expect("evaluates");
    assert_ne!(out, "[ ]\n");
}
