//! `nixkit serve` over loopback: `nix-cache-info`, signed narinfos, NARs (plain with
//! `Content-Length`, and xz/zstd/bzip2 on the fly) whose bytes hash to the `NarHash`, HEAD,
//! 404/405, keep-alive, logs, many concurrent clients, nixkit's own HTTP substituter, and
//! CppNix 2.8 substituting from it (`nix-store --realise` with `--option substituters`, then
//! `--verify --check-contents`) when `nix-store` is on PATH.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use nixkit_serve::{ServeConfig, Server};
use nixkit_store::binary_cache::{
    has_valid_signature, substitute_closure, CacheError, HttpCache, NarInfo, SecretKey,
};
use nixkit_store::local::{LocalStore, StoreConfig};
use nixkit_store::nar::dump_path;
use nixkit_store::{FileIngestionMethod, Hash, HashAlgo, StoreDir, StorePath};

fn open(root: &Path) -> LocalStore {
    LocalStore::open(StoreConfig::new(root, StoreDir::default())).unwrap()
}

/// A store at `tmp/served` holding `top` → `mid` → `leaf` without content addresses (so a
/// client needs the server's signature), and the three paths.
fn served_store(tmp: &Path) -> Vec<StorePath> {
    let first = open(&tmp.join("first"));
    let src = tmp.join("src");
    fs::create_dir_all(src.join("bin")).unwrap();
    fs::write(src.join("bin/tool"), "#!/bin/sh\necho tool\n").unwrap();
    std::os::unix::fs::symlink("bin/tool", src.join("link")).unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 253) as u8).collect();
    fs::write(src.join("data"), data).unwrap();
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
    let mut stream = Vec::new();
    let all = first.query_closure(&BTreeSet::from([top.clone()])).unwrap();
    nixkit_store::export::export_paths(&first, &all, &mut stream).unwrap();
    let store = open(&tmp.join("served"));
    nixkit_store::export::import_paths(&store, &mut stream.as_slice()).unwrap();
    vec![top, mid, leaf]
}

fn start(tmp: &Path, key: Option<&SecretKey>) -> SocketAddr {
    let config = ServeConfig {
        store: StoreConfig::new(tmp.join("served"), StoreDir::default()),
        sign_key: key.cloned(),
        priority: 42,
        upload_token: None,
        max_upload_size: nixkit_serve::DEFAULT_MAX_UPLOAD_SIZE,
        ..ServeConfig::new(StoreConfig::new(tmp.join("served"), StoreDir::default()))
    };
    Server::bind("127.0.0.1:0", config)
        .unwrap()
        .spawn()
        .unwrap()
}

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build(),
    )
}

struct Got {
    status: u16,
    content_type: Option<String>,
    content_length: Option<u64>,
    body: Vec<u8>,
}

fn get(agent: &ureq::Agent, url: &str) -> Got {
    let r = agent.get(url).call().unwrap();
    let header = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
    let (content_type, content_length) = (
        header("content-type"),
        header("content-length").map(|v| v.parse().unwrap()),
    );
    let status = r.status().as_u16();
    let mut body = Vec::new();
    r.into_body().into_reader().read_to_end(&mut body).unwrap();
    Got {
        status,
        content_type,
        content_length,
        body,
    }
}

fn nar_of(store: &LocalStore, p: &StorePath) -> Vec<u8> {
    let mut nar = Vec::new();
    dump_path(&store.real_path(p), &mut nar).unwrap();
    nar
}

/// Sends the raw requests on one connection and returns each response's status line and
/// headers (the bodies, all with `Content-Length`, are read and skipped).
fn raw_keep_alive(addr: SocketAddr, requests: &[&str]) -> Vec<(String, Vec<String>)> {
    let conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut conn = conn;
    let mut out = Vec::new();
    for req in requests {
        conn.write_all(req.as_bytes()).unwrap();
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            if h == "\r\n" {
                break;
            }
            headers.push(h.trim_end().to_ascii_lowercase());
        }
        let len: usize = headers
            .iter()
            .find_map(|h| h.strip_prefix("content-length: "))
            .map_or(0, |v| v.parse().unwrap());
        if !req.starts_with("HEAD") {
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
        }
        out.push((status.trim_end().to_owned(), headers));
    }
    out
}

#[test]
fn serves_a_binary_cache_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    let paths = served_store(tmp.path());
    let key = SecretKey::generate("serve-test-1").unwrap();
    let addr = start(tmp.path(), Some(&key));
    let base = format!("http://{addr}");
    let a = agent();
    let sd = StoreDir::default();

    let info = get(&a, &format!("{base}/nix-cache-info"));
    assert_eq!(info.status, 200);
    assert_eq!(info.content_type.as_deref(), Some("text/x-nix-cache-info"));
    let text = String::from_utf8(info.body).unwrap();
    for line in ["StoreDir: /nix/store", "WantMassQuery: 1", "Priority: 42"] {
        assert!(text.lines().any(|l| l == line), "{text}");
    }

    // Read the served store only after the server opened it (it is the same database).
    let served = open(&tmp.path().join("served"));
    for p in &paths {
        let want = served.query_path_info(p).unwrap().unwrap();
        let r = get(&a, &format!("{base}/{}.narinfo", p.hash_part()));
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type.as_deref(), Some("text/x-nix-narinfo"));
        assert_eq!(r.content_length, Some(r.body.len() as u64));
        let narinfo = NarInfo::parse(&sd, std::str::from_utf8(&r.body).unwrap()).unwrap();
        assert_eq!(narinfo.info.path, *p);
        assert_eq!(narinfo.info.nar_hash, want.nar_hash);
        assert_eq!(narinfo.info.nar_size, want.nar_size);
        assert_eq!(narinfo.info.references, want.references);
        assert!(has_valid_signature(&sd, &narinfo.info, &[key.public_key()]));
        assert_eq!(narinfo.url, format!("nar/{}.nar", want.nar_hash.to_nix32()));

        let nar = nar_of(&served, p);
        let r = get(&a, &format!("{base}/{}", narinfo.url));
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type.as_deref(), Some("application/x-nix-nar"));
        assert_eq!(r.content_length, Some(want.nar_size));
        assert_eq!(Hash::digest(HashAlgo::Sha256, &r.body), want.nar_hash);
        assert_eq!(r.body, nar);
        // nix-serve's form of the URL.
        let r = get(
            &a,
            &format!(
                "{base}/nar/{}-{}.nar",
                p.hash_part(),
                want.nar_hash.to_nix32()
            ),
        );
        assert_eq!(r.body, nar);
        // Compressed on the fly.
        let xz = get(&a, &format!("{base}/{}.xz", narinfo.url));
        assert_eq!(xz.status, 200);
        let mut plain = Vec::new();
        xz2::read::XzDecoder::new(xz.body.as_slice())
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, nar);
        let zst = get(&a, &format!("{base}/{}.zst", narinfo.url));
        assert_eq!(zstd::stream::decode_all(zst.body.as_slice()).unwrap(), nar);
        let bz2 = get(&a, &format!("{base}/{}.bz2", narinfo.url));
        assert_eq!(bz2.status, 200);
        assert_ne!(bz2.body, nar);
    }

    // Unknown paths and malformed names are 404; other methods 405.
    for bad in [
        "/00000000000000000000000000000000.narinfo",
        "/nix-cache-info/x",
        "/../../etc/passwd",
        "/nar/../../etc/passwd",
        "/nar/0000000000000000000000000000000000000000000000000000.nar",
        "/nar/garbage.nar",
        "/nar/x.nar.gz",
        "/log/../../etc/passwd",
        "/log/00000000000000000000000000000000-x.drv",
        "/",
    ] {
        assert_eq!(get(&a, &format!("{base}{bad}")).status, 404, "{bad}");
    }
    let post = a.post(format!("{base}/nix-cache-info")).send("x").unwrap();
    assert_eq!(post.status().as_u16(), 405);

    // HEAD gives the GET's headers without a body; several requests share one connection.
    let leaf_info = served.query_path_info(&paths[2]).unwrap().unwrap();
    let nar_url = format!("/nar/{}.nar", leaf_info.nar_hash.to_nix32());
    let narinfo_url = format!("/{}.narinfo", paths[2].hash_part());
    let host = format!("Host: {addr}\r\n\r\n");
    let responses = raw_keep_alive(
        addr,
        &[
            &format!("HEAD {nar_url} HTTP/1.1\r\n{host}"),
            &format!("GET {narinfo_url} HTTP/1.1\r\n{host}"),
            &format!("HEAD /nix-cache-info HTTP/1.1\r\n{host}"),
            &format!("GET {nar_url} HTTP/1.1\r\n{host}"),
            &format!(
                "GET /{} HTTP/1.1\r\n{host}",
                "00000000000000000000000000000000.narinfo"
            ),
        ],
    );
    assert!(responses[0].0.starts_with("HTTP/1.1 200"), "{responses:?}");
    let len = format!("content-length: {}", leaf_info.nar_size);
    assert!(responses[0].1.contains(&len), "{responses:?}");
    assert!(responses[3].1.contains(&len), "{responses:?}");
    assert!(responses[4].0.starts_with("HTTP/1.1 404"), "{responses:?}");

    // Build logs, plain or as CppNix keeps them (bzip2).
    let logs = tmp.path().join("served/nix/var/log/nix/drvs");
    let drv = "0123456789abcdfghijklmnpqrsvwxyz-hello.drv";
    fs::create_dir_all(logs.join("01")).unwrap();
    fs::write(logs.join("01").join(&drv[2..]), "building hello\n").unwrap();
    let r = get(&a, &format!("{base}/log/{drv}"));
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"building hello\n"[..])
    );
    let drv2 = "1123456789abcdfghijklmnpqrsvwxyz-other.drv";
    fs::create_dir_all(logs.join("11")).unwrap();
    let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    enc.write_all(b"compressed log\n").unwrap();
    fs::write(
        logs.join("11").join(format!("{}.bz2", &drv2[2..])),
        enc.finish().unwrap(),
    )
    .unwrap();
    let r = get(&a, &format!("{base}/log/{drv2}"));
    assert_eq!(
        (r.status, r.body.as_slice()),
        (200, &b"compressed log\n"[..])
    );

    // nixkit's HTTP substituter takes the closure, trusting the key; refuses without it.
    let target = open(&tmp.path().join("target"));
    let cache = HttpCache::new(&base, sd.clone()).unwrap();
    assert!(matches!(
        substitute_closure(&cache, &target, &paths[0], &[], true),
        Err(CacheError::Untrusted(_))
    ));
    let added = substitute_closure(&cache, &target, &paths[0], &[key.public_key()], true).unwrap();
    assert_eq!(added.len(), 3);
    assert!(target.verify(true).unwrap().is_ok());
}

#[test]
fn many_concurrent_clients() {
    let tmp = tempfile::tempdir().unwrap();
    let paths = served_store(tmp.path());
    let addr = start(tmp.path(), None);
    let served = open(&tmp.path().join("served"));
    let info = served.query_path_info(&paths[2]).unwrap().unwrap();
    let url = format!("http://{addr}/nar/{}.nar", info.nar_hash.to_nix32());
    let threads: Vec<_> = (0..16)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                let a = agent();
                for j in 0..4 {
                    let suffix = if (i + j) % 3 == 0 { ".zst" } else { "" };
                    let r = get(&a, &format!("{url}{suffix}"));
                    assert_eq!(r.status, 200);
                    let body = if suffix.is_empty() {
                        r.body
                    } else {
                        zstd::stream::decode_all(r.body.as_slice()).unwrap()
                    };
                    assert_eq!(Hash::digest(HashAlgo::Sha256, &body), info.nar_hash);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

/// Several large NARs (many chunks each, through the server's shared pool of chunk
/// buffers) fetched at once by many clients: each arrives whole and unmixed.
#[test]
fn concurrent_large_nars_arrive_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let addr = start(tmp.path(), None);
    let served = open(&tmp.path().join("served"));
    let mut wanted = Vec::new();
    for k in 0..3u32 {
        let src = tmp.path().join(format!("big{k}"));
        let data: Vec<u8> = (0..1_500_000u32 + k * 77_777)
            .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(k) >> 13) as u8)
            .collect();
        fs::write(&src, data).unwrap();
        let p = served
            .add_to_store("big", &src, FileIngestionMethod::Flat, HashAlgo::Sha256)
            .unwrap();
        let info = served.query_path_info(&p).unwrap().unwrap();
        wanted.push((
            format!("http://{addr}/nar/{}.nar", info.nar_hash.to_nix32()),
            info.nar_hash,
            info.nar_size,
        ));
    }
    let threads: Vec<_> = (0..9)
        .map(|i| {
            let wanted = wanted.clone();
            std::thread::spawn(move || {
                let a = agent();
                for j in 0..3 {
                    let (url, hash, size) = &wanted[(i + j) % wanted.len()];
                    let r = get(&a, url);
                    assert_eq!(r.status, 200);
                    assert_eq!(r.body.len() as u64, *size);
                    assert_eq!(Hash::digest(HashAlgo::Sha256, &r.body), *hash);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

fn have_nix() -> bool {
    Command::new("nix-store")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn cppnix_substitutes_from_nixkit_serve() {
    if !have_nix() {
        println!("skipped: nix-store (CppNix) is not on PATH");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let paths = served_store(tmp.path());
    let key = SecretKey::generate("nixkit-serve-1").unwrap();
    let addr = start(tmp.path(), Some(&key));
    let sd = StoreDir::default();
    let store = format!("local?root={}", tmp.path().join("cpp").display());
    let pk = key.public_key().to_text();
    let nix = |args: &[&str]| {
        // CppNix's narinfo cache of its own: it remembers answers by URL, and this
        // loopback port may have served other paths to an earlier test.
        let out = Command::new("nix-store")
            .args(["--store", &store])
            .args(args)
            .env("NIX_CONFIG", "")
            .env("XDG_CACHE_HOME", tmp.path().join("cpp-cache"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "nix-store {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let substituters = format!("http://{addr}");
    let top = sd.print_path(&paths[0]);
    let out = nix(&[
        "--realise",
        &top,
        "--option",
        "substituters",
        &substituters,
        "--option",
        "trusted-public-keys",
        &pk,
    ]);
    assert_eq!(out.trim(), top);
    for (p, r) in [(&paths[0], &paths[1]), (&paths[1], &paths[2])] {
        let refs = nix(&["--query", "--references", &sd.print_path(p)]);
        assert_eq!(refs.trim(), sd.print_path(r));
    }
    nix(&["--verify", "--check-contents"]);
    // Every path was fetched (CppNix has them valid, with the server's signature).
    let served = open(&tmp.path().join("served"));
    for p in &paths {
        let hash = nix(&["--query", "--hash", &sd.print_path(p)]);
        let want = served.query_path_info(p).unwrap().unwrap().nar_hash;
        assert_eq!(Hash::parse_with_algo(hash.trim()).unwrap(), want);
    }
}

/// Adds a path of `mib` MiB (a file of bytes that do not compress to nothing) to the served
/// store at `tmp/served`; returns its NAR URL.
fn add_big_path(tmp: &Path, addr: SocketAddr, mib: usize) -> String {
    let src = tmp.join("big");
    fs::create_dir_all(&src).unwrap();
    let mut data = Vec::with_capacity(mib << 20);
    let mut x: u32 = 12345;
    while data.len() < mib << 20 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        data.extend_from_slice(&x.to_le_bytes());
    }
    fs::write(src.join("data"), data).unwrap();
    let served = open(&tmp.join("served"));
    let big = served
        .add_to_store(
            "big",
            &src,
            FileIngestionMethod::Recursive,
            HashAlgo::Sha256,
        )
        .unwrap();
    let info = served.query_path_info(&big).unwrap().unwrap();
    format!("http://{addr}/nar/{}.nar", info.nar_hash.to_nix32())
}

/// Opens a connection, asks for `url` and then reads nothing (the response's producer
/// fills every buffer and waits).
fn idle_reader(url: &str) -> TcpStream {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut conn = TcpStream::connect(host).unwrap();
    write!(conn, "GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
    conn
}

/// Clients that stop reading in the middle of big NARs, more of them than the server's pool
/// of threads for store queries, stall neither the other clients' narinfos and NARs, nor
/// the server forever: after the send timeout their connections are closed.
#[test]
fn clients_that_stop_reading_stall_no_one() {
    let tmp = tempfile::tempdir().unwrap();
    let paths = served_store(tmp.path());
    let key = SecretKey::generate("cache-1").unwrap();
    let start_with = |send_timeout: Duration| {
        let mut config = ServeConfig::new(StoreConfig::new(
            tmp.path().join("served"),
            StoreDir::default(),
        ));
        config.sign_key = Some(key.clone());
        config.blocking_threads = 2;
        config.send_timeout = send_timeout;
        Server::bind("127.0.0.1:0", config)
            .unwrap()
            .spawn()
            .unwrap()
    };
    let addr = start_with(Duration::from_secs(120));
    let big_url = add_big_path(tmp.path(), addr, 48);
    // Twice as many stopped readers as the pool has threads, plus compressed ones.
    let idle: Vec<TcpStream> = (0..4)
        .map(|_| idle_reader(&big_url))
        .chain((0..2).map(|_| idle_reader(&format!("{big_url}.zst"))))
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    let started = std::time::Instant::now();
    let served = open(&tmp.path().join("served"));
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let a = agent();
        let mut hashes = Vec::new();
        for p in &paths {
            let info = get(&a, &format!("http://{addr}/{}.narinfo", p.hash_part()));
            assert_eq!(info.status, 200);
            let text = String::from_utf8(info.body).unwrap();
            let narinfo = NarInfo::parse(&StoreDir::default(), &text).unwrap();
            let nar = get(&a, &format!("http://{addr}/{}", narinfo.url));
            assert_eq!(nar.status, 200);
            hashes.push(Hash::digest(HashAlgo::Sha256, &nar.body));
        }
        let _ = done_tx.send(hashes);
    });
    let hashes = done_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("a client stalled behind clients that stopped reading");
    for (p, got) in paths_of(&served).iter().zip(hashes) {
        assert_eq!(served.query_path_info(p).unwrap().unwrap().nar_hash, got);
    }
    eprintln!(
        "served in {:?} beside {} stopped readers",
        started.elapsed(),
        idle.len()
    );
    drop(idle);

    // With a short send timeout, a stopped reader's connection is closed: what it can read
    // afterwards ends before the whole NAR.
    let addr = start_with(Duration::from_secs(1));
    let url = big_url.replace(
        &big_url[7..big_url.find("/nar").unwrap()],
        &addr.to_string(),
    );
    let mut conn = idle_reader(&url);
    std::thread::sleep(Duration::from_secs(4));
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut got = Vec::new();
    // Closed by the server: the end comes (or a reset), not the read timeout.
    if let Err(e) = conn.read_to_end(&mut got) {
        assert!(
            !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "the connection stayed open: {e}"
        );
    }
    assert!(
        got.len() < 48 << 20,
        "the whole NAR came ({} bytes)",
        got.len()
    );
}

/// Response bodies are bounded (`max_streams`): with every stream held by a client that
/// stopped reading, a NAR request waits `stream_wait`, then gets 503 with `Retry-After`;
/// narinfos are still answered; once the holder goes away, NARs are served again.
#[test]
fn body_streams_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let paths = served_store(tmp.path());
    let mut config = ServeConfig::new(StoreConfig::new(
        tmp.path().join("served"),
        StoreDir::default(),
    ));
    config.max_streams = 1;
    config.stream_wait = Duration::from_millis(700);
    config.send_timeout = Duration::from_secs(120);
    let addr = Server::bind("127.0.0.1:0", config)
        .unwrap()
        .spawn()
        .unwrap();
    let big_url = add_big_path(tmp.path(), addr, 32);
    let holder = idle_reader(&big_url);
    std::thread::sleep(Duration::from_millis(500));
    let a = agent();
    let info = get(
        &a,
        &format!("http://{addr}/{}.narinfo", paths[2].hash_part()),
    );
    assert_eq!(info.status, 200);
    let text = String::from_utf8(info.body).unwrap();
    let nar_url = format!(
        "http://{addr}/{}",
        NarInfo::parse(&StoreDir::default(), &text).unwrap().url
    );
    let started = std::time::Instant::now();
    let r = a.get(&nar_url).call().unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("5")
    );
    assert!(started.elapsed() >= Duration::from_millis(600));
    drop(holder);
    let served_again = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        get(&a, &nar_url).status == 200
    });
    assert!(
        served_again,
        "the stream of a client that went away was not given back"
    );
}

/// The served paths `top`, `mid`, `leaf` (the order of [`served_store`]).
fn paths_of(served: &LocalStore) -> Vec<StorePath> {
    let mut by_name: Vec<StorePath> = served
        .valid_paths()
        .unwrap()
        .into_iter()
        .filter(|p| p.name() != "big")
        .collect();
    let rank = |p: &StorePath| ["top", "mid", "leaf"].iter().position(|n| *n == p.name());
    by_name.sort_by_key(rank);
    by_name
}
