//! The narinfo cache on disk (`NarInfoCacheConfig::file`): a second `HttpCache` on the
//! same file answers without asking the server, negative answers are remembered for
//! `negative_ttl` (zero: asked again), a zero `positive_ttl` asks again, a tampered cached
//! narinfo fails the signature check, and a corrupt or unusable file is ignored. Servers
//! run on 127.0.0.1 and count what they are asked.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nixkit_store::binary_cache::{
    substitute_closure, BinaryCache, CacheError, Compression, FileCache, HttpCache,
    NarInfoCacheConfig, SecretKey,
};
use nixkit_store::local::{LocalStore, StoreConfig};
use nixkit_store::{StoreDir, StorePath};

/// A static file server over a directory that records every request's target.
struct CountingServer {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl CountingServer {
    fn start(root: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (root, log) = (root.to_path_buf(), Arc::clone(&requests));
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (root, log) = (root.clone(), Arc::clone(&log));
                std::thread::spawn(move || serve_conn(conn, &root, &log));
            }
        });
        Self { url, requests }
    }

    /// The requests since the last call.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

fn serve_conn(conn: TcpStream, root: &Path, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
        }
        log.lock().unwrap().push(target.clone());
        let file: PathBuf = root.join(target.trim_start_matches('/'));
        let Ok(body) = fs::read(&file) else {
            let _ = conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            continue;
        };
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
        let _ = conn.write_all(head.as_bytes());
        let _ = conn.write_all(&body);
    }
}

fn open(root: &Path) -> LocalStore {
    LocalStore::open(StoreConfig::new(root, StoreDir::default())).unwrap()
}

/// A store with `top` → `leaf`, imported without content addresses (so signatures are
/// what makes them trusted), exported signed to a cache directory; returns the cache
/// directory and `[top, leaf]`.
fn signed_cache(tmp: &Path, key: &SecretKey) -> (PathBuf, Vec<StorePath>) {
    let first = open(&tmp.join("first"));
    let leaf = first
        .add_text_to_store("leaf", b"leaf contents", &BTreeSet::new())
        .unwrap();
    let top = first
        .add_text_to_store("top", b"top uses leaf", &BTreeSet::from([leaf.clone()]))
        .unwrap();
    let mut stream = Vec::new();
    let all = first.query_closure(&BTreeSet::from([top.clone()])).unwrap();
    nixkit_store::export::export_paths(&first, &all, &mut stream).unwrap();
    let store = open(&tmp.join("source"));
    nixkit_store::export::import_paths(&store, &mut stream.as_slice()).unwrap();
    let dir = tmp.join("cache");
    FileCache::new(dir.to_str().unwrap(), StoreDir::default())
        .unwrap()
        .copy_closure(
            &store,
            &BTreeSet::from([top.clone()]),
            Compression::Xz,
            Some(key),
        )
        .unwrap();
    (dir, vec![top, leaf])
}

fn config(file: &Path, positive: u64, negative: u64) -> NarInfoCacheConfig {
    NarInfoCacheConfig {
        file: Some(file.to_owned()),
        positive_ttl: Duration::from_secs(positive),
        negative_ttl: Duration::from_secs(negative),
    }
}

fn http(url: &str, config: NarInfoCacheConfig) -> HttpCache {
    HttpCache::new(url, StoreDir::default())
        .unwrap()
        .with_narinfo_cache(config)
}

fn narinfo_file(dir: &Path, p: &StorePath) -> PathBuf {
    dir.join(format!("{}.narinfo", p.hash_part()))
}

fn metadata_requests(requests: &[String]) -> Vec<&String> {
    requests
        .iter()
        .filter(|r| r.ends_with(".narinfo") || r.ends_with("nix-cache-info"))
        .collect()
}

#[test]
fn a_second_cache_on_the_same_file_answers_without_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SecretKey::generate("test-1").unwrap();
    let (dir, paths) = signed_cache(tmp.path(), &key);
    let server = CountingServer::start(&dir);
    let file = tmp.path().join("xdg/nixkit/binary-cache.sqlite");
    let keys = [key.public_key()];

    let first = http(&server.url, config(&file, 3600, 3600));
    let target = open(&tmp.path().join("t1"));
    substitute_closure(&first, &target, &paths[0], &keys, true).unwrap();
    let asked = server.take();
    assert_eq!(metadata_requests(&asked).len(), 3, "{asked:?}");
    assert!(file.exists());

    // Another instance (as another process would): cache info and narinfos come from the
    // file; only the NARs are downloaded.
    let second = http(&server.url, config(&file, 3600, 3600));
    let target = open(&tmp.path().join("t2"));
    let added = substitute_closure(&second, &target, &paths[0], &keys, true).unwrap();
    assert_eq!(added.len(), 2);
    assert!(target.verify(true).unwrap().is_ok());
    let asked = server.take();
    assert_eq!(metadata_requests(&asked), Vec::<&String>::new());
    assert_eq!(asked.len(), 2, "{asked:?}");
    // Even with the narinfos gone from the server.
    for p in &paths {
        fs::remove_file(narinfo_file(&dir, p)).unwrap();
    }
    let third = http(&server.url, config(&file, 3600, 3600));
    assert!(third.narinfo(&paths[1]).unwrap().is_some());
    assert!(server.take().is_empty());
    // A zero positive TTL always asks: the server now says it is gone.
    let asking = http(&server.url, config(&file, 0, 3600));
    assert!(asking.narinfo(&paths[1]).unwrap().is_none());
    assert_eq!(server.take().len(), 1);
    // ... and that negative answer is what the file now holds.
    let fourth = http(&server.url, config(&file, 3600, 3600));
    assert!(fourth.narinfo(&paths[1]).unwrap().is_none());
    assert!(server.take().is_empty());
    // Another cache URL (here one below the first) has answers of its own.
    let other_url = format!("{}/elsewhere", server.url);
    let other = http(&other_url, config(&file, 3600, 3600));
    assert!(other.narinfo(&paths[0]).unwrap().is_none());
    assert_eq!(server.take().len(), 1);
}

#[test]
fn negative_answers_are_remembered_for_the_negative_ttl() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SecretKey::generate("test-1").unwrap();
    let (dir, paths) = signed_cache(tmp.path(), &key);
    let server = CountingServer::start(&dir);
    let file = tmp.path().join("narinfo.sqlite");
    let keys = [key.public_key()];
    let hidden = tmp.path().join("hidden.narinfo");
    fs::rename(narinfo_file(&dir, &paths[0]), &hidden).unwrap();

    let first = http(&server.url, config(&file, 3600, 3600));
    assert!(first.narinfo(&paths[0]).unwrap().is_none());
    assert_eq!(server.take().len(), 1);
    // The path appears on the server; a cache with the negative TTL still says absent,
    // without asking.
    fs::rename(&hidden, narinfo_file(&dir, &paths[0])).unwrap();
    let second = http(&server.url, config(&file, 3600, 3600));
    let target = open(&tmp.path().join("target"));
    assert!(matches!(
        substitute_closure(&second, &target, &paths[0], &keys, true),
        Err(CacheError::NotInCache(_))
    ));
    assert_eq!(server.take(), ["/nix-cache-info"]);
    // With `narinfo-cache-negative-ttl = 0` it asks again and substitutes.
    let asking = http(&server.url, config(&file, 3600, 0));
    let added = substitute_closure(&asking, &target, &paths[0], &keys, true).unwrap();
    assert_eq!(added.len(), 2);
    assert!(target.is_valid(&paths[0]).unwrap());
    // The positive answer replaced the negative one in the file.
    let later = http(&server.url, config(&file, 3600, 3600));
    server.take();
    assert!(later.narinfo(&paths[0]).unwrap().is_some());
    assert!(server.take().is_empty());
}

/// Replaces the `NarSize` (part of what is signed) of the narinfo of `path` in the cache
/// file; returns the text that was there.
fn tamper(file: &Path, path: &StorePath) -> String {
    let conn = rusqlite::Connection::open(file).unwrap();
    let text: String = conn
        .query_row(
            "SELECT narinfo FROM narinfos WHERE hash = ?1",
            [path.hash_part()],
            |r| r.get(0),
        )
        .unwrap();
    let size_line = text.lines().find(|l| l.starts_with("NarSize: ")).unwrap();
    let size: u64 = size_line["NarSize: ".len()..].parse().unwrap();
    let tampered = text.replace(size_line, &format!("NarSize: {}", size + 8));
    let changed = conn
        .execute(
            "UPDATE narinfos SET narinfo = ?1 WHERE hash = ?2",
            [tampered.as_str(), path.hash_part()],
        )
        .unwrap();
    assert_eq!(changed, 1);
    text
}

fn cached_text(file: &Path, path: &StorePath) -> Option<String> {
    rusqlite::Connection::open(file)
        .unwrap()
        .query_row(
            "SELECT narinfo FROM narinfos WHERE hash = ?1",
            [path.hash_part()],
            |r| r.get(0),
        )
        .unwrap()
}

/// A cached narinfo edited in the file fails the signature check and is not used: the
/// cache is asked again (and the file corrected), or, if the cache no longer has it, the
/// substitution fails without registering anything.
#[test]
fn a_tampered_cached_narinfo_fails_the_signature_check() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SecretKey::generate("test-1").unwrap();
    let (dir, paths) = signed_cache(tmp.path(), &key);
    let server = CountingServer::start(&dir);
    let file = tmp.path().join("narinfo.sqlite");
    let keys = [key.public_key()];
    let first = http(&server.url, config(&file, 3600, 3600));
    assert!(first.cache_info().is_ok());
    for p in &paths {
        assert!(first.narinfo(p).unwrap().is_some());
    }
    let genuine = tamper(&file, &paths[1]);
    server.take();

    let second = http(&server.url, config(&file, 3600, 3600));
    let target = open(&tmp.path().join("target"));
    substitute_closure(&second, &target, &paths[0], &keys, true).unwrap();
    assert!(target.verify(true).unwrap().is_ok());
    let leaf_narinfo = format!("/{}.narinfo", paths[1].hash_part());
    assert_eq!(metadata_requests(&server.take()), [&leaf_narinfo]);
    assert_eq!(cached_text(&file, &paths[1]), Some(genuine));

    // Tampered again, and gone from the server: nothing is substituted.
    tamper(&file, &paths[1]);
    let genuine_again = fs::read(narinfo_file(&dir, &paths[1])).unwrap();
    fs::remove_file(narinfo_file(&dir, &paths[1])).unwrap();
    let third = http(&server.url, config(&file, 3600, 3600));
    let target = open(&tmp.path().join("target-2"));
    let err = substitute_closure(&third, &target, &paths[0], &keys, true).unwrap_err();
    assert!(matches!(err, CacheError::NotInCache(_)), "{err}");
    assert!(target.valid_paths().unwrap().is_empty());
    // Back on the server but signed by no trusted key: untrusted, after asking once more.
    fs::write(narinfo_file(&dir, &paths[1]), &genuine_again).unwrap();
    server.take();
    let fourth = http(&server.url, config(&file, 3600, 0));
    let err = substitute_closure(&fourth, &target, &paths[1], &[], true).unwrap_err();
    assert!(matches!(err, CacheError::Untrusted(_)), "{err}");
    assert_eq!(
        metadata_requests(&server.take()),
        [&leaf_narinfo, &leaf_narinfo]
    );
    assert!(target.valid_paths().unwrap().is_empty());
}

#[test]
fn a_corrupt_or_unusable_cache_file_is_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SecretKey::generate("test-1").unwrap();
    let (dir, paths) = signed_cache(tmp.path(), &key);
    let server = CountingServer::start(&dir);
    let keys = [key.public_key()];
    let garbage = tmp.path().join("garbage.sqlite");
    fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    let a_directory = tmp.path().join("a-directory");
    fs::create_dir(&a_directory).unwrap();
    let under_a_file = garbage.join("binary-cache.sqlite");
    for (i, file) in [&garbage, &a_directory, &under_a_file]
        .into_iter()
        .enumerate()
    {
        let cache = http(&server.url, config(file, 3600, 3600));
        let target = open(&tmp.path().join(format!("target-{i}")));
        let added = substitute_closure(&cache, &target, &paths[0], &keys, true).unwrap();
        assert_eq!(added.len(), 2, "{}", file.display());
        // Still remembered in memory.
        server.take();
        assert!(cache.narinfo(&paths[0]).unwrap().is_some());
        assert!(server.take().is_empty());
    }
    assert_eq!(fs::read(&garbage).unwrap(), vec![0x5a; 8192]);
    // A valid SQLite file with other tables of the same names.
    let foreign = tmp.path().join("foreign.sqlite");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE narinfos (x INTEGER); CREATE TABLE caches (y TEXT);")
        .unwrap();
    let cache = http(&server.url, config(&foreign, 3600, 3600));
    let target = open(&tmp.path().join("target-foreign"));
    substitute_closure(&cache, &target, &paths[0], &keys, true).unwrap();
}

/// Several threads, each with its own cache on one file (as concurrent processes), record
/// and read answers at once: none fails and the file stays usable.
#[test]
fn concurrent_users_of_one_file() {
    let tmp = tempfile::tempdir().unwrap();
    let key = SecretKey::generate("test-1").unwrap();
    let (dir, paths) = signed_cache(tmp.path(), &key);
    let server = CountingServer::start(&dir);
    let file = tmp.path().join("shared.sqlite");
    let absent: Vec<StorePath> = (0..40)
        .map(|i| {
            StoreDir::default()
                .parse_path(&format!("/nix/store/{i:0>32}-absent"))
                .unwrap()
        })
        .collect();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                let cache = http(&server.url, config(&file, 3600, 3600));
                for p in &absent {
                    assert!(cache.narinfo(p).unwrap().is_none());
                }
                assert!(cache.narinfo(&paths[0]).unwrap().is_some());
            });
        }
    });
    server.take();
    let after = http(&server.url, config(&file, 3600, 3600));
    for p in &absent {
        assert!(after.narinfo(p).unwrap().is_none());
    }
    assert!(server.take().is_empty());
}
