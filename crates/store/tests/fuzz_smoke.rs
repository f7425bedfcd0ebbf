//! Bounded fuzzing in `cargo test` for every store parser that takes untrusted bytes (NAR,
//! narinfo, export stream, `nix-cache-info`, keys and signatures): seeds are mutated for a
//! few seconds each (`NIXKIT_FUZZ_SECONDS`), and the inputs kept under
//! `test_data/fuzz/<target>/` (crashes found by cargo-fuzz or here) are replayed. The
//! properties are the cargo-fuzz targets' own (`fuzz/checks/store.rs`).

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

#[path = "../../../fuzz/checks/store.rs"]
mod checks;
#[path = "../../../fuzz/checks/mutate.rs"]
mod mutate;

use std::collections::BTreeSet;
use std::path::Path;

use nixkit_store::binary_cache::{NarInfo, SecretKey};
use nixkit_store::nar;
use nixkit_store::{
    ContentAddress, ContentAddressMethod, Hash, HashAlgo, PathInfo, StoreDir, StorePath,
};

fn token(out: &mut Vec<u8>, t: &[u8]) {
    out.extend_from_slice(&(t.len() as u64).to_le_bytes());
    out.extend_from_slice(t);
    out.resize(out.len().next_multiple_of(8), 0);
}

fn tokens(ts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    ts.iter().for_each(|t| token(&mut out, t));
    out
}

#[rustfmt::skip]
fn nar_seeds() -> Vec<Vec<u8>> {
    let mut file = Vec::new();
    nar::write_flat_file_nar(b"hello\n", true, &mut file).unwrap();
    let tree = tokens(&[
        b"nix-archive-1", b"(", b"type", b"directory",
        b"entry", b"(", b"name", b"bin", b"node",
        b"(", b"type", b"directory",
        b"entry", b"(", b"name", b"sh", b"node",
        b"(", b"type", b"regular", b"executable", b"", b"contents", b"#!/bin/sh\n", b")",
        b")", b")", b")",
        b"entry", b"(", b"name", b"link", b"node",
        b"(", b"type", b"symlink", b"target", b"bin/sh", b")", b")",
        b"entry", b"(", b"name", b"z", b"node",
        b"(", b"type", b"regular", b"contents", b"", b")", b")",
        b")",
    ]);
    vec![file, tree]
}

fn sample_info() -> PathInfo {
    let dir = StoreDir::default();
    let hash = Hash::digest(HashAlgo::Sha256, b"x");
    let dep = dir.make_text_path("dep", &hash, &BTreeSet::new()).unwrap();
    let path = dir
        .make_text_path("top", &hash, &BTreeSet::from([dep.clone()]))
        .unwrap();
    let mut info = PathInfo::new(path, Hash::digest(HashAlgo::Sha256, b"nar"), 120);
    info.references = BTreeSet::from([dep.clone()]);
    info.deriver = Some(dep);
    info.ca = Some(ContentAddress {
        method: ContentAddressMethod::Text,
        hash,
    });
    info.sigs.insert("cache-1:c2lnbmF0dXJl".into());
    info
}

fn narinfo_seeds() -> Vec<Vec<u8>> {
    let dir = StoreDir::default();
    let info = sample_info();
    let full = NarInfo {
        info: info.clone(),
        url: "nar/1abc.nar.xz".into(),
        compression: "xz".into(),
        file_hash: Some(Hash::digest(HashAlgo::Sha256, b"file")),
        file_size: Some(99),
    };
    let mut bare = full.clone();
    bare.info.references.clear();
    bare.info.deriver = None;
    bare.info.sigs.clear();
    bare.info.ca = None;
    bare.file_hash = None;
    bare.file_size = None;
    vec![
        full.to_text(&dir).into_bytes(),
        bare.to_text(&dir).into_bytes(),
    ]
}

fn export_seeds() -> Vec<Vec<u8>> {
    let dir = StoreDir::default();
    let info = sample_info();
    let mut out = Vec::new();
    for (nar_bytes, path) in nar_seeds().iter().zip([
        info.references.iter().next().unwrap().clone(),
        info.path.clone(),
    ]) {
        out.extend_from_slice(&1u64.to_le_bytes());
        out.extend_from_slice(nar_bytes);
        out.extend_from_slice(&0x4558_494eu64.to_le_bytes());
        token(&mut out, dir.print_path(&path).as_bytes());
        let refs: Vec<&StorePath> = if path == info.path {
            info.references.iter().collect()
        } else {
            Vec::new()
        };
        out.extend_from_slice(&(refs.len() as u64).to_le_bytes());
        for r in refs {
            token(&mut out, dir.print_path(r).as_bytes());
        }
        token(&mut out, b"");
        out.extend_from_slice(&0u64.to_le_bytes());
    }
    out.extend_from_slice(&0u64.to_le_bytes());
    vec![out]
}

fn key_seeds() -> Vec<Vec<u8>> {
    let secret = SecretKey::generate("cache.example.org-1").unwrap();
    let message = b"1;/nix/store/x;sha256:abc;1;";
    let sig = secret.sign(message);
    vec![
        format!("{}\n{sig}\n", secret.to_text()).into_bytes(),
        format!(
            "{}\n{sig}\n{}",
            secret.public_key().to_text(),
            String::from_utf8_lossy(message)
        )
        .into_bytes(),
    ]
}

fn kept() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/fuzz")
}

fn fuzz(name: &str, mut seeds: Vec<Vec<u8>>, check: fn(&[u8])) {
    // Kept inputs (seeds made by CppNix, crashes found) are replayed, then mutated too.
    for (path, bytes) in mutate::kept_inputs(&kept(), name) {
        eprintln!("replaying {}", path.display());
        check(&bytes);
        seeds.push(bytes);
    }
    let runs = mutate::run(name, &seeds, 500, check);
    eprintln!("{name}: {runs} inputs");
}

#[test]
fn fuzz_nar() {
    fuzz("nar", nar_seeds(), checks::nar);
}

#[test]
fn fuzz_narinfo() {
    fuzz("narinfo", narinfo_seeds(), checks::narinfo);
}

#[test]
fn fuzz_export() {
    fuzz("export", export_seeds(), checks::export);
}

#[test]
fn fuzz_nix_cache_info() {
    let seeds = vec![
        b"StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n".to_vec(),
        b"StoreDir: /other\r\n".to_vec(),
    ];
    fuzz("nix-cache-info", seeds, checks::cache_info);
}

#[test]
fn fuzz_keys_and_signatures() {
    fuzz("keys", key_seeds(), checks::keys);
}

/// The seeds themselves must pass the round trips, or the smoke tests prove nothing.
#[test]
fn seeds_are_valid() {
    for s in nar_seeds() {
        assert!(nar::parse_nar(&mut s.as_slice(), &mut NoOp).is_ok());
    }
    for s in narinfo_seeds() {
        assert!(NarInfo::parse(&StoreDir::default(), std::str::from_utf8(&s).unwrap()).is_ok());
    }
    for s in export_seeds() {
        let mut input = s.as_slice();
        let dir = StoreDir::default();
        let mut n = 0;
        while nixkit_store::export::read_exported_path(&dir, &mut input)
            .unwrap()
            .is_some()
        {
            n += 1;
        }
        assert_eq!(n, 2);
    }
}

struct NoOp;

impl nar::NarVisitor for NoOp {
    fn directory(&mut self, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
    fn regular_file(
        &mut self,
        _: &[u8],
        _: bool,
        _: u64,
        c: &mut dyn std::io::Read,
    ) -> std::io::Result<()> {
        std::io::copy(c, &mut std::io::sink()).map(|_| ())
    }
    fn symlink(&mut self, _: &[u8], _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
}
