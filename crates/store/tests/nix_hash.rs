//! Oracle tests for the `nix-hash` operations: hashing paths (flat and NAR, every algorithm,
//! base16/base32, truncation) and converting hash strings, compared with CppNix's `nix-hash`.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use nixkit_store::hash_path::{convert_hash, format_hash, hash_path};
use nixkit_store::{FileIngestionMethod, Hash, HashAlgo, HashEncoding};

fn nix_hash(args: &[&str]) -> Option<Result<String, String>> {
    let out = Command::new("nix-hash").args(args).output().ok()?;
    Some(if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap().trim_end().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    })
}

fn make_tree(root: &Path) {
    fs::create_dir_all(root.join("d/sub")).unwrap();
    fs::write(root.join("d/file"), b"some contents\n").unwrap();
    fs::write(root.join("d/sub/empty"), b"").unwrap();
    fs::write(root.join("d/sub/tool"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(root.join("d/sub/tool"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("file", root.join("d/link")).unwrap();
    fs::write(root.join("big"), vec![7u8; 200_000]).unwrap();
}

#[test]
fn oracle_nix_hash_paths_and_conversions() {
    if nix_hash(&["--version"]).is_none() {
        eprintln!("skipped: nix-hash not on PATH");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    make_tree(tmp.path());
    let mut compared = 0;
    let targets = [
        ("d", false),
        ("d/file", true),
        ("d/link", true),
        ("big", true),
    ];
    for algo in HashAlgo::ALL {
        for (target, flat_ok) in targets {
            let path = tmp.path().join(target);
            let p = path.to_str().unwrap();
            let methods: &[(FileIngestionMethod, Option<&str>)] = if flat_ok {
                &[
                    (FileIngestionMethod::Recursive, None),
                    (FileIngestionMethod::Flat, Some("--flat")),
                ]
            } else {
                &[(FileIngestionMethod::Recursive, None)]
            };
            for &(method, flat_flag) in methods {
                let (hash, _) = hash_path(&path, algo, method).unwrap();
                for (encoding, enc_flag) in [
                    (HashEncoding::Base16, None),
                    (HashEncoding::Nix32, Some("--base32")),
                ] {
                    for truncate in [false, true] {
                        let mut args = vec!["--type", algo.name()];
                        args.extend(flat_flag);
                        args.extend(enc_flag);
                        if truncate {
                            args.push("--truncate");
                        }
                        args.push(p);
                        let theirs = nix_hash(&args).unwrap().unwrap();
                        assert_eq!(format_hash(&hash, encoding, truncate), theirs, "{args:?}");
                        compared += 1;
                    }
                }
            }
        }
        // Conversions between every form, including the algo-prefixed and SRI inputs.
        let h = Hash::digest(algo, b"conversion input");
        let inputs = [
            h.to_base16(),
            h.to_nix32(),
            h.encode(HashEncoding::Base16, true),
            h.encode(HashEncoding::Nix32, true),
            h.to_sri(),
        ];
        for input in &inputs {
            for (encoding, flag) in [
                (HashEncoding::Base16, "--to-base16"),
                (HashEncoding::Nix32, "--to-base32"),
            ] {
                let theirs = nix_hash(&[flag, "--type", algo.name(), input]).unwrap();
                let ours = convert_hash(input, algo, encoding);
                assert_eq!(
                    ours.is_ok(),
                    theirs.is_ok(),
                    "{flag} {input}: {ours:?} vs {theirs:?}"
                );
                if let (Ok(a), Ok(b)) = (ours, theirs) {
                    assert_eq!(a, b, "{flag} {input}");
                }
                compared += 1;
            }
        }
    }
    // Inputs both must reject: wrong algorithm, wrong length, bad characters.
    let sha1 = Hash::digest(HashAlgo::Sha1, b"");
    for bad in [
        sha1.encode(HashEncoding::Base16, true),
        "abc".to_owned(),
        "e".repeat(52),
    ] {
        assert!(nix_hash(&["--to-base16", "--type", "sha256", &bad])
            .unwrap()
            .is_err());
        assert!(convert_hash(&bad, HashAlgo::Sha256, HashEncoding::Base16).is_err());
        compared += 1;
    }
    eprintln!("compared {compared} nix-hash invocations");
}
