//! `http://` substitution: nixkit substitutes a closure from a cache served by a small static
//! HTTP server (started by the test, on 127.0.0.1) with every compression, and hostile caches
//! (tampered NAR, wrong NarHash, missing or bad signature, truncated body, stalled or dropped
//! connection) leave nothing registered, name the cache and the path, and the next cache by
//! priority is tried.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nixkit_store::binary_cache::{
    open_cache, BinaryCache, CacheError, Compression, FileCache, HttpCache, HttpConfig,
    HttpTimeouts, PublicKey, SecretKey, Substituters,
};
use nixkit_store::local::{AddError, LocalStore, StoreConfig};
use nixkit_store::{FileIngestionMethod, HashAlgo, StoreDir, StorePath};

/// How the test server misbehaves for a request whose path ends with the suffix.
#[derive(Clone, Debug)]
enum Fault {
    /// Send headers promising the whole file, then only this many bytes, then close.
    Truncate(usize),
    /// Accept the request and send nothing for this long.
    Stall(Duration),
    /// Send the headers and half the body, then nothing for this long.
    StallBody(Duration),
    /// Close the connection without answering.
    Drop,
    /// Wait this long, then answer normally.
    Delay(Duration),
}

/// A static file server over `root` on 127.0.0.1, one thread per connection, keep-alive.
struct StaticServer {
    url: String,
    faults: Arc<Mutex<Vec<(String, Fault)>>>,
    /// Each request's path and when it arrived.
    log: Arc<Mutex<Vec<(String, Instant)>>>,
}

impl StaticServer {
    fn start(root: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let faults: Arc<Mutex<Vec<(String, Fault)>>> = Arc::default();
        let log: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
        let (root, f, l) = (root.to_path_buf(), Arc::clone(&faults), Arc::clone(&log));
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (root, f, l) = (root.clone(), Arc::clone(&f), Arc::clone(&l));
                std::thread::spawn(move || serve_conn(conn, &root, &f, &l));
            }
        });
        Self { url, faults, log }
    }

    fn fault(&self, suffix: &str, fault: Fault) {
        self.faults.lock().unwrap().push((suffix.to_owned(), fault));
    }
}

fn serve_conn(
    conn: TcpStream,
    root: &Path,
    faults: &Mutex<Vec<(String, Fault)>>,
    log: &Mutex<Vec<(String, Instant)>>,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        log.lock().unwrap().push((target.clone(), Instant::now()));
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                break;
            }
        }
        let fault = faults
            .lock()
            .unwrap()
            .iter()
            .find(|(s, _)| target.ends_with(s.as_str()))
            .map(|(_, f)| f.clone());
        let file: PathBuf = root.join(target.trim_start_matches('/'));
        let Ok(body) = fs::read(&file) else {
            let _ = conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            continue;
        };
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
        match fault {
            None => {
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&body);
            }
            Some(Fault::Delay(d)) => {
                std::thread::sleep(d);
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&body);
            }
            Some(Fault::Truncate(n)) => {
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&body[..n.min(body.len())]);
                return;
            }
            Some(Fault::Stall(d)) => {
                std::thread::sleep(d);
                return;
            }
            Some(Fault::StallBody(d)) => {
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&body[..body.len() / 2]);
                let _ = conn.flush();
                std::thread::sleep(d);
                return;
            }
            Some(Fault::Drop) => return,
        }
    }
}

fn open(root: &Path) -> LocalStore {
    LocalStore::open(StoreConfig::new(root, StoreDir::default())).unwrap()
}

/// A store with a small closure of input-addressed-looking paths (imported without content
/// addresses, so signatures are what makes them trusted): `top` → `mid` → `leaf`.
fn closure(tmp: &Path) -> (LocalStore, Vec<StorePath>) {
    let first = open(&tmp.join("first"));
    let src = tmp.join("src");
    fs::create_dir_all(src.join("bin")).unwrap();
    fs::write(src.join("bin/tool"), "#!/bin/sh\necho tool\n").unwrap();
    fs::write(
        src.join("data"),
        (0..200_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let leaf = first
        .add_to_store(
            "leaf",
            &src,
            FileIngestionMethod::Recursive,
            HashAlgo::Sha256,
        )
        .unwrap();
    let mid = first
        .add_text_to_store("mid", b"mid uses leaf", &BTreeSet::from([leaf.clone()]))
        .unwrap();
    let top = first
        .add_text_to_store("top", b"top uses mid", &BTreeSet::from([mid.clone()]))
        .unwrap();
    // Through the export format, which carries no content addresses.
    let mut stream = Vec::new();
    let all = first.query_closure(&BTreeSet::from([top.clone()])).unwrap();
    nixkit_store::export::export_paths(&first, &all, &mut stream).unwrap();
    let store = open(&tmp.join("source"));
    nixkit_store::export::import_paths(&store, &mut stream.as_slice()).unwrap();
    (store, vec![top, mid, leaf])
}

fn export(store: &LocalStore, dir: &Path, top: &StorePath, c: Compression, key: &SecretKey) {
    let cache = FileCache::new(dir.to_str().unwrap(), StoreDir::default()).unwrap();
    cache
        .copy_closure(store, &BTreeSet::from([top.clone()]), c, Some(key))
        .unwrap();
}

fn http(url: &str) -> HttpCache {
    let timeouts = HttpTimeouts {
        connect: Duration::from_secs(5),
        stall: Duration::from_millis(700),
    };
    HttpCache::with_timeouts(url, StoreDir::default(), timeouts).unwrap()
}

fn narinfo_file(dir: &Path, p: &StorePath) -> PathBuf {
    dir.join(format!("{}.narinfo", p.hash_part()))
}

fn nar_url(dir: &Path, p: &StorePath) -> String {
    let text = fs::read_to_string(narinfo_file(dir, p)).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("URL: "))
        .unwrap()
        .to_owned()
}

#[test]
fn substitutes_a_closure_over_http_with_every_compression() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, paths) = closure(tmp.path());
    let key = SecretKey::generate("test-1").unwrap();
    for (i, c) in [
        Compression::None,
        Compression::Xz,
        Compression::Zstd,
        Compression::Bzip2,
    ]
    .into_iter()
    .enumerate()
    {
        let dir = tmp.path().join(format!("cache-{i}"));
        export(&store, &dir, &paths[0], c, &key);
        let server = StaticServer::start(&dir);
        let cache = http(&server.url);
        assert_eq!(
            cache.cache_info().unwrap().store_dir.as_deref(),
            Some("/nix/store")
        );
        let target = open(&tmp.path().join(format!("target-{i}")));
        let added = cache_substitute(&cache, &target, &paths[0], &[key.public_key()]).unwrap();
        assert_eq!(added.len(), 3, "{c:?}");
        for p in &paths {
            let info = target.query_path_info(p).unwrap().unwrap();
            assert_eq!(info, {
                let mut src = store.query_path_info(p).unwrap().unwrap();
                src.registration_time = info.registration_time;
                src.ultimate = false;
                src.sigs = info.sigs.clone();
                src
            });
        }
        assert!(target.verify(true).unwrap().is_ok());
        // A second request is answered from the narinfo cache, even with the server's
        // files gone (positive) — and an absent path stays absent (negative).
        fs::remove_file(narinfo_file(&dir, &paths[1])).unwrap();
        assert!(cache.narinfo(&paths[1]).unwrap().is_some());
        let absent = StoreDir::default()
            .parse_path("/nix/store/00000000000000000000000000000000-absent")
            .unwrap();
        assert!(cache.narinfo(&absent).unwrap().is_none());
    }
}

fn cache_substitute(
    cache: &HttpCache,
    store: &LocalStore,
    path: &StorePath,
    keys: &[PublicKey],
) -> Result<Vec<StorePath>, CacheError> {
    nixkit_store::binary_cache::substitute_closure(cache, store, path, keys, true)
}

/// One hostile cache (`bad`) before a good one (`good`, lower priority): each attack fails
/// on the bad cache with an error naming it and the path, registers nothing from it, and
/// the closure comes from the good one.
#[test]
fn hostile_caches_fail_cleanly_and_the_next_cache_is_tried() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, paths) = closure(tmp.path());
    let key = SecretKey::generate("test-1").unwrap();
    let other_key = SecretKey::generate("evil-1").unwrap();
    let good_dir = tmp.path().join("good");
    export(&store, &good_dir, &paths[0], Compression::Xz, &key);
    fs::write(
        good_dir.join("nix-cache-info"),
        "StoreDir: /nix/store\nPriority: 60\n",
    )
    .unwrap();
    let good = StaticServer::start(&good_dir);
    let leaf = &paths[2];

    type Attack<'a> = Box<dyn Fn(&Path, &StaticServer) + 'a>;
    let attacks: Vec<(&str, Compression, Attack)> = vec![
        (
            "tampered NAR",
            Compression::None,
            Box::new(|dir: &Path, _: &StaticServer| {
                let nar = dir.join(nar_url(dir, leaf));
                let mut data = fs::read(&nar).unwrap();
                let at = data.len() / 2;
                data[at] ^= 0x20;
                fs::write(&nar, data).unwrap();
            }),
        ),
        (
            "tampered compressed NAR",
            Compression::Zstd,
            Box::new(|dir: &Path, _: &StaticServer| {
                let nar = dir.join(nar_url(dir, leaf));
                let mut data = fs::read(&nar).unwrap();
                let at = data.len() / 2;
                data[at] ^= 0x01;
                fs::write(&nar, data).unwrap();
            }),
        ),
        (
            "wrong NarHash (signed by the trusted key)",
            Compression::Xz,
            Box::new(|dir: &Path, _: &StaticServer| {
                let sd = StoreDir::default();
                let f = narinfo_file(dir, leaf);
                let other = fs::read_to_string(narinfo_file(dir, &paths[1])).unwrap();
                let other = nixkit_store::binary_cache::NarInfo::parse(&sd, &other).unwrap();
                let text = fs::read_to_string(&f).unwrap();
                let mut info = nixkit_store::binary_cache::NarInfo::parse(&sd, &text).unwrap();
                info.info.nar_hash = other.info.nar_hash;
                info.info.sigs.clear();
                nixkit_store::binary_cache::sign(&sd, &mut info.info, &key);
                fs::write(&f, info.to_text(&sd)).unwrap();
            }),
        ),
        (
            "missing signature",
            Compression::Xz,
            Box::new(|dir: &Path, _: &StaticServer| {
                let f = narinfo_file(dir, leaf);
                let text = fs::read_to_string(&f).unwrap();
                let text: String = text
                    .lines()
                    .filter(|l| !l.starts_with("Sig: "))
                    .map(|l| format!("{l}\n"))
                    .collect();
                fs::write(&f, text).unwrap();
            }),
        ),
        (
            "signature by an untrusted key",
            Compression::Xz,
            Box::new(|dir: &Path, _: &StaticServer| {
                let f = narinfo_file(dir, leaf);
                let text = fs::read_to_string(&f).unwrap();
                let mut info =
                    nixkit_store::binary_cache::NarInfo::parse(&StoreDir::default(), &text)
                        .unwrap();
                info.info.sigs.clear();
                nixkit_store::binary_cache::sign(&StoreDir::default(), &mut info.info, &other_key);
                fs::write(&f, info.to_text(&StoreDir::default())).unwrap();
            }),
        ),
        (
            "truncated NAR",
            Compression::None,
            Box::new(|dir: &Path, s: &StaticServer| {
                let url = nar_url(dir, leaf);
                s.fault(&url, Fault::Truncate(5000));
            }),
        ),
        (
            "stalled server",
            Compression::Xz,
            Box::new(|dir: &Path, s: &StaticServer| {
                s.fault(&nar_url(dir, leaf), Fault::Stall(Duration::from_secs(5)));
            }),
        ),
        (
            "server stalling in the body",
            Compression::None,
            Box::new(|dir: &Path, s: &StaticServer| {
                s.fault(
                    &nar_url(dir, leaf),
                    Fault::StallBody(Duration::from_secs(5)),
                );
            }),
        ),
        (
            "dropped connection",
            Compression::Xz,
            Box::new(|dir: &Path, s: &StaticServer| {
                s.fault(&nar_url(dir, leaf), Fault::Drop);
            }),
        ),
    ];
    for (i, (name, compression, attack)) in attacks.iter().enumerate() {
        let dir = tmp.path().join(format!("bad-{i}"));
        export(&store, &dir, &paths[0], *compression, &key);
        fs::write(
            dir.join("nix-cache-info"),
            "StoreDir: /nix/store\nPriority: 10\n",
        )
        .unwrap();
        let bad = StaticServer::start(&dir);
        attack(&dir, &bad);
        let target = open(&tmp.path().join(format!("target-{i}")));
        // Alone, the bad cache fails and registers nothing of the attacked path.
        let alone = Substituters::new(vec![Arc::new(http(&bad.url))], vec![key.public_key()], true);
        let started = std::time::Instant::now();
        let err = alone.substitute(&target, &paths[0]).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{name}: took {:?}",
            started.elapsed()
        );
        let msg = err.to_string();
        eprintln!("{name}: {msg}");
        assert!(msg.contains(&bad.url), "{name}: {msg}");
        assert!(
            msg.contains(&StoreDir::default().print_path(&paths[0])),
            "{name}: {msg}"
        );
        assert!(!target.is_valid(leaf).unwrap(), "{name}");
        assert!(!target.is_valid(&paths[0]).unwrap(), "{name}");
        assert!(target.verify(true).unwrap().is_ok(), "{name}");
        // The good cache is listed second but tried after the bad one by priority, and
        // supplies the whole closure.
        let both = Substituters::new(
            vec![Arc::new(http(&good.url)), Arc::new(http(&bad.url))],
            vec![key.public_key()],
            true,
        );
        let order: Vec<&str> = both.in_order().map(|c| c.url()).collect();
        assert_eq!(order, [bad.url.as_str(), good.url.as_str()]);
        // `?priority=N` in the URL overrides the cache's own.
        let good_first = format!("{}?priority=5", good.url);
        let reordered = Substituters::new(
            vec![Arc::new(http(&bad.url)), Arc::new(http(&good_first))],
            vec![],
            true,
        );
        let order: Vec<&str> = reordered.in_order().map(|c| c.url()).collect();
        assert_eq!(order, [good_first.as_str(), bad.url.as_str()]);
        both.substitute(&target, &paths[0]).unwrap();
        for p in &paths {
            assert!(target.is_valid(p).unwrap(), "{name}");
        }
        assert!(target.verify(true).unwrap().is_ok(), "{name}");
    }
}

#[test]
fn typed_errors_of_http_caches() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, paths) = closure(tmp.path());
    let key = SecretKey::generate("test-1").unwrap();
    let dir = tmp.path().join("cache");
    export(&store, &dir, &paths[0], Compression::None, &key);
    let server = StaticServer::start(&dir);
    let target = open(&tmp.path().join("target"));
    let cache = http(&server.url);
    let absent = StoreDir::default()
        .parse_path("/nix/store/00000000000000000000000000000000-absent")
        .unwrap();
    assert!(matches!(
        cache_substitute(&cache, &target, &absent, &[]),
        Err(CacheError::NotInCache(_))
    ));
    let nar = dir.join(nar_url(&dir, &paths[2]));
    let mut data = fs::read(&nar).unwrap();
    let last = data.len() - 1;
    data[last] ^= 1;
    fs::write(&nar, data).unwrap();
    assert!(matches!(
        cache_substitute(&cache, &target, &paths[2], &[key.public_key()]),
        Err(CacheError::FileHashMismatch { .. }
            | CacheError::BadNar { .. }
            | CacheError::Add(AddError::HashMismatch { .. }))
    ));
    assert!(target.valid_paths().unwrap().is_empty());
    // A cache for another store directory, a URL that is no cache, bad URLs.
    fs::write(dir.join("nix-cache-info"), "StoreDir: /other/store\n").unwrap();
    assert!(matches!(
        cache_substitute(&http(&server.url), &target, &paths[2], &[]),
        Err(CacheError::StoreDirMismatch { .. })
    ));
    fs::remove_file(dir.join("nix-cache-info")).unwrap();
    assert!(matches!(
        cache_substitute(&http(&server.url), &target, &paths[2], &[]),
        Err(CacheError::Http { .. })
    ));
    assert!(HttpCache::new("http://", StoreDir::default()).is_err());
    assert!(HttpCache::new("ftp://x", StoreDir::default()).is_err());
    // Nothing listens on the port of a closed listener: a connection error, quickly.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let closed = http(&format!("http://127.0.0.1:{port}"));
    assert!(matches!(closed.cache_info(), Err(CacheError::Http { .. })));
    assert!(open_cache(&server.url, StoreDir::default()).unwrap().url() == server.url);
}

/// With NARs fetched ahead in parallel, a failure at the end of the closure keeps the
/// complete paths before it, registers nothing of the failed one, and stops every worker.
#[test]
fn a_failure_late_in_the_closure_keeps_the_paths_before_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, paths) = closure(tmp.path());
    let key = SecretKey::generate("test-1").unwrap();
    let dir = tmp.path().join("cache");
    export(&store, &dir, &paths[0], Compression::None, &key);
    let server = StaticServer::start(&dir);
    server.fault(&nar_url(&dir, &paths[0]), Fault::Drop);
    let target = open(&tmp.path().join("target"));
    let err =
        cache_substitute(&http(&server.url), &target, &paths[0], &[key.public_key()]).unwrap_err();
    assert!(err.to_string().contains(&server.url), "{err}");
    assert!(!target.is_valid(&paths[0]).unwrap());
    assert!(target.is_valid(&paths[1]).unwrap() && target.is_valid(&paths[2]).unwrap());
    assert!(target.verify(true).unwrap().is_ok());
}

/// A wide closure: `leaves` independent paths of different sizes, `dependent` referring to
/// the leaf `leaves / 2`, and `top` referring to all of them; imported without content
/// addresses. Returns the store and `[top, dependent, leaf 0, leaf 1, ...]`.
fn wide_closure(tmp: &Path, leaves: usize) -> (LocalStore, Vec<StorePath>) {
    let first = open(&tmp.join("first-wide"));
    let mut leaf_paths = Vec::new();
    for i in 0..leaves {
        let src = tmp.join(format!("wide-src-{i}"));
        fs::create_dir_all(&src).unwrap();
        let data: Vec<u8> = (0..(40_000 + i * 13_001) as u32)
            .map(|b| (b.wrapping_mul(7).wrapping_add(i as u32) % 253) as u8)
            .collect();
        fs::write(src.join("data"), data).unwrap();
        leaf_paths.push(
            first
                .add_to_store(
                    &format!("leaf-{i}"),
                    &src,
                    FileIngestionMethod::Recursive,
                    HashAlgo::Sha256,
                )
                .unwrap(),
        );
    }
    let broken = leaf_paths[leaves / 2].clone();
    let dependent = first
        .add_text_to_store("dependent", b"uses a leaf", &BTreeSet::from([broken]))
        .unwrap();
    let mut refs: BTreeSet<StorePath> = leaf_paths.iter().cloned().collect();
    refs.insert(dependent.clone());
    let top = first
        .add_text_to_store("wide-top", b"uses all", &refs)
        .unwrap();
    let mut stream = Vec::new();
    let all = first.query_closure(&BTreeSet::from([top.clone()])).unwrap();
    nixkit_store::export::export_paths(&first, &all, &mut stream).unwrap();
    let store = open(&tmp.join("source-wide"));
    nixkit_store::export::import_paths(&store, &mut stream.as_slice()).unwrap();
    let mut paths = vec![top, dependent];
    paths.extend(leaf_paths);
    (store, paths)
}

fn unsynced(root: &Path) -> LocalStore {
    LocalStore::open(StoreConfig::new(root, StoreDir::default()).with_fsync(false)).unwrap()
}

fn stray_temporaries(store: &LocalStore) -> Vec<String> {
    fs::read_dir(store.real_store_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// Paths are restored in parallel: NARs that each take the server a while come in about
/// the time of one, not of all (and one at a time with `http-connections = 1`); and a path
/// that fails in the middle of a parallel batch (while other downloads of the batch stall)
/// registers neither itself nor anything that refers to it, leaves no temporary behind,
/// stops the other downloads, and the next cache supplies the rest.
#[test]
fn parallel_substitution_fails_cleanly_in_the_middle_of_a_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let leaves = 12;
    let (store, paths) = wide_closure(tmp.path(), leaves);
    let (top, dependent, broken) = (&paths[0], &paths[1], &paths[2 + leaves / 2]);
    let key = SecretKey::generate("test-1").unwrap();

    // Every NAR delayed by 300 ms: 13 paths at once take about 0.3 s, one at a time 3.9 s.
    let slow_dir = tmp.path().join("slow");
    export(&store, &slow_dir, top, Compression::Zstd, &key);
    let slow = StaticServer::start(&slow_dir);
    slow.fault(".nar.zst", Fault::Delay(Duration::from_millis(300)));
    // Without fsync: a sync of the file system can take long on a busy machine, and this
    // part measures downloads.
    let target = unsynced(&tmp.path().join("target-slow"));
    let started = std::time::Instant::now();
    let added = cache_substitute(&http(&slow.url), &target, top, &[key.public_key()]).unwrap();
    let took = started.elapsed();
    assert_eq!(added.len(), paths.len());
    assert!(
        took < Duration::from_millis(2500),
        "not in parallel: {took:?}"
    );
    assert!(target.verify(true).unwrap().is_ok());
    // `http-connections = 1`: one at a time.
    let one = HttpConfig {
        connections: 1,
        retries: 0,
        ..HttpConfig::default()
    };
    let one = HttpCache::with_config(&slow.url, StoreDir::default(), one).unwrap();
    assert_eq!(one.parallel_jobs(), 1);
    let target = unsynced(&tmp.path().join("target-one"));
    let started = std::time::Instant::now();
    cache_substitute(&one, &target, top, &[key.public_key()]).unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) * paths.len() as u32,
        "not one at a time: {took:?}"
    );

    let good_dir = tmp.path().join("good-wide");
    export(&store, &good_dir, top, Compression::Xz, &key);
    fs::write(
        good_dir.join("nix-cache-info"),
        "StoreDir: /nix/store\nPriority: 60\n",
    )
    .unwrap();
    let good = StaticServer::start(&good_dir);
    let bad_dir = tmp.path().join("bad-wide");
    export(&store, &bad_dir, top, Compression::None, &key);
    fs::write(
        bad_dir.join("nix-cache-info"),
        "StoreDir: /nix/store\nPriority: 10\n",
    )
    .unwrap();
    let nar = bad_dir.join(nar_url(&bad_dir, broken));
    let mut data = fs::read(&nar).unwrap();
    let at = data.len() / 2;
    data[at] ^= 0x40;
    fs::write(&nar, data).unwrap();
    let bad = StaticServer::start(&bad_dir);
    // The paths after it (those that refer to it) stall half-way: their workers must be
    // stopped.
    for later in [top, dependent] {
        bad.fault(
            &nar_url(&bad_dir, later),
            Fault::StallBody(Duration::from_secs(20)),
        );
    }
    let target = open(&tmp.path().join("target-wide"));
    let alone = Substituters::new(vec![Arc::new(http(&bad.url))], vec![key.public_key()], true);
    let started = std::time::Instant::now();
    let err = alone.substitute(&target, top).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let msg = err.to_string();
    assert!(msg.contains(&bad.url), "{msg}");
    assert!(
        msg.contains(&StoreDir::default().print_path(broken)),
        "{msg}"
    );
    for p in [top, dependent, broken] {
        assert!(!target.is_valid(p).unwrap(), "{p:?} registered: {msg}");
    }
    // Whatever was registered is complete, with its references.
    for p in target.valid_paths().unwrap() {
        for r in target.query_path_info(&p).unwrap().unwrap().references {
            assert!(target.is_valid(&r).unwrap());
        }
    }
    assert!(target.verify(true).unwrap().is_ok());
    assert_eq!(stray_temporaries(&target), Vec::<String>::new());

    let both = Substituters::new(
        vec![Arc::new(http(&good.url)), Arc::new(http(&bad.url))],
        vec![key.public_key()],
        true,
    );
    let (from, _) = both.substitute_from(&target, top).unwrap();
    assert_eq!(from, good.url);
    for p in &paths {
        assert!(target.is_valid(p).unwrap());
    }
    assert!(target.verify(true).unwrap().is_ok());
    assert_eq!(stray_temporaries(&target), Vec::<String>::new());
}

/// NARs are downloaded while the closure's narinfos are still being fetched: with the
/// leaf's narinfo answered late, the NARs of `top` and `mid` are asked for before that
/// answer; everything is committed once it came. Without the leaf's narinfo nothing is
/// registered and no temporary is left.
#[test]
fn nars_download_while_narinfos_are_fetched() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, paths) = closure(tmp.path());
    let key = SecretKey::generate("test-1").unwrap();
    let dir = tmp.path().join("cache");
    export(&src, &dir, &paths[0], Compression::Zstd, &key);
    let server = StaticServer::start(&dir);
    let delay = Duration::from_millis(800);
    let leaf_narinfo = format!("/{}.narinfo", paths[2].hash_part());
    server.fault(&leaf_narinfo, Fault::Delay(delay));
    let cache = HttpCache::new(&server.url, StoreDir::default()).unwrap();
    let dest = open(&tmp.path().join("dest"));
    let trusted = [key.public_key()];
    let added =
        nixkit_store::binary_cache::substitute_closure(&cache, &dest, &paths[0], &trusted, true)
            .unwrap();
    assert_eq!(added.len(), 3);
    let log = server.log.lock().unwrap().clone();
    let at = |target: &str| {
        log.iter()
            .find(|(t, _)| t == target)
            .map(|(_, at)| *at)
            .unwrap_or_else(|| panic!("{target} not requested: {log:?}"))
    };
    let leaf_asked = at(&leaf_narinfo);
    for p in &paths[..2] {
        let nar = format!("/{}", nar_url(&dir, p));
        assert!(
            at(&nar) < leaf_asked + delay / 2,
            "the NAR of {p} waited for the leaf's narinfo: {log:?}"
        );
    }

    // The leaf's narinfo gone: nothing is registered, nothing is left behind.
    fs::remove_file(narinfo_file(&dir, &paths[2])).unwrap();
    let cache = HttpCache::new(&server.url, StoreDir::default()).unwrap();
    let other = unsynced(&tmp.path().join("other"));
    let err =
        nixkit_store::binary_cache::substitute_closure(&cache, &other, &paths[0], &trusted, true)
            .unwrap_err();
    assert!(matches!(err, CacheError::NotInCache(_)), "{err}");
    for p in &paths {
        assert!(!other.is_valid(p).unwrap());
    }
    assert!(stray_temporaries(&other).is_empty());
}
