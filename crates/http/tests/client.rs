//! The shared HTTP client against a test server on 127.0.0.1: bodies, redirects, 404s,
//! retries of transient failures, stalls and truncated bodies give errors naming the URL,
//! size limits, and uploads.

#![allow(clippy::unwrap_used)] // Tests may panic on failure.

use std::io::Read;
use std::time::{Duration, Instant};

use nixkit_http::test_server::{Route, TestServer};
use nixkit_http::{HttpClient, HttpConfig, HttpError, PutBody};

fn quick() -> HttpClient {
    HttpClient::new(HttpConfig {
        stall: Duration::from_millis(700),
        retries: 2,
        retry_delay: Duration::from_millis(10),
        ..HttpConfig::default()
    })
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn downloads_bodies_of_any_size_and_follows_redirects() {
    let server = TestServer::start().unwrap();
    let client = quick();
    for size in [0, 1, 65535, 65536, 65537, 3 << 20] {
        let url = server.route(&format!("/f{size}"), Route::Body(data(size)));
        let mut got = Vec::new();
        let mut seen = 0;
        let n = client
            .download(&url, &mut got, None, &mut |k| {
                seen += k;
                Ok(())
            })
            .unwrap();
        assert_eq!((n, seen), (size as u64, size as u64));
        assert_eq!(got, data(size));
    }
    server.route("/r1", Route::Redirect("/r2".into()));
    server.route("/r2", Route::Redirect(format!("{}/f1", server.url)));
    let mut got = Vec::new();
    client
        .download(&format!("{}/r1", server.url), &mut got, None, &mut |_| {
            Ok(())
        })
        .unwrap();
    assert_eq!(got, data(1));
    let mut body = client.get(&format!("{}/f65536", server.url)).unwrap();
    assert_eq!(body.content_length, Some(65536));
    let mut all = Vec::new();
    body.read_to_end(&mut all).unwrap();
    assert_eq!(all, data(65536));
}

#[test]
fn client_errors_are_not_retried_and_name_the_url() {
    let server = TestServer::start().unwrap();
    let url = format!("{}/missing", server.url);
    let e = quick()
        .download(&url, &mut Vec::new(), None, &mut |_| Ok(()))
        .unwrap_err();
    assert_eq!(e.status(), Some(404));
    assert!(e.to_string().contains(&url), "{e}");
    assert_eq!(server.requests().len(), 1, "a 404 is final");
    let loop_url = server.route("/loop", Route::Redirect("/loop".into()));
    let e = quick().get(&loop_url).unwrap_err();
    assert!(e.to_string().contains("redirect"), "{e}");
    assert!(matches!(
        quick().get("ftp://example.org/x"),
        Err(HttpError::UnsupportedUrl(_))
    ));
}

#[test]
fn transient_failures_are_retried_then_given_up() {
    let server = TestServer::start().unwrap();
    let url = server.route("/flaky", Route::FailThen(2, b"ok".to_vec()));
    let mut got = Vec::new();
    quick()
        .download(&url, &mut got, None, &mut |_| Ok(()))
        .unwrap();
    assert_eq!(got, b"ok");
    assert_eq!(server.requests().len(), 3);
    let url = server.route("/down", Route::FailThen(10, b"ok".to_vec()));
    let e = quick()
        .download(&url, &mut Vec::new(), None, &mut |_| Ok(()))
        .unwrap_err();
    assert_eq!(e.status(), Some(503));
    assert_eq!(server.requests().len(), 6, "1 + 2 retries");
}

#[test]
fn a_stalling_or_truncating_server_is_an_error_naming_the_url() {
    let server = TestServer::start().unwrap();
    let url = server.route("/stall", Route::Stall(Duration::from_secs(20)));
    let start = Instant::now();
    let e = quick()
        .download(&url, &mut Vec::new(), None, &mut |_| Ok(()))
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    let text = e.to_string();
    assert!(text.contains(&url) && text.contains("timed out"), "{text}");
    let url = server.route("/trunc", Route::Truncate(data(100_000)));
    let mut got = Vec::new();
    let e = quick()
        .download(&url, &mut got, None, &mut |_| Ok(()))
        .unwrap_err();
    assert!(e.to_string().contains(&url), "{e}");
    assert!(e.is_transient());
}

#[test]
fn size_limit_and_progress_errors_stop_the_download() {
    let server = TestServer::start().unwrap();
    let url = server.route("/big", Route::Body(data(300_000)));
    let e = quick()
        .download(&url, &mut Vec::new(), Some(100_000), &mut |_| Ok(()))
        .unwrap_err();
    assert!(
        matches!(e, HttpError::TooLarge { limit: 100_000, .. }),
        "{e}"
    );
    let e = quick()
        .download(&url, &mut Vec::new(), None, &mut |_| {
            Err(std::io::Error::other("interrupted"))
        })
        .unwrap_err();
    assert!(e.to_string().contains("interrupted"), "{e}");
    let mut file = tempfile::tempfile().unwrap();
    quick()
        .download(&url, &mut file, None, &mut |_| Ok(()))
        .unwrap();
    assert_eq!(file.metadata().unwrap().len(), 300_000);
}

#[test]
fn put_sends_bytes_and_files_with_authorization() {
    let server = TestServer::start().unwrap();
    server.route("/up", Route::Status(201));
    server.route("/nope", Route::Status(401));
    let client = HttpClient::new(HttpConfig {
        authorization: Some("Bearer t".into()),
        ..HttpConfig::default()
    });
    assert_eq!(
        client
            .put(
                &format!("{}/up", server.url),
                "text/plain",
                PutBody::Bytes(b"x")
            )
            .unwrap(),
        201
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("f");
    std::fs::write(&f, data(70_000)).unwrap();
    client
        .put(
            &format!("{}/up", server.url),
            "application/x-nix-nar",
            PutBody::File(&f),
        )
        .unwrap();
    let e = client
        .put(
            &format!("{}/nope", server.url),
            "text/plain",
            PutBody::Bytes(b"x"),
        )
        .unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert_eq!(server.requests(), vec!["PUT /up", "PUT /up", "PUT /nope"]);
}
