//! User environments built from packages added to a scratch store: shared directories are
//! merged, a file provided twice is a collision naming both packages unless priorities
//! decide, the result's references are the packages and the manifest, and the same
//! packages give the same path.
#![allow(clippy::unwrap_used, missing_docs)]

use std::fs;
use std::path::Path;

use nixkit_profile::{build_user_env, manifest, BuildEnvError, MetaValue, Package};
use nixkit_store::local::{LocalStore, StoreConfig};
use nixkit_store::{FileIngestionMethod, HashAlgo, StoreDir};

fn add_pkg(store: &LocalStore, tmp: &Path, name: &str, files: &[&str]) -> Package {
    let src = tmp.join(format!("src-{name}"));
    for f in files {
        let p = src.join(f);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, format!("{name}:{f}")).unwrap();
    }
    let path = store
        .add_to_store(name, &src, FileIngestionMethod::Recursive, HashAlgo::Sha256)
        .unwrap();
    Package {
        name: name.to_owned(),
        system: "x86_64-linux".into(),
        outputs: vec![("out".into(), store.store_dir().print_path(&path))],
        meta: Vec::new(),
        source: None,
    }
}

#[test]
fn environments_merge_directories_and_resolve_collisions_by_priority() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LocalStore::open(StoreConfig::new(
        tmp.path().join("store"),
        StoreDir::default(),
    ))
    .unwrap();
    let a = add_pkg(
        &store,
        tmp.path(),
        "a-1.0",
        &["bin/a", "share/doc/a.txt", "lib/liba"],
    );
    let b = add_pkg(&store, tmp.path(), "b-2.0", &["bin/b", "share/doc/b.txt"]);
    let c = add_pkg(&store, tmp.path(), "c-1", &["bin/a", "etc/c.conf"]);
    let host = |p: &str| {
        store
            .real_store_dir()
            .join(p.trim_start_matches("/nix/store/"))
    };

    let env = build_user_env(&store, &[a.clone(), b.clone()]).unwrap();
    let root = store.real_path(&env);
    // `bin` and `share/doc` come from both, so they are real directories; `lib` only from a.
    assert!(fs::symlink_metadata(root.join("bin")).unwrap().is_dir());
    assert!(fs::symlink_metadata(root.join("share/doc"))
        .unwrap()
        .is_dir());
    assert_eq!(
        fs::read_link(root.join("lib")).unwrap().to_str().unwrap(),
        format!("{}/lib", a.out_path())
    );
    assert_eq!(
        fs::read_link(root.join("bin/b")).unwrap().to_str().unwrap(),
        format!("{}/bin/b", b.out_path())
    );
    // The manifest reads back, and the references are the packages and the manifest.
    let manifest_link = fs::read_link(root.join("manifest.nix")).unwrap();
    let back = manifest::read(&host(manifest_link.to_str().unwrap())).unwrap();
    assert_eq!(back, vec![a.clone(), b.clone()]);
    let refs: Vec<String> = store
        .query_references(&env)
        .unwrap()
        .iter()
        .map(|p| store.store_dir().print_path(p))
        .collect();
    assert_eq!(refs.len(), 3, "{refs:?}");
    assert!(refs.contains(&a.out_path().to_owned()) && refs.contains(&b.out_path().to_owned()));
    assert!(store.verify(true).unwrap().is_ok());
    // Deterministic.
    assert_eq!(
        build_user_env(&store, &[a.clone(), b.clone()]).unwrap(),
        env
    );

    // a and c both provide bin/a at the default priority.
    match build_user_env(&store, &[a.clone(), c.clone()]) {
        Err(BuildEnvError::Collision {
            file,
            first,
            second,
            priority,
        }) => {
            assert_eq!(
                (file.as_str(), first.as_str(), second.as_str(), priority),
                ("bin/a", "a-1.0", "c-1", 5)
            );
        }
        other => panic!("{other:?}"),
    }
    // A lower number wins, whichever comes first.
    let mut c1 = c.clone();
    c1.meta = vec![("priority".into(), MetaValue::Int(1))];
    for pkgs in [vec![a.clone(), c1.clone()], vec![c1.clone(), a.clone()]] {
        let env = build_user_env(&store, &pkgs).unwrap();
        let root = store.real_path(&env);
        assert_eq!(
            fs::read_link(root.join("bin/a")).unwrap().to_str().unwrap(),
            format!("{}/bin/a", c1.out_path())
        );
        assert!(root.join("etc").exists() || fs::symlink_metadata(root.join("etc")).is_ok());
    }
    // A package whose output is not in the store is refused.
    let mut ghost = b.clone();
    ghost.outputs[0].1 = "/nix/store/00000000000000000000000000000000-ghost".into();
    assert!(matches!(
        build_user_env(&store, &[ghost]),
        Err(BuildEnvError::InvalidOutput { .. })
    ));
    // The empty environment holds only the manifest.
    let empty = build_user_env(&store, &[]).unwrap();
    let names: Vec<_> = fs::read_dir(store.real_path(&empty))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["manifest.nix"]);
}
