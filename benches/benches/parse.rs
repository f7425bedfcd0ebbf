//! Parse throughput over every `.nix` file of nixpkgs' `lib/` (from the shared
#![allow(missing_docs)] // criterion_group! generates undocumented functions.
//! corpus), nixkit's full parse (rnix + lowering + resolution) against rnix
//! alone on the same input in the same run.
//!
//! Both run with mimalloc, the allocator the `nixkit` binary ships with.
//!
//! The corpus is found through `NIXKIT_NIXPKGS_LIB` (default
//! `../../shared/corpus/nixpkgs-lib/lib` relative to this crate); the bench
//! says so and does nothing when it is absent.

use std::path::{Path, PathBuf};

// Measured with the allocator the `nixkit` binary uses (both contenders
// allocate through it).
#[global_allocator]
static GLOBAL: nixkit_alloc::Mimalloc = nixkit_alloc::Mimalloc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nixkit_syntax::ParseOptions;

fn corpus_dir() -> PathBuf {
    std::env::var_os("NIXKIT_NIXPKGS_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/nixpkgs-lib/lib")
        })
}

fn collect(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "nix") {
            if let Ok(text) = std::fs::read_to_string(&p) {
                out.push((p, text));
            }
        }
    }
}

fn parse_benches(c: &mut Criterion) {
    let dir = corpus_dir();
    let mut files = Vec::new();
    collect(&dir, &mut files);
    if files.is_empty() {
        eprintln!("skipped: nixpkgs lib corpus not found at {}", dir.display());
        return;
    }
    let bytes: usize = files.iter().map(|(_, t)| t.len()).sum();
    let mut group = c.benchmark_group("parse-nixpkgs-lib");
    group.throughput(Throughput::Bytes(bytes as u64));
    // Throughput of producing the trees: the trees are returned and dropped
    // outside the measured time (`iter_with_large_drop`), for both contenders.
    group.bench_function("rnix", |b| {
        b.iter_with_large_drop(|| {
            files
                .iter()
                .map(|(_, text)| rnix::Root::parse(text))
                .collect::<Vec<_>>()
        })
    });
    let opts: Vec<ParseOptions> = files
        .iter()
        .map(|(p, _)| {
            ParseOptions::new(
                p.parent()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    group.bench_function("nixkit", |b| {
        b.iter_with_large_drop(|| {
            files
                .iter()
                .zip(&opts)
                .map(|((_, text), o)| nixkit_syntax::parse(text, o))
                .collect::<Vec<_>>()
        })
    });
    group.finish();
}

criterion_group!(benches, parse_benches);
criterion_main!(benches);
