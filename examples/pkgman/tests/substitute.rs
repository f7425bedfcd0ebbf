//! Installing from a binary cache: what one user built and uploaded (signed) to a
//! `file://` cache, another user's pkgman substitutes instead of building; a cache signed
//! by a key that is not trusted is not used (the package is built instead).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::BTreeSet;

use common::World;
use nixkit_store::binary_cache::{Compression, FileCache, SecretKey};
use nixkit_store::local::{LocalStore, StoreConfig};
use nixkit_store::StoreDir;

#[test]
fn install_substitutes_from_a_signed_cache() {
    if !common::usable() {
        return;
    }
    let builder = World::new();
    builder.ok(&[
        "channel",
        "add",
        "main",
        builder.channel().to_str().unwrap(),
    ]);
    builder.ok(&["-Q", "install", "hello", "multi"]);
    let json: serde_json::Value = serde_json::from_str(&builder.ok(&["list", "--json"])).unwrap();
    let store = LocalStore::open(StoreConfig::new(builder.store(), StoreDir::default())).unwrap();
    let mut outs = BTreeSet::new();
    for p in json.as_object().unwrap().values() {
        for path in p["outputs"].as_object().unwrap().values() {
            outs.insert(
                store
                    .store_dir()
                    .parse_path(path.as_str().unwrap())
                    .unwrap(),
            );
        }
    }
    let key = SecretKey::generate("pkgman-test-1").unwrap();
    let url = format!("file://{}", builder.dir().join("cache").display());
    let cache = FileCache::new(&url, StoreDir::default()).unwrap();
    let written = cache
        .copy_closure(&store, &outs, Compression::Zstd, Some(&key))
        .unwrap();
    assert!(written.len() >= 5, "{written:?}");

    let user = World::new();
    user.ok(&["channel", "add", "main", user.channel().to_str().unwrap()]);
    // A cache whose signatures are not trusted is not used.
    let other = SecretKey::generate("other-1")
        .unwrap()
        .public_key()
        .to_text();
    let out = user.run(&[
        "--substituters",
        &url,
        "--trusted-public-keys",
        &other,
        "install",
        "hello",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("building"),
        "without a trusted cache it builds: {err}"
    );
    // (It built hello itself; start again in a fresh world for the substituting case.)
    let user = World::new();
    user.ok(&["channel", "add", "main", user.channel().to_str().unwrap()]);
    let trusted = key.public_key().to_text();
    let out = user.run(&[
        "--substituters",
        &url,
        "--trusted-public-keys",
        &trusted,
        "install",
        "hello",
        "multi",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("building"), "{err}");
    assert!(err.contains("from a binary cache"), "{err}");
    // Each download is announced when it starts, then reported done.
    for name in ["-hello-1.0", "-multi-1.0"] {
        let started = err
            .lines()
            .position(|l| l.starts_with("copying path '") && l.contains(name));
        let done = err
            .lines()
            .position(|l| l.starts_with("copied '") && l.contains(name));
        assert!(
            matches!((started, done), (Some(s), Some(d)) if s < d),
            "{name}: {err}"
        );
    }
    assert_eq!(user.installed(), ["hello-1.0", "multi-1.0"]);
    assert_eq!(user.enter(&["hello"]), "Hello, world!\n");
}
