//! The daemon-side stream helpers with this crate's client on the other end of a socket
//! pair: NAR uploads read through `UploadSource` (framed), export streams pulled through
//! `TunnelSource` (`STDERR_READ`), NARs sent back bare and data through `TunnelSink`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use nixkit_protocol::serve::export::{read_export, write_export, ExportedPath};
use nixkit_protocol::worker::client::WorkerClient;
use nixkit_protocol::worker::reply::WorkerReply;
use nixkit_protocol::worker::request::WorkerRequest;
use nixkit_protocol::worker::server::{TunnelSink, TunnelSource, UploadSource};
use nixkit_protocol::worker::server_handshake_at;
use nixkit_protocol::worker::stderr::{RemoteError, StderrMsg};
use nixkit_protocol::worker::types::Ctx;
use nixkit_protocol::{Limits, ProtocolError};
use nixkit_store::{Hash, HashAlgo, PathInfo, StoreDir, StorePath};

fn error(message: String) -> StderrMsg {
    StderrMsg::Error(RemoteError {
        level: 0,
        message,
        traces: vec![],
        status: 1,
    })
}

/// A daemon keeping NARs in memory.
fn memory_daemon(conn: UnixStream, version: u64) {
    let mut r = conn.try_clone().expect("clone");
    let mut w = conn;
    let hello = server_handshake_at(&mut r, &mut w, "memory", version).expect("handshake");
    let v = hello.negotiated.version;
    let ctx = Ctx {
        store: StoreDir::default(),
        limits: Limits::default(),
        minor: hello.negotiated.minor(),
    };
    let mut nars: BTreeMap<StorePath, Vec<u8>> = BTreeMap::new();
    loop {
        let req = match WorkerRequest::read(&mut r, &ctx) {
            Ok(req) => req,
            Err(_) => return,
        };
        match req {
            WorkerRequest::AddToStoreNar { info, .. } => {
                let mut src = UploadSource::new(ctx.minor, &mut r, &mut w);
                let mut nar = Vec::new();
                let got = (&mut src).take(info.nar_size).read_to_end(&mut nar);
                src.drain().expect("drain");
                let msg = match got {
                    Ok(_) if Hash::digest(HashAlgo::Sha256, &nar) == info.nar_hash => {
                        nars.insert(info.path.clone(), nar);
                        StderrMsg::Last
                    }
                    Ok(_) => error(format!("hash mismatch importing path '{}'", info.path)),
                    Err(e) => error(e.to_string()),
                };
                msg.write(&mut w, v).expect("write");
            }
            WorkerRequest::ImportPaths => {
                let paths = read_export(&mut TunnelSource::new(&mut r, &mut w), &ctx, 1 << 20);
                match paths {
                    Ok(paths) => {
                        StderrMsg::Last.write(&mut w, v).expect("write");
                        let names: Vec<String> = paths
                            .iter()
                            .map(|p| ctx.store.print_path(&p.path))
                            .collect();
                        for p in paths {
                            nars.insert(p.path, p.nar);
                        }
                        WorkerReply::Strings(names)
                            .write(&mut w, &ctx)
                            .expect("write");
                    }
                    Err(e) => error(e.to_string()).write(&mut w, v).expect("write"),
                }
            }
            WorkerRequest::NarFromPath(p) => match nars.get(&p) {
                Some(nar) => {
                    StderrMsg::Last.write(&mut w, v).expect("write");
                    w.write_all(nar).expect("write");
                }
                None => error(format!("path '{p}' is not valid"))
                    .write(&mut w, v)
                    .expect("write"),
            },
            // A made-up use of the sink: the NAR as STDERR_WRITE data, then an error, which
            // a client without a sink reports as unexpected data.
            // The client hangs up as soon as it sees the data, so the writes after it may
            // meet a closed pipe: that ends this server, as a real daemon's connection.
            WorkerRequest::QueryPathFromHashPart(_) => {
                if TunnelSink::new(&mut w).write_all(b"unasked data").is_err()
                    || StderrMsg::Last.write(&mut w, v).is_err()
                    || WorkerReply::OptPath(None).write(&mut w, &ctx).is_err()
                {
                    return;
                }
            }
            other => error(format!("{:?} unsupported", other.op()))
                .write(&mut w, v)
                .expect("write"),
        }
        w.flush().expect("flush");
    }
}

fn nar_of(data: &[u8]) -> (PathInfo, Vec<u8>) {
    let mut nar = Vec::new();
    nixkit_store::nar::write_flat_file_nar(data, false, &mut nar).expect("nar");
    let h = Hash::digest(HashAlgo::Sha256, &nar);
    let path = StorePath::from_digest(&h.as_bytes()[..20].try_into().expect("20 bytes"), "f")
        .expect("path");
    (PathInfo::new(path, h, nar.len() as u64), nar)
}

#[test]
fn uploads_imports_and_downloads_through_the_server_helpers() {
    // 1.34 (framed uploads, errors with traces), 1.25, and 1.21/1.22 (uploads pulled with
    // STDERR_READ, errors in the old format, no daemon version string).
    for minor in [34u64, 25, 22, 21] {
        exchange((1 << 8) | minor);
    }
}

fn exchange(version: u64) {
    let (a, b) = UnixStream::pair().expect("socketpair");
    let server = std::thread::spawn(move || memory_daemon(b, version));
    let mut c = WorkerClient::connect(
        a.try_clone().expect("clone"),
        a,
        StoreDir::default(),
        Limits::default(),
    )
    .expect("handshake");
    assert_eq!(c.negotiated().version, version);
    assert_eq!(
        c.negotiated().daemon_nix_version.is_some(),
        version & 0xff >= 33
    );

    // Framed upload, several frames long, then read back.
    let (info, nar) = nar_of(&vec![b'q'; 200_000]);
    c.add_to_store_nar(&info, &mut nar.as_slice(), false, false)
        .expect("AddToStoreNar");
    let mut back = Vec::new();
    c.nar_from_path(&info.path, &mut back).expect("NarFromPath");
    assert_eq!(back, nar);

    // A wrong hash: refused, and the frames are drained so the connection goes on.
    let (mut bad, bad_nar) = nar_of(b"bad");
    bad.nar_hash = Hash::digest(HashAlgo::Sha256, b"something else");
    match c.add_to_store_nar(&bad, &mut bad_nar.as_slice(), false, false) {
        Err(ProtocolError::Remote(e)) => assert!(e.message.contains("hash mismatch"), "{e}"),
        other => panic!("{other:?}"),
    }

    // An export stream pulled by the daemon with STDERR_READ (64 KiB at a time).
    let (i2, n2) = nar_of(&vec![b'x'; 150_000]);
    let mut export = Vec::new();
    let ctx = c.ctx().clone();
    write_export(
        &mut export,
        &ctx,
        &[ExportedPath {
            path: i2.path.clone(),
            nar: n2.clone(),
            references: BTreeSet::new(),
            deriver: None,
        }],
    )
    .expect("export");
    assert_eq!(
        c.import_paths(&mut export.as_slice()).expect("ImportPaths"),
        BTreeSet::from([i2.path.clone()])
    );
    let mut back = Vec::new();
    c.nar_from_path(&i2.path, &mut back).expect("NarFromPath");
    assert_eq!(back, n2);

    // Data the client did not ask for.
    assert!(matches!(
        c.query_path_from_hash_part("x"),
        Err(ProtocolError::Unexpected { .. })
    ));
    drop(c);
    server.join().expect("server");
}
