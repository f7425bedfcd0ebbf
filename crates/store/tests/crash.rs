//! Crash safety: a child process adds large trees, text files and imports in a loop and is
//! SIGKILLed at random moments, many times. After every kill the store must open, verify
//! with `--check-contents`, hold no stray temporary and no partially written registered path,
//! and keep adding.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use nixkit_store::local::{GcOptions, LocalStore, StoreConfig};
use nixkit_store::{FileIngestionMethod, HashAlgo, StoreDir};

const CHILD_ENV: &str = "NIXKIT_CRASH_CHILD_ROOT";

fn open(root: &Path) -> LocalStore {
    LocalStore::open(StoreConfig::new(root, StoreDir::default())).unwrap()
}

/// The child's body: runs only when the parent spawns this test binary with `CHILD_ENV`.
#[test]
fn crash_child_entry() {
    let Some(root) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let root = Path::new(&root);
    let store = open(root);
    let pid = std::process::id();
    let src = root.join(format!("src-{pid}"));
    for n in 0u32.. {
        // A fresh tree each time: 120 small files in 6 directories and two 512 KiB files.
        let _ = fs::remove_dir_all(&src);
        for d in 0..6 {
            let dir = src.join(format!("d{d}"));
            fs::create_dir_all(&dir).unwrap();
            for f in 0..20 {
                fs::write(
                    dir.join(format!("f{f}")),
                    format!("{pid} {n} {d} {f}\n").repeat(f + 1),
                )
                .unwrap();
            }
        }
        for b in 0..2u8 {
            let data: Vec<u8> = (0..512 * 1024u32)
                .map(|i| (i as u8) ^ b ^ (n as u8))
                .collect();
            fs::write(src.join(format!("big{b}")), data).unwrap();
        }
        let tree = store
            .add_to_store(
                "tree",
                &src,
                FileIngestionMethod::Recursive,
                HashAlgo::Sha256,
            )
            .unwrap();
        let text = format!("{pid} {n}");
        store
            .add_text_to_store("t", text.as_bytes(), &BTreeSet::from([tree]))
            .unwrap();
    }
}

#[test]
fn sigkill_at_random_points_never_leaves_a_partial_path() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    drop(open(&root));
    let exe = std::env::current_exe().unwrap();
    let iterations: u64 = std::env::var("NIXKIT_CRASH_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(std::process::id());
    let start = Instant::now();
    let mut most_valid = 0;
    let mut interrupted = 0;
    for i in 0..iterations {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child_entry",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Mostly short lives that die in the middle of an addition; every fifth one lives long
        // enough to complete several, so the store grows.
        let life = if i % 5 == 4 { 1500 } else { 20 + seed % 1000 };
        std::thread::sleep(Duration::from_millis(life));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let real_store = root.join("nix/store");
        let stray = fs::read_dir(&real_store).unwrap().any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".nixkit-tmp-")
        });
        interrupted += usize::from(stray);

        let store = open(&root);
        let report = store.verify(true).unwrap();
        assert!(
            report.is_ok(),
            "iteration {i}: {:?}",
            report.messages(&store)
        );
        for entry in fs::read_dir(store.real_store_dir()).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                !name.starts_with(".nixkit-"),
                "iteration {i}: stray temporary {name}"
            );
        }
        // Every registered path is complete: its references are valid and its NAR matches.
        for p in store.valid_paths().unwrap() {
            for r in store.query_references(&p).unwrap() {
                assert!(store.is_valid(&r).unwrap());
            }
        }
        most_valid = most_valid.max(store.valid_paths().unwrap().len());
        if i % 10 == 9 {
            // GC removes unregistered leftovers and keeps the store consistent.
            store.collect_garbage(&GcOptions::default()).unwrap();
            assert!(store.verify(true).unwrap().is_ok());
        }
    }
    eprintln!(
        "{iterations} SIGKILLs in {:.1}s ({interrupted} in the middle of an addition); up to \
         {most_valid} valid paths; store consistent every time",
        start.elapsed().as_secs_f64()
    );
    assert!(most_valid > 0, "the child never got to add anything");
}
