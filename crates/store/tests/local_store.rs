//! The local store end to end: adding (paths equal CppNix's), canonical metadata, queries,
//! verification, GC that never deletes what a root reaches, profiles, export/import, and
//! typed errors for corrupt inputs.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use nixkit_store::local::{AddError, GcError, GcOptions, LocalStore, StoreConfig};
use nixkit_store::{export, nar, profiles, FileIngestionMethod, HashAlgo, StoreDir, StorePath};

fn open(root: &Path) -> LocalStore {
    LocalStore::open(StoreConfig::new(root, StoreDir::default())).unwrap()
}

fn sample_tree(dir: &Path) {
    fs::create_dir_all(dir.join("sub/deeper")).unwrap();
    fs::write(dir.join("a"), "hello\n").unwrap();
    fs::write(dir.join("sub/run"), "#!/bin/sh\necho\n").unwrap();
    fs::set_permissions(dir.join("sub/run"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(dir.join("sub/deeper/empty"), "").unwrap();
    symlink("../a", dir.join("sub/link")).unwrap();
}

fn have_nix() -> bool {
    Command::new("nix-store")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn cppnix(root: &Path, args: &[&str]) -> String {
    let out = Command::new("nix-store")
        .arg("--store")
        .arg(format!("local?root={}", root.display()))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nix-store {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn add_paths_like_cppnix_with_canonical_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("tree");
    sample_tree(&src);
    fs::write(tmp.path().join("flat"), "flat contents").unwrap();
    let store = open(&tmp.path().join("root"));
    let rec = store
        .add_to_store(
            "tree",
            &src,
            FileIngestionMethod::Recursive,
            HashAlgo::Sha256,
        )
        .unwrap();
    let flat = tmp.path().join("flat");
    let sha1 = store
        .add_to_store("flat", &flat, FileIngestionMethod::Flat, HashAlgo::Sha1)
        .unwrap();
    let md5r = store
        .add_to_store("tree", &src, FileIngestionMethod::Recursive, HashAlgo::Md5)
        .unwrap();
    // Adding again is a no-op returning the same path.
    assert_eq!(
        store
            .add_to_store(
                "tree",
                &src,
                FileIngestionMethod::Recursive,
                HashAlgo::Sha256
            )
            .unwrap(),
        rec
    );

    let real = store.real_path(&rec);
    for (rel, mode) in [
        ("", 0o555),
        ("a", 0o444),
        ("sub/run", 0o555),
        ("sub/deeper", 0o555),
    ] {
        let meta = fs::symlink_metadata(real.join(rel)).unwrap();
        assert_eq!(meta.mode() & 0o7777, mode, "{rel}");
        assert_eq!(meta.mtime(), 1, "{rel}");
    }
    assert_eq!(
        fs::symlink_metadata(real.join("sub/link")).unwrap().mtime(),
        1
    );
    let info = store.query_path_info(&rec).unwrap().unwrap();
    assert_eq!((info.nar_hash, info.nar_size), nar::nar_hash(&src).unwrap());
    assert!(info.ultimate && info.ca.is_some());
    assert!(store.verify(true).unwrap().is_ok());

    if have_nix() {
        let dir = StoreDir::default();
        let croot = tmp.path().join("cpp");
        let p = |s: String| dir.parse_path(s.trim()).unwrap();
        assert_eq!(p(cppnix(&croot, &["--add", src.to_str().unwrap()])), rec);
        assert_eq!(
            p(cppnix(
                &croot,
                &["--add-fixed", "sha1", flat.to_str().unwrap()]
            )),
            sha1
        );
        assert_eq!(
            p(cppnix(
                &croot,
                &["--add-fixed", "--recursive", "md5", src.to_str().unwrap()]
            )),
            md5r
        );
        let hash = cppnix(&croot, &["--query", "--hash", &dir.print_path(&rec)]);
        assert_eq!(
            hash.trim(),
            info.nar_hash
                .encode(nixkit_store::HashEncoding::Nix32, true)
        );
    }
}

#[test]
fn cppnix_reads_a_nixkit_store() {
    if !have_nix() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let store = open(&root);
    let a = store
        .add_text_to_store("a", b"A", &BTreeSet::new())
        .unwrap();
    let b = store
        .add_text_to_store("b", b"B", &BTreeSet::from([a.clone()]))
        .unwrap();
    drop(store);
    let dir = StoreDir::default();
    let refs = cppnix(&root, &["--query", "--references", &dir.print_path(&b)]);
    assert_eq!(refs.trim(), dir.print_path(&a));
    cppnix(&root, &["--verify", "--check-contents"]);
}

#[test]
fn queries_follow_references() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    let a = store
        .add_text_to_store("a", b"A", &BTreeSet::new())
        .unwrap();
    let b = store
        .add_text_to_store("b", b"B", &BTreeSet::from([a.clone()]))
        .unwrap();
    let c = store
        .add_text_to_store("c", b"C", &BTreeSet::from([a.clone(), b.clone()]))
        .unwrap();
    assert_eq!(
        store.query_references(&c).unwrap(),
        BTreeSet::from([a.clone(), b.clone()])
    );
    assert_eq!(
        store.query_referrers(&a).unwrap(),
        BTreeSet::from([b.clone(), c.clone()])
    );
    let closure = store.query_closure(&BTreeSet::from([c.clone()])).unwrap();
    assert_eq!(store.topo_sort(&closure).unwrap(), vec![a.clone(), b, c]);
    let missing = StorePath::from_base_name("00000000000000000000000000000000-x").unwrap();
    assert!(store.query_references(&missing).is_err());
    // Registration refuses references that are not valid.
    let err = store
        .add_text_to_store("d", b"D", &BTreeSet::from([missing]))
        .unwrap_err();
    assert!(matches!(err, AddError::Db(_)), "{err}");
    assert_eq!(store.valid_paths().unwrap().len(), 3);
}

#[test]
fn verify_detects_modified_and_missing_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    let a = store
        .add_text_to_store("a", b"A", &BTreeSet::new())
        .unwrap();
    let b = store
        .add_text_to_store("b", b"B", &BTreeSet::new())
        .unwrap();
    let real = store.real_path(&a);
    fs::set_permissions(&real, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&real, "tampered").unwrap();
    fs::remove_file(store.real_path(&b)).unwrap();
    let report = store.verify(true).unwrap();
    assert_eq!(report.modified.len(), 1);
    assert_eq!(report.missing, vec![b]);
    assert!(report
        .messages(&store)
        .iter()
        .any(|m| m.contains("was modified! expected hash")));
}

/// A random DAG of text paths; GC with random roots keeps exactly the reachable ones.
#[test]
fn gc_never_deletes_reachable_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(&tmp.path().join("root"));
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for round in 0..3 {
        let mut paths: Vec<StorePath> = Vec::new();
        for i in 0..40 {
            let refs: BTreeSet<StorePath> = (0..rand(4))
                .filter(|_| !paths.is_empty())
                .map(|_| paths[rand(paths.len())].clone())
                .collect();
            let text = format!("round {round} path {i}");
            paths.push(
                store
                    .add_text_to_store(&format!("p{i}"), text.as_bytes(), &refs)
                    .unwrap(),
            );
        }
        let roots: Vec<&StorePath> = (0..4).map(|_| &paths[rand(paths.len())]).collect();
        for (k, r) in roots.iter().enumerate() {
            let link = tmp.path().join(format!("result-{round}-{k}"));
            store.add_perm_root(r, &link).unwrap();
        }
        // A dangling indirect root is removed, not followed.
        store
            .add_perm_root(&paths[0], &tmp.path().join("gone"))
            .unwrap();
        fs::remove_file(tmp.path().join("gone")).unwrap();
        store.release_temp_roots().unwrap();
        let reachable = store
            .query_closure(&roots.iter().map(|r| (*r).clone()).collect())
            .unwrap();
        let result = store.collect_garbage(&GcOptions::default()).unwrap();
        for p in &reachable {
            assert!(store.is_valid(p).unwrap(), "reachable {p} was deleted");
            assert!(store.real_path(p).exists());
        }
        for p in &result.deleted {
            assert!(!reachable.contains(p));
            assert!(!store.real_path(p).exists());
        }
        let valid = store.valid_paths().unwrap();
        assert!(valid
            .iter()
            .all(|p| store.live_paths(&GcOptions::default()).unwrap().contains(p)));
        assert!(store.verify(true).unwrap().is_ok());
        // --delete refuses live paths and deletes dead ones.
        let err = store
            .delete_paths(&BTreeSet::from([roots[0].clone()]))
            .unwrap_err();
        assert!(matches!(err, GcError::Alive(_)), "{err}");
    }
}

#[test]
fn temp_roots_and_profiles_are_roots() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    let a = store
        .add_text_to_store("a", b"A", &BTreeSet::new())
        .unwrap();
    let b = store
        .add_text_to_store("b", b"B", &BTreeSet::new())
        .unwrap();
    // While temp-rooted by this live process nothing is deleted.
    assert!(store
        .collect_garbage(&GcOptions::default())
        .unwrap()
        .deleted
        .is_empty());
    store.release_temp_roots().unwrap();
    let profile = store.state_dir().join("profiles/test");
    profiles::create_generation(&profile, Path::new(&store.store_dir().print_path(&a))).unwrap();
    let result = store.collect_garbage(&GcOptions::default()).unwrap();
    assert_eq!(result.deleted, vec![b]);
    assert!(store.is_valid(&a).unwrap());
}

#[test]
fn profile_generations() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("profiles/p");
    let t = |s: &str| Path::new("/nix/store").join(s);
    assert_eq!(profiles::create_generation(&profile, &t("a")).unwrap(), 1);
    assert_eq!(profiles::create_generation(&profile, &t("a")).unwrap(), 1);
    assert_eq!(profiles::create_generation(&profile, &t("b")).unwrap(), 2);
    assert_eq!(profiles::create_generation(&profile, &t("c")).unwrap(), 3);
    assert_eq!(fs::read_link(&profile).unwrap(), Path::new("p-3-link"));
    assert_eq!(profiles::rollback(&profile).unwrap(), 2);
    assert_eq!(profiles::rollback(&profile).unwrap(), 1);
    let err = profiles::rollback(&profile).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no profile version older than the current (1) exists"
    );
    profiles::switch_generation(&profile, 3).unwrap();
    assert!(profiles::delete_generation(&profile, 3).is_err());
    assert_eq!(
        profiles::delete_old_generations(&profile).unwrap(),
        vec![1, 2]
    );
    let (gens, current) = profiles::list_generations(&profile).unwrap();
    assert_eq!((gens.len(), current), (1, Some(3)));
    assert_eq!(profiles::create_generation(&profile, &t("d")).unwrap(), 4);
}

#[test]
fn export_import_round_trip_and_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("tree");
    sample_tree(&src);
    let one = open(&tmp.path().join("one"));
    let tree = one
        .add_to_store(
            "tree",
            &src,
            FileIngestionMethod::Recursive,
            HashAlgo::Sha256,
        )
        .unwrap();
    let text = one
        .add_text_to_store("t", b"refers", &BTreeSet::from([tree.clone()]))
        .unwrap();
    let mut stream = Vec::new();
    export::export_paths(
        &one,
        &BTreeSet::from([text.clone(), tree.clone()]),
        &mut stream,
    )
    .unwrap();

    let two = open(&tmp.path().join("two"));
    let imported = export::import_paths(&two, &mut stream.as_slice()).unwrap();
    assert_eq!(imported, vec![tree.clone(), text.clone()]);
    assert_eq!(
        two.query_references(&text).unwrap(),
        BTreeSet::from([tree.clone()])
    );
    assert!(two.verify(true).unwrap().is_ok());

    // Truncated or corrupted streams fail with a typed error and register nothing partial.
    let three = open(&tmp.path().join("three"));
    let cut = &stream[..stream.len() / 2];
    assert!(export::import_paths(&three, &mut &cut[..]).is_err());
    let mut bad = stream.clone();
    bad[8 + 16] ^= 0xff; // inside the first NAR's magic
    assert!(matches!(
        export::import_paths(&three, &mut bad.as_slice()),
        Err(export::ImportError::Nar(_))
    ));
    assert!(three.valid_paths().unwrap().is_empty());
    assert!(three.verify(true).unwrap().is_ok());

    if have_nix() {
        // CppNix imports what nixkit exported, and nixkit imports what CppNix exported.
        let croot = tmp.path().join("cpp");
        let child = Command::new("nix-store")
            .arg("--store")
            .arg(format!("local?root={}", croot.display()))
            .arg("--import")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.as_ref().unwrap(), &stream).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let dir = StoreDir::default();
        let printed = dir.print_path(&text);
        let back = Command::new("nix-store")
            .arg("--store")
            .arg(format!("local?root={}", croot.display()))
            .args(["--export", &printed])
            .output()
            .unwrap();
        assert!(back.status.success());
        let four = open(&tmp.path().join("four"));
        let err = export::import_paths(&four, &mut back.stdout.as_slice());
        assert!(err.is_err(), "references must be imported first");
        export::import_paths(&four, &mut stream.as_slice()).unwrap();
        export::import_paths(&four, &mut back.stdout.as_slice()).unwrap();
        assert!(four.verify(true).unwrap().is_ok());
    }
}

#[test]
fn concurrent_adders_share_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let src = tmp.path().join("tree");
    sample_tree(&src);
    drop(open(&root));
    let results: Vec<Vec<StorePath>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    // Each thread has its own connection and locks, as separate processes do.
                    let store = open(&root);
                    let mut added = vec![store
                        .add_to_store(
                            "tree",
                            &src,
                            FileIngestionMethod::Recursive,
                            HashAlgo::Sha256,
                        )
                        .unwrap()];
                    for i in 0..25 {
                        let refs = BTreeSet::from([added[0].clone()]);
                        added.push(
                            store
                                .add_text_to_store(
                                    &format!("t{i}"),
                                    format!("{i}").as_bytes(),
                                    &refs,
                                )
                                .unwrap(),
                        );
                    }
                    added
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(results.windows(2).all(|w| w[0] == w[1]));
    let store = open(&root);
    assert_eq!(store.valid_paths().unwrap().len(), 26);
    assert!(store.verify(true).unwrap().is_ok());
}

#[test]
fn many_opens_at_once_while_others_write() {
    // A daemon opens the store once per connection; sixteen at once, with writers among
    // them, must all succeed (SQLite's busy errors are waited out, never returned).
    for round in 0..6 {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        if round % 2 == 1 {
            drop(open(&root));
        }
        std::thread::scope(|s| {
            for i in 0..16 {
                let root = &root;
                s.spawn(move || {
                    let store = LocalStore::open(StoreConfig::new(root, StoreDir::default()))
                        .unwrap_or_else(|e| panic!("round {round}, opener {i}: {e}"));
                    store
                        .add_text_to_store(&format!("o{i}"), b"x", &BTreeSet::new())
                        .unwrap();
                });
            }
        });
        assert_eq!(open(&root).valid_paths().unwrap().len(), 16);
    }
}
