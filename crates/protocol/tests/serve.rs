//! The serve protocol client against CppNix 2.8's `nix-store --serve --write` (spawned over
//! pipes with a private store): handshake, path queries, NAR dumps, imports and exports,
//! `AddToStoreNar`, closures, and building by `BuildPaths` and `BuildDerivation`.

mod common;

use std::collections::BTreeSet;
use std::process::{Child, ChildStdin, ChildStdout};

use common::{flat_file, have, PrivateStore};
use nixkit_protocol::serve::client::ServeClient;
use nixkit_protocol::serve::export::ExportedPath;
use nixkit_protocol::serve::BuildOptions;
use nixkit_protocol::worker::types::{DerivedPath, WireDerivation, WireDrvOutput};
use nixkit_protocol::Limits;
use nixkit_store::{FileIngestionMethod, Hash, HashAlgo, PathInfo, StorePath};

type Client = ServeClient<ChildStdout, ChildStdin>;

fn connect(ps: &PrivateStore) -> (Child, Client) {
    let (child, out, inp) = ps.spawn("nix-store", &["--serve", "--write"]);
    let client = ServeClient::connect(out, inp, ps.store.clone(), Limits::default())
        .expect("serve handshake");
    (child, client)
}

fn close(child: Child, client: Client) {
    drop(client.into_inner());
    let mut child = child;
    let _ = child.wait();
}

#[test]
fn serve_add_query_dump_export_import() {
    if !have("nix-store") {
        return;
    }
    let ps = PrivateStore::new();
    let (child, mut c) = connect(&ps);
    assert_eq!(c.ctx().minor, 7);

    let (info, nar) = flat_file(&ps, "one", b"first file\n");
    c.add_to_store_nar(&info, &mut nar.as_slice())
        .expect("AddToStoreNar");
    let missing = StorePath::from_base_name("00000000000000000000000000000000-gone").expect("path");
    let valid = c
        .query_valid_paths(
            &BTreeSet::from([info.path.clone(), missing.clone()]),
            false,
            false,
        )
        .expect("QueryValidPaths");
    assert_eq!(valid, BTreeSet::from([info.path.clone()]));

    let infos = c
        .query_path_infos(&BTreeSet::from([info.path.clone(), missing.clone()]))
        .expect("QueryPathInfos");
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0].nar_hash, info.nar_hash);
    assert_eq!(infos[0].nar_size, info.nar_size);
    assert_eq!(infos[0].ca, info.ca);

    let mut dumped = Vec::new();
    c.dump_store_path(&info.path, &mut dumped)
        .expect("DumpStorePath");
    assert_eq!(dumped, nar);

    // A path referring to the first, imported in the export format.
    let (mut info2, nar2) = {
        let text = format!("see {}", ps.store.print_path(&info.path));
        let mut nar = Vec::new();
        nixkit_store::nar::write_flat_file_nar(text.as_bytes(), false, &mut nar).expect("nar");
        let h = Hash::digest(HashAlgo::Sha256, &nar);
        let refs = BTreeSet::from([info.path.clone()]);
        let path = ps
            .store
            .make_fixed_output_path("two", FileIngestionMethod::Recursive, &h, &refs, false)
            .expect("path");
        let mut i = PathInfo::new(path, h, nar.len() as u64);
        i.references = refs;
        (i, nar)
    };
    info2.ca = None;
    c.import_paths(&[ExportedPath {
        path: info2.path.clone(),
        nar: nar2.clone(),
        references: info2.references.clone(),
        deriver: None,
    }])
    .expect("ImportPaths");
    let closure = c
        .query_closure(&BTreeSet::from([info2.path.clone()]), false)
        .expect("QueryClosure");
    assert_eq!(
        closure,
        BTreeSet::from([info.path.clone(), info2.path.clone()])
    );

    let exported = c
        .export_paths(&BTreeSet::from([info2.path.clone()]), 1 << 20)
        .expect("ExportPaths");
    assert_eq!(exported.len(), 1);
    assert_eq!(exported[0].path, info2.path);
    assert_eq!(exported[0].nar, nar2);
    assert_eq!(exported[0].references, info2.references);
    close(child, c);
}

#[test]
fn serve_builds() {
    if !have("nix-store") {
        return;
    }
    let ps = PrivateStore::new();
    // The derivation is put in the store with nix-store --add (the serve protocol has no
    // text upload), then built by path.
    let (text, out) = common::fixed_output_drv(&ps.store, "served", "built over serve");
    let drv_file = ps.root().join("served.drv");
    std::fs::write(&drv_file, &text).expect("write drv");
    let added = ps
        .command("nix-store")
        .arg("--add")
        .arg(&drv_file)
        .output()
        .expect("nix-store --add");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let drv = ps
        .store
        .parse_path(String::from_utf8_lossy(&added.stdout).trim())
        .expect("drv path");

    let (child, mut c) = connect(&ps);
    let r = c
        .build_paths(
            &[DerivedPath::Built {
                drv: drv.clone(),
                outputs: vec!["out".into()],
            }],
            &BuildOptions::default(),
        )
        .expect("BuildPaths");
    match r {
        None => assert!(c
            .query_valid_paths(&BTreeSet::from([out.clone()]), false, false)
            .expect("QueryValidPaths")
            .contains(&out)),
        Some((status, msg)) => eprintln!("note: BuildPaths failed here ({status}: {msg}); skipped"),
    }

    // BuildDerivation of a derivation sent in full (not in the store).
    let (_, out2) = common::fixed_output_drv(&ps.store, "sent", "sent in full");
    let hash = Hash::digest(HashAlgo::Sha256, b"sent in full");
    let out2_s = ps.store.print_path(&out2);
    let sys = common::system();
    let wire_drv = WireDerivation {
        outputs: vec![WireDrvOutput {
            name: "out".into(),
            path: out2_s.clone(),
            hash_algo: "sha256".into(),
            hash: hash.to_base16(),
        }],
        input_srcs: BTreeSet::new(),
        platform: sys.clone(),
        builder: "/bin/sh".into(),
        args: vec!["-c".into(), "printf '%s' 'sent in full' > $out".into()],
        env: vec![
            ("builder".into(), "/bin/sh".into()),
            ("name".into(), "sent".into()),
            ("out".into(), out2_s),
            ("outputHash".into(), hash.to_base16()),
            ("outputHashAlgo".into(), "sha256".into()),
            ("system".into(), sys),
        ],
    };
    let fake_drv =
        StorePath::from_base_name("11111111111111111111111111111111-sent.drv").expect("path");
    let res = c
        .build_derivation(&fake_drv, &wire_drv, &BuildOptions::default())
        .expect("BuildDerivation");
    if res.success() {
        assert!(
            res.start_time > 0 && res.stop_time >= res.start_time,
            "{res:?}"
        );
        let content =
            std::fs::read(ps.root().join("store").join(out2.to_base_name())).expect("output");
        assert_eq!(content, b"sent in full");
    } else {
        eprintln!("note: BuildDerivation failed here ({res:?}); skipped");
    }
    close(child, c);
}
