//! [`HttpFetcher`] against a test server on 127.0.0.1: files and archives over HTTP (through
//! redirects), 404s and stalls as errors naming the URL, and local URLs still served locally.

#![cfg(all(feature = "http", feature = "archive"))]
#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::time::Duration;

use nixkit_fetch::{FetchError, Fetcher, HttpConfig, HttpFetcher};
use nixkit_http::test_server::{Route, TestServer};

fn fetcher() -> HttpFetcher {
    HttpFetcher::new(HttpConfig {
        stall: Duration::from_millis(700),
        retries: 1,
        retry_delay: Duration::from_millis(10),
        ..HttpConfig::default()
    })
}

fn tarball(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, *data).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap()
}

#[test]
fn files_and_tarballs_over_http() {
    let server = TestServer::start().unwrap();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let url = server.route("/data.bin", Route::Body(data.clone()));
    let got = fetcher().fetch_file(&url).unwrap();
    assert_eq!(std::fs::read(got.path()).unwrap(), data);
    let tmp = got.path().parent().unwrap().to_path_buf();
    drop(got);
    assert!(!tmp.exists(), "the download is removed with its Fetched");

    server.route(
        "/src.tar.gz",
        Route::Body(tarball(&[("src/a", b"A"), ("src/dir/b", b"B")])),
    );
    let moved = server.route("/latest", Route::Redirect("/src.tar.gz".into()));
    let tree = fetcher().fetch_tarball(&moved).unwrap();
    assert!(tree.path().ends_with("src"), "{}", tree.path().display());
    assert_eq!(std::fs::read(tree.path().join("dir/b")).unwrap(), b"B");
    server.route(
        "/two.tar.gz",
        Route::Body(tarball(&[("a", b"A"), ("b", b"B")])),
    );
    let tree = fetcher()
        .fetch_tarball(&format!("{}/two.tar.gz", server.url))
        .unwrap();
    assert_eq!(std::fs::read(tree.path().join("b")).unwrap(), b"B");
    let not_tar = server.route("/plain", Route::Body(b"just text".to_vec()));
    assert!(matches!(
        fetcher().fetch_tarball(&not_tar),
        Err(FetchError::Archive { .. })
    ));
}

#[test]
fn http_errors_name_the_url() {
    let server = TestServer::start().unwrap();
    let missing = format!("{}/missing", server.url);
    let e = fetcher().fetch_file(&missing).unwrap_err();
    assert!(
        e.to_string().contains(&missing) && e.to_string().contains("404"),
        "{e}"
    );
    let stall = server.route("/stall", Route::Stall(Duration::from_secs(10)));
    let e = fetcher().fetch_tarball(&stall).unwrap_err();
    assert!(
        e.to_string().contains(&stall) && e.to_string().contains("timed out"),
        "{e}"
    );
}

#[test]
fn local_urls_still_work_and_git_over_http_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), "hi").unwrap();
    let got = fetcher()
        .fetch_file(&format!("file://{}/f", dir.path().display()))
        .unwrap();
    assert_eq!(std::fs::read(got.path()).unwrap(), b"hi");
    assert!(fetcher()
        .fetch_git("https://example.invalid/repo.git", None)
        .is_err());
}
