//! The vendored rnix (vendor/rnix, patched for speed) must build exactly the trees and
//! errors of upstream rnix 0.15.1: a digest of its output on fixed inputs — snippets, deep
//! operator chains, CppNix's language tests (when the corpus is present), each with
//! deterministic mutations — is compared with `data/rnix-upstream.golden`, which was made
//! by the same code (`rnix_upstream/inputs.rs`) built against the unpatched crate.
//!
//! To remake the golden file after a deliberate change of output (a new upstream version),
//! build `inputs.rs` against that rnix and write `golden_lines` of the corpus to the file.

#[path = "rnix_upstream/inputs.rs"]
mod inputs;

use std::collections::HashMap;
use std::path::PathBuf;

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("NIXKIT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    dir.join("nix-lang").is_dir().then_some(dir)
}

#[test]
fn trees_and_errors_are_upstream_rnixs() {
    let golden_text = include_str!("data/rnix-upstream.golden");
    let golden: HashMap<&str, &str> = golden_text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .collect();
    let corpus = corpus();
    if corpus.is_none() {
        println!("skipped: the language tests' part (no corpus; set NIXKIT_CORPUS)");
    }
    // rnix frees a tree recursively (nixkit-syntax frees deep trees level by level, but
    // here the trees are rnix's own): a stack the 20,000-deep inputs' trees fit in, in a
    // debug build too.
    let lines = std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(move || inputs::golden_lines(corpus.as_deref()))
        .expect("spawn the checking thread")
        .join()
        .expect("the checking thread");
    let mut differ = Vec::new();
    for line in &lines {
        let (name, digest) = line.split_once(' ').expect("NAME DIGEST");
        match golden.get(name) {
            Some(&want) if want == digest => {}
            Some(_) => differ.push(format!("{name}: the output differs from upstream rnix's")),
            None => differ.push(format!("{name}: not in the golden file")),
        }
    }
    println!(
        "rnix output checked against upstream on {} inputs (with their variants)",
        lines.len()
    );
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
