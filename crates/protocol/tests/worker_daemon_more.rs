//! More of the worker protocol against a real CppNix 2.8 daemon (`nix-daemon --stdio`, a
//! private store): builds with results, derivers and outputs, signatures, build logs,
//! store verification and optimisation, multi-path uploads, imports in the export format,
//! and the obsolete operations (answered, or refused with a protocol error).

mod common;

use std::collections::BTreeSet;
use std::io::Read;
use std::process::{Child, ChildStdin, ChildStdout};

use common::{flat_file, have, PrivateStore};
use nixkit_protocol::serve::export::{write_export, ExportedPath};
use nixkit_protocol::worker::client::WorkerClient;
use nixkit_protocol::worker::reply::WorkerReply;
use nixkit_protocol::worker::request::WorkerRequest;
use nixkit_protocol::worker::types::{BuildMode, DerivedPath};
use nixkit_protocol::{Limits, ProtocolError};
use nixkit_store::PathInfo;

type Client = WorkerClient<ChildStdout, ChildStdin>;

fn connect(ps: &PrivateStore) -> (Child, Client) {
    let (child, out, inp) = ps.spawn("nix-daemon", &["--stdio"]);
    let client = WorkerClient::connect(out, inp, ps.store.clone(), Limits::default())
        .expect("handshake with nix-daemon");
    (child, client)
}

fn close(child: Child, client: Client) {
    drop(client.into_inner());
    let mut child = child;
    let _ = child.wait();
}

#[test]
fn build_with_results_derivers_signatures_logs() {
    if !have("nix-daemon") {
        return;
    }
    let ps = PrivateStore::new();
    let (child, mut c) = connect(&ps);
    let (text, out) = common::fixed_output_drv(&ps.store, "withres", "with results");
    let drv = c
        .add_text_to_store("withres.drv", text.as_bytes(), &BTreeSet::new())
        .expect("add drv");
    assert_eq!(
        c.query_derivation_outputs(&drv)
            .expect("QueryDerivationOutputs"),
        BTreeSet::from([out.clone()])
    );

    let target = DerivedPath::Built {
        drv: drv.clone(),
        outputs: vec!["out".into()],
    };
    let results = c
        .build_paths_with_results(std::slice::from_ref(&target), BuildMode::Normal)
        .expect("BuildPathsWithResults");
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].0, target);
    if !results[0].1.success() {
        eprintln!(
            "note: the build failed here ({:?}); the rest is skipped",
            results[0].1
        );
        close(child, c);
        return;
    }
    assert!(results[0].1.stop_time >= results[0].1.start_time);

    assert_eq!(
        c.query_valid_derivers(&out).expect("QueryValidDerivers"),
        BTreeSet::from([drv.clone()])
    );
    let all = c.query_all_valid_paths().expect("QueryAllValidPaths");
    assert!(all.contains(&drv) && all.contains(&out), "{all:?}");
    assert!(!c.has_substitutes(&out).expect("HasSubstitutes"));
    assert!(c
        .query_substitutable_paths(&all)
        .expect("QuerySubstitutablePaths")
        .is_empty());

    let sig = format!("test-key-1:{}", "A".repeat(86) + "==");
    c.add_signatures(&out, &BTreeSet::from([sig.clone()]))
        .expect("AddSignatures");
    let info = c
        .query_path_info(&out)
        .expect("QueryPathInfo")
        .expect("valid");
    assert!(info.sigs.contains(&sig), "{:?}", info.sigs);

    c.add_build_log(&drv, &mut b"a log line\n".as_slice())
        .expect("AddBuildLog");
    let logs = ps.root().join("log/drvs");
    assert!(
        logs.is_dir(),
        "the daemon wrote the log under {}",
        logs.display()
    );

    assert!(
        !c.verify_store(true, false).expect("VerifyStore"),
        "a fresh store has no errors"
    );
    c.optimise_store().expect("OptimiseStore");

    // A failed build is a result, not an error.
    let (bad_text, _) = common::fixed_output_drv(&ps.store, "wronghash", "x");
    let bad_text = bad_text.replace("printf '%s' 'x'", "printf '%s' 'not x'");
    let bad = c
        .add_text_to_store("wronghash.drv", bad_text.as_bytes(), &BTreeSet::new())
        .expect("add drv");
    let results = c
        .build_paths_with_results(
            &[DerivedPath::Built {
                drv: bad,
                outputs: vec!["out".into()],
            }],
            BuildMode::Normal,
        )
        .expect("BuildPathsWithResults");
    assert!(!results[0].1.success(), "{results:?}");
    assert!(!results[0].1.error_msg.is_empty());
    assert!(c.is_valid_path(&out).expect("usable after a failed build"));
    close(child, c);
}

#[test]
fn multiple_uploads_and_imports() {
    if !have("nix-daemon") {
        return;
    }
    let ps = PrivateStore::new();
    let (child, mut c) = connect(&ps);
    let (i1, n1) = flat_file(&ps, "m1", b"first");
    let (i2, n2) = flat_file(&ps, "m2", &vec![b'z'; 70_000]);
    let mut r1: &[u8] = &n1;
    let mut r2: &[u8] = &n2;
    let items: Vec<(&PathInfo, &mut dyn Read)> = vec![(&i1, &mut r1), (&i2, &mut r2)];
    c.add_multiple_to_store(items.into_iter(), false, true)
        .expect("AddMultipleToStore");
    assert!(c.is_valid_path(&i1.path).expect("valid") && c.is_valid_path(&i2.path).expect("valid"));

    // ImportPaths: the daemon pulls the export stream with STDERR_READ.
    let (i3, n3) = flat_file(&ps, "imported", b"imported contents");
    let mut export = Vec::new();
    write_export(
        &mut export,
        c.ctx(),
        &[ExportedPath {
            path: i3.path.clone(),
            nar: n3.clone(),
            references: BTreeSet::new(),
            deriver: None,
        }],
    )
    .expect("export");
    let imported = c.import_paths(&mut export.as_slice()).expect("ImportPaths");
    assert_eq!(imported, BTreeSet::from([i3.path.clone()]));
    let mut back = Vec::new();
    c.nar_from_path(&i3.path, &mut back).expect("NarFromPath");
    assert_eq!(back, n3);
    close(child, c);
}

#[test]
fn obsolete_operations_are_answered_or_refused_cleanly() {
    if !have("nix-daemon") {
        return;
    }
    let ps = PrivateStore::new();
    let (child, mut c) = connect(&ps);
    let a = c
        .add_text_to_store("a", b"a", &BTreeSet::new())
        .expect("add");
    let (text, _) = common::fixed_output_drv(&ps.store, "old", "old");
    let drv = c
        .add_text_to_store("old.drv", text.as_bytes(), &BTreeSet::new())
        .expect("add drv");
    for req in [
        WorkerRequest::QueryReferences(a.clone()),
        WorkerRequest::QueryDeriver(a.clone()),
        WorkerRequest::QueryPathHash(a.clone()),
        // (CppNix 2.8 aborts on a path without `.drv`.)
        WorkerRequest::QueryDerivationOutputNames(drv.clone()),
    ] {
        match c.call(&req) {
            Ok(reply) => {
                eprintln!("{:?} -> {reply:?}", req.op());
                match (&req, &reply) {
                    (WorkerRequest::QueryReferences(_), WorkerReply::Paths(p)) => {
                        assert!(p.is_empty())
                    }
                    (WorkerRequest::QueryDeriver(_), WorkerReply::OptPath(p)) => {
                        assert!(p.is_none())
                    }
                    (WorkerRequest::QueryPathHash(_), WorkerReply::Text(h)) => {
                        let info = c.query_path_info(&a).expect("info").expect("valid");
                        assert_eq!(h, &info.nar_hash.to_base16());
                    }
                    (WorkerRequest::QueryDerivationOutputNames(_), WorkerReply::Strings(s)) => {
                        assert_eq!(s, &vec!["out".to_owned()])
                    }
                    other => panic!("unexpected reply {other:?}"),
                }
            }
            Err(ProtocolError::Remote(e)) => eprintln!("{:?} refused: {e}", req.op()),
            Err(e) => panic!("{:?}: {e}", req.op()),
        }
        // Whatever the answer, the connection goes on.
        assert!(c.is_valid_path(&a).expect("usable"));
    }
    close(child, c);
}
