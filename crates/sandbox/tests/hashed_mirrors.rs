//! `hashed-mirrors`: a flat fixed-output `builtin:fetchurl` is first looked up as
//! `MIRROR/<algo>/<base16 hash>` in each mirror in turn (a miss falls through to the next
//! mirror, then to the URL), so a URL no fetcher can reach still builds from a mirror.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::*;
use nixkit_sandbox::{RealiseError, RealiseOptions};
use nixkit_store::{Hash, HashAlgo};

/// A mirror directory under the test's directory holding `files` as `sha256/<hex>`,
/// readable by the build user.
fn mirror(t: &TestStore, name: &str, files: &[(&Hash, &[u8])]) -> PathBuf {
    let root = t.dir.path().join(name);
    std::fs::create_dir_all(root.join("sha256")).unwrap();
    for (hash, data) in files {
        std::fs::write(root.join("sha256").join(hash.to_base16()), data).unwrap();
    }
    for p in [t.dir.path(), &root, &root.join("sha256")] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    root
}

fn options(mirrors: &[&Path]) -> RealiseOptions {
    let mut opts = RealiseOptions::default();
    let urls: Vec<String> = mirrors
        .iter()
        .map(|m| format!("file://{}/", m.display()))
        .collect();
    assert!(opts
        .settings
        .set_option("hashed-mirrors", &urls.join(" "))
        .unwrap());
    opts
}

fn failure_text(r: Result<nixkit_sandbox::Realised, RealiseError>) -> String {
    match r {
        Err(RealiseError::BuildsFailed(f)) => f
            .into_iter()
            .map(|(_, e)| e.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn fetches_come_from_the_first_mirror_holding_the_hash() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    let tarball: &[u8] = b"pretend this is hello-2.10.tar.gz\n";
    let other: &[u8] = b"another release\n";
    let (h1, h2) = (
        Hash::digest(HashAlgo::Sha256, tarball),
        Hash::digest(HashAlgo::Sha256, other),
    );
    let empty = mirror(&t, "empty-mirror", &[]);
    let full = mirror(&t, "full-mirror", &[(&h1, tarball), (&h2, other)]);
    // The URL's scheme is one no fetcher knows: only the mirror can serve it.
    let d1 = t.fetchurl(
        "hello-2.10.tar.gz",
        "mirror://gnu/hello/hello-2.10.tar.gz",
        h1,
    );
    let d2 = t.fetchurl("other.tar.gz", "mirror://other/other.tar.gz", h2);
    t.build_with(&[d1.clone(), d2.clone()], &options(&[&empty, &full]))
        .unwrap();
    assert_eq!(std::fs::read(t.real(&t.out(&d1, "out"))).unwrap(), tarball);
    assert_eq!(std::fs::read(t.real(&t.out(&d2, "out"))).unwrap(), other);
}

#[test]
fn a_miss_everywhere_reports_the_url_and_wrong_mirror_content_is_rejected() {
    if unsupported() {
        return;
    }
    let mut t = TestStore::new();
    let wanted = Hash::digest(HashAlgo::Sha256, b"the real tarball\n");
    let empty = mirror(&t, "empty-mirror", &[]);
    // Neither mirrors nor the URL have it.
    let d = t.fetchurl("missing.tar.gz", "mirror://gnu/missing.tar.gz", wanted);
    let msg = failure_text(t.build_with(std::slice::from_ref(&d), &options(&[&empty])));
    assert!(msg.contains("mirror://gnu/missing.tar.gz"), "{msg}");
    assert!(!t.is_valid(&t.out(&d, "out")));
    // Without the setting the mirror is not consulted.
    let full = mirror(&t, "full-mirror", &[(&wanted, b"the real tarball\n")]);
    let msg = failure_text(t.build_with(std::slice::from_ref(&d), &options(&[])));
    assert!(msg.contains("unsupported URL"), "{msg}");
    // A mirror file whose content does not have its name's hash fails the hash check.
    let liar = mirror(&t, "lying-mirror", &[(&wanted, b"tampered\n")]);
    let msg = failure_text(t.build_with(std::slice::from_ref(&d), &options(&[&liar, &full])));
    assert!(msg.contains("hash mismatch"), "{msg}");
    assert!(!t.is_valid(&t.out(&d, "out")));
    // And from the honest mirror it builds.
    t.build_with(std::slice::from_ref(&d), &options(&[&empty, &full]))
        .unwrap();
    assert_eq!(
        std::fs::read(t.real(&t.out(&d, "out"))).unwrap(),
        b"the real tarball\n"
    );
}
