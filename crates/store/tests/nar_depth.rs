//! Issue 20 item 9: NAR nesting. Writer and parser share one generous limit
//! (`nar::MAX_DEPTH`, beyond what `PATH_MAX` lets CppNix dump or restore) and neither
//! recurses: a 70-deep and a 1000-deep output export and import (CppNix imports both), a
//! NAR at the limit parses, one past it and a 100,000-deep one are clear errors — all on a
//! thread with a small stack, which a recursive walk would overflow.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use nixkit_store::local::{LocalStore, StoreConfig};
use nixkit_store::nar::{self, NarVisitor, ParseNarError};
use nixkit_store::{export, FileIngestionMethod, HashAlgo, StoreDir};

/// Runs `f` on a thread with a 256 KiB stack.
fn small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .expect("no stack overflow")
}

fn token(out: &mut Vec<u8>, t: &[u8]) {
    out.extend_from_slice(&(t.len() as u64).to_le_bytes());
    out.extend_from_slice(t);
    out.resize(out.len().next_multiple_of(8), 0);
}

/// A NAR of `depth` nested directories `a` around one file.
fn deep_nar(depth: usize) -> Vec<u8> {
    let mut out = Vec::new();
    token(&mut out, b"nix-archive-1");
    for _ in 0..depth {
        for t in [
            &b"("[..],
            b"type",
            b"directory",
            b"entry",
            b"(",
            b"name",
            b"a",
            b"node",
        ] {
            token(&mut out, t);
        }
    }
    for t in [&b"("[..], b"type", b"regular", b"contents", b"x", b")"] {
        token(&mut out, t);
    }
    for _ in 0..depth {
        token(&mut out, b")");
        token(&mut out, b")");
    }
    out
}

struct Count(usize);

impl NarVisitor for Count {
    fn directory(&mut self, _: &[u8]) -> io::Result<()> {
        self.0 += 1;
        Ok(())
    }
    fn regular_file(&mut self, _: &[u8], _: bool, _: u64, c: &mut dyn Read) -> io::Result<()> {
        io::copy(c, &mut io::sink()).map(|_| ())
    }
    fn symlink(&mut self, _: &[u8], _: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

fn parse(nar: Vec<u8>) -> Result<usize, ParseNarError> {
    small_stack(move || {
        let mut count = Count(0);
        nar::parse_nar(&mut nar.as_slice(), &mut count).map(|_| count.0)
    })
}

fn deep_dir(base: &Path, depth: usize) -> PathBuf {
    let mut p = base.to_path_buf();
    for _ in 0..depth {
        p.push("a");
    }
    fs::create_dir_all(&p).unwrap();
    fs::write(p.join("bottom"), "the bottom\n").unwrap();
    base.to_path_buf()
}

fn open(root: &Path) -> LocalStore {
    LocalStore::open(StoreConfig::new(root, StoreDir::default()).with_fsync(false)).unwrap()
}

#[test]
fn deep_outputs_export_and_import() {
    for depth in [70, 1000] {
        let tmp = tempfile::tempdir().unwrap();
        let src = deep_dir(&tmp.path().join("tree"), depth);
        let from = open(&tmp.path().join("from"));
        let path = from
            .add_to_store(
                "deep",
                &src,
                FileIngestionMethod::Recursive,
                HashAlgo::Sha256,
            )
            .unwrap();
        let real = from.real_path(&path);
        // Dumping does not recurse either.
        let dumped = small_stack(move || {
            let mut out = Vec::new();
            nar::dump_path(&real, &mut out).map(|()| out)
        })
        .unwrap();
        assert_eq!(parse(dumped).unwrap(), depth + 1, "depth {depth}");
        let mut stream = Vec::new();
        export::export_paths(&from, &BTreeSet::from([path.clone()]), &mut stream).unwrap();
        let to = open(&tmp.path().join("to"));
        let imported = export::import_paths(&to, &mut stream.as_slice()).unwrap();
        assert_eq!(imported, vec![path.clone()]);
        let mut bottom = to.real_path(&path);
        for _ in 0..depth {
            bottom.push("a");
        }
        assert_eq!(
            fs::read_to_string(bottom.join("bottom")).unwrap(),
            "the bottom\n"
        );
        assert_eq!(
            to.query_path_info(&path).unwrap().unwrap().nar_hash,
            from.query_path_info(&path).unwrap().unwrap().nar_hash
        );
        cppnix_imports(tmp.path(), &stream, &from.store_dir().print_path(&path));
    }
}

/// CppNix imports the same stream (when `nix-store` is installed).
fn cppnix_imports(dir: &Path, stream: &[u8], path: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    if Command::new("nix-store").arg("--version").output().is_err() {
        eprintln!("skipped: CppNix import (nix-store not installed)");
        return;
    }
    let store = format!("local?root={}", dir.join("cppnix").display());
    let mut child = Command::new("nix-store")
        .args(["--store", &store, "--import"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stream).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), path);
}

#[test]
fn nesting_past_the_shared_limit_is_a_clear_error() {
    assert_eq!(parse(deep_nar(nar::MAX_DEPTH)).unwrap(), nar::MAX_DEPTH);
    for depth in [nar::MAX_DEPTH + 1, 100_000] {
        let err = parse(deep_nar(depth)).unwrap_err();
        assert!(matches!(err, ParseNarError::TooDeep { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("nested deeper than {}", nar::MAX_DEPTH)),
            "{text}"
        );
    }
    // Restoring it fails the same way, and leaves no partial tree deeper than the limit.
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("out");
    let nar_bytes = deep_nar(100_000);
    let dest2 = dest.clone();
    let err =
        small_stack(move || nar::restore_path(&mut nar_bytes.as_slice(), &dest2)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("nested deeper than") || text.contains("File name too long"),
        "{text}"
    );
}

#[test]
fn truncated_and_garbage_deep_nars_are_errors() {
    let full = deep_nar(3000);
    // Every prefix is an error (never a hang or crash); a sample of cut points.
    for cut in (0..full.len()).step_by(full.len() / 97 + 1) {
        assert!(parse(full[..cut].to_vec()).is_err(), "cut at {cut}");
    }
    // Closing tokens missing or doubled.
    let mut extra = deep_nar(10);
    token(&mut extra, b")");
    let mut count = Count(0);
    // Trailing bytes are not read: the parser stops at the end of the NAR.
    assert!(nar::parse_nar(&mut extra.as_slice(), &mut count).is_ok());
    let mut short = deep_nar(10);
    short.truncate(short.len() - 16);
    assert!(parse(short).is_err());
}
