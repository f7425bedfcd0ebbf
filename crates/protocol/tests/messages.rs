//! Round trips of every worker and serve message (request and reply, at several protocol
//! versions), the log stream, framed streams, and a client talking to a server built from
//! this crate's server-side pieces over a socket pair.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use nixkit_protocol::framed::{copy_nar, FramedReader, FramedWriter};
use nixkit_protocol::serve::client::{read_path_infos, write_path_infos, ServeRequest};
use nixkit_protocol::serve::BuildOptions;
use nixkit_protocol::worker::client::WorkerClient;
use nixkit_protocol::worker::reply::{Missing, SubstitutableInfo, WorkerReply};
use nixkit_protocol::worker::request::WorkerRequest;
use nixkit_protocol::worker::stderr::{LogField, RemoteError, StderrMsg};
use nixkit_protocol::worker::types::{
    BuildMode, BuildResult, ClientSettings, Ctx, DerivedPath, GcAction, GcOptions, WireDerivation,
    WireDrvOutput,
};
use nixkit_protocol::worker::{server_handshake, WorkerOp};
use nixkit_protocol::{Limits, ProtocolError};
use nixkit_store::{
    ContentAddress, ContentAddressMethod, FileIngestionMethod, Hash, HashAlgo, PathInfo, StoreDir,
    StorePath,
};

fn ctx(minor: u64) -> Ctx {
    Ctx {
        store: StoreDir::default(),
        limits: Limits::default(),
        minor,
    }
}

fn sp(name: &str, n: u8) -> StorePath {
    StorePath::from_digest(&[n; 20], name).expect("store path")
}

fn info(n: u8) -> PathInfo {
    let h = Hash::digest(HashAlgo::Sha256, &[n]);
    let mut i = PathInfo::new(sp("p", n), h, 1000 + u64::from(n));
    i.references = BTreeSet::from([sp("dep", n + 1), sp("p", n)]);
    i.deriver = Some(sp("p.drv", n + 2));
    i.registration_time = 1_700_000_000;
    i.ultimate = true;
    i.sigs = BTreeSet::from(["cache:AAAA".to_owned()]);
    i.ca = Some(ContentAddress {
        method: ContentAddressMethod::Fixed(FileIngestionMethod::Recursive),
        hash: h,
    });
    i
}

fn requests() -> Vec<WorkerRequest> {
    let drv = WireDerivation {
        outputs: vec![WireDrvOutput {
            name: "out".into(),
            path: StoreDir::default().print_path(&sp("x", 9)),
            hash_algo: "r:sha256".into(),
            hash: "00".repeat(32),
        }],
        input_srcs: BTreeSet::from([sp("src", 3)]),
        platform: "x86_64-linux".into(),
        builder: "/bin/sh".into(),
        args: vec!["-c".into(), "true".into()],
        env: vec![("a".into(), "b".into()), ("out".into(), String::new())],
    };
    vec![
        WorkerRequest::IsValidPath(sp("a", 1)),
        WorkerRequest::QueryValidPaths {
            paths: BTreeSet::from([sp("a", 1), sp("b", 2)]),
            substitute: true,
        },
        WorkerRequest::QueryPathInfo(sp("a", 1)),
        WorkerRequest::QueryReferrers(sp("a", 1)),
        WorkerRequest::QueryPathFromHashPart(sp("a", 1).hash_part().to_owned()),
        WorkerRequest::AddTempRoot(sp("a", 1)),
        WorkerRequest::AddIndirectRoot("/home/u/result".into()),
        WorkerRequest::AddToStoreNar {
            info: info(4),
            repair: false,
            dont_check_sigs: true,
        },
        WorkerRequest::AddToStore {
            name: "src".into(),
            method: "fixed:r:sha256".into(),
            references: BTreeSet::from([sp("a", 1)]),
            repair: true,
        },
        WorkerRequest::AddTextToStore {
            name: "t".into(),
            text: b"\0binary\xff".to_vec(),
            references: BTreeSet::new(),
        },
        WorkerRequest::NarFromPath(sp("a", 1)),
        WorkerRequest::QueryDerivationOutputMap(sp("a.drv", 1)),
        WorkerRequest::QueryMissing(vec![
            DerivedPath::Opaque(sp("a", 1)),
            DerivedPath::Built {
                drv: sp("a.drv", 2),
                outputs: vec!["out".into(), "dev".into()],
            },
        ]),
        WorkerRequest::SetOptions(ClientSettings {
            keep_going: true,
            verbosity: 3,
            overrides: vec![("sandbox".into(), "false".into())],
            ..Default::default()
        }),
        WorkerRequest::BuildPaths {
            paths: vec![DerivedPath::Opaque(sp("a", 1))],
            mode: BuildMode::Check,
        },
        WorkerRequest::BuildDerivation {
            drv_path: sp("x.drv", 5),
            drv,
            mode: BuildMode::Repair,
        },
        WorkerRequest::EnsurePath(sp("a", 1)),
        WorkerRequest::FindRoots,
        WorkerRequest::CollectGarbage(GcOptions {
            action: GcAction::DeleteSpecific,
            paths_to_delete: BTreeSet::from([sp("a", 1)]),
            ignore_liveness: false,
            max_freed: 12345,
        }),
        WorkerRequest::SyncWithGC,
        WorkerRequest::QuerySubstitutablePathInfos(vec![(sp("a", 1), String::new())]),
        WorkerRequest::QuerySubstitutablePaths(BTreeSet::from([sp("a", 1)])),
        WorkerRequest::HasSubstitutes(sp("a", 1)),
        WorkerRequest::QueryAllValidPaths,
        WorkerRequest::QueryValidDerivers(sp("a", 1)),
        WorkerRequest::QueryDerivationOutputs(sp("a.drv", 1)),
        WorkerRequest::QueryReferences(sp("a", 1)),
        WorkerRequest::QueryDeriver(sp("a", 1)),
        WorkerRequest::QueryPathHash(sp("a", 1)),
        WorkerRequest::QueryDerivationOutputNames(sp("a.drv", 1)),
        WorkerRequest::AddSignatures {
            path: sp("a", 1),
            sigs: BTreeSet::from(["k:AAAA".to_owned()]),
        },
        WorkerRequest::OptimiseStore,
        WorkerRequest::VerifyStore {
            check_contents: true,
            repair: false,
        },
        WorkerRequest::BuildPathsWithResults {
            paths: vec![DerivedPath::Built {
                drv: sp("a.drv", 1),
                outputs: vec![],
            }],
            mode: BuildMode::Normal,
        },
        WorkerRequest::AddMultipleToStore {
            repair: false,
            dont_check_sigs: true,
        },
        WorkerRequest::AddBuildLog(sp("a.drv", 1)),
        WorkerRequest::ImportPaths,
        WorkerRequest::RegisterDrvOutput("{}".into()),
        WorkerRequest::QueryRealisation("sha256:00!out".into()),
    ]
}

#[test]
fn every_worker_request_round_trips() {
    for minor in [34, 28, 25] {
        let c = ctx(minor);
        for req in requests() {
            if matches!(req, WorkerRequest::RegisterDrvOutput(_)) && minor < 31 {
                continue;
            }
            let mut buf = Vec::new();
            req.write(&mut buf, &c).expect("write");
            assert_eq!(buf.len() % 8, 0, "{req:?}: everything is 8-byte aligned");
            let mut r = buf.as_slice();
            let back = WorkerRequest::read(&mut r, &c).expect("read");
            // Fields a version lacks read back as their defaults.
            let want = match req.clone() {
                WorkerRequest::QueryValidPaths { paths, .. } if minor < 27 => {
                    WorkerRequest::QueryValidPaths {
                        paths,
                        substitute: false,
                    }
                }
                other => other,
            };
            assert_eq!(back, want, "minor {minor}");
            assert!(r.is_empty(), "{req:?} left {} bytes", r.len());
            // Every truncation is a typed error, never a panic or a wrong value.
            for cut in (0..buf.len()).step_by(8) {
                assert!(
                    WorkerRequest::read(&mut &buf[..cut], &c).is_err(),
                    "{req:?} cut at {cut}"
                );
            }
        }
    }
}

#[test]
fn every_worker_reply_round_trips() {
    let c = ctx(34);
    let res = BuildResult {
        status: 0,
        error_msg: String::new(),
        times_built: 1,
        is_non_deterministic: false,
        start_time: 10,
        stop_time: 20,
        built_outputs: vec![("sha256:00!out".into(), "{}".into())],
    };
    let cases: Vec<(WorkerRequest, WorkerReply)> = vec![
        (
            WorkerRequest::IsValidPath(sp("a", 1)),
            WorkerReply::Bool(true),
        ),
        (
            WorkerRequest::QueryReferrers(sp("a", 1)),
            WorkerReply::Paths(BTreeSet::from([sp("b", 2)])),
        ),
        (
            WorkerRequest::QueryPathInfo(sp("p", 4)),
            WorkerReply::PathInfo(Some(Box::new(info(4)))),
        ),
        (
            WorkerRequest::QueryPathInfo(sp("p", 4)),
            WorkerReply::PathInfo(None),
        ),
        (
            WorkerRequest::QueryPathFromHashPart("x".into()),
            WorkerReply::OptPath(None),
        ),
        (
            WorkerRequest::QueryPathFromHashPart("x".into()),
            WorkerReply::OptPath(Some(sp("a", 1))),
        ),
        (WorkerRequest::AddTempRoot(sp("a", 1)), WorkerReply::Done),
        (
            WorkerRequest::AddTextToStore {
                name: "t".into(),
                text: vec![],
                references: BTreeSet::new(),
            },
            WorkerReply::Path(sp("t", 7)),
        ),
        (
            WorkerRequest::AddToStore {
                name: "p".into(),
                method: "fixed:r:sha256".into(),
                references: BTreeSet::new(),
                repair: false,
            },
            WorkerReply::PathWithInfo(Box::new(info(4))),
        ),
        (
            WorkerRequest::QueryDerivationOutputMap(sp("a.drv", 1)),
            WorkerReply::OutputMap(vec![("dev".into(), None), ("out".into(), Some(sp("a", 1)))]),
        ),
        (
            WorkerRequest::QueryMissing(vec![]),
            WorkerReply::Missing(Missing {
                will_build: BTreeSet::from([sp("a.drv", 1)]),
                will_substitute: BTreeSet::new(),
                unknown: BTreeSet::from([sp("u", 3)]),
                download_size: 5,
                nar_size: 6,
            }),
        ),
        (
            WorkerRequest::FindRoots,
            WorkerReply::Roots(vec![("/r".into(), sp("a", 1))]),
        ),
        (
            WorkerRequest::CollectGarbage(GcOptions {
                action: GcAction::ReturnDead,
                paths_to_delete: BTreeSet::new(),
                ignore_liveness: false,
                max_freed: 0,
            }),
            WorkerReply::Gc {
                paths: vec!["/nix/store/x".into()],
                bytes_freed: 99,
            },
        ),
        (
            WorkerRequest::BuildDerivation {
                drv_path: sp("x.drv", 5),
                drv: WireDerivation::default(),
                mode: BuildMode::Normal,
            },
            WorkerReply::BuildResult(res),
        ),
        (
            WorkerRequest::QuerySubstitutablePathInfos(vec![]),
            WorkerReply::SubstitutableInfos(vec![SubstitutableInfo {
                path: sp("a", 1),
                deriver: None,
                references: BTreeSet::from([sp("b", 2)]),
                download_size: 1,
                nar_size: 2,
            }]),
        ),
        (
            WorkerRequest::SetOptions(ClientSettings::default()),
            WorkerReply::Nothing,
        ),
        (
            WorkerRequest::QueryPathHash(sp("a", 1)),
            WorkerReply::Text("00ff".into()),
        ),
        (
            WorkerRequest::ImportPaths,
            WorkerReply::Strings(vec!["/nix/store/x".into()]),
        ),
        (
            WorkerRequest::VerifyStore {
                check_contents: false,
                repair: false,
            },
            WorkerReply::Bool(false),
        ),
        (
            WorkerRequest::QueryDeriver(sp("a", 1)),
            WorkerReply::OptPath(Some(sp("a.drv", 2))),
        ),
        (WorkerRequest::OptimiseStore, WorkerReply::Done),
        (
            WorkerRequest::BuildPathsWithResults {
                paths: vec![],
                mode: BuildMode::Normal,
            },
            WorkerReply::BuildResults(vec![(
                DerivedPath::Built {
                    drv: sp("a.drv", 1),
                    outputs: vec!["out".into()],
                },
                BuildResult {
                    status: 3,
                    error_msg: "failed".into(),
                    ..Default::default()
                },
            )]),
        ),
    ];
    for (req, reply) in cases {
        let mut buf = Vec::new();
        reply.write(&mut buf, &c).expect("write");
        let mut r = buf.as_slice();
        let back = WorkerReply::read(&req, &mut r, &c).expect("read");
        assert_eq!(back, reply, "{req:?}");
        assert!(r.is_empty());
    }
}

#[test]
fn log_messages_round_trip_in_both_error_formats() {
    let msgs = vec![
        StderrMsg::Next("building '/nix/store/x.drv'...".into()),
        StderrMsg::Read(32768),
        StderrMsg::Write(vec![1, 2, 3]),
        StderrMsg::StartActivity {
            id: 7,
            level: 3,
            kind: 105,
            text: "building".into(),
            fields: vec![
                LogField::String("/nix/store/x.drv".into()),
                LogField::Int(1),
            ],
            parent: 0,
        },
        StderrMsg::Result {
            id: 7,
            kind: 101,
            fields: vec![LogField::String("line".into())],
        },
        StderrMsg::StopActivity { id: 7 },
        StderrMsg::Error(RemoteError {
            level: 0,
            message: "path '/nix/store/x' is not valid".into(),
            traces: vec!["while doing a".into(), "while doing b".into()],
            status: 1,
        }),
        StderrMsg::Last,
    ];
    for version in [(1 << 8) | 34, (1 << 8) | 25] {
        let mut buf = Vec::new();
        for m in &msgs {
            m.write(&mut buf, version).expect("write");
        }
        let mut r = buf.as_slice();
        for m in &msgs {
            let back = StderrMsg::read(&mut r, &Limits::default(), version).expect("read");
            match (m, &back) {
                // Before 1.26 errors carry no trace.
                (StderrMsg::Error(e), StderrMsg::Error(b)) if version & 0xff < 26 => {
                    assert_eq!(b.message, e.message);
                    assert_eq!(b.status, 1);
                }
                _ => assert_eq!(&back, m),
            }
        }
        assert!(r.is_empty());
    }
}

#[test]
fn serve_requests_and_path_infos_round_trip() {
    let c = ctx(7);
    let reqs = vec![
        ServeRequest::QueryValidPaths {
            lock: true,
            substitute: false,
            paths: BTreeSet::from([sp("a", 1)]),
        },
        ServeRequest::QueryPathInfos(BTreeSet::from([sp("a", 1), sp("b", 2)])),
        ServeRequest::DumpStorePath(sp("a", 1)),
        ServeRequest::ImportPaths,
        ServeRequest::ExportPaths(BTreeSet::from([sp("a", 1)])),
        ServeRequest::BuildPaths {
            paths: vec![DerivedPath::Built {
                drv: sp("a.drv", 1),
                outputs: vec!["out".into()],
            }],
            options: BuildOptions {
                max_silent_time: 5,
                keep_failed: true,
                ..Default::default()
            },
        },
        ServeRequest::QueryClosure {
            include_outputs: true,
            paths: BTreeSet::from([sp("a", 1)]),
        },
        ServeRequest::BuildDerivation {
            drv_path: sp("a.drv", 1),
            drv: WireDerivation::default(),
            options: BuildOptions::default(),
        },
        ServeRequest::AddToStoreNar(Box::new(info(4))),
    ];
    for req in reqs {
        let mut buf = Vec::new();
        req.write(&mut buf, &c).expect("write");
        let mut r = buf.as_slice();
        assert_eq!(ServeRequest::read(&mut r, &c).expect("read"), req);
        assert!(r.is_empty());
    }
    let infos = vec![info(4), info(8)];
    let mut buf = Vec::new();
    write_path_infos(&mut buf, &c, &infos).expect("write");
    let back = read_path_infos(&mut buf.as_slice(), &c).expect("read");
    for (a, b) in infos.iter().zip(&back) {
        assert_eq!(
            (
                &a.path,
                &a.nar_hash,
                a.nar_size,
                &a.references,
                &a.ca,
                &a.sigs
            ),
            (
                &b.path,
                &b.nar_hash,
                b.nar_size,
                &b.references,
                &b.ca,
                &b.sigs
            )
        );
    }
}

#[test]
fn framed_stream_round_trips_any_size() {
    for len in [0usize, 1, 7, 8, 32 * 1024 - 1, 32 * 1024, 100_003] {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let mut w = FramedWriter::new(Vec::new());
        for chunk in data.chunks(1000) {
            w.write_all(chunk).expect("write");
        }
        let mut wire = w.finish().expect("finish");
        wire.extend_from_slice(b"AFTER");
        let mut r = FramedReader::new(wire.as_slice());
        let mut back = Vec::new();
        r.read_to_end(&mut back).expect("read");
        assert_eq!(back, data);
        let rest = r.drain().expect("drain");
        assert_eq!(rest, b"AFTER", "nothing past the terminator is read");
    }
    // A frame cut short is an error, not a short read.
    let mut r = FramedReader::new(&[16u8, 0, 0, 0, 0, 0, 0, 0, 1, 2][..]);
    assert!(r.read_to_end(&mut Vec::new()).is_err());
}

#[test]
fn copy_nar_stops_at_the_end_of_the_nar() {
    let mut nar = Vec::new();
    nixkit_store::nar::write_flat_file_nar(b"abc", true, &mut nar).expect("nar");
    let mut wire = nar.clone();
    wire.extend_from_slice(&[9u8; 16]);
    let mut r = wire.as_slice();
    let mut out = Vec::new();
    assert_eq!(copy_nar(&mut r, &mut out).expect("copy"), nar.len() as u64);
    assert_eq!(out, nar);
    assert_eq!(r, &[9u8; 16]);
}

/// A daemon made of this crate's server pieces, answering from a tiny table; unsupported
/// operations get a `STDERR_ERROR` and the connection goes on.
fn toy_daemon(mut conn: UnixStream) {
    let Ok(hello) = server_handshake(
        &mut conn.try_clone().expect("clone"),
        &mut conn,
        "nixkit-test",
    ) else {
        return;
    };
    let c = Ctx {
        minor: hello.negotiated.minor(),
        ..ctx(34)
    };
    let mut reader = conn.try_clone().expect("clone");
    loop {
        let req = match WorkerRequest::read(&mut reader, &c) {
            Ok(r) => r,
            Err(ProtocolError::UnsupportedOp { op, .. }) => {
                let err = RemoteError {
                    level: 0,
                    message: format!("unsupported {op}"),
                    traces: vec![],
                    status: 1,
                };
                StderrMsg::Error(err)
                    .write(&mut conn, hello.negotiated.version)
                    .expect("write");
                // Its arguments cannot be skipped: hang up.
                return;
            }
            Err(_) => return,
        };
        let reply = match &req {
            WorkerRequest::IsValidPath(p) => Some(WorkerReply::Bool(*p == sp("a", 1))),
            WorkerRequest::QueryPathInfo(p) if *p == sp("p", 4) => {
                Some(WorkerReply::PathInfo(Some(Box::new(info(4)))))
            }
            WorkerRequest::QueryPathInfo(_) => Some(WorkerReply::PathInfo(None)),
            WorkerRequest::SetOptions(_) => Some(WorkerReply::Nothing),
            _ => None,
        };
        StderrMsg::Next("working".into())
            .write(&mut conn, hello.negotiated.version)
            .expect("write");
        match reply {
            Some(reply) => {
                StderrMsg::Last
                    .write(&mut conn, hello.negotiated.version)
                    .expect("write");
                reply.write(&mut conn, &c).expect("write");
            }
            None => {
                let err = RemoteError {
                    level: 0,
                    message: format!("operation {} is not supported", req.op().name()),
                    traces: vec![],
                    status: 1,
                };
                StderrMsg::Error(err)
                    .write(&mut conn, hello.negotiated.version)
                    .expect("write");
            }
        }
    }
}

#[test]
fn client_talks_to_a_server_built_from_the_message_types() {
    let (a, b) = UnixStream::pair().expect("socketpair");
    let server = std::thread::spawn(move || toy_daemon(b));
    let mut client = WorkerClient::connect(
        a.try_clone().expect("clone"),
        a,
        StoreDir::default(),
        Limits::default(),
    )
    .expect("handshake");
    assert_eq!(
        client.negotiated().daemon_nix_version.as_deref(),
        Some("nixkit-test")
    );
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = lines.clone();
    client.set_logger(Box::new(move |m| {
        sink.lock().expect("lock").push(m.clone())
    }));
    client
        .set_options(&ClientSettings::default())
        .expect("SetOptions");
    assert!(client.is_valid_path(&sp("a", 1)).expect("IsValidPath"));
    assert!(!client.is_valid_path(&sp("b", 2)).expect("IsValidPath"));
    assert_eq!(
        client.query_path_info(&sp("p", 4)).expect("QueryPathInfo"),
        Some(info(4))
    );
    assert_eq!(
        client.query_path_info(&sp("q", 5)).expect("QueryPathInfo"),
        None
    );
    match client.find_roots() {
        Err(ProtocolError::Remote(e)) => assert!(e.message.contains("FindRoots"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(client
        .is_valid_path(&sp("a", 1))
        .expect("usable after an error"));
    assert_eq!(
        lines.lock().expect("lock").len(),
        7,
        "each operation's log line reached the logger"
    );
    drop(client);
    server.join().expect("server thread");
    assert_eq!(WorkerOp::from_code(39), Some(WorkerOp::AddToStoreNar));
    assert_eq!(WorkerOp::from_code(2), None);
}
