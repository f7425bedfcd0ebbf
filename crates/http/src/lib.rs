//! The workspace's one HTTP client: GET with redirects, timeouts and retries, streamed into a
//! sink or handed out as a reader, and PUT uploads — over `ureq`, shared by the store's HTTP
//! substituter, the evaluator's fetchers and `builtin:fetchurl`.
//!
//! Errors always name the URL. A server that sends nothing for [`HttpConfig::stall`] fails
//! the attempt (CppNix's `stalled-download-timeout`); transient failures (connection
//! errors, timeouts, truncated bodies, HTTP 5xx/408/429) are retried up to
//! [`HttpConfig::retries`] times with exponential back-off, as CppNix's `download-attempts`.
//!
//! ```no_run
//! use nixkit_http::{HttpClient, HttpConfig};
//! let client = HttpClient::new(HttpConfig::default());
//! let mut data = Vec::new();
//! client.download("http://127.0.0.1:8080/f", &mut data, None, &mut |_| Ok(())).unwrap();
//! ```

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

/// How an [`HttpClient`] behaves.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Connecting (CppNix's `connect-timeout` is unlimited by default; 30 s here).
    pub connect: Duration,
    /// From request sent to response headers, and between two reads of a body: a server that
    /// sends nothing for this long is given up on (CppNix's `stalled-download-timeout`, 300 s).
    pub stall: Duration,
    /// How many times a transient failure is retried (CppNix's `download-attempts` is 5
    /// attempts in all).
    pub retries: u32,
    /// The wait before the first retry; doubled for each further one.
    pub retry_delay: Duration,
    /// How many redirects are followed.
    pub max_redirects: u32,
    /// An `Authorization` header value sent with every request (`Bearer …`, `Basic …`).
    pub authorization: Option<String>,
    /// Told the URL and size of every chunk of a response body read, for progress displays.
    pub progress: Option<ProgressHook>,
    /// Connections kept open to one host, and transfers a user of the client (binary-cache
    /// substitution) runs at once: CppNix's `http-connections` (default 25).
    pub connections: usize,
}

/// CppNix's default `http-connections`.
pub const DEFAULT_CONNECTIONS: usize = 25;

/// The function a [`ProgressHook`] calls: the URL and the size of a chunk of its body.
pub type ProgressFn = dyn Fn(&str, u64) + Send + Sync;

/// A progress callback: the URL and the size of a chunk of its body just received.
#[derive(Clone)]
pub struct ProgressHook(pub std::sync::Arc<ProgressFn>);

impl std::fmt::Debug for ProgressHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressHook")
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(30),
            stall: Duration::from_secs(300),
            retries: 4,
            retry_delay: Duration::from_millis(250),
            max_redirects: 10,
            authorization: None,
            connections: DEFAULT_CONNECTIONS,
            progress: None,
        }
    }
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The URL is not an `http://` or `https://` URL with a host.
    #[error("unsupported URL '{0}' (only http:// and https:// URLs are supported)")]
    UnsupportedUrl(String),
    /// The server answered with an unsuccessful status.
    #[error("unable to download '{url}': HTTP error {code}")]
    Status {
        /// The URL asked for.
        url: String,
        /// The HTTP status code.
        code: u16,
    },
    /// Connecting, sending or receiving failed (including timeouts and truncated bodies).
    #[error("unable to download '{url}': {message}")]
    Transport {
        /// The URL asked for.
        url: String,
        /// What went wrong.
        message: String,
        /// Whether retrying may help.
        transient: bool,
    },
    /// The body is larger than the limit given.
    #[error("unable to download '{url}': the response is larger than {limit} bytes")]
    TooLarge {
        /// The URL asked for.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// Writing into the sink (or reading a file to upload) failed, or the progress callback
    /// stopped the transfer.
    #[error("while transferring '{url}': {source}")]
    Local {
        /// The URL asked for.
        url: String,
        /// The underlying error.
        source: io::Error,
    },
}

impl HttpError {
    /// Whether retrying the request may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            HttpError::Status { code, .. } => matches!(code, 408 | 429 | 500..=599),
            HttpError::Transport { transient, .. } => *transient,
            _ => false,
        }
    }

    /// The HTTP status, when the server answered with an unsuccessful one.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Where a download is written: it can be emptied again before a retry.
pub trait Sink: Write {
    /// Throws away what was written so far.
    fn restart(&mut self) -> io::Result<()>;
}

impl Sink for Vec<u8> {
    fn restart(&mut self) -> io::Result<()> {
        self.clear();
        Ok(())
    }
}

impl Sink for File {
    fn restart(&mut self) -> io::Result<()> {
        self.set_len(0)?;
        self.seek(SeekFrom::Start(0)).map(drop)
    }
}

/// A response whose status was 2xx: its length (when announced) and its body.
pub struct Response {
    /// The URL asked for (before redirects).
    pub url: String,
    /// `Content-Length`, when the server sent one.
    pub content_length: Option<u64>,
    body: ureq::BodyReader<'static>,
    progress: Option<ProgressHook>,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("url", &self.url)
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.body.read(buf).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("reading '{}': {}", self.url, describe_io(&e)),
            )
        })?;
        if let (Some(hook), true) = (&self.progress, n > 0) {
            (hook.0)(&self.url, n as u64);
        }
        Ok(n)
    }
}

/// What to upload with [`HttpClient::put`].
#[derive(Debug, Clone, Copy)]
pub enum PutBody<'a> {
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// A file's content, streamed.
    File(&'a Path),
}

/// The HTTP client. Cheap to clone; connections are pooled and kept alive.
#[derive(Debug, Clone)]
pub struct HttpClient {
    agent: ureq::Agent,
    config: HttpConfig,
}

/// Whether `url` is an `http://` or `https://` URL with a host.
pub fn is_http_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
}

fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::TimedOut => format!("timed out ({e})"),
        io::ErrorKind::UnexpectedEof => format!("the connection closed early ({e})"),
        _ => e.to_string(),
    }
}

fn describe(e: &ureq::Error) -> (String, bool) {
    match e {
        ureq::Error::Timeout(t) => (format!("timed out ({t})"), true),
        ureq::Error::Io(io) => (describe_io(io), true),
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => (e.to_string(), true),
        ureq::Error::TooManyRedirects => ("too many redirects".to_owned(), false),
        other => (other.to_string(), false),
    }
}

impl HttpClient {
    /// A client with this configuration.
    pub fn new(config: HttpConfig) -> Self {
        let agent_config = ureq::Agent::config_builder()
            .timeout_connect(Some(config.connect))
            .timeout_recv_response(Some(config.stall))
            .timeout_per_read(Some(config.stall))
            .timeout_send_request(Some(config.stall))
            .timeout_send_body(Some(config.stall))
            .http_status_as_error(false)
            .max_redirects(config.max_redirects)
            .user_agent(concat!("nixkit/", env!("CARGO_PKG_VERSION")))
            .max_idle_connections_per_host(config.connections.max(1))
            .max_idle_connections(config.connections.max(1).saturating_mul(4))
            .build();
        Self {
            agent: ureq::Agent::new_with_config(agent_config),
            config,
        }
    }

    /// This client's configuration.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    fn transport(url: &str, e: &ureq::Error) -> HttpError {
        let (message, transient) = describe(e);
        HttpError::Transport {
            url: url.to_owned(),
            message,
            transient,
        }
    }

    /// Runs `attempt` until it succeeds, fails for good or the retries are used up.
    fn with_retries<T>(
        &self,
        mut attempt: impl FnMut() -> Result<T, HttpError>,
    ) -> Result<T, HttpError> {
        let mut delay = self.config.retry_delay;
        let mut left = self.config.retries;
        loop {
            match attempt() {
                Err(e) if e.is_transient() && left > 0 => {
                    left -= 1;
                    std::thread::sleep(delay);
                    delay = delay.saturating_mul(2);
                }
                other => return other,
            }
        }
    }

    fn get_once(&self, url: &str) -> Result<Response, HttpError> {
        if !is_http_url(url) {
            return Err(HttpError::UnsupportedUrl(url.to_owned()));
        }
        let mut request = self.agent.get(url);
        if let Some(auth) = &self.config.authorization {
            request = request.header("Authorization", auth);
        }
        let response = request.call().map_err(|e| Self::transport(url, &e))?;
        let code = response.status().as_u16();
        if !(200..300).contains(&code) {
            return Err(HttpError::Status {
                url: url.to_owned(),
                code,
            });
        }
        let body = response.into_body();
        Ok(Response {
            url: url.to_owned(),
            content_length: body.content_length(),
            body: body.into_reader(),
            progress: self.config.progress.clone(),
        })
    }

    /// GETs `url`, following redirects and retrying transient failures until the response
    /// headers arrive; the body is for the caller to read (a failure while reading it is not
    /// retried). An unsuccessful status is [`HttpError::Status`].
    pub fn get(&self, url: &str) -> Result<Response, HttpError> {
        self.with_retries(|| self.get_once(url))
    }

    /// GETs `url` into `sink`, at most `max_size` bytes, retrying transient failures (the
    /// sink is restarted first). `progress` is told the size of every chunk written; an error
    /// from it stops the download. Returns the number of bytes written.
    pub fn download(
        &self,
        url: &str,
        sink: &mut dyn Sink,
        max_size: Option<u64>,
        progress: &mut dyn FnMut(u64) -> io::Result<()>,
    ) -> Result<u64, HttpError> {
        let mut first = true;
        self.with_retries(|| {
            if !first {
                sink.restart().map_err(|source| HttpError::Local {
                    url: url.to_owned(),
                    source,
                })?;
            }
            first = false;
            let mut response = self.get_once(url)?;
            copy_body(url, &mut response, sink, max_size, progress)
        })
    }

    /// PUTs `body` to `url` with `content_type`, retrying transient failures. Returns the
    /// (2xx) status; any other status is [`HttpError::Status`].
    pub fn put(&self, url: &str, content_type: &str, body: PutBody<'_>) -> Result<u16, HttpError> {
        if !is_http_url(url) {
            return Err(HttpError::UnsupportedUrl(url.to_owned()));
        }
        self.with_retries(|| {
            let mut request = self.agent.put(url).header("Content-Type", content_type);
            if let Some(auth) = &self.config.authorization {
                request = request.header("Authorization", auth);
            }
            let response = match body {
                PutBody::Bytes(bytes) => request.send(bytes),
                PutBody::File(path) => {
                    let file = File::open(path).map_err(|source| HttpError::Local {
                        url: url.to_owned(),
                        source,
                    })?;
                    request.send(file)
                }
            }
            .map_err(|e| Self::transport(url, &e))?;
            let code = response.status().as_u16();
            if !(200..300).contains(&code) {
                return Err(HttpError::Status {
                    url: url.to_owned(),
                    code,
                });
            }
            Ok(code)
        })
    }
}

/// Copies a response body into `sink`, enforcing `max_size`.
fn copy_body(
    url: &str,
    body: &mut Response,
    sink: &mut dyn Sink,
    max_size: Option<u64>,
    progress: &mut dyn FnMut(u64) -> io::Result<()>,
) -> Result<u64, HttpError> {
    let local = |source| HttpError::Local {
        url: url.to_owned(),
        source,
    };
    let mut buf = vec![0u8; 1 << 16];
    let mut total: u64 = 0;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(HttpError::Transport {
                    url: url.to_owned(),
                    message: e.to_string(),
                    transient: true,
                })
            }
        };
        total += n as u64;
        if let Some(limit) = max_size.filter(|l| total > *l) {
            return Err(HttpError::TooLarge {
                url: url.to_owned(),
                limit,
            });
        }
        sink.write_all(&buf[..n]).map_err(local)?;
        progress(n as u64).map_err(local)?;
    }
    sink.flush().map_err(local)?;
    Ok(total)
}

#[cfg(feature = "test-server")]
pub mod test_server;
