//! Bounded fuzzing of the `.drv` ATerm parser in `cargo test`: the golden `.drv` files are
//! mutated for a few seconds (`NIXKIT_FUZZ_SECONDS`), and the inputs kept under
//! `test_data/fuzz/drv/` are replayed. The property is the cargo-fuzz target's own
//! (`fuzz/checks/drv.rs`): no panic, and whatever parses round-trips.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

#[path = "../../../fuzz/checks/drv.rs"]
mod checks;
#[path = "../../../fuzz/checks/mutate.rs"]
mod mutate;

use std::path::Path;

#[test]
fn fuzz_drv_aterm() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/drvs");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&golden)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    // A spread of shapes is enough: the mutator splices between them.
    let step = (seeds.len() / 24).max(1);
    let seeds: Vec<Vec<u8>> = seeds.into_iter().step_by(step).collect();
    assert!(seeds.len() >= 10);
    let kept = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/fuzz");
    for (path, bytes) in mutate::kept_inputs(&kept, "drv") {
        eprintln!("replaying {}", path.display());
        checks::derivation(&bytes);
    }
    let runs = mutate::run("drv", &seeds, 500, checks::derivation);
    eprintln!("drv: {runs} inputs");
}

/// The first find: a system with an escaped quote parsed, but printed raw (as CppNix prints
/// it) it no longer read back. Such a derivation is refused when written.
#[test]
fn raw_fields_with_quotes_or_backslashes_are_refused() {
    let dir = nixkit_store::StoreDir::default();
    let text = br#"Derive([("out","","r:sha256","")],[],[],"x\"y","/bin/sh",[],[("out","")])"#;
    let drv = nixkit_derivation::parse_derivation(&dir, "fuzz", text).unwrap();
    assert_eq!(drv.system, "x\"y");
    let err = drv.to_aterm(&dir).unwrap_err();
    assert!(err.to_string().contains("system 'x\"y'"), "{err}");
    let mut backslash = drv.clone();
    backslash.system = "x86_64-linux".into();
    let out = backslash.outputs.remove("out").unwrap();
    backslash.outputs.insert("o\\ut".into(), out);
    assert!(backslash.to_aterm(&dir).is_err());
}
