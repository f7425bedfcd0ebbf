//! An `http://` or `https://` binary cache as a substituter (through the workspace's HTTP
//! client, `nixkit-http`): `nix-cache-info` fetched once, narinfos cached in memory and,
//! if configured, on disk across processes (positive and negative, with CppNix's TTL
//! settings), NARs streamed from the response body. Connect, response and per-read timeouts turn a stalled
//! server into an error naming the URL.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use nixkit_http::{HttpClient, HttpConfig, HttpError, Response};

use super::file_cache::CacheError;
use super::narinfo::{is_safe_nar_url, NarInfo, NarInfoError};
use super::narinfo_disk_cache::{is_fresh, NarInfoCacheConfig, NarInfoDiskCache};
use super::source::{BinaryCache, CacheInfo};
use crate::{StoreDir, StorePath};

/// The most a narinfo or `nix-cache-info` response may hold.
const MAX_METADATA: u64 = 1 << 20;

/// Timeouts of an [`HttpCache`].
#[derive(Debug, Clone, Copy)]
pub struct HttpTimeouts {
    /// Connecting (CppNix's `connect-timeout` is unlimited by default; 30 s here).
    pub connect: Duration,
    /// From request sent to response headers, and between two reads of a body: a server
    /// that sends nothing for this long is given up on (CppNix's `stalled-download-timeout`,
    /// 300 s).
    pub stall: Duration,
}

impl Default for HttpTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(30),
            stall: Duration::from_secs(300),
        }
    }
}

/// A binary cache served over HTTP(S).
#[derive(Debug)]
pub struct HttpCache {
    url: String,
    base: String,
    store_dir: StoreDir,
    client: HttpClient,
    /// `?priority=N` in the URL, which overrides the cache's own (as in CppNix).
    priority: Option<u32>,
    info: OnceLock<CacheInfo>,
    /// Answers remembered by this process: when fetched, and the narinfo (`None`: absent).
    narinfos: Mutex<HashMap<String, (SystemTime, Option<NarInfo>)>>,
    narinfo_config: NarInfoCacheConfig,
    /// The answers shared with other processes, if configured.
    disk: Option<NarInfoDiskCache>,
}

impl HttpCache {
    /// The cache at `url` (`http://host[:port][/prefix]` or `https://…`; of a query, only
    /// `priority=N` is read) for store directory `store_dir`.
    pub fn new(url: &str, store_dir: StoreDir) -> Result<Self, CacheError> {
        Self::with_config(url, store_dir, HttpConfig::default())
    }

    /// Whether `url` names an HTTP(S) cache.
    pub fn is_http_url(url: &str) -> bool {
        nixkit_http::is_http_url(url)
    }

    /// [`HttpCache::new`] with other timeouts, and no retries.
    pub fn with_timeouts(
        url: &str,
        store_dir: StoreDir,
        timeouts: HttpTimeouts,
    ) -> Result<Self, CacheError> {
        let config = HttpConfig {
            connect: timeouts.connect,
            stall: timeouts.stall,
            retries: 0,
            ..HttpConfig::default()
        };
        Self::with_config(url, store_dir, config)
    }

    /// [`HttpCache::new`] with the HTTP client configured by `config`.
    pub fn with_config(
        url: &str,
        store_dir: StoreDir,
        config: HttpConfig,
    ) -> Result<Self, CacheError> {
        let base = url.split(['?', '#']).next().unwrap_or(url);
        if !nixkit_http::is_http_url(base) {
            return Err(CacheError::UnsupportedUrl(url.to_owned()));
        }
        let priority = url
            .split_once('?')
            .and_then(|(_, query)| query.split('&').find_map(|kv| kv.strip_prefix("priority=")))
            .and_then(|v| v.parse().ok());
        Ok(Self {
            url: url.to_owned(),
            base: base.trim_end_matches('/').to_owned(),
            store_dir,
            client: HttpClient::new(config),
            priority,
            info: OnceLock::new(),
            narinfos: Mutex::new(HashMap::new()),
            narinfo_config: NarInfoCacheConfig::default(),
            disk: None,
        })
    }

    /// This cache remembering narinfo answers as `config` says (by default: in memory only,
    /// with CppNix's TTLs). A cache file that cannot be used is ignored with a warning.
    pub fn with_narinfo_cache(mut self, config: NarInfoCacheConfig) -> Self {
        self.disk = config.file.as_deref().map(NarInfoDiskCache::open);
        self.narinfo_config = config;
        self.narinfos
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self
    }

    fn ttl(&self, positive: bool) -> Duration {
        if positive {
            self.narinfo_config.positive_ttl
        } else {
            self.narinfo_config.negative_ttl
        }
    }

    fn http_err(&self, url: &str, message: impl std::fmt::Display) -> CacheError {
        CacheError::Http {
            url: url.to_owned(),
            message: message.to_string(),
        }
    }

    /// GETs `rel` below the base URL: `Ok(None)` on 404/403 (CppNix treats both as absent),
    /// the body reader on success, an error otherwise.
    fn get(&self, rel: &str) -> Result<Option<(String, Response)>, CacheError> {
        let url = format!("{}/{}", self.base, rel);
        match self.client.get(&url) {
            Ok(response) => Ok(Some((url, response))),
            Err(e) if matches!(e.status(), Some(403 | 404)) => Ok(None),
            Err(HttpError::Status { code, .. }) => {
                Err(self.http_err(&url, format!("HTTP status {code}")))
            }
            Err(HttpError::Transport { message, .. }) => Err(self.http_err(&url, message)),
            Err(e) => Err(self.http_err(&url, e)),
        }
    }

    /// PUTs `body` at `rel` below the base URL.
    pub(super) fn put(
        &self,
        rel: &str,
        content_type: &str,
        body: nixkit_http::PutBody<'_>,
    ) -> Result<(), CacheError> {
        let url = format!("{}/{}", self.base, rel);
        self.client
            .put(&url, content_type, body)
            .map(drop)
            .map_err(|e| match e {
                HttpError::Status { code, .. } => {
                    self.http_err(&url, format!("upload refused with HTTP status {code}"))
                }
                HttpError::Transport { message, .. } => self.http_err(&url, message),
                other => self.http_err(&url, other),
            })
    }

    /// Forgets the remembered narinfo answer for `path` (after uploading it, or when it
    /// is not trusted); true if there was one.
    pub(super) fn forget_narinfo(&self, path: &StorePath) -> bool {
        let in_memory = self
            .narinfos
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(path.hash_part())
            .is_some();
        let on_disk = self
            .disk
            .as_ref()
            .is_some_and(|disk| disk.forget_narinfo(&self.base, path.hash_part()));
        in_memory || on_disk
    }

    /// Remembers `narinfo` (whose text is `text`) as the cache's answer for its path, in
    /// memory and on disk, as if just fetched (after uploading it: a later upload of the
    /// same closure, in this process or another, asks nothing about it).
    pub(super) fn remember_narinfo(&self, text: &str, narinfo: NarInfo) {
        let key = narinfo.info.path.hash_part().to_owned();
        if let Some(disk) = &self.disk {
            disk.record_narinfo(&self.base, &key, Some(text));
        }
        self.narinfos
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (SystemTime::now(), Some(narinfo)));
    }

    /// GETs a small text file below the base URL.
    fn get_text(&self, rel: &str) -> Result<Option<(String, String)>, CacheError> {
        let Some((url, body)) = self.get(rel)? else {
            return Ok(None);
        };
        let mut data = Vec::new();
        body.take(MAX_METADATA + 1)
            .read_to_end(&mut data)
            .map_err(|e| self.http_err(&url, e))?;
        if data.len() as u64 > MAX_METADATA {
            return Err(self.http_err(&url, format!("response larger than {MAX_METADATA} bytes")));
        }
        let text = String::from_utf8(data).map_err(|_| CacheError::NarInfo {
            path: url.clone().into(),
            source: NarInfoError::NotUtf8,
        })?;
        Ok(Some((url, text)))
    }

    /// The narinfo of `path` from the server: its text and the parsed, checked narinfo.
    fn fetch_narinfo(&self, path: &StorePath) -> Result<Option<(String, NarInfo)>, CacheError> {
        let rel = format!("{}.narinfo", path.hash_part());
        let Some((url, text)) = self.get_text(&rel)? else {
            return Ok(None);
        };
        let info = self.parse_narinfo(path, &url, &text)?;
        Ok(Some((text, info)))
    }

    /// Parses narinfo `text` (from `url`) and checks it is about `path`.
    fn parse_narinfo(
        &self,
        path: &StorePath,
        url: &str,
        text: &str,
    ) -> Result<NarInfo, CacheError> {
        let info = NarInfo::parse(&self.store_dir, text).map_err(|source| CacheError::NarInfo {
            path: url.into(),
            source,
        })?;
        if info.info.path != *path {
            return Err(CacheError::NarInfo {
                path: url.into(),
                source: NarInfoError::BadValue {
                    field: "StorePath",
                    value: self.store_dir.print_path(&info.info.path),
                },
            });
        }
        Ok(info)
    }

    /// The answer for `path` remembered on disk and still fresh; a narinfo there that does
    /// not parse is ignored (and asked for again).
    fn narinfo_from_disk(&self, path: &StorePath) -> Option<(SystemTime, Option<NarInfo>)> {
        let (at, text) = self.disk.as_ref()?.narinfo(&self.base, path.hash_part())?;
        if !is_fresh(at, self.ttl(text.is_some())) {
            return None;
        }
        match text {
            None => Some((at, None)),
            Some(text) => {
                let url = format!("{}/{}.narinfo (cached)", self.base, path.hash_part());
                match self.parse_narinfo(path, &url, &text) {
                    Ok(info) => Some((at, Some(info))),
                    Err(e) => {
                        eprintln!("warning: ignoring a cached narinfo: {e}");
                        None
                    }
                }
            }
        }
    }
}

impl BinaryCache for HttpCache {
    fn url(&self) -> &str {
        &self.url
    }

    fn cache_info(&self) -> Result<CacheInfo, CacheError> {
        if let Some(info) = self.info.get() {
            return Ok(info.clone());
        }
        // A cache without `nix-cache-info` is an error for CppNix's HTTP store too: it is
        // how a wrong URL is told from an empty cache.
        let recorded = self.disk.as_ref().and_then(|d| d.cache_info(&self.base));
        let text = match recorded {
            Some(text) => text,
            None => {
                let (_, text) = self.get_text("nix-cache-info")?.ok_or_else(|| {
                    self.http_err(
                        &format!("{}/nix-cache-info", self.base),
                        "not found (is this a binary cache?)",
                    )
                })?;
                if let Some(disk) = &self.disk {
                    disk.record_cache_info(&self.base, &text);
                }
                text
            }
        };
        let mut info = CacheInfo::parse(&text);
        if let Some(p) = self.priority {
            info.priority = p;
        }
        Ok(self.info.get_or_init(|| info).clone())
    }

    fn narinfo(&self, path: &StorePath) -> Result<Option<NarInfo>, CacheError> {
        let key = path.hash_part().to_owned();
        {
            let cache = self.narinfos.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((at, answer)) = cache.get(&key) {
                if is_fresh(*at, self.ttl(answer.is_some())) {
                    return Ok(answer.clone());
                }
            }
        }
        let (at, answer) = match self.narinfo_from_disk(path) {
            Some(remembered) => remembered,
            None => {
                let now = SystemTime::now();
                // Errors are not cached: the next attempt asks again.
                let fetched = self.fetch_narinfo(path)?;
                if let Some(disk) = &self.disk {
                    let text = fetched.as_ref().map(|(text, _)| text.as_str());
                    disk.record_narinfo(&self.base, &key, text);
                }
                (now, fetched.map(|(_, info)| info))
            }
        };
        self.narinfos
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, (at, answer.clone()));
        Ok(answer)
    }

    fn nar_reader(&self, narinfo: &NarInfo) -> Result<Box<dyn Read + Send>, CacheError> {
        if !is_safe_nar_url(&narinfo.url) {
            return Err(CacheError::UnsafeUrl {
                path: format!("{}/{}.narinfo", self.base, narinfo.info.path.hash_part()).into(),
                source: NarInfoError::UnsafeUrl(narinfo.url.clone()),
            });
        }
        let (_, body) = self.get(&narinfo.url)?.ok_or_else(|| {
            self.http_err(
                &format!("{}/{}", self.base, narinfo.url),
                "NAR file not found",
            )
        })?;
        Ok(Box::new(body))
    }

    fn forget_remembered_narinfo(&self, path: &StorePath) -> bool {
        self.forget_narinfo(path)
    }

    fn parallel_jobs(&self) -> usize {
        self.client.config().connections.max(1)
    }
}
