//! CppNix 2.8's own client (`nix-store --store unix://SOCKET`) against a daemon assembled
//! from this crate's server-side pieces: the handshake, `SetOptions`, path-info replies and
//! the 1.26+ error format must be what CppNix expects, byte for byte.

mod common;

use std::collections::BTreeMap;
use std::os::unix::net::{UnixListener, UnixStream};

use common::{have, PrivateStore};
use nixkit_protocol::worker::reply::WorkerReply;
use nixkit_protocol::worker::request::WorkerRequest;
use nixkit_protocol::worker::server_handshake;
use nixkit_protocol::worker::stderr::{RemoteError, StderrMsg};
use nixkit_protocol::worker::types::Ctx;
use nixkit_protocol::{Limits, ProtocolError};
use nixkit_store::{Hash, HashAlgo, PathInfo, StorePath};

/// Serves one connection from `infos` until the client hangs up.
fn serve(conn: UnixStream, ctx: Ctx, infos: BTreeMap<StorePath, PathInfo>) {
    let mut reader = conn.try_clone().expect("clone");
    let mut writer = conn;
    let Ok(hello) = server_handshake(&mut reader, &mut writer, "2.8.0-nixkit-test") else {
        return;
    };
    let version = hello.negotiated.version;
    let ctx = Ctx {
        minor: hello.negotiated.minor(),
        ..ctx
    };
    loop {
        let req = match WorkerRequest::read(&mut reader, &ctx) {
            Ok(r) => r,
            Err(ProtocolError::UnsupportedOp { .. } | ProtocolError::UnknownOp { .. }) => {
                let e = RemoteError {
                    level: 0,
                    message: "unsupported".into(),
                    traces: vec![],
                    status: 1,
                };
                let _ = StderrMsg::Error(e).write(&mut writer, version);
                return;
            }
            Err(_) => return,
        };
        let reply = match &req {
            WorkerRequest::SetOptions(_) => Some(WorkerReply::Nothing),
            WorkerRequest::AddTempRoot(_) => Some(WorkerReply::Done),
            WorkerRequest::IsValidPath(p) => Some(WorkerReply::Bool(infos.contains_key(p))),
            WorkerRequest::QueryPathInfo(p) => {
                Some(WorkerReply::PathInfo(infos.get(p).cloned().map(Box::new)))
            }
            WorkerRequest::QueryValidPaths { paths, .. } => Some(WorkerReply::Paths(
                paths
                    .iter()
                    .filter(|p| infos.contains_key(p))
                    .cloned()
                    .collect(),
            )),
            _ => None,
        };
        let _ = StderrMsg::Next("toy daemon at work".into()).write(&mut writer, version);
        let sent = match reply {
            Some(reply) => StderrMsg::Last
                .write(&mut writer, version)
                .and_then(|()| reply.write(&mut writer, &ctx)),
            None => StderrMsg::Error(RemoteError {
                level: 0,
                message: format!("nixkit toy daemon: {} is not supported", req.op().name()),
                traces: vec!["while serving a test".into()],
                status: 1,
            })
            .write(&mut writer, version),
        };
        if sent.is_err() {
            return;
        }
    }
}

#[test]
fn cppnix_client_reads_our_replies_and_errors() {
    if !have("nix-store") {
        return;
    }
    let ps = PrivateStore::new();
    let sock = ps.root().join("daemon.sock");
    let listener = UnixListener::bind(&sock).expect("bind");

    let a = ps
        .store
        .parse_path(&format!(
            "{}/{}",
            ps.store.as_str(),
            "0c6kzph7l0dcbfmjap64f0czdafn3b7x-a"
        ))
        .expect("a");
    let b = ps
        .store
        .parse_path(&format!(
            "{}/{}",
            ps.store.as_str(),
            "1c6kzph7l0dcbfmjap64f0czdafn3b7x-b"
        ))
        .expect("b");
    let mut ia = PathInfo::new(a.clone(), Hash::digest(HashAlgo::Sha256, b"a"), 120);
    ia.references.insert(b.clone());
    ia.registration_time = 1_600_000_000;
    let ib = PathInfo::new(b.clone(), Hash::digest(HashAlgo::Sha256, b"b"), 4242);
    let infos = BTreeMap::from([(a.clone(), ia.clone()), (b.clone(), ib)]);
    let ctx = Ctx {
        store: ps.store.clone(),
        limits: Limits::default(),
        minor: 34,
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop_seen = stop.clone();
    let server = std::thread::spawn(move || {
        for conn in listener.incoming() {
            if stop_seen.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            match conn {
                Ok(conn) => serve(conn, ctx.clone(), infos.clone()),
                Err(_) => return,
            }
        }
    });

    let store_arg = format!("unix://{}", sock.display());
    let run = |args: &[&str]| {
        let out = ps
            .command("nix-store")
            .arg("--store")
            .arg(&store_arg)
            .args(args)
            .output()
            .expect("nix-store");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let a_s = ps.store.print_path(&a);
    let (ok, out, err) = run(&["-q", "--hash", &a_s]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("sha256:{}", ia.nar_hash.to_nix32()));

    let (ok, out, err) = run(&["-q", "--references", &a_s]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), ps.store.print_path(&b));

    // An operation the toy daemon refuses: CppNix prints our message and trace.
    let (ok, _, err) = run(&["--gc", "--print-roots"]);
    assert!(!ok);
    assert!(
        err.contains("nixkit toy daemon: FindRoots is not supported"),
        "{err}"
    );
    // However many connections CppNix made, wake the server so that it sees `stop`.
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    drop(UnixStream::connect(&sock));
    server.join().expect("server");
}
