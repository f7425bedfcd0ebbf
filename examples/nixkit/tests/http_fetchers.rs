//! Fetchers over HTTP through the binary, from a test server on 127.0.0.1:
//! `builtins.fetchurl` and `fetchTarball` (with and without `sha256`, through a redirect)
//! and `<nix/fetchurl.nix>` built with `builtin:fetchurl` (plain, `executable`, `unpack`
//! of a `.nar.xz`)
//! give the store paths CppNix 2.8 gives for the same URLs; a 404 and a wrong hash are
//! clear errors and register nothing. The CppNix comparisons are skipped without it.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use nixkit_http::test_server::{Route, TestServer};
use nixkit_store::{Hash, HashAlgo};

fn have_nix() -> bool {
    let ok = Command::new("nix-instantiate")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("skipped: CppNix comparison (nix-instantiate is not on PATH)");
    }
    ok
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.env("NIX_CONFIG", "").output().unwrap();
    out
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn nixkit(dir: &Path, args: &[&str]) -> Output {
    run(Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .current_dir(dir)
        .args(args))
}

/// A gzipped tarball of `src/a` and `src/d/b`, and the same tree written out under `tree`.
fn tarball(tree: &Path) -> Vec<u8> {
    let files: [(&str, &[u8], u32); 2] = [("src/a", b"A\n", 0o644), ("src/d/b", b"B\n", 0o755)];
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_mtime(1);
        header.set_cksum();
        builder.append_data(&mut header, name, data).unwrap();
        let path = tree.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, data).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

#[test]
fn eval_fetchers_over_http_match_cppnix() {
    let tmp = tempfile::tempdir().unwrap();
    let server = TestServer::start().unwrap();
    let body: Vec<u8> = (0..150_000u32).map(|i| (i % 239) as u8).collect();
    let file = server.route("/data-1.0.bin", Route::Body(body.clone()));
    let moved = server.route("/latest", Route::Redirect("/data-1.0.bin".into()));
    let tree = tmp.path().join("tree");
    let tar = server.route("/src.tar.gz", Route::Body(tarball(&tree)));
    let (tree_nar, _) = nixkit_store::nar::nar_hash(&tree.join("src")).unwrap();
    let file_hash = Hash::digest(HashAlgo::Sha256, &body);
    let expr = format!(
        r#"[
          (builtins.fetchurl "{file}")
          (builtins.fetchurl {{ url = "{moved}"; name = "moved"; sha256 = "{}"; }})
          (builtins.fetchTarball "{tar}")
          (builtins.fetchTarball {{ url = "{tar}"; sha256 = "{}"; }})
          (builtins.fetchTarball {{ url = "{tar}"; name = "named"; }})
        ]"#,
        file_hash.to_sri(),
        tree_nar.to_sri(),
    );
    let ours = stdout(&nixkit(
        tmp.path(),
        &["instantiate", "--eval", "--strict", "--expr", &expr],
    ));
    assert_eq!(ours.matches("/nix/store/").count(), 5, "{ours}");
    assert!(
        ours.contains("-data-1.0.bin\"") && ours.contains("-named\""),
        "{ours}"
    );

    // Errors: a 404 and a wrong hash name the URL; the wrong hash shows both hashes and
    // nothing is added to the store.
    let missing = format!("{}/missing", server.url);
    let out = nixkit(
        tmp.path(),
        &[
            "instantiate",
            "--eval",
            "--expr",
            &format!("builtins.fetchurl \"{missing}\""),
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains(&missing) && err.contains("404"),
        "{err}"
    );
    let store = tmp.path().join("store");
    let wrong = Hash::digest(HashAlgo::Sha256, b"not it");
    let bad = format!(
        r#"derivation {{ name = "x"; system = "x"; builder = builtins.fetchurl {{ url = "{file}"; sha256 = "{}"; }}; }}"#,
        wrong.to_sri()
    );
    let out = nixkit(
        tmp.path(),
        &[
            "instantiate",
            "--store",
            store.to_str().unwrap(),
            "--expr",
            &bad,
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains(&file) && err.contains(&wrong.to_sri()) && err.contains(&file_hash.to_sri()),
        "{err}"
    );
    let leaked: Vec<_> = std::fs::read_dir(store.join("nix/store"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        !leaked
            .iter()
            .any(|n| n.to_string_lossy().ends_with("data-1.0.bin")),
        "{leaked:?}"
    );

    if !have_nix() {
        return;
    }
    let cpp_store = tmp.path().join("cppnix");
    let theirs = stdout(&run(Command::new("nix-instantiate").args([
        "--store",
        cpp_store.to_str().unwrap(),
        "--eval",
        "--strict",
        "--expr",
        &expr,
    ])));
    assert_eq!(ours, theirs);
}

#[test]
fn builtin_fetchurl_over_http_matches_cppnix() {
    let tmp = tempfile::tempdir().unwrap();
    let server = TestServer::start().unwrap();
    let script = b"#!/bin/sh\necho hi\n";
    let file = server.route("/tool.sh", Route::Body(script.to_vec()));
    let moved = server.route("/tool", Route::Redirect("/tool.sh".into()));
    let tree = tmp.path().join("tree");
    tarball(&tree);
    let (unpacked, _) = nixkit_store::nar::nar_hash(&tree).unwrap();
    let mut nar = Vec::new();
    nixkit_store::nar::dump_path(&tree, &mut nar).unwrap();
    let nar_xz = nixkit_store::binary_cache::Compression::Xz
        .compress(&nar)
        .unwrap();
    let nar_url = server.route("/tree.nar.xz", Route::Body(nar_xz));
    let mut exec_nar = Vec::new();
    nixkit_store::nar::write_flat_file_nar(script, true, &mut exec_nar).unwrap();
    let flat = Hash::digest(HashAlgo::Sha256, script).to_sri();
    let exec = Hash::digest(HashAlgo::Sha256, &exec_nar).to_sri();
    let nix = format!(
        r#"let f = import <nix/fetchurl.nix>; in {{
          plain = f {{ url = "{moved}"; hash = "{flat}"; }};
          exec = f {{ url = "{file}"; executable = true; hash = "{exec}"; }};
          unpacked = f {{ url = "{nar_url}"; unpack = true; hash = "{}"; }};
        }}"#,
        unpacked.to_sri()
    );
    std::fs::write(tmp.path().join("f.nix"), nix).unwrap();
    let store = tmp.path().join("store");
    let mut ours = Vec::new();
    for attr in ["plain", "exec", "unpacked"] {
        let out = nixkit(
            tmp.path(),
            &[
                "build",
                "f.nix",
                "-A",
                attr,
                "--no-out-link",
                "--store",
                store.to_str().unwrap(),
            ],
        );
        ours.push(stdout(&out));
    }
    let real = |p: &str| store.join(p.trim_start_matches('/'));
    assert_eq!(std::fs::read(real(&ours[0])).unwrap(), script);
    let mode = std::fs::metadata(real(&ours[1]))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "{mode:o}");
    assert_eq!(
        std::fs::read(real(&ours[2]).join("src/d/b")).unwrap(),
        b"B\n"
    );

    if !have_nix() {
        return;
    }
    let cpp_store = tmp.path().join("cppnix");
    for (attr, ours) in ["plain", "exec", "unpacked"].into_iter().zip(&ours) {
        let theirs = stdout(&run(Command::new("nix-build")
            .current_dir(tmp.path())
            .args([
                "f.nix",
                "-A",
                attr,
                "--no-out-link",
                "--store",
                cpp_store.to_str().unwrap(),
            ])));
        assert_eq!(ours, &theirs, "{attr}");
    }
}
