//! Binary caches: narinfo text, signatures, `file://` export and substitution between two
//! nixkit stores (xz and zstd), tampering detected with typed errors, and interop with
//! CppNix 2.8 in both directions when `nix-store` is on PATH.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use nixkit_store::binary_cache::{
    CacheError, Compression, FileCache, NarInfo, PublicKey, SecretKey,
};
use nixkit_store::local::{AddError, LocalStore, StoreConfig};
use nixkit_store::{FileIngestionMethod, HashAlgo, StoreDir, StorePath};

fn open(root: &Path) -> LocalStore {
    LocalStore::open(StoreConfig::new(root, StoreDir::default())).unwrap()
}

fn populate(store: &LocalStore, dir: &Path) -> (StorePath, StorePath) {
    fs::create_dir_all(dir.join("bin")).unwrap();
    fs::write(dir.join("bin/tool"), "#!/bin/sh\necho tool\n").unwrap();
    fs::write(dir.join("data"), vec![7u8; 100_000]).unwrap();
    let tree = store
        .add_to_store(
            "tree",
            dir,
            FileIngestionMethod::Recursive,
            HashAlgo::Sha256,
        )
        .unwrap();
    let top = store
        .add_text_to_store("top", b"uses tree", &BTreeSet::from([tree.clone()]))
        .unwrap();
    (tree, top)
}

/// Copies the closure of `path` into a new store through the export format, which carries
/// no content addresses.
fn strip_ca(from: &LocalStore, root: &Path, path: &StorePath) -> LocalStore {
    let mut stream = Vec::new();
    let closure = from.query_closure(&BTreeSet::from([path.clone()])).unwrap();
    nixkit_store::export::export_paths(from, &closure, &mut stream).unwrap();
    let store = open(root);
    nixkit_store::export::import_paths(&store, &mut stream.as_slice()).unwrap();
    assert!(store.query_path_info(path).unwrap().unwrap().ca.is_none());
    store
}

fn have_nix() -> bool {
    Command::new("nix-store")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn keys_sign_and_verify() {
    let key = SecretKey::generate("cache.example-1").unwrap();
    let parsed = SecretKey::parse(&key.to_text()).unwrap();
    let public = PublicKey::parse(&parsed.public_key().to_text()).unwrap();
    let sig = parsed.sign(b"fingerprint");
    assert!(sig.starts_with("cache.example-1:"));
    assert!(public.verify(b"fingerprint", &sig));
    assert!(!public.verify(b"other", &sig));
    assert!(SecretKey::parse("nocolon").is_err());
    assert!(PublicKey::parse("k:AAAA").is_err());
}

#[test]
fn narinfo_round_trip_and_errors() {
    let dir = StoreDir::default();
    let text = "StorePath: /nix/store/4s1ycmcic8rv4r79jww080vg793qxr8l-t\n\
URL: nar/09x4fnxzj67m7w5zf7xzjbrcsrsd9sxcp3psfkwsalg4qnrg2c67.nar.xz\n\
Compression: xz\n\
FileHash: sha256:09x4fnxzj67m7w5zf7xzjbrcsrsd9sxcp3psfkwsalg4qnrg2c67\n\
FileSize: 232\n\
NarHash: sha256:180ijh0r4xz12xznga8s2ywig6fxfy4924hjh8nhz2jfz2jn6kk5\n\
NarSize: 880\n\
References: \n\
Sig: test1:vRH8KzzEPva6xJA9kH7gKukWZIMpihoKhQO4yYfcATDLG2/47ZIbK09U4CNDGUyRWkdBIztBlNUx8Pm8LWY+Cw==\n\
CA: fixed:r:sha256:180ijh0r4xz12xznga8s2ywig6fxfy4924hjh8nhz2jfz2jn6kk5\n";
    let info = NarInfo::parse(&dir, text).unwrap();
    assert_eq!(
        info.to_text(&dir),
        text,
        "CppNix's narinfo is reproduced byte for byte"
    );
    // That signature was made by CppNix 2.8 with this key.
    let key = PublicKey::parse("test1:KZLrhgpC7UV4xT+hv/gZ9L+d4+58U/1ICFGB2MFlX+0=").unwrap();
    assert!(nixkit_store::binary_cache::has_valid_signature(
        &dir,
        &info.info,
        &[key]
    ));
    for bad in [
        text.replace("NarSize: 880", "NarSize: 0"),
        text.replace("StorePath: ", "StorePath: /tmp/"),
        text.replace("NarHash: sha256:", "NarHash: md5:"),
        text.replace("URL: ", "URL "),
    ] {
        assert!(NarInfo::parse(&dir, &bad).is_err(), "{bad}");
    }
}

#[test]
fn export_and_substitute_between_nixkit_stores() {
    let tmp = tempfile::tempdir().unwrap();
    let one = open(&tmp.path().join("one"));
    let (tree, top) = populate(&one, &tmp.path().join("src"));
    let key = SecretKey::generate("nixkit-test-1").unwrap();
    for compression in [Compression::Xz, Compression::Zstd, Compression::None] {
        let cache_dir = tmp.path().join(format!("cache-{}", compression.name()));
        let cache = FileCache::new(
            &format!("file://{}", cache_dir.display()),
            StoreDir::default(),
        )
        .unwrap();
        let written = cache
            .copy_closure(
                &one,
                &BTreeSet::from([top.clone()]),
                compression,
                Some(&key),
            )
            .unwrap();
        assert_eq!(written, vec![tree.clone(), top.clone()]);
        let two = open(&tmp.path().join(format!("two-{}", compression.name())));
        let added = cache
            .substitute(&two, &top, &[key.public_key()], true)
            .unwrap();
        assert_eq!(added, vec![tree.clone(), top.clone()]);
        assert!(two.verify(true).unwrap().is_ok());
        assert!(!two.query_path_info(&top).unwrap().unwrap().sigs.is_empty());
    }

    // Content-addressed paths need no signature (as in CppNix); their content is checked.
    let cache_dir = tmp.path().join("cache-xz");
    let cache = FileCache::new(cache_dir.to_str().unwrap(), StoreDir::default()).unwrap();
    let other = SecretKey::generate("other-1").unwrap().public_key();
    let ca_only = open(&tmp.path().join("ca-only"));
    cache
        .substitute(&ca_only, &top, std::slice::from_ref(&other), true)
        .unwrap();

    // Without a content address: untrusted key, tampered narinfo, tampered NAR file,
    // corrupt narinfo all give typed errors.
    let cache_dir = tmp.path().join("cache-plain");
    let plain = strip_ca(&one, &tmp.path().join("plain"), &top);
    FileCache::new(cache_dir.to_str().unwrap(), StoreDir::default())
        .unwrap()
        .copy_closure(
            &plain,
            &BTreeSet::from([top.clone()]),
            Compression::Xz,
            Some(&key),
        )
        .unwrap();
    let cache = FileCache::new(cache_dir.to_str().unwrap(), StoreDir::default()).unwrap();
    let other = SecretKey::generate("other-1").unwrap().public_key();
    let three = open(&tmp.path().join("three"));
    assert!(matches!(
        cache.substitute(&three, &top, &[other], true),
        Err(CacheError::Untrusted(_))
    ));
    let narinfo = cache_dir.join(format!("{}.narinfo", tree.hash_part()));
    let original = fs::read_to_string(&narinfo).unwrap();
    let nar_url = original
        .lines()
        .find_map(|l| l.strip_prefix("URL: "))
        .unwrap()
        .to_owned();
    fs::write(&narinfo, original.replace("NarSize: ", "NarSize: 1")).unwrap();
    assert!(matches!(
        cache.substitute(&three, &tree, &[key.public_key()], true),
        Err(CacheError::Untrusted(_))
    ));
    // Without signature checking the size mismatch is still caught by the NAR check.
    assert!(matches!(
        cache.substitute(&three, &tree, &[], false),
        Err(CacheError::Add(AddError::SizeMismatch { .. }))
    ));
    fs::write(&narinfo, "garbage").unwrap();
    assert!(matches!(
        cache.substitute(&three, &tree, &[], false),
        Err(CacheError::NarInfo { .. })
    ));
    fs::write(&narinfo, &original).unwrap();
    let nar_file = cache_dir.join(&nar_url);
    let mut data = fs::read(&nar_file).unwrap();
    let last = data.len() - 1;
    data[last] ^= 1;
    fs::write(&nar_file, data).unwrap();
    assert!(matches!(
        cache.substitute(&three, &tree, &[key.public_key()], true),
        Err(CacheError::FileHashMismatch { .. })
    ));
    assert!(three.valid_paths().unwrap().is_empty());
    assert!(three.verify(true).unwrap().is_ok());
}

fn nix(args: &[&str]) -> std::process::Output {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn cppnix_substitutes_from_a_nixkit_cache() {
    if !have_nix() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let one = open(&tmp.path().join("one"));
    let (tree, top) = populate(&one, &tmp.path().join("src"));
    let key = SecretKey::generate("nixkit-test-1").unwrap();
    let cache_dir = tmp.path().join("cache");
    let url = format!("file://{}", cache_dir.display());
    let cache = FileCache::new(&url, StoreDir::default()).unwrap();
    cache
        .copy_closure(
            &one,
            &BTreeSet::from([top.clone()]),
            Compression::Xz,
            Some(&key),
        )
        .unwrap();
    let dir = StoreDir::default();
    let store = format!("local?root={}", tmp.path().join("cpp").display());
    let pk = key.public_key().to_text();
    let out = nix(&[
        "nix-store",
        "--store",
        &store,
        "--realise",
        &dir.print_path(&top),
        "--option",
        "substituters",
        &url,
        "--option",
        "trusted-public-keys",
        &pk,
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        dir.print_path(&top)
    );
    let refs = nix(&[
        "nix-store",
        "--store",
        &store,
        "--query",
        "--references",
        &dir.print_path(&top),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&refs.stdout).trim(),
        dir.print_path(&tree)
    );
    nix(&[
        "nix-store",
        "--store",
        &store,
        "--verify",
        "--check-contents",
    ]);

    // CppNix accepts content-addressed paths without a trusted signature (so does nixkit);
    // a path without a content address and with an untrusted signature is refused.
    let plain = strip_ca(&one, &tmp.path().join("plain"), &top);
    let cache_dir = tmp.path().join("cache-plain");
    let url = format!("file://{}", cache_dir.display());
    FileCache::new(&url, StoreDir::default())
        .unwrap()
        .copy_closure(
            &plain,
            &BTreeSet::from([top.clone()]),
            Compression::Xz,
            Some(&key),
        )
        .unwrap();
    let other = SecretKey::generate("other-1")
        .unwrap()
        .public_key()
        .to_text();
    let refused = Command::new("nix-store")
        .args([
            "--store",
            &format!("local?root={}", tmp.path().join("cpp2").display()),
        ])
        .args([
            "--realise",
            &dir.print_path(&top),
            "--option",
            "substituters",
            &url,
        ])
        .args(["--option", "trusted-public-keys", &other])
        .output()
        .unwrap();
    assert!(!refused.status.success());
}

#[test]
fn nixkit_substitutes_from_a_cppnix_cache() {
    if !have_nix() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = |p: &str| tmp.path().join(p).to_str().unwrap().to_owned();
    nix(&[
        "nix-store",
        "--generate-binary-cache-key",
        "cppnix-test-1",
        &t("sk"),
        &t("pk"),
    ]);
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("file"), "from cppnix\n").unwrap();
    std::os::unix::fs::symlink("file", src.join("link")).unwrap();
    let store = format!("local?root={}", t("cpp"));
    let out = nix(&["nix-store", "--store", &store, "--add", &t("src")]);
    let printed = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let text = format!("{} is referenced", printed);
    fs::write(tmp.path().join("ref"), text).unwrap();
    let cache_url = format!("file://{}", t("cache"));
    nix(&[
        "nix",
        "--extra-experimental-features",
        "nix-command",
        "copy",
        "--store",
        &store,
        "--to",
        &format!("{cache_url}?secret-key={}", t("sk")),
        &printed,
    ]);
    let dir = StoreDir::default();
    let path = dir.parse_path(&printed).unwrap();
    let pk = PublicKey::parse(&fs::read_to_string(tmp.path().join("pk")).unwrap()).unwrap();
    let cache = FileCache::new(&cache_url, dir.clone()).unwrap();
    let ours = open(&tmp.path().join("ours"));
    assert_eq!(
        cache
            .substitute(&ours, &path, std::slice::from_ref(&pk), true)
            .unwrap(),
        vec![path.clone()]
    );
    assert!(ours.verify(true).unwrap().is_ok());
    let info = ours.query_path_info(&path).unwrap().unwrap();
    assert!(info.sigs.iter().any(|s| s.starts_with("cppnix-test-1:")));
    assert!(info.ca.is_some());
    // CppNix's signature checks out with its key and not with another of the same name.
    let narinfo = cache.narinfo(&path).unwrap().unwrap();
    let other = SecretKey::generate("cppnix-test-1").unwrap().public_key();
    assert!(nixkit_store::binary_cache::has_valid_signature(
        &dir,
        &narinfo.info,
        &[pk]
    ));
    assert!(!nixkit_store::binary_cache::has_valid_signature(
        &dir,
        &narinfo.info,
        std::slice::from_ref(&other)
    ));
    // Its path is content-addressed, so (as in CppNix) it is accepted without a trusted
    // signature, after its content is checked; a forged content address is refused.
    let fresh = open(&tmp.path().join("fresh"));
    cache
        .substitute(&fresh, &path, std::slice::from_ref(&other), true)
        .unwrap();
    let file = tmp
        .path()
        .join(format!("cache/{}.narinfo", path.hash_part()));
    let text = fs::read_to_string(&file).unwrap();
    let ca = text
        .lines()
        .find_map(|l| l.strip_prefix("CA: "))
        .unwrap()
        .to_owned();
    let forged = format!(
        "{}{}",
        &ca[..ca.len() - 1],
        if ca.ends_with('0') { '1' } else { '0' }
    );
    fs::write(&file, text.replace(&ca, &forged)).unwrap();
    let again = open(&tmp.path().join("again"));
    assert!(matches!(
        cache.substitute(&again, &path, &[other], true),
        Err(CacheError::Untrusted(_))
    ));
}
