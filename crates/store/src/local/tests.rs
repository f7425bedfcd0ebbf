//! Unit tests that need the database handle: corrupt rows give typed errors and lose nothing.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use super::{DbError, LocalStore, QueryError, StoreConfig};
use crate::StoreDir;

fn store() -> (tempfile::TempDir, LocalStore) {
    let root = tempfile::tempdir().unwrap();
    let store = LocalStore::open(StoreConfig::new(root.path(), StoreDir::default())).unwrap();
    (root, store)
}

#[test]
fn corrupt_rows_are_typed_errors_and_the_rest_survives() {
    let (_root, store) = store();
    let a = store
        .add_text_to_store("a", b"aaa", &BTreeSet::new())
        .unwrap();
    let b = store
        .add_text_to_store("b", b"bbb", &BTreeSet::new())
        .unwrap();
    let printed = store.store_dir().print_path(&a);
    store
        .db_for_tests()
        .execute(
            "UPDATE ValidPaths SET hash = 'sha256:zz' WHERE path = ?1",
            [&printed],
        )
        .unwrap();
    let err = store.query_path_info(&a).unwrap_err();
    assert!(
        matches!(
            err,
            QueryError::Db(DbError::CorruptRow { column: "hash", .. })
        ),
        "{err}"
    );
    // The other path is untouched and verify reports exactly the corrupt row.
    assert!(store.query_path_info(&b).unwrap().is_some());
    let report = store.verify(true).unwrap();
    assert_eq!(report.corrupt_rows.len(), 1);
    assert_eq!(report.checked, 2);
    assert!(store.real_path(&a).exists());

    // A row whose path is not a store path is reported, not fatal.
    store
        .db_for_tests()
        .execute(
            "INSERT INTO ValidPaths (path, hash, registrationTime) VALUES ('/elsewhere/x', 'sha256:00', 0)",
            [],
        )
        .unwrap();
    let report = store.verify(false).unwrap();
    assert_eq!(report.corrupt_rows.len(), 2);
    assert!(store.valid_paths().unwrap().contains(&b));
}

#[test]
fn bad_content_address_and_deriver_are_typed() {
    let (_root, store) = store();
    let a = store
        .add_text_to_store("a", b"x", &BTreeSet::new())
        .unwrap();
    let printed = store.store_dir().print_path(&a);
    let conn = store.db_for_tests();
    conn.execute(
        "UPDATE ValidPaths SET ca = 'bogus' WHERE path = ?1",
        [&printed],
    )
    .unwrap();
    assert!(matches!(
        store.query_path_info(&a),
        Err(QueryError::Db(DbError::CorruptRow { column: "ca", .. }))
    ));
    conn.execute(
        "UPDATE ValidPaths SET ca = NULL, deriver = 'nope' WHERE path = ?1",
        [&printed],
    )
    .unwrap();
    assert!(matches!(
        store.query_path_info(&a),
        Err(QueryError::Db(DbError::CorruptRow {
            column: "deriver",
            ..
        }))
    ));
}

#[test]
fn adding_a_valid_path_again_copies_nothing() {
    use crate::{FileIngestionMethod, HashAlgo};
    let (root, store) = store();
    let src = root.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("sub/file"), b"content").unwrap();
    std::os::unix::fs::symlink("sub/file", src.join("link")).unwrap();
    let flat = root.path().join("flat");
    std::fs::write(&flat, b"flat content").unwrap();
    for (path, method, algo) in [
        (&src, FileIngestionMethod::Recursive, HashAlgo::Sha256),
        (&src, FileIngestionMethod::Recursive, HashAlgo::Sha1),
        (&flat, FileIngestionMethod::Flat, HashAlgo::Sha256),
    ] {
        let first = store.add_to_store("x", path, method, algo).unwrap();
        let temporaries = store.counter.get();
        let again = store.add_to_store("x", path, method, algo).unwrap();
        assert_eq!(first, again);
        assert_eq!(
            store.counter.get(),
            temporaries,
            "{method:?} {algo:?} copied again"
        );
        assert!(store.is_valid(&again).unwrap());
        // Changed content is a new path, and is copied.
        std::fs::write(src.join("sub/file"), format!("{method:?}{algo:?}")).unwrap();
        std::fs::write(&flat, format!("{method:?}{algo:?}")).unwrap();
        let changed = store.add_to_store("x", path, method, algo).unwrap();
        assert_ne!(changed, first);
        assert_eq!(store.counter.get(), temporaries + 1);
    }
    // A path kept because it is valid is a temporary root of this process.
    let roots = std::fs::read_to_string(store.temp_roots_file()).unwrap();
    assert!(roots.split('\0').count() >= 6, "{roots:?}");
}

#[test]
fn the_schema_is_made_once_and_again_when_its_marker_differs() {
    let (root, store) = store();
    let version = |s: &LocalStore| -> i64 {
        s.db_for_tests()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    };
    let marker = version(&store);
    assert_ne!(marker, 0);
    // A database made elsewhere (no marker) missing a table gets it on the next open.
    store
        .db_for_tests()
        .execute_batch("DROP TABLE DerivationOutputs; PRAGMA user_version = 0;")
        .unwrap();
    drop(store);
    let store = LocalStore::open(StoreConfig::new(root.path(), StoreDir::default())).unwrap();
    assert_eq!(version(&store), marker);
    let drv = store
        .add_text_to_store("x.drv", b"Derive()", &BTreeSet::new())
        .unwrap();
    let out = store
        .add_text_to_store("x", b"x", &BTreeSet::new())
        .unwrap();
    store
        .set_derivation_outputs(&drv, &[("out".to_owned(), out)].into_iter().collect())
        .unwrap();
}
