//! The daemon's operations through nixkit's own worker-protocol client, in one process:
//! adding paths (text, content-addressed dumps, NARs, several at once), reading them back,
//! temporary roots kept per connection against a collection from another, trust checks,
//! and a connection that sends garbage or an unknown operation while others go on.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use nixkit_daemon::{Daemon, DaemonSettings, TrustSettings};
use nixkit_protocol::worker::client::WorkerClient;
use nixkit_protocol::worker::types::{GcAction, GcOptions};
use nixkit_protocol::{Limits, ProtocolError};
use nixkit_store::local::StoreConfig;
use nixkit_store::{Hash, HashAlgo, PathInfo, StoreDir};

type Client = WorkerClient<UnixStream, UnixStream>;

struct Running {
    _dir: tempfile::TempDir,
    socket: PathBuf,
}

fn start(trust: TrustSettings) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("daemon.sock");
    let mut settings = DaemonSettings::new(StoreConfig::new(
        dir.path().join("root"),
        StoreDir::default(),
    ));
    settings.trust = trust;
    let daemon: Arc<Daemon> = Daemon::new(settings);
    let listener = Daemon::bind(&socket).unwrap();
    std::thread::spawn(move || daemon.run(&listener, |_, e| eprintln!("a connection failed: {e}")));
    Running { _dir: dir, socket }
}

fn connect(socket: &Path) -> Client {
    let s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    WorkerClient::connect(
        s.try_clone().unwrap(),
        s,
        StoreDir::default(),
        Limits::default(),
    )
    .unwrap()
}

fn trusted() -> TrustSettings {
    TrustSettings::default()
}

fn untrusted() -> TrustSettings {
    TrustSettings {
        allowed_users: vec!["*".into()],
        trusted_users: vec![],
    }
}

fn nar_of(data: &[u8]) -> Vec<u8> {
    let mut nar = Vec::new();
    nixkit_store::nar::write_flat_file_nar(data, false, &mut nar).unwrap();
    nar
}

fn remote_message(e: ProtocolError) -> String {
    match e {
        ProtocolError::Remote(r) => r.message,
        other => panic!("expected a remote error, got {other}"),
    }
}

#[test]
fn paths_added_every_way_read_back_the_same() {
    let d = start(trusted());
    let mut c = connect(&d.socket);
    let text = c
        .add_text_to_store("note", b"some text", &BTreeSet::new())
        .unwrap();
    assert!(c.is_valid_path(&text).unwrap());
    // A content-addressed flat file through `AddToStore`, then its NAR back.
    let info = c
        .add_to_store(
            "data",
            "fixed:sha256",
            &BTreeSet::new(),
            false,
            &mut &b"flat contents"[..],
        )
        .unwrap();
    let mut nar = Vec::new();
    c.nar_from_path(&info.path, &mut nar).unwrap();
    assert_eq!(nar, nar_of(b"flat contents"));
    assert_eq!(Hash::digest(HashAlgo::Sha256, &nar), info.nar_hash);
    // The same contents added as a NAR with metadata (trusted: no signature needed).
    let blob = nar_of(b"opaque");
    let path = StoreDir::default()
        .parse_path("/nix/store/0a0x8ywlxmgcnh5fgd3r1wb2ddsl5q9k-opaque")
        .unwrap();
    let mut opaque = PathInfo::new(
        path.clone(),
        Hash::digest(HashAlgo::Sha256, &blob),
        blob.len() as u64,
    );
    opaque.references.insert(text.clone());
    c.add_to_store_nar(&opaque, &mut blob.as_slice(), false, true)
        .unwrap();
    let got = c.query_path_info(&path).unwrap().unwrap();
    assert_eq!(got.nar_hash, opaque.nar_hash);
    assert_eq!(got.references, opaque.references);
    assert_eq!(
        c.query_referrers(&text).unwrap(),
        BTreeSet::from([path.clone()])
    );
    // Several at once, one of them already valid.
    let more: Vec<(PathInfo, Vec<u8>)> = (0..5)
        .map(|i| {
            let blob = nar_of(format!("item {i}").as_bytes());
            let p = StoreDir::default()
                .parse_path(&format!(
                    "/nix/store/{}-item-{i}",
                    "1b1x8ywlxmgcnh5fgd3r1wb2ddsl5q9k".replacen('1', &i.to_string(), 1)
                ))
                .unwrap();
            let info = PathInfo::new(p, Hash::digest(HashAlgo::Sha256, &blob), blob.len() as u64);
            (info, blob)
        })
        .chain(std::iter::once((opaque.clone(), blob.clone())))
        .collect();
    let mut readers: Vec<&[u8]> = more.iter().map(|(_, b)| b.as_slice()).collect();
    let items: Vec<(&PathInfo, &mut dyn Read)> = more
        .iter()
        .zip(readers.iter_mut())
        .map(|((i, _), r)| (i, r as &mut dyn Read))
        .collect();
    c.add_multiple_to_store(items.into_iter(), false, true)
        .unwrap();
    for (info, _) in &more {
        assert!(c.is_valid_path(&info.path).unwrap(), "{}", info.path);
    }
    // A NAR whose hash is not what its info says is refused, and the connection goes on.
    let mut bad = opaque.clone();
    bad.path = StoreDir::default()
        .parse_path("/nix/store/2c2x8ywlxmgcnh5fgd3r1wb2ddsl5q9k-bad")
        .unwrap();
    bad.nar_hash = Hash::digest(HashAlgo::Sha256, b"something else");
    let e = c
        .add_to_store_nar(&bad, &mut blob.as_slice(), false, true)
        .unwrap_err();
    assert!(remote_message(e).contains("hash mismatch"));
    assert!(!c.is_valid_path(&bad.path).unwrap());
    assert!(c.is_valid_path(&text).unwrap());
}

#[test]
fn temporary_roots_live_as_long_as_their_connection() {
    let d = start(trusted());
    let mut a = connect(&d.socket);
    let kept = a
        .add_text_to_store("kept-while-open", b"x", &BTreeSet::new())
        .unwrap();
    a.add_temp_root(&kept).unwrap();
    let mut b = connect(&d.socket);
    let garbage = b
        .add_text_to_store("garbage", b"y", &BTreeSet::new())
        .unwrap();
    drop(b);
    let mut gc = connect(&d.socket);
    let delete = GcOptions {
        action: GcAction::DeleteDead,
        paths_to_delete: BTreeSet::new(),
        ignore_liveness: false,
        max_freed: u64::MAX,
    };
    // `b` held a temporary root on what it added until its connection's
    // thread read the hang-up, which may come after this connection starts.
    let printed = StoreDir::default().print_path(&garbage);
    let mut deleted = Vec::new();
    for _ in 0..100 {
        let paths = gc.collect_garbage(&delete).unwrap().paths;
        if paths.contains(&printed) {
            deleted = paths;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        deleted.contains(&printed),
        "the closed connection's path was not collected"
    );
    assert!(gc.is_valid_path(&kept).unwrap(), "a live connection's root");
    drop(a);
    // The connection is gone (its thread ends when it reads the hang-up).
    let kept_printed = StoreDir::default().print_path(&kept);
    let mut freed = false;
    for _ in 0..100 {
        if gc
            .collect_garbage(&delete)
            .unwrap()
            .paths
            .contains(&kept_printed)
        {
            freed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(freed, "the root went with its connection");
    // Liveness may not be ignored.
    let e = gc
        .collect_garbage(&GcOptions {
            ignore_liveness: true,
            ..delete
        })
        .unwrap_err();
    assert!(remote_message(e).contains("not allowed to ignore liveness"));
}

#[test]
fn an_untrusted_client_adds_only_content_addressed_or_signed_paths() {
    let d = start(untrusted());
    let mut c = connect(&d.socket);
    let text = c
        .add_text_to_store("ok", b"content-addressed", &BTreeSet::new())
        .unwrap();
    assert!(c.is_valid_path(&text).unwrap());
    let blob = nar_of(b"unsigned");
    let info = PathInfo::new(
        StoreDir::default()
            .parse_path("/nix/store/3d3x8ywlxmgcnh5fgd3r1wb2ddsl5q9k-unsigned")
            .unwrap(),
        Hash::digest(HashAlgo::Sha256, &blob),
        blob.len() as u64,
    );
    // Asking not to check signatures does not help an untrusted client.
    let e = c
        .add_to_store_nar(&info, &mut blob.as_slice(), false, true)
        .unwrap_err();
    assert!(
        remote_message(e).contains("lacks a signature by a trusted key"),
        "refused"
    );
    assert!(!c.is_valid_path(&info.path).unwrap());
    let e = c.import_paths(&mut &b""[..]).unwrap_err();
    assert!(remote_message(e).contains("not privileged"));
    // The connection is still in step.
    assert!(c.is_valid_path(&text).unwrap());
}

#[test]
fn garbage_and_unknown_operations_end_only_their_own_connection() {
    let d = start(trusted());
    let mut good = connect(&d.socket);
    let p = good
        .add_text_to_store("survivor", b"z", &BTreeSet::new())
        .unwrap();
    // Not the protocol at all.
    let mut raw = UnixStream::connect(&d.socket).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    let _ = raw.read_to_end(&mut buf);
    // A valid handshake, then an operation code nobody knows.
    let s = UnixStream::connect(&d.socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut w = s.try_clone().unwrap();
    let mut r = s;
    let _ = WorkerClient::connect(
        r.try_clone().unwrap(),
        w.try_clone().unwrap(),
        StoreDir::default(),
        Limits::default(),
    )
    .unwrap()
    .into_inner();
    w.write_all(&9999u64.to_le_bytes()).unwrap();
    let mut reply = Vec::new();
    let _ = r.read_to_end(&mut reply);
    let text = String::from_utf8_lossy(&reply);
    assert!(
        text.contains("9999"),
        "an error naming the operation: {text:?}"
    );
    // Everyone else is served as before.
    assert!(good.is_valid_path(&p).unwrap());
    let mut fresh = connect(&d.socket);
    assert!(fresh.is_valid_path(&p).unwrap());
}

#[test]
fn many_clients_at_once() {
    let d = start(trusted());
    let socket = d.socket.clone();
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let socket = socket.clone();
            std::thread::spawn(move || {
                let mut c = connect(&socket);
                let mut paths = Vec::new();
                for j in 0..20 {
                    let p = c
                        .add_text_to_store(
                            &format!("c{i}-{j}"),
                            format!("{i} {j}").as_bytes(),
                            &BTreeSet::new(),
                        )
                        .unwrap();
                    paths.push(p);
                }
                for p in &paths {
                    assert!(c.query_path_info(p).unwrap().is_some());
                }
                paths.len()
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, 320);
    let mut c = connect(&d.socket);
    assert!(c.query_all_valid_paths().unwrap().len() >= 320);
}
