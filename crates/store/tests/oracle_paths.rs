//! Oracle tests for content-addressed store paths: `nix-store --add` / `--add-fixed` into a
//! throw-away chroot store, against `make_fixed_output_path` over our own hashes, for the
//! default and a non-default store directory.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use nixkit_store::hash_path::hash_path;
use nixkit_store::{FileIngestionMethod, HashAlgo, StoreDir};

fn nix_store(store: &str, args: &[&str], path: &Path) -> String {
    let out = Command::new("nix-store")
        .args(["--store", store])
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn oracle_nix_store_add_fixed() {
    if !Command::new("nix-store")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("skipped: nix-store not on PATH");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("tree/sub")).unwrap();
    fs::write(src.join("tree/a"), b"alpha\n").unwrap();
    fs::write(src.join("tree/sub/b"), b"").unwrap();
    std::os::unix::fs::symlink("a", src.join("tree/link")).unwrap();
    fs::write(src.join("file.txt"), b"flat contents\n").unwrap();

    let mut compared = 0;
    for store_dir in ["/nix/store", "/gnu/nixkit-test-store"] {
        let root = tmp.path().join(format!("root{compared}"));
        let store = format!("local?root={}&store={store_dir}", root.display());
        let dir = StoreDir::new(store_dir).unwrap();
        let none = BTreeSet::new();
        let cases: [(&str, FileIngestionMethod, HashAlgo, Vec<&str>); 7] = [
            (
                "tree",
                FileIngestionMethod::Recursive,
                HashAlgo::Sha256,
                vec!["--add"],
            ),
            (
                "file.txt",
                FileIngestionMethod::Recursive,
                HashAlgo::Sha256,
                vec!["--add"],
            ),
            (
                "tree",
                FileIngestionMethod::Recursive,
                HashAlgo::Sha1,
                vec!["--add-fixed", "--recursive", "sha1"],
            ),
            (
                "tree",
                FileIngestionMethod::Recursive,
                HashAlgo::Sha512,
                vec!["--add-fixed", "--recursive", "sha512"],
            ),
            (
                "file.txt",
                FileIngestionMethod::Flat,
                HashAlgo::Sha256,
                vec!["--add-fixed", "sha256"],
            ),
            (
                "file.txt",
                FileIngestionMethod::Flat,
                HashAlgo::Md5,
                vec!["--add-fixed", "md5"],
            ),
            (
                "file.txt",
                FileIngestionMethod::Flat,
                HashAlgo::Sha1,
                vec!["--add-fixed", "sha1"],
            ),
        ];
        for (name, method, algo, args) in cases {
            let path = src.join(name);
            let theirs = nix_store(&store, &args, &path);
            let (hash, _) = hash_path(&path, algo, method).unwrap();
            let ours = dir
                .make_fixed_output_path(name, method, &hash, &none, false)
                .unwrap();
            assert_eq!(dir.print_path(&ours), theirs, "{store_dir} {args:?} {name}");
            compared += 1;
        }
    }
    eprintln!("compared {compared} nix-store --add/--add-fixed paths");
}
