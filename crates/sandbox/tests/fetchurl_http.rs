//! `builtin:fetchurl` over HTTP, from a test server on 127.0.0.1: a file (through a
//! redirect), `executable`, `unpack` (a NAR, plain or `.xz`, restored as a recursive-hash output), and a 404, a
//! wrong hash (expected and got shown, nothing registered) and a size limit as clear errors.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
use std::os::unix::fs::PermissionsExt;

use common::*;
use nixkit_http::test_server::{Route, TestServer};
use nixkit_sandbox::{RealiseError, RealiseOptions};
use nixkit_store::binary_cache::Compression;
use nixkit_store::{FileIngestionMethod, Hash, HashAlgo};

fn failure(r: Result<nixkit_sandbox::Realised, RealiseError>) -> String {
    match r {
        Err(RealiseError::BuildsFailed(f)) => f
            .into_iter()
            .map(|(_, e)| e.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        other => panic!("expected failures, got {other:?}"),
    }
}

#[test]
fn fetchurl_over_http_with_executable_and_unpack() {
    if unsupported() {
        return;
    }
    let server = TestServer::start().unwrap();
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 241) as u8).collect();
    server.route("/file.bin", Route::Body(body.clone()));
    let moved = server.route("/moved", Route::Redirect("/file.bin".into()));
    let mut t = TestStore::new();
    let hash = Hash::digest(HashAlgo::Sha256, &body);
    let d = t.fetchurl("file.bin", &moved, hash);
    t.build(&d).unwrap();
    let out = t.real(&t.out(&d, "out"));
    assert_eq!(std::fs::read(&out).unwrap(), body);

    let script = server.route("/run.sh", Route::Body(b"#!/bin/sh\n".to_vec()));
    let nar = {
        let mut v = Vec::new();
        nixkit_store::nar::write_flat_file_nar(b"#!/bin/sh\n", true, &mut v).unwrap();
        Hash::digest(HashAlgo::Sha256, &v)
    };
    let d = t.fetchurl_with(
        "run.sh",
        &script,
        nar,
        FileIngestionMethod::Recursive,
        &[("executable", "1")],
    );
    t.build(&d).unwrap();
    let mode = std::fs::metadata(t.real(&t.out(&d, "out")))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "{mode:o}");

    // `unpack`: the download is a NAR, xz-compressed for a `.xz` URL, restored at `$out`.
    let expect = tempfile::tempdir().unwrap();
    let root = expect.path().join("out");
    std::fs::create_dir_all(root.join("pkg/bin")).unwrap();
    std::fs::write(root.join("pkg/a"), "A\n").unwrap();
    std::fs::write(root.join("pkg/bin/run"), "#!x\n").unwrap();
    std::fs::set_permissions(
        root.join("pkg/bin/run"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("bin/run", root.join("pkg/link")).unwrap();
    let (nar_hash, _) = nixkit_store::nar::nar_hash(&root).unwrap();
    let mut nar = Vec::new();
    nixkit_store::nar::dump_path(&root, &mut nar).unwrap();
    let xz = Compression::Xz.compress(&nar).unwrap();
    for (path, body) in [("/pkg.nar", nar), ("/pkg.nar.xz", xz)] {
        let url = server.route(path, Route::Body(body));
        let d = t.fetchurl_with(
            "pkg",
            &url,
            nar_hash,
            FileIngestionMethod::Recursive,
            &[("unpack", "1")],
        );
        t.build(&d).unwrap();
        let out = t.real(&t.out(&d, "out"));
        assert_eq!(std::fs::read(out.join("pkg/bin/run")).unwrap(), b"#!x\n");
        assert_eq!(
            std::fs::read_link(out.join("pkg/link")).unwrap(),
            std::path::Path::new("bin/run")
        );
    }
    // Not a NAR: a clear error, nothing registered.
    let url = server.route("/junk.nar", Route::Body(b"junk".to_vec()));
    let d = t.fetchurl_with(
        "junk",
        &url,
        nar_hash,
        FileIngestionMethod::Recursive,
        &[("unpack", "1")],
    );
    let msg = failure(t.build(&d));
    assert!(
        msg.contains("unpacking the NAR") && msg.contains(&url),
        "{msg}"
    );
    assert!(!t.is_valid(&t.out(&d, "out")));
}

#[test]
fn fetchurl_over_http_errors() {
    if unsupported() {
        return;
    }
    let server = TestServer::start().unwrap();
    server.route("/f", Route::Body(b"content\n".to_vec()));
    let mut t = TestStore::new();
    let missing = format!("{}/missing", server.url);
    let d = t.fetchurl("missing", &missing, Hash::digest(HashAlgo::Sha256, b""));
    let msg = failure(t.build(&d));
    assert!(msg.contains(&missing) && msg.contains("404"), "{msg}");
    assert!(!t.is_valid(&t.out(&d, "out")));

    let wrong = Hash::digest(HashAlgo::Sha256, b"something else");
    let d = t.fetchurl("f", &format!("{}/f", server.url), wrong);
    let msg = failure(t.build(&d));
    let got = Hash::digest(HashAlgo::Sha256, b"content\n");
    assert!(
        msg.contains(&wrong.to_sri()) && msg.contains(&got.to_sri()),
        "{msg}"
    );
    assert!(!t.is_valid(&t.out(&d, "out")));

    let mut opts = RealiseOptions::default();
    opts.settings.max_output_size = Some(4);
    let right = Hash::digest(HashAlgo::Sha256, b"content\n");
    let d = t.fetchurl("f", &format!("{}/f", server.url), right);
    let msg = failure(t.build_with(std::slice::from_ref(&d), &opts));
    assert!(msg.contains("larger than 4 bytes"), "{msg}");
    assert!(!t.is_valid(&t.out(&d, "out")));
}
