//! Issue 20 item 6: reference chains long enough to overflow any recursive walk. A store
//! holding a 30,000-path chain (registered in bulk through the library) answers `-q -R`,
//! exports, and is marked and ordered for collection by `--gc` through the binary; a 10,000-path chain of unsigned
//! content-addressed paths is substituted from a `file://` cache (CppNix needs no signature
//! for a content-addressed path: its content is checked against the address).

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use nixkit_store::binary_cache::NarInfo;
use nixkit_store::local::{LocalStore, StoreConfig};
use nixkit_store::{
    export, nar, ContentAddress, ContentAddressMethod, Hash, HashAlgo, HashSink, PathInfo,
    StoreDir, StorePath,
};

fn nixkit(root: &Path, args: &[&str]) -> Output {
    let started = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .arg("store")
        .env("NIXKIT_STORE", root)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "nixkit store {args:?}: {:?}\n{}",
        out.status,
        &stderr[..stderr.len().min(2000)]
    );
    eprintln!("nixkit store {args:?}: {:?}", started.elapsed());
    out
}

/// The chain's metadata: path `i` is a text file referring to path `i - 1`.
fn chain_infos(dir: &StoreDir, n: usize) -> Vec<(PathInfo, String)> {
    let mut infos = Vec::with_capacity(n);
    let mut prev: Option<StorePath> = None;
    for i in 0..n {
        let text = match &prev {
            Some(p) => format!("link {i} -> {}", dir.print_path(p)),
            None => "the end".to_owned(),
        };
        let refs: BTreeSet<StorePath> = prev.iter().cloned().collect();
        let hash = Hash::digest(HashAlgo::Sha256, text.as_bytes());
        let path = dir
            .make_text_path(&format!("chain-{i}"), &hash, &refs)
            .unwrap();
        let mut sink = HashSink::new(HashAlgo::Sha256);
        nar::write_flat_file_nar(text.as_bytes(), false, &mut sink).unwrap();
        let (nar_hash, nar_size) = sink.finish();
        let mut info = PathInfo::new(path.clone(), nar_hash, nar_size);
        info.references = refs;
        info.ca = Some(ContentAddress {
            method: ContentAddressMethod::Text,
            hash,
        });
        infos.push((info, text));
        prev = Some(path);
    }
    infos
}

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn chain_of_30000_paths_queries_exports_and_collects() {
    const N: usize = 30_000;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let store =
        LocalStore::open(StoreConfig::new(&root, StoreDir::default()).with_fsync(false)).unwrap();
    let dir = store.store_dir().clone();
    let infos = chain_infos(&dir, N);
    for (info, text) in &infos {
        fs::write(store.real_path(&info.path), text).unwrap();
    }
    let infos: Vec<PathInfo> = infos.into_iter().map(|(i, _)| i).collect();
    store.register_valid_paths(&infos).unwrap();
    let head = dir.print_path(&infos[N - 1].path);
    let tail = dir.print_path(&infos[0].path);
    let link = tmp.path().join("head-root");
    store.add_perm_root(&infos[N - 1].path, &link).unwrap();
    drop(store);

    // Requisites: the whole chain, references first.
    let requisites = lines(&nixkit(&root, &["-q", "-R", &head]));
    assert_eq!(requisites.len(), N);
    assert_eq!(requisites.first(), Some(&tail));
    assert_eq!(requisites.last(), Some(&head));

    // Export of the whole chain, references first (in this test's thread, whose stack is
    // smaller than the binary's main thread), and through the binary.
    let store = LocalStore::open(StoreConfig::new(&root, StoreDir::default())).unwrap();
    let all: BTreeSet<StorePath> = infos.iter().map(|i| i.path.clone()).collect();
    let mut export = Vec::new();
    export::export_paths(&store, &all, &mut export).unwrap();
    drop(store);
    let position = |p: &str| export.windows(p.len()).position(|w| w == p.as_bytes());
    assert!(position(&tail).unwrap() < position(&head).unwrap());
    assert_eq!(&export[export.len() - 8..], &[0u8; 8], "end marker");
    let cli_export = nixkit(&root, &["--export", &head, &tail]).stdout;
    assert!(cli_export.windows(head.len()).any(|w| w == head.as_bytes()));

    // GC: rooted, the whole chain is marked live and nothing is deleted. Unrooted, the whole
    // dead chain is ordered for deletion (referrers first); `--max-freed 1` stops after the
    // first path (the head), which keeps the test short: deleting is a loop, the ordering
    // was what overflowed.
    let kept = lines(&nixkit(&root, &["--gc"]));
    assert_eq!(
        kept.last().unwrap().split(' ').next(),
        Some("0"),
        "{kept:?}"
    );
    assert_eq!(lines(&nixkit(&root, &["--gc", "--print-live"])).len(), N);
    fs::remove_file(&link).unwrap();
    assert_eq!(lines(&nixkit(&root, &["--gc", "--print-dead"])).len(), N);
    let freed = lines(&nixkit(&root, &["--gc", "--max-freed", "1"]));
    assert_eq!(
        freed.last().unwrap().split(' ').next(),
        Some("1"),
        "{freed:?}"
    );
    let dead = lines(&nixkit(&root, &["--gc", "--print-dead"]));
    assert_eq!(dead.len(), N - 1);
    assert!(!dead.contains(&head));
}

#[test]
fn unsigned_content_addressed_chain_of_10000_substitutes() {
    const N: usize = 10_000;
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    fs::create_dir_all(cache.join("nar")).unwrap();
    let dir = StoreDir::default();
    fs::write(cache.join("nix-cache-info"), "StoreDir: /nix/store\n").unwrap();
    let infos = chain_infos(&dir, N);
    for (info, text) in &infos {
        let mut nar_bytes = Vec::new();
        nar::write_flat_file_nar(text.as_bytes(), false, &mut nar_bytes).unwrap();
        let url = format!("nar/{}.nar", info.path.hash_part());
        fs::write(cache.join(&url), &nar_bytes).unwrap();
        let narinfo = NarInfo {
            info: info.clone(),
            url,
            compression: "none".into(),
            file_hash: Some(Hash::digest(HashAlgo::Sha256, &nar_bytes)),
            file_size: Some(nar_bytes.len() as u64),
        };
        fs::write(
            cache.join(format!("{}.narinfo", info.path.hash_part())),
            narinfo.to_text(&dir),
        )
        .unwrap();
    }
    let head = dir.print_path(&infos[N - 1].0.path);
    let root = tmp.path().join("store");
    let substituters = format!("file://{}", cache.display());
    let out = nixkit(
        &root,
        &[
            "--realise",
            &head,
            "--option",
            "substituters",
            &substituters,
            "--option",
            "fsync-store-paths",
            "false",
        ],
    );
    assert_eq!(lines(&out), vec![head.clone()]);
    assert_eq!(lines(&nixkit(&root, &["-q", "-R", &head])).len(), N);
    nixkit(&root, &["--verify", "--check-contents"]);
}
