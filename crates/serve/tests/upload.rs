//! Uploads to `nixkit serve --upload-token`: `HttpCache::copy_closure` pushes a closure (every
//! compression) that then substitutes back; bearer and basic auth; a bad or missing token is
//! 401, uploads without a token configured are 405; a NAR whose name or NarHash/NarSize lie,
//! a narinfo without its NAR and an oversized body are refused, and a refused or half-done
//! upload never makes the path visible.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;

use nixkit_serve::{ServeConfig, Server};
use nixkit_store::binary_cache::{
    substitute_closure, BinaryCache, Compression, HttpCache, HttpConfig, NarInfo,
};
use nixkit_store::local::{LocalStore, StoreConfig};
use nixkit_store::{StoreDir, StorePath};

const TOKEN: &str = "s3cret-token";

fn open(root: &Path) -> LocalStore {
    LocalStore::open(StoreConfig::new(root, StoreDir::default())).unwrap()
}

fn start(root: &Path, token: Option<&str>, max: u64) -> SocketAddr {
    let config = ServeConfig {
        store: StoreConfig::new(root, StoreDir::default()),
        sign_key: None,
        priority: 40,
        upload_token: token.map(str::to_owned),
        max_upload_size: max,
        ..ServeConfig::new(StoreConfig::new(root, StoreDir::default()))
    };
    Server::bind("127.0.0.1:0", config)
        .unwrap()
        .spawn()
        .unwrap()
}

/// `top` → `mid` → `leaf` (a directory with a 200 kB file) in a store at `root`.
fn closure(root: &Path, salt: &str) -> (LocalStore, Vec<StorePath>) {
    let store = open(root);
    let src = root.with_extension("src");
    std::fs::create_dir_all(src.join("bin")).unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 13 % 251) as u8).collect();
    std::fs::write(src.join("data"), data).unwrap();
    std::fs::write(src.join("bin/x"), salt).unwrap();
    let leaf = store
        .add_to_store(
            "leaf",
            &src,
            nixkit_store::FileIngestionMethod::Recursive,
            nixkit_store::HashAlgo::Sha256,
        )
        .unwrap();
    let mid = store
        .add_text_to_store("mid", salt.as_bytes(), &BTreeSet::from([leaf.clone()]))
        .unwrap();
    let top = store
        .add_text_to_store("top", b"top", &BTreeSet::from([mid.clone()]))
        .unwrap();
    (store, vec![top, mid, leaf])
}

fn client(url: &str, auth: Option<String>) -> HttpCache {
    let config = HttpConfig {
        authorization: auth,
        retries: 0,
        ..HttpConfig::default()
    };
    HttpCache::with_config(url, StoreDir::default(), config).unwrap()
}

fn put(url: &str, auth: Option<&str>, body: &[u8]) -> u16 {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    let mut req = agent.put(url);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    req.send(body).unwrap().status().as_u16()
}

fn get_status(url: &str) -> u16 {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    );
    agent.get(url).call().unwrap().status().as_u16()
}

#[test]
fn closures_pushed_with_every_compression_substitute_back() {
    let tmp = tempfile::tempdir().unwrap();
    for (i, compression) in [
        Compression::Xz,
        Compression::Zstd,
        Compression::None,
        Compression::Bzip2,
    ]
    .into_iter()
    .enumerate()
    {
        let served = tmp.path().join(format!("served{i}"));
        let addr = start(&served, Some(TOKEN), 1 << 30);
        let url = format!("http://{addr}");
        let (src, paths) = closure(&tmp.path().join(format!("src{i}")), &format!("salt {i}"));
        let cache = client(&url, Some(format!("Bearer {TOKEN}")));
        let top = BTreeSet::from([paths[0].clone()]);
        let pushed = cache.copy_closure(&src, &top, compression, None).unwrap();
        assert_eq!(pushed.len(), 3, "{compression:?}");
        // A second push finds everything there.
        assert!(cache
            .copy_closure(&src, &top, compression, None)
            .unwrap()
            .is_empty());
        let info = cache.narinfo(&paths[2]).unwrap().unwrap();
        assert_eq!(
            info.info.nar_hash,
            src.query_path_info(&paths[2]).unwrap().unwrap().nar_hash
        );
        // The served store has them, and a fresh store substitutes them back from it.
        let back = open(&tmp.path().join(format!("back{i}")));
        let reader = client(&url, None);
        let got = substitute_closure(&reader, &back, &paths[0], &[], false).unwrap();
        assert_eq!(got.len(), 3);
        for p in &paths {
            assert!(back.is_valid(p).unwrap());
        }
    }
}

#[test]
fn tokens_are_checked_and_uploads_can_be_off() {
    let tmp = tempfile::tempdir().unwrap();
    let addr = start(&tmp.path().join("served"), Some(TOKEN), 1 << 30);
    let url = format!("http://{addr}");
    let (src, paths) = closure(&tmp.path().join("src"), "tokens");
    let leaf = BTreeSet::from([paths[2].clone()]);
    for auth in [
        None,
        Some("Bearer wrong".to_owned()),
        Some("Basic !!!".to_owned()),
    ] {
        let e = client(&url, auth.clone())
            .copy_closure(&src, &leaf, Compression::Xz, None)
            .unwrap_err();
        assert!(e.to_string().contains("401"), "{auth:?}: {e}");
    }
    assert_eq!(
        get_status(&format!("{url}/{}.narinfo", paths[2].hash_part())),
        404
    );
    // Basic auth with the token as password (what CppNix's netrc client sends).
    let basic = nixkit_store::base64::encode(format!("nix:{TOKEN}").as_bytes());
    client(&url, Some(format!("Basic {basic}")))
        .copy_closure(&src, &leaf, Compression::Xz, None)
        .unwrap();
    assert_eq!(
        get_status(&format!("{url}/{}.narinfo", paths[2].hash_part())),
        200
    );

    let off = start(&tmp.path().join("readonly"), None, 1 << 30);
    assert_eq!(
        put(
            &format!("http://{off}/nar/x.nar"),
            Some(&format!("Bearer {TOKEN}")),
            b"x"
        ),
        405
    );
}

/// The narinfo `src` would upload for `p`, with the NAR at `nar/<name>.nar`.
fn narinfo_text(src: &LocalStore, p: &StorePath, name: &str) -> NarInfo {
    NarInfo {
        info: src.query_path_info(p).unwrap().unwrap(),
        url: format!("nar/{name}.nar"),
        compression: "none".into(),
        file_hash: None,
        file_size: None,
    }
}

#[test]
fn lying_or_incomplete_uploads_are_refused_and_never_visible() {
    let tmp = tempfile::tempdir().unwrap();
    let addr = start(&tmp.path().join("served"), Some(TOKEN), 150_000);
    let url = format!("http://{addr}");
    let auth = format!("Bearer {TOKEN}");
    let (src, paths) = closure(&tmp.path().join("src"), "lies");
    let mid = &paths[1];
    let mut nar = Vec::new();
    nixkit_store::nar::dump_path(&src.real_path(mid), &mut nar).unwrap();
    let dir = StoreDir::default();
    let narinfo_url = format!("{url}/{}.narinfo", mid.hash_part());

    // A NAR named by a file hash it does not have.
    let wrong_name = "1kdg5s0vhwiwa100i9x8vzhq94bfvqdivj5g62v8nwpi58c1zcn3";
    assert_eq!(
        put(&format!("{url}/nar/{wrong_name}.nar"), Some(&auth), &nar),
        400
    );
    // A narinfo whose NAR was never uploaded.
    let info = narinfo_text(&src, mid, "neversent");
    assert_eq!(
        put(&narinfo_url, Some(&auth), info.to_text(&dir).as_bytes()),
        400
    );
    // A NAR that is not what the narinfo's NarHash says (another path's NAR).
    let mut other = Vec::new();
    nixkit_store::nar::dump_path(&src.real_path(&paths[0]), &mut other).unwrap();
    assert_eq!(
        put(&format!("{url}/nar/other.nar"), Some(&auth), &other),
        200
    );
    let info = narinfo_text(&src, mid, "other");
    assert_eq!(
        put(&narinfo_url, Some(&auth), info.to_text(&dir).as_bytes()),
        400
    );
    // A wrong NarSize with the right bytes.
    assert_eq!(put(&format!("{url}/nar/sized.nar"), Some(&auth), &nar), 200);
    let mut info = narinfo_text(&src, mid, "sized");
    info.info.nar_size += 1;
    assert_eq!(
        put(&narinfo_url, Some(&auth), info.to_text(&dir).as_bytes()),
        400
    );
    // A narinfo whose name is another path's.
    let info = narinfo_text(&src, mid, "sized");
    let elsewhere = format!("{url}/{}.narinfo", paths[0].hash_part());
    assert_eq!(
        put(&elsewhere, Some(&auth), info.to_text(&dir).as_bytes()),
        400
    );
    // A body over the limit.
    assert_eq!(
        put(
            &format!("{url}/nar/big.nar"),
            Some(&auth),
            &vec![0u8; 200_000]
        ),
        413
    );
    // Garbage narinfo.
    assert_eq!(put(&narinfo_url, Some(&auth), b"StorePath: nope\n"), 400);
    // `mid`'s reference `leaf` is not there yet: refused too.
    assert_eq!(put(&format!("{url}/nar/good.nar"), Some(&auth), &nar), 200);
    let info = narinfo_text(&src, mid, "good");
    assert_eq!(
        put(&narinfo_url, Some(&auth), info.to_text(&dir).as_bytes()),
        400
    );
    assert_eq!(
        get_status(&narinfo_url),
        404,
        "nothing refused became visible"
    );

    // A half-sent NAR (the connection drops before the promised length) is dropped too.
    {
        use std::io::Write;
        let mut conn = std::net::TcpStream::connect(addr).unwrap();
        write!(
            conn,
            "PUT /nar/half.nar HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: {}\r\n\r\n",
            nar.len()
        )
        .unwrap();
        conn.write_all(&nar[..nar.len() / 2]).unwrap();
    }
    let info = narinfo_text(&src, mid, "half");
    assert_eq!(
        put(&narinfo_url, Some(&auth), info.to_text(&dir).as_bytes()),
        400
    );
    assert_eq!(get_status(&narinfo_url), 404);
}
