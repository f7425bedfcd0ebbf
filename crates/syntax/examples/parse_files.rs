//! Parses every `.nix` file under a directory once, with nixkit or with rnix
//! alone; for instruction-count comparisons under `valgrind --tool=callgrind`
//! (deterministic where wall-clock benchmarks are noisy).
//!
//! `cargo run --release -p nixkit-syntax --example parse_files -- nixkit DIR`

use std::path::Path;

// The allocator the `nixkit` binary ships with.
#[global_allocator]
static GLOBAL: nixkit_alloc::Mimalloc = nixkit_alloc::Mimalloc;

fn collect(dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "nix") {
            if let Ok(text) = std::fs::read_to_string(&p) {
                let base = p.parent().map(|d| d.display().to_string()).unwrap_or_default();
                out.push((base, text));
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(dir)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: parse_files (nixkit|rnix) DIR");
        std::process::exit(2);
    };
    let mut files = Vec::new();
    collect(Path::new(dir), &mut files);
    // With `--keep`, trees are leaked instead of dropped, so only the cost of
    // producing them is counted.
    let keep = args.iter().any(|a| a == "--keep");
    let mut errors = 0usize;
    for (base, text) in &files {
        if mode == "rnix" {
            let p = rnix::Root::parse(text);
            errors += p.errors().len();
            if keep {
                std::mem::forget(p);
            }
        } else {
            let opts = nixkit_syntax::ParseOptions::new(base.clone());
            let p = nixkit_syntax::parse(text, &opts);
            errors += p.errors().len();
            if keep {
                std::mem::forget(p);
            }
        }
    }
    println!("{} files, {errors} errors", files.len());
}
