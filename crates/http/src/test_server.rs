//! A tiny HTTP/1.1 server on 127.0.0.1 for tests of the crates that download (feature
//! `test-server`): files, redirects, error statuses, a stalling route, a route that fails a
//! few times before answering, and a truncated body. One thread per connection; every answer
//! closes the connection.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// What the server answers for a path.
#[derive(Debug, Clone)]
pub enum Route {
    /// 200 with this body.
    Body(Vec<u8>),
    /// 302 to this location (absolute, or a path on this server).
    Redirect(String),
    /// This status with an empty body.
    Status(u16),
    /// Accept the request and answer nothing for this long, then close.
    Stall(Duration),
    /// Answer 503 this many times, then 200 with the body.
    FailThen(u32, Vec<u8>),
    /// Promise the whole body in `Content-Length`, send only half of it, then close.
    Truncate(Vec<u8>),
}

type Routes = Arc<Mutex<HashMap<String, Route>>>;

/// A running test server; it lives until the test process ends.
#[derive(Debug, Clone)]
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    routes: Routes,
    log: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    /// Starts a server with no routes (every path is 404).
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let routes: Routes = Arc::default();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let (r, l) = (Arc::clone(&routes), Arc::clone(&log));
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (r, l) = (Arc::clone(&r), Arc::clone(&l));
                std::thread::spawn(move || {
                    let _ = serve(conn, &r, &l);
                });
            }
        });
        Ok(Self { url, routes, log })
    }

    /// Answers `path` (starting with `/`) with `route`.
    pub fn route(&self, path: &str, route: Route) -> String {
        self.routes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(path.to_owned(), route);
        format!("{}{}", self.url, path)
    }

    /// The requests received so far, as `METHOD PATH`.
    pub fn requests(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn serve(conn: TcpStream, routes: &Routes, log: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(format!("{method} {path}"));
    let route = {
        let mut routes = routes.lock().unwrap_or_else(PoisonError::into_inner);
        let route = routes.get(&path).cloned();
        if let Some(Route::FailThen(n, data)) = &route {
            if *n > 0 {
                routes.insert(path.clone(), Route::FailThen(n - 1, data.clone()));
            }
        }
        route
    };
    let mut out = conn;
    let head = |code: u16, extra: &str, len: usize| {
        format!("HTTP/1.1 {code} X\r\nContent-Length: {len}\r\nConnection: close\r\n{extra}\r\n")
    };
    let send_body = method != "HEAD";
    match route {
        None => out.write_all(head(404, "", 0).as_bytes())?,
        Some(Route::Body(data)) | Some(Route::FailThen(0, data)) => {
            out.write_all(head(200, "", data.len()).as_bytes())?;
            if send_body {
                out.write_all(&data)?;
            }
        }
        Some(Route::FailThen(..)) => out.write_all(head(503, "", 0).as_bytes())?,
        Some(Route::Redirect(to)) => {
            out.write_all(head(302, &format!("Location: {to}\r\n"), 0).as_bytes())?
        }
        Some(Route::Status(code)) => out.write_all(head(code, "", 0).as_bytes())?,
        Some(Route::Stall(d)) => std::thread::sleep(d),
        Some(Route::Truncate(data)) => {
            out.write_all(head(200, "", data.len()).as_bytes())?;
            out.write_all(&data[..data.len() / 2])?;
        }
    }
    out.flush()
}
