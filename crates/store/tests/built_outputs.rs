//! Registering the outputs of one build together: references among them, the derivation's
//! output mapping in the same transaction, and all-or-nothing behaviour when registration
//! fails in the middle.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use nixkit_store::local::{AddError, DbError, LocalStore, OutputSource, StoreConfig};
use nixkit_store::nar::nar_hash;
use nixkit_store::{StoreDir, StorePath};

fn open(root: &Path) -> LocalStore {
    LocalStore::open(StoreConfig::new(root, StoreDir::default())).unwrap()
}

fn path(base: &str) -> StorePath {
    StorePath::from_base_name(base).unwrap()
}

/// Two outputs, `out` referring to `dev`, laid out as a builder would leave them.
fn two_outputs(
    dir: &Path,
    out: &StorePath,
    dev: &StorePath,
    extra_ref: Option<&str>,
) -> Vec<OutputSource> {
    let sd = StoreDir::default();
    let out_src = dir.join("out");
    fs::create_dir_all(out_src.join("bin")).unwrap();
    let mut text = format!("#!/bin/sh\n# uses {}\n", sd.print_path(dev));
    if let Some(r) = extra_ref {
        text.push_str(&format!("# and {r}\n"));
    }
    fs::write(out_src.join("bin/prog"), text).unwrap();
    fs::set_permissions(out_src.join("bin/prog"), fs::Permissions::from_mode(0o700)).unwrap();
    // An unreadable directory, as builders sometimes leave.
    fs::create_dir(out_src.join("private")).unwrap();
    fs::set_permissions(out_src.join("private"), fs::Permissions::from_mode(0o000)).unwrap();
    let dev_src = dir.join("dev");
    fs::write(&dev_src, "header\n").unwrap();
    vec![
        OutputSource {
            path: out.clone(),
            source: out_src,
        },
        OutputSource {
            path: dev.clone(),
            source: dev_src,
        },
    ]
}

#[test]
fn outputs_register_together_with_references() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(&tmp.path().join("store"));
    let drv = store
        .add_text_to_store("p.drv", b"Derive()", &BTreeSet::new())
        .unwrap();
    let out = path("0d2w0sq0xmnm3hgmvinc3kxawp3wgmvh-p");
    let dev = path("1vnfzjcsbkkm0kl32mrzmnpwra8n4hr5-p-dev");
    let sources = two_outputs(tmp.path(), &out, &dev, None);
    let staged = store
        .stage_outputs(&sources, &BTreeSet::new(), Some(&drv))
        .unwrap();
    // Staged, not yet valid; the sources were moved away.
    assert!(!store.is_valid(&out).unwrap());
    assert!(!sources[0].source.exists());
    let infos = &staged.outputs();
    assert_eq!(infos[0].info.references, BTreeSet::from([dev.clone()]));
    assert!(infos[1].info.references.is_empty());
    assert_eq!(
        nar_hash(infos[0].content()).unwrap(),
        (infos[0].info.nar_hash, infos[0].info.nar_size)
    );
    let map = BTreeMap::from([
        ("out".to_owned(), out.clone()),
        ("dev".to_owned(), dev.clone()),
    ]);
    staged.commit(Some((&drv, &map))).unwrap();
    assert!(store.is_valid(&out).unwrap() && store.is_valid(&dev).unwrap());
    assert_eq!(
        store.query_references(&out).unwrap(),
        BTreeSet::from([dev.clone()])
    );
    assert_eq!(store.query_deriver(&dev).unwrap(), Some(drv.clone()));
    assert_eq!(store.query_derivation_outputs(&drv).unwrap(), map);
    let prog = store.real_path(&out).join("bin/prog");
    assert_eq!(
        fs::metadata(&prog).unwrap().permissions().mode() & 0o7777,
        0o555
    );
    assert_eq!(
        fs::metadata(store.real_path(&out).join("private"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o555
    );
    assert!(store.verify(true).unwrap().is_ok(), "store verifies");
}

#[test]
fn failure_in_the_middle_registers_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(&tmp.path().join("store"));
    let out = path("0d2w0sq0xmnm3hgmvinc3kxawp3wgmvh-p");
    let dev = path("1vnfzjcsbkkm0kl32mrzmnpwra8n4hr5-p-dev");
    // `out` also refers to a path that is not valid: both outputs are moved into place and
    // `dev` (listed second, inserted first in no particular order) gets its row before the
    // transaction fails on the missing reference.
    let ghost = path("2ab3cw0wj7rxv2ascpqxndh5ijgsbx7r-ghost");
    let sd = StoreDir::default();
    let sources = two_outputs(tmp.path(), &out, &dev, Some(&sd.print_path(&ghost)));
    let err = store
        .register_built_outputs(&sources, &BTreeSet::from([ghost.clone()]), None)
        .unwrap_err();
    assert!(
        matches!(err, AddError::Db(DbError::MissingReference { .. })),
        "{err}"
    );
    for p in [&out, &dev] {
        assert!(!store.is_valid(p).unwrap(), "{p:?} must not be registered");
        assert!(
            fs::symlink_metadata(store.real_path(p)).is_err(),
            "{p:?} must not be left in place"
        );
    }
    assert!(store.valid_paths().unwrap().is_empty());
    // The outputs went back where they were.
    assert!(sources[0].source.join("bin/prog").exists() && sources[1].source.exists());
    // No temporaries are left behind either.
    let leftovers: Vec<_> = fs::read_dir(store.real_store_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A staging failure (a FIFO cannot be serialised) after the first output was staged
    // also leaves nothing behind.
    let sources = two_outputs(&tmp.path().join("again"), &out, &dev, None);
    fs::remove_file(&sources[1].source).unwrap();
    nix::unistd::mkfifo(
        &sources[1].source,
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    assert!(store
        .register_built_outputs(&sources, &BTreeSet::new(), None)
        .is_err());
    assert!(store.valid_paths().unwrap().is_empty());
    let leftovers: Vec<_> = fs::read_dir(store.real_store_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
