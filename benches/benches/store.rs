//! Store hot paths: NAR dump + sha256 of a generated tree, reference scanning, ATerm parsing
//! and writing of the golden derivations, store path computation, and nixbase32.
#![allow(missing_docs)] // criterion_group! generates undocumented functions.

use std::fs;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nixkit_derivation::parse_derivation;
use nixkit_store::{nar, nixbase32, RefScanner, StoreDir, StorePath};

/// A tree of 2,000 small files and a few large ones (about 24 MiB) under the temp dir.
fn bench_tree() -> PathBuf {
    let root = std::env::temp_dir().join(format!("nixkit-bench-nar-{}", std::process::id()));
    if root.exists() {
        return root;
    }
    for d in 0..20 {
        let dir = root.join(format!("dir{d:02}"));
        fs::create_dir_all(&dir).expect("create bench dir");
        for f in 0..100 {
            let body = format!("file {d} {f}\n").repeat(f + 1);
            fs::write(dir.join(format!("f{f:03}")), body).expect("write bench file");
        }
    }
    for i in 0..3 {
        let data: Vec<u8> = (0..8 << 20)
            .map(|j: u32| (j.wrapping_mul(31) ^ i) as u8)
            .collect();
        fs::write(root.join(format!("big{i}")), data).expect("write big file");
    }
    root
}

fn nar_benches(c: &mut Criterion) {
    let root = bench_tree();
    let (_, size) = nar::nar_hash(&root).expect("nar hash");
    let mut group = c.benchmark_group("nar");
    group.throughput(Throughput::Bytes(size));
    group.sample_size(10);
    group.bench_function("dump+sha256", |b| {
        b.iter(|| nar::nar_hash(&root).expect("nar hash"))
    });
    group.bench_function("dump to memory", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(size as usize);
            nar::dump_path(&root, &mut out).expect("dump");
            out
        })
    });
    group.finish();
    let _ = fs::remove_dir_all(&root);
}

fn refscan_benches(c: &mut Criterion) {
    // 16 MiB of text-like data with a few hash parts sprinkled in.
    let paths: Vec<StorePath> = (0..200u8)
        .map(|i| StorePath::from_digest(&[i; 20], "dep").expect("valid path"))
        .collect();
    let mut data = Vec::with_capacity(16 << 20);
    let mut sprinkled = paths.iter().cycle();
    while data.len() < 16 << 20 {
        for _ in 0..5000 {
            data.extend_from_slice(b"some ordinary words and /usr/lib paths 0123456789 ");
        }
        data.extend_from_slice(b"/nix/store/");
        if let Some(p) = sprinkled.next() {
            data.extend_from_slice(p.hash_part_bytes());
        }
    }
    let mut group = c.benchmark_group("refscan");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("16MiB in 64KiB chunks", |b| {
        b.iter(|| {
            let mut scanner = RefScanner::new(paths.iter().cloned());
            for chunk in data.chunks(64 * 1024) {
                scanner.scan(chunk);
            }
            scanner.found_paths()
        })
    });
    group.finish();
}

fn golden_drvs() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/derivation/tests/golden/drvs");
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = name.get(33..).and_then(|n| n.strip_suffix(".drv")) else {
            continue;
        };
        if let Ok(bytes) = fs::read(entry.path()) {
            out.push((name.to_owned(), bytes));
        }
    }
    out
}

fn aterm_benches(c: &mut Criterion) {
    let drvs = golden_drvs();
    if drvs.is_empty() {
        eprintln!("aterm benches skipped: golden derivations not found");
        return;
    }
    let store = StoreDir::default();
    let total: usize = drvs.iter().map(|(_, b)| b.len()).sum();
    let mut group = c.benchmark_group("aterm");
    group.throughput(Throughput::Bytes(total as u64));
    group.bench_function("parse golden set", |b| {
        b.iter(|| {
            for (name, bytes) in &drvs {
                parse_derivation(&store, name, bytes).expect("golden derivation parses");
            }
        })
    });
    let parsed: Vec<_> = drvs
        .iter()
        .map(|(name, bytes)| parse_derivation(&store, name, bytes).expect("parses"))
        .collect();
    group.bench_function("write golden set", |b| {
        b.iter(|| {
            parsed
                .iter()
                .map(|d| d.to_aterm(&store).expect("writes").len())
                .sum::<usize>()
        })
    });
    group.finish();
}

fn path_benches(c: &mut Criterion) {
    let drvs = golden_drvs();
    let store = StoreDir::default();
    let parsed: Vec<_> = drvs
        .iter()
        .filter_map(|(name, bytes)| parse_derivation(&store, name, bytes).ok())
        .collect();
    let mut group = c.benchmark_group("store-paths");
    let hash = nixkit_store::Hash::digest(nixkit_store::HashAlgo::Sha256, b"some contents");
    let no_refs = std::collections::BTreeSet::new();
    group.bench_function("make_text_path", |b| {
        b.iter(|| {
            store
                .make_text_path("example.txt", &hash, &no_refs)
                .expect("valid name")
        })
    });
    if !parsed.is_empty() {
        group.throughput(Throughput::Elements(parsed.len() as u64));
        group.bench_function(".drv paths of the golden set", |b| {
            b.iter(|| {
                parsed
                    .iter()
                    .map(|d| d.drv_path(&store).expect("drv path").to_string().len())
                    .sum::<usize>()
            })
        });
    }
    group.finish();
}

fn nixbase32_benches(c: &mut Criterion) {
    let data: Vec<u8> = (0..=255u8).cycle().take(1 << 20).collect();
    let encoded = nixbase32::encode(&data);
    let mut group = c.benchmark_group("nixbase32");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("encode 1MiB", |b| b.iter(|| nixbase32::encode(&data)));
    group.bench_function("decode 1MiB", |b| {
        b.iter(|| nixbase32::decode(encoded.as_bytes()).expect("valid"))
    });
    group.finish();
}

criterion_group!(
    benches,
    nar_benches,
    refscan_benches,
    aterm_benches,
    path_benches,
    nixbase32_benches
);
criterion_main!(benches);
