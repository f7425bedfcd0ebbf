//! Golden tests against derivations written by CppNix (see `tests/golden/generate.sh`):
//! every `.drv` must parse and be rewritten byte for byte, hash to its own `.drv` path, and
//! have its outputs recomputed exactly; `expected.tsv` pins drvPath and output paths.
//! When `nix-instantiate` is on PATH, the set is also regenerated and compared live, including
//! once with a non-default store directory.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use nixkit_derivation::{
    downstream_placeholder, fill_output_paths, parse_derivation, Derivation, DrvHashMemo,
};
use nixkit_store::{StoreDir, StorePath};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Checks a generated set; returns (derivations checked, expected lines checked).
fn check_set(dir: &Path, store_dir: &StoreDir) -> (usize, usize) {
    let mut parsed: HashMap<StorePath, Derivation> = HashMap::new();
    let mut entries: Vec<_> = fs::read_dir(dir.join("drvs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "no derivations in {}", dir.display());
    for file in &entries {
        let base = file.file_name().unwrap().to_str().unwrap();
        let drv_path = StorePath::from_base_name(base).unwrap();
        let name = drv_path.name().strip_suffix(".drv").unwrap();
        let bytes = fs::read(file).unwrap();
        let drv =
            parse_derivation(store_dir, name, &bytes).unwrap_or_else(|e| panic!("{base}: {e}"));
        let text = drv.to_aterm(store_dir).unwrap();
        assert!(
            text.as_bytes() == bytes,
            "{base}: rewritten ATerm differs\n ours: {text}\ntheirs: {}",
            String::from_utf8_lossy(&bytes)
        );
        assert_eq!(
            drv.drv_path(store_dir).unwrap(),
            drv_path,
            "{base}: drvPath"
        );
        parsed.insert(drv_path, drv);
    }

    // Recompute every derivation's outputs from scratch, as derivationStrict does.
    let mut memo = DrvHashMemo::default();
    for (drv_path, drv) in &parsed {
        let mut fresh = drv.clone();
        for name in drv.outputs.keys() {
            fresh.env.remove(name);
        }
        fill_output_paths(&mut fresh, store_dir, &parsed, &mut memo)
            .unwrap_or_else(|e| panic!("{drv_path}: {e}"));
        assert_eq!(&fresh, drv, "{drv_path}: recomputed outputs differ");
    }

    let expected = fs::read_to_string(dir.join("expected.tsv")).unwrap();
    let mut lines = 0;
    for line in expected.lines() {
        let mut fields = line.split('\t');
        let drv_path = store_dir.parse_path(fields.next().unwrap()).unwrap();
        let drv = parsed
            .get(&drv_path)
            .unwrap_or_else(|| panic!("{drv_path} listed but not generated"));
        let mut outputs = 0;
        for field in fields {
            let (output, path) = field.split_once('=').unwrap();
            let ours = match drv.output_path(store_dir, output).unwrap() {
                Some(p) => store_dir.print_path(&p),
                None => downstream_placeholder(&drv_path, output),
            };
            assert_eq!(ours, path, "{drv_path}: output {output}");
            outputs += 1;
        }
        assert_eq!(outputs, drv.outputs.len(), "{drv_path}: output count");
        lines += 1;
    }
    (parsed.len(), lines)
}

#[test]
fn committed_golden_derivations() {
    let (drvs, cases) = check_set(&golden_dir(), &StoreDir::default());
    eprintln!("checked {drvs} committed derivations and {cases} expected cases");
    assert!(cases >= 1000);
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn generate(n: usize, out: &Path, store_dir: &str) {
    let status = Command::new("bash")
        .arg(golden_dir().join("generate.sh"))
        .arg(n.to_string())
        .arg(out)
        .arg(store_dir)
        .status()
        .unwrap();
    assert!(status.success(), "generate.sh failed");
}

#[test]
fn live_regeneration_with_cppnix() {
    if !have("nix-instantiate") || !have("jq") {
        eprintln!("skipped: nix-instantiate (or jq) not on PATH");
        return;
    }
    let n: usize = std::env::var("NIXKIT_GOLDEN_N")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let tmp = tempfile::tempdir().unwrap();

    // The committed set must be exactly what CppNix generates today, at its committed size.
    let committed = golden_dir();
    let committed_n = fs::read_to_string(committed.join("expected.tsv"))
        .unwrap()
        .lines()
        .count();
    let fresh = tmp.path().join("default");
    generate(committed_n, &fresh, "/nix/store");
    assert_eq!(
        fs::read(fresh.join("expected.tsv")).unwrap(),
        fs::read(committed.join("expected.tsv")).unwrap(),
        "expected.tsv is stale: rerun tests/golden/generate.sh"
    );
    let names = |d: &Path| {
        let mut v: Vec<_> = fs::read_dir(d.join("drvs"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(&fresh), names(&committed), "drvs/ is stale");

    if n > committed_n {
        let larger = tmp.path().join("larger");
        generate(n, &larger, "/nix/store");
        let (drvs, cases) = check_set(&larger, &StoreDir::default());
        eprintln!("live: checked {drvs} derivations, {cases} cases");
    }

    // A non-default store directory changes every path; nixkit must follow.
    let other = tmp.path().join("other");
    let store = "/gnu/nixkit-store";
    generate(40, &other, store);
    let (drvs, cases) = check_set(&other, &StoreDir::new(store).unwrap());
    eprintln!("live, store dir {store}: checked {drvs} derivations, {cases} cases");
}
