//! Staged additions: NARs restored and checked by `stage_nar_checked` are invisible until
//! `commit_staged` makes a batch valid at once (references among the batch allowed); a
//! staged path dropped uncommitted leaves nothing behind, and a wrong NAR is refused.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::collections::BTreeSet;

use nixkit_store::local::{AddError, LocalStore, StoreConfig};
use nixkit_store::nar::dump_path;
use nixkit_store::{PathInfo, StoreDir, StorePath};

fn open(root: &std::path::Path) -> LocalStore {
    LocalStore::open(StoreConfig::new(root, StoreDir::default())).unwrap()
}

fn nar(store: &LocalStore, p: &StorePath) -> (PathInfo, Vec<u8>) {
    let mut v = Vec::new();
    dump_path(&store.real_path(p), &mut v).unwrap();
    (store.query_path_info(p).unwrap().unwrap(), v)
}

fn entries(root: &std::path::Path) -> usize {
    std::fs::read_dir(root.join("nix/store")).unwrap().count()
}

#[test]
fn staged_paths_become_valid_together_and_vanish_when_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let src = open(&tmp.path().join("src"));
    let mut paths = Vec::new();
    let mut refs = BTreeSet::new();
    for i in 0..5 {
        let p = src
            .add_text_to_store(&format!("p{i}"), format!("text {i}").as_bytes(), &refs)
            .unwrap();
        refs = BTreeSet::from([p.clone()]);
        paths.push(p);
    }
    let dst_root = tmp.path().join("dst");
    let dst = open(&dst_root);
    let before = entries(&dst_root);
    let mut staged = Vec::new();
    for p in &paths {
        let (info, data) = nar(&src, p);
        staged.push(
            dst.stage_nar_checked(&info, &mut data.as_slice(), &mut || true)
                .unwrap(),
        );
        assert!(!dst.is_valid(p).unwrap(), "invisible before the commit");
    }
    // Dropped uncommitted: nothing stays.
    drop(staged.pop());
    assert_eq!(entries(&dst_root), before + staged.len());
    let committed = dst.commit_staged(staged).unwrap();
    assert_eq!(committed, paths[..4].to_vec());
    for p in &paths[..4] {
        assert!(dst.is_valid(p).unwrap());
        assert_eq!(nar(&dst, p).1, nar(&src, p).1);
    }
    assert!(!dst.is_valid(&paths[4]).unwrap());
    assert_eq!(
        dst.query_path_info(&paths[3]).unwrap().unwrap().references,
        BTreeSet::from([paths[2].clone()])
    );

    // A NAR that is not the one the info describes is refused at staging.
    let (info, _) = nar(&src, &paths[4]);
    let (_, other) = nar(&src, &paths[0]);
    let e = dst
        .stage_nar_checked(&info, &mut other.as_slice(), &mut || true)
        .unwrap_err();
    assert!(matches!(e, AddError::HashMismatch { .. }), "{e}");
    // Refused by the caller's last check.
    let (_, data) = nar(&src, &paths[4]);
    let e = dst
        .stage_nar_checked(&info, &mut data.as_slice(), &mut || false)
        .unwrap_err();
    assert!(matches!(e, AddError::Rejected(_)), "{e}");
    assert_eq!(entries(&dst_root), before + 4);
    assert!(dst.commit_staged(Vec::new()).unwrap().is_empty());
}
