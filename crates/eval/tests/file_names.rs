//! File names that are not UTF-8 pass through `EvalIo` (`StdIo`) losslessly:
//! `readDir` lists them (as Nix strings holding the raw bytes), `readFile` and
//! `pathExists` find them again, and `builtins.path` hashes the NAR of their raw
//! bytes (the same store path as the store crate computes from the directory).

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use nixkit_eval::cli::{parse_args, run, CliEnv};
use nixkit_store::hash_path::hash_path;
use nixkit_store::{FileIngestionMethod, HashAlgo, StoreDir};

#[test]
fn non_utf8_file_names_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    std::fs::create_dir(&dir).unwrap();
    for (name, text) in [(&b"a\xffb"[..], "odd"), (b"plain", "x"), (b"\xc3(", "bad2")] {
        std::fs::write(dir.join(OsStr::from_bytes(name)), text).unwrap();
    }
    std::os::unix::fs::symlink(OsStr::from_bytes(b"a\xffb"), dir.join("link")).unwrap();
    let (hash, _) = hash_path(&dir, HashAlgo::Sha256, FileIngestionMethod::Recursive).unwrap();
    let expected = StoreDir::default()
        .make_fixed_output_path(
            "d",
            FileIngestionMethod::Recursive,
            &hash,
            &BTreeSet::new(),
            false,
        )
        .unwrap();
    let expr = format!(
        r#"let
          d = {dir};
          entries = builtins.readDir d;
          odd = builtins.head (builtins.filter (n: entries.${{n}} == "regular" && builtins.readFile (d + "/${{n}}") == "odd") (builtins.attrNames entries));
        in [
          (builtins.stringLength odd)
          (builtins.pathExists (d + "/${{odd}}"))
          (builtins.length (builtins.attrNames entries))
          entries.link
          "${{builtins.path {{ path = d; name = "d"; }}}}"
        ]"#,
        dir = dir.display()
    );
    let opts = parse_args(&["--eval", "--strict", "--readonly-mode", "-E", &expr]).unwrap();
    let (mut out, mut err) = (String::new(), String::new());
    let code = run(&opts, &CliEnv::new("/"), &mut out, &mut err);
    assert_eq!(code, 0, "{err}");
    let want = format!(
        "[ 3 true 4 \"symlink\" \"{}\" ]\n",
        StoreDir::default().print_path(&expected)
    );
    assert_eq!(out, want);
}
