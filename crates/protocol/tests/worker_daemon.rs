//! The worker protocol client against a real CppNix 2.8 daemon (`nix-daemon --stdio` over
//! pipes, a private store in a temp dir): every client operation, remote errors, and that
//! the connection survives them.

mod common;

use std::collections::BTreeSet;
use std::process::{Child, ChildStdin, ChildStdout};

use common::{have, PrivateStore};
use nixkit_protocol::worker::client::WorkerClient;
use nixkit_protocol::worker::stderr::StderrMsg;
use nixkit_protocol::worker::types::{BuildMode, ClientSettings, DerivedPath, GcAction, GcOptions};
use nixkit_protocol::{Limits, ProtocolError};
use nixkit_store::{
    ContentAddress, ContentAddressMethod, FileIngestionMethod, Hash, HashAlgo, PathInfo,
};

type Client = WorkerClient<ChildStdout, ChildStdin>;

fn connect(ps: &PrivateStore) -> (Child, Client) {
    let (child, out, inp) = ps.spawn("nix-daemon", &["--stdio"]);
    let client = WorkerClient::connect(out, inp, ps.store.clone(), Limits::default())
        .expect("handshake with nix-daemon");
    (child, client)
}

fn close(child: Child, client: Client) {
    let (out, inp) = client.into_inner();
    drop(inp);
    drop(out);
    let mut child = child;
    let _ = child.wait();
}

#[test]
fn handshake_negotiates_1_34_and_reads_version() {
    if !have("nix-daemon") {
        return;
    }
    let ps = PrivateStore::new();
    let (child, client) = connect(&ps);
    assert_eq!(client.negotiated().version, (1 << 8) | 34);
    let v = client
        .negotiated()
        .daemon_nix_version
        .clone()
        .expect("1.33+ sends a version");
    assert!(v.starts_with('2'), "{v}");
    close(child, client);
}

#[test]
fn text_paths_queries_nar_and_referrers() {
    if !have("nix-daemon") {
        return;
    }
    let ps = PrivateStore::new();
    let (child, mut c) = connect(&ps);
    c.set_options(&ClientSettings::default())
        .expect("SetOptions");

    let a = c
        .add_text_to_store("a.txt", b"hello", &BTreeSet::new())
        .expect("AddTextToStore");
    let want = ps
        .store
        .make_text_path(
            "a.txt",
            &Hash::digest(HashAlgo::Sha256, b"hello"),
            &BTreeSet::new(),
        )
        .expect("text path");
    assert_eq!(a, want, "the daemon computes the same text path");
    let a_s = ps.store.print_path(&a);
    let b = c
        .add_text_to_store(
            "b.txt",
            format!("see {a_s}").as_bytes(),
            &BTreeSet::from([a.clone()]),
        )
        .expect("AddTextToStore with a reference");

    assert!(c.is_valid_path(&a).expect("IsValidPath"));
    let missing = nixkit_store::StorePath::from_base_name("00000000000000000000000000000000-nope")
        .expect("path");
    assert!(!c.is_valid_path(&missing).expect("IsValidPath"));
    let valid = c
        .query_valid_paths(
            &BTreeSet::from([a.clone(), b.clone(), missing.clone()]),
            false,
        )
        .expect("QueryValidPaths");
    assert_eq!(valid, BTreeSet::from([a.clone(), b.clone()]));

    let info = c
        .query_path_info(&b)
        .expect("QueryPathInfo")
        .expect("valid");
    assert_eq!(info.path, b);
    assert_eq!(info.references, BTreeSet::from([a.clone()]));
    assert!(info.ca.is_some(), "text paths are content-addressed");
    assert!(c
        .query_path_info(&missing)
        .expect("QueryPathInfo")
        .is_none());

    assert_eq!(
        c.query_referrers(&a).expect("QueryReferrers"),
        BTreeSet::from([b.clone()])
    );
    assert_eq!(
        c.query_path_from_hash_part(a.hash_part())
            .expect("QueryPathFromHashPart"),
        Some(a.clone())
    );
    assert_eq!(
        c.query_path_from_hash_part(missing.hash_part())
            .expect("QueryPathFromHashPart"),
        None
    );

    let mut nar = Vec::new();
    let size = c.nar_from_path(&b, &mut nar).expect("NarFromPath");
    assert_eq!(size, nar.len() as u64);
    assert_eq!(size, info.nar_size);
    assert_eq!(
        Hash::digest(HashAlgo::Sha256, &nar),
        info.nar_hash,
        "NAR hash matches the path info"
    );

    c.add_temp_root(&a).expect("AddTempRoot");
    c.ensure_path(&a).expect("EnsurePath of a valid path");

    // A failing operation is a remote error, and the connection stays usable.
    match c.ensure_path(&missing) {
        Err(ProtocolError::Remote(e)) => {
            assert!(e.message.contains("nope") || !e.message.is_empty())
        }
        other => panic!("expected a remote error, got {other:?}"),
    }
    assert!(c.is_valid_path(&a).expect("still usable after an error"));
    close(child, c);
}

#[test]
fn add_to_store_nar_uploads_a_directory() {
    if !have("nix-daemon") {
        return;
    }
    let ps = PrivateStore::new();
    let src = tempfile::tempdir().expect("tmp");
    std::fs::create_dir(src.path().join("sub")).expect("mkdir");
    std::fs::write(src.path().join("sub/file"), b"contents\n").expect("write");
    std::fs::write(src.path().join("top"), vec![7u8; 100_000]).expect("write");
    let mut nar = Vec::new();
    nixkit_store::nar::dump_path(src.path(), &mut nar).expect("dump");
    let nar_hash = Hash::digest(HashAlgo::Sha256, &nar);
    let path = ps
        .store
        .make_fixed_output_path(
            "tree",
            FileIngestionMethod::Recursive,
            &nar_hash,
            &BTreeSet::new(),
            false,
        )
        .expect("path");
    let mut info = PathInfo::new(path.clone(), nar_hash, nar.len() as u64);
    info.ca = Some(ContentAddress {
        method: ContentAddressMethod::Fixed(FileIngestionMethod::Recursive),
        hash: nar_hash,
    });

    let (child, mut c) = connect(&ps);
    let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = logs.clone();
    c.set_logger(Box::new(move |m: &StderrMsg| {
        sink.lock().expect("lock").push(m.clone())
    }));
    c.add_to_store_nar(&info, &mut nar.as_slice(), false, true)
        .expect("AddToStoreNar");
    let got = c
        .query_path_info(&path)
        .expect("QueryPathInfo")
        .expect("valid");
    assert_eq!(got.nar_hash, nar_hash);
    assert_eq!(got.nar_size, nar.len() as u64);
    let mut back = Vec::new();
    c.nar_from_path(&path, &mut back).expect("NarFromPath");
    assert_eq!(back, nar);
    assert!(ps
        .root()
        .join("store")
        .join(path.to_base_name())
        .join("sub/file")
        .is_file());

    // A NAR whose hash does not match its info is refused, and the connection survives.
    let mut bad = info.clone();
    bad.nar_hash = Hash::digest(HashAlgo::Sha256, b"other");
    bad.path = ps
        .store
        .make_fixed_output_path(
            "tree2",
            FileIngestionMethod::Recursive,
            &nar_hash,
            &BTreeSet::new(),
            false,
        )
        .expect("path");
    assert!(matches!(
        c.add_to_store_nar(&bad, &mut nar.as_slice(), false, true),
        Err(ProtocolError::Remote(_))
    ));
    assert!(!c
        .is_valid_path(&bad.path)
        .expect("usable after the refusal"));
    drop(logs);

    // AddToStore (1.25+): the daemon hashes the dump itself and answers with the path info.
    let mut flat = b"added by content".as_slice();
    let added = c
        .add_to_store("flat", "fixed:sha256", &BTreeSet::new(), false, &mut flat)
        .expect("AddToStore");
    let want = ps
        .store
        .make_fixed_output_path(
            "flat",
            FileIngestionMethod::Flat,
            &Hash::digest(HashAlgo::Sha256, b"added by content"),
            &BTreeSet::new(),
            false,
        )
        .expect("path");
    assert_eq!(added.path, want);
    assert!(c.is_valid_path(&want).expect("IsValidPath"));
    // No substituters in this store: nothing is substitutable.
    let subs = c
        .query_substitutable_path_infos(&[(want.clone(), String::new())])
        .expect("QuerySubstitutablePathInfos");
    assert!(subs.is_empty());
    close(child, c);
}

#[test]
fn build_a_derivation_and_query_its_outputs() {
    if !have("nix-daemon") {
        return;
    }
    let ps = PrivateStore::new();
    let (child, mut c) = connect(&ps);
    let (text, out) = common::fixed_output_drv(&ps.store, "triv", "built by the daemon");
    let drv = c
        .add_text_to_store("triv.drv", text.as_bytes(), &BTreeSet::new())
        .expect("add drv");

    let map = c
        .query_derivation_output_map(&drv)
        .expect("QueryDerivationOutputMap");
    assert_eq!(map, vec![("out".to_owned(), Some(out.clone()))]);

    let target = DerivedPath::Built {
        drv: drv.clone(),
        outputs: vec!["out".into()],
    };
    let missing = c
        .query_missing(std::slice::from_ref(&target))
        .expect("QueryMissing");
    assert!(missing.will_build.contains(&drv), "{missing:?}");

    match c.build_paths(std::slice::from_ref(&target), BuildMode::Normal) {
        Ok(()) => {
            assert!(c.is_valid_path(&out).expect("IsValidPath"));
            let content =
                std::fs::read(ps.root().join("store").join(out.to_base_name())).expect("output");
            assert_eq!(content, b"built by the daemon");
            let missing = c.query_missing(&[target]).expect("QueryMissing");
            assert!(missing.will_build.is_empty());
        }
        Err(ProtocolError::Remote(e)) => {
            eprintln!("note: BuildPaths could not build in this store ({e}); build part skipped");
        }
        Err(e) => panic!("BuildPaths: {e}"),
    }
    close(child, c);
}

#[test]
fn gc_roots_and_collection() {
    if !have("nix-daemon") {
        return;
    }
    let ps = PrivateStore::new();
    // The first connection adds two paths and ends (its temporary roots die with it).
    let (child, mut c) = connect(&ps);
    let keep = c
        .add_text_to_store("keep", b"kept", &BTreeSet::new())
        .expect("add");
    let dead = c
        .add_text_to_store("dead", b"garbage", &BTreeSet::new())
        .expect("add");
    close(child, c);

    let (child, mut c) = connect(&ps);
    let link = ps.root().join("keep-link");
    std::os::unix::fs::symlink(ps.store.print_path(&keep), &link).expect("symlink");
    c.add_indirect_root(link.to_str().expect("utf-8"))
        .expect("AddIndirectRoot");
    let roots = c.find_roots().expect("FindRoots");
    assert!(
        roots
            .iter()
            .any(|(l, p)| l == link.to_str().unwrap_or("") && *p == keep),
        "{roots:?}"
    );

    let live = c
        .collect_garbage(&GcOptions {
            action: GcAction::ReturnLive,
            paths_to_delete: BTreeSet::new(),
            ignore_liveness: false,
            max_freed: u64::MAX,
        })
        .expect("CollectGarbage ReturnLive");
    assert!(live.paths.contains(&ps.store.print_path(&keep)), "{live:?}");
    assert!(!live.paths.contains(&ps.store.print_path(&dead)));

    let deleted = c
        .collect_garbage(&GcOptions {
            action: GcAction::DeleteSpecific,
            paths_to_delete: BTreeSet::from([dead.clone()]),
            ignore_liveness: false,
            max_freed: u64::MAX,
        })
        .expect("CollectGarbage DeleteSpecific");
    assert_eq!(deleted.paths, vec![ps.store.print_path(&dead)]);
    assert!(deleted.bytes_freed > 0);
    assert!(!c.is_valid_path(&dead).expect("IsValidPath"));
    assert!(c.is_valid_path(&keep).expect("IsValidPath"));

    // Deleting a live path is a remote error.
    let r = c.collect_garbage(&GcOptions {
        action: GcAction::DeleteSpecific,
        paths_to_delete: BTreeSet::from([keep.clone()]),
        ignore_liveness: false,
        max_freed: u64::MAX,
    });
    assert!(matches!(r, Err(ProtocolError::Remote(_))), "{r:?}");
    c.sync_with_gc().expect("SyncWithGC");
    close(child, c);
}
