//! `build_env`, the symlink tree of `builtin:buildenv` as a library function: shared
//! directories become real directories, priorities decide collisions (equal ones are a
//! typed conflict naming both files), propagated packages follow at lower priority, and
//! packages the caller does not allow are refused.
#![allow(clippy::unwrap_used, missing_docs)]

use std::fs;
use std::path::Path;

use nixkit_sandbox::{build_env, BuildEnvError, EnvPackage, EnvSpec};
use nixkit_store::{StoreDir, StorePath};

/// Writes a fake store path `NAME` under `real` holding `files` (`path` or `path=text`).
fn package(real: &Path, hash: char, name: &str, files: &[&str]) -> String {
    let base = format!("{}-{name}", hash.to_string().repeat(32));
    for f in files {
        let (file, text) = f.split_once('=').unwrap_or((f, name));
        let p = real.join(&base).join(file);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }
    format!("/nix/store/{base}")
}

fn pkg(path: &str, priority: i64) -> EnvPackage {
    EnvPackage {
        path: path.to_owned(),
        active: true,
        priority,
    }
}

fn link(out: &Path, rel: &str) -> String {
    fs::read_link(out.join(rel))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn environments_merge_prioritise_and_propagate() {
    let tmp = tempfile::tempdir().unwrap();
    let real = tmp.path().join("store");
    let store_dir = StoreDir::default();
    let a = package(&real, 'a', "a", &["bin/a", "share/doc/a", "lib/liba"]);
    let b = package(&real, 'b', "b", &["bin/b", "share/doc/b"]);
    let c = package(&real, 'c', "c", &["bin/a=c's a"]);
    let d = package(&real, 'd', "d", &["bin/d", "nix-support/x"]);
    // a propagates d: linked after the others, at a lower priority.
    fs::create_dir_all(real.join(&a[11..]).join("nix-support")).unwrap();
    fs::write(
        real.join(&a[11..])
            .join("nix-support/propagated-user-env-packages"),
        format!("{d} {b}"),
    )
    .unwrap();
    let allow_all = |_: &StorePath| true;
    let spec = |packages: Vec<EnvPackage>| EnvSpec {
        store_dir: &store_dir,
        real_store: &real,
        packages,
        manifest: Some("/nix/store/mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm-env-manifest.nix".into()),
        out_logical: "/nix/store/oooooooooooooooooooooooooooooooo-env".into(),
        allowed: &allow_all,
    };

    let out = tmp.path().join("env1");
    build_env(&spec(vec![pkg(&a, 5), pkg(&b, 5)]), &out).unwrap();
    assert!(fs::symlink_metadata(out.join("bin")).unwrap().is_dir());
    assert!(fs::symlink_metadata(out.join("share/doc"))
        .unwrap()
        .is_dir());
    assert_eq!(link(&out, "lib"), format!("{a}/lib"));
    assert_eq!(link(&out, "bin/b"), format!("{b}/bin/b"));
    assert_eq!(link(&out, "bin/d"), format!("{d}/bin/d"));
    assert!(!out.join("nix-support").exists());
    assert!(link(&out, "manifest.nix").ends_with("-env-manifest.nix"));

    // Equal priorities: a conflict naming both files and the place.
    match build_env(
        &spec(vec![pkg(&a, 5), pkg(&c, 5)]),
        &tmp.path().join("env2"),
    ) {
        Err(BuildEnvError::Conflict {
            existing,
            new,
            file,
            priority,
        }) => {
            assert_eq!(file, "bin/a");
            assert_eq!(priority, 5);
            let mut both = [existing, new];
            both.sort();
            assert_eq!(both, [format!("{a}/bin/a"), format!("{c}/bin/a")]);
        }
        other => panic!("{other:?}"),
    }
    // A lower number wins, in either order.
    for (i, pkgs) in [vec![pkg(&a, 5), pkg(&c, 1)], vec![pkg(&c, 1), pkg(&a, 5)]]
        .into_iter()
        .enumerate()
    {
        let out = tmp.path().join(format!("env-prio{i}"));
        build_env(&spec(pkgs), &out).unwrap();
        assert_eq!(link(&out, "bin/a"), format!("{c}/bin/a"));
    }
    // Inactive packages are left out; a package the caller does not allow is refused.
    let out = tmp.path().join("env3");
    let mut inactive = pkg(&c, 5);
    inactive.active = false;
    build_env(&spec(vec![pkg(&b, 5), inactive]), &out).unwrap();
    assert!(fs::symlink_metadata(out.join("bin/a")).is_err());
    let only_b = |p: &StorePath| p.name() == "b";
    let refused = build_env(
        &EnvSpec {
            allowed: &only_b,
            ..spec(vec![pkg(&b, 5), pkg(&a, 5)])
        },
        &tmp.path().join("env4"),
    );
    assert!(
        matches!(&refused, Err(BuildEnvError::NotAllowed(p)) if *p == a),
        "{refused:?}"
    );
}
