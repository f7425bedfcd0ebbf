//! Issue 20 items 9 and 10 through the binary: a binary cache is not trusted with the local
//! file system. A narinfo `URL` that is absolute, climbs out with `..` or changes scheme is
//! refused with an error that shows none of the file it names; cache files are read only
//! as far as `FileSize`/`NarSize` allow, never from a device or FIFO (no hang, no endless
//! read); and an export stream with a 100,000-deep NAR is a clear import error.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const SECRET: &str = "TOP-SECRET-CONTENT-0123456789";

fn nixkit(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nixkit"))
        .current_dir(dir)
        .env("NIXKIT_STORE", dir.join("store"))
        .env("XDG_CACHE_HOME", dir.join("xdg-cache"))
        .arg("store")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin);
    drop(input);
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("nixkit store {args:?} hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert_ne!(out.status.code(), Some(134), "{args:?}: aborted");
    out
}

/// A cache holding one unsigned content-addressed path; returns (cache dir, path, narinfo).
fn cache_with_one_path(dir: &Path) -> (String, String, std::path::PathBuf) {
    fs::write(dir.join("payload"), "payload contents\n").unwrap();
    let source = dir.join("source");
    let out = nixkit(
        dir,
        &["--store", source.to_str().unwrap(), "--add", "payload"],
        b"",
    );
    let path = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let cache = format!("file://{}", dir.join("cache").display());
    let out = nixkit(
        dir,
        &[
            "--store",
            source.to_str().unwrap(),
            "--copy-to",
            &cache,
            "--compression",
            "none",
            &path,
        ],
        b"",
    );
    assert!(out.status.success(), "{out:?}");
    let hash = path
        .trim_start_matches("/nix/store/")
        .split('-')
        .next()
        .unwrap();
    let narinfo = dir.join("cache").join(format!("{hash}.narinfo"));
    (cache, path, narinfo)
}

fn set_field(narinfo: &Path, original: &str, field: &str, value: &str) {
    let text: String = original
        .lines()
        .filter(|l| !l.starts_with(&format!("{field}: ")))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(narinfo, format!("{text}{field}: {value}\n")).unwrap();
}

fn realise(dir: &Path, cache: &str, path: &str) -> (i32, String) {
    fs::remove_dir_all(dir.join("store")).ok();
    let out = nixkit(
        dir,
        &["--realise", path, "--option", "substituters", cache],
        b"",
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn narinfo_urls_stay_inside_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (cache, path, narinfo) = cache_with_one_path(dir);
    let original = fs::read_to_string(&narinfo).unwrap();
    assert_eq!(
        realise(dir, &cache, &path).0,
        0,
        "the untampered cache works"
    );

    fs::write(dir.join("secret"), SECRET).unwrap();
    let secret = dir.join("secret").display().to_string();
    for url in [
        secret.as_str(),
        "/etc/shadow",
        "/dev/zero",
        "../secret",
        "nar/../../secret",
        "./nar/../../secret",
        &format!("file://{secret}"),
        "https://example.invalid/nar/x.nar",
        "",
    ] {
        set_field(&narinfo, &original, "URL", url);
        let (code, stderr) = realise(dir, &cache, &path);
        assert_eq!(code, 1, "URL {url:?}: {stderr}");
        assert!(!stderr.contains(SECRET), "URL {url:?} leaks: {stderr}");
        assert!(
            stderr.contains("is not a relative path inside the binary cache")
                || (url.is_empty() && stderr.contains("narinfo")),
            "URL {url:?}: {stderr}"
        );
        assert!(!stderr.contains("error: error:"), "{stderr}");
    }
}

#[test]
fn cache_files_are_read_within_their_declared_sizes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (cache, path, narinfo) = cache_with_one_path(dir);
    let original = fs::read_to_string(&narinfo).unwrap();
    let url = original
        .lines()
        .find_map(|l| l.strip_prefix("URL: "))
        .unwrap()
        .to_owned();
    let nar_file = dir.join("cache").join(&url);
    let nar = fs::read(&nar_file).unwrap();

    // A NAR file longer than FileSize.
    let mut longer = nar.clone();
    longer.extend_from_slice(&[0u8; 4096]);
    fs::write(&nar_file, &longer).unwrap();
    let (code, stderr) = realise(dir, &cache, &path);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("is larger than"), "{stderr}");

    // Without FileSize: bounded by NarSize, and a longer NAR is a size mismatch.
    let no_size: String = original
        .lines()
        .filter(|l| !l.starts_with("FileSize: ") && !l.starts_with("FileHash: "))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(&narinfo, &no_size).unwrap();
    let mut huge = nar.clone();
    huge.resize(nar.len() * 4 + (1 << 20), 0);
    fs::write(&nar_file, &huge).unwrap();
    let (code, stderr) = realise(dir, &cache, &path);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("is larger than"), "{stderr}");

    // A device or a FIFO in the cache's place: refused at once, no endless read, no hang.
    fs::remove_file(&nar_file).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &nar_file).unwrap();
    let (code, stderr) = realise(dir, &cache, &path);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
    fs::remove_file(&nar_file).unwrap();
    nix::unistd::mkfifo(&nar_file, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let (code, stderr) = realise(dir, &cache, &path);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
    // The narinfo itself too.
    fs::remove_file(&narinfo).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &narinfo).unwrap();
    let (code, stderr) = realise(dir, &cache, &path);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
}

fn token(out: &mut Vec<u8>, t: &[u8]) {
    out.extend_from_slice(&(t.len() as u64).to_le_bytes());
    out.extend_from_slice(t);
    out.resize(out.len().next_multiple_of(8), 0);
}

#[test]
fn importing_a_100000_deep_nar_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let mut stream = Vec::new();
    stream.extend_from_slice(&1u64.to_le_bytes());
    token(&mut stream, b"nix-archive-1");
    for _ in 0..100_000 {
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
            token(&mut stream, t);
        }
    }
    let out = nixkit(tmp.path(), &["--import"], &stream);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("nested deeper than 2048"), "{stderr}");
}
