//! Parses every `.nix` file under a directory, with nixkit or with rnix
//! alone; for instruction-count comparisons under `valgrind --tool=callgrind`
//! (deterministic where wall-clock benchmarks are noisy) and for profiling
//! with `perf` (`--rounds N`).
//!
//! `cargo run --release -p nixkit-syntax --example parse_files -- nixkit DIR`
//!
//! - `--keep`: trees are leaked instead of dropped, so that only the cost of
//!   producing them is counted.
//! - `--rounds N`: parses everything N times, keeping one round's trees until
//!   the round's time is taken (as the criterion bench does), and prints the
//!   fastest and the median round.

use std::path::Path;
use std::time::{Duration, Instant};

// The allocator the `nixkit` binary ships with.
#[global_allocator]
static GLOBAL: nixkit_alloc::Mimalloc = nixkit_alloc::Mimalloc;

fn collect(dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "nix") {
            if let Ok(text) = std::fs::read_to_string(&p) {
                let base = p
                    .parent()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default();
                out.push((base, text));
            }
        }
    }
}

/// One file's tree, held only until the round is timed (not boxed: that
/// would add an allocation per file to nixkit's side only).
#[allow(dead_code, clippy::large_enum_variant)]
enum Tree {
    Rnix(rnix::Parse<rnix::Root>),
    Nixkit(nixkit_syntax::Parse),
}

fn parse_all(
    files: &[(String, String)],
    opts: &[nixkit_syntax::ParseOptions],
    rnix_only: bool,
) -> (Vec<Tree>, usize) {
    let mut errors = 0usize;
    let mut trees = Vec::with_capacity(files.len());
    for ((_, text), o) in files.iter().zip(opts) {
        if rnix_only {
            let p = rnix::Root::parse(text);
            errors += p.errors().len();
            trees.push(Tree::Rnix(p));
        } else {
            let p = nixkit_syntax::parse(text, o);
            errors += p.errors().len();
            trees.push(Tree::Nixkit(p));
        }
    }
    (trees, errors)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(dir)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: parse_files (nixkit|rnix) DIR [--keep] [--rounds N]");
        std::process::exit(2);
    };
    let rnix_only = mode == "rnix";
    let mut files = Vec::new();
    collect(Path::new(dir), &mut files);
    let opts: Vec<_> = files
        .iter()
        .map(|(base, _)| nixkit_syntax::ParseOptions::new(base.clone()))
        .collect();
    let keep = args.iter().any(|a| a == "--keep");
    let rounds: usize = match args.iter().position(|a| a == "--rounds") {
        Some(i) => match args.get(i + 1).and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => {
                eprintln!("--rounds needs a number");
                std::process::exit(2);
            }
        },
        None => 1,
    };
    let mut times: Vec<Duration> = Vec::with_capacity(rounds);
    let mut errors = 0;
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        let (trees, e) = parse_all(&files, &opts, rnix_only);
        times.push(start.elapsed());
        errors = e;
        if keep {
            std::mem::forget(trees);
        }
    }
    times.sort();
    println!(
        "{} files, {errors} errors; {} round(s): fastest {:.2} ms, median {:.2} ms",
        files.len(),
        times.len(),
        times[0].as_secs_f64() * 1e3,
        times[times.len() / 2].as_secs_f64() * 1e3
    );
}
