//! [`HttpFetcher`]: `http://` and `https://` URLs downloaded through the workspace's HTTP
//! client (`nixkit-http`) into a temporary directory, archives unpacked in-process;
//! everything else goes to [`LocalFetcher`].

use std::fs::File;
use std::sync::Arc;

use nixkit_http::{is_http_url, HttpClient, HttpConfig};

use crate::{temp_dir, FetchError, Fetched, FetchedGit, Fetcher, LocalFetcher};

/// Told the URL and the size of each chunk received, for progress displays.
pub type ProgressFn = Arc<dyn Fn(&str, u64) + Send + Sync>;

/// Fetches `http(s)://` URLs over the network and `file://` URLs and local paths as
/// [`LocalFetcher`] does. Git repositories over HTTP are not supported (gitoxide's HTTP
/// transport would be a second HTTP client).
#[derive(Clone)]
pub struct HttpFetcher {
    client: HttpClient,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for HttpFetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpFetcher")
            .field("config", self.client.config())
            .finish_non_exhaustive()
    }
}

impl Default for HttpFetcher {
    fn default() -> Self {
        Self::new(HttpConfig::default())
    }
}

impl HttpFetcher {
    /// A fetcher whose HTTP client is configured by `config`.
    pub fn new(config: HttpConfig) -> Self {
        Self {
            client: HttpClient::new(config),
            progress: None,
        }
    }

    /// Reports the bytes received to `progress`.
    pub fn with_progress(mut self, progress: ProgressFn) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Downloads `url` into a new temporary directory, as the file `download`.
    fn download(&self, url: &str) -> Result<(tempfile::TempDir, std::path::PathBuf), FetchError> {
        let temp = temp_dir(url)?;
        let path = temp.path().join("download");
        let io = |source| FetchError::Io {
            url: url.to_owned(),
            source,
        };
        let mut file = File::create(&path).map_err(io)?;
        let progress = self.progress.clone();
        self.client
            .download(url, &mut file, None, &mut |n| {
                if let Some(p) = &progress {
                    p(url, n);
                }
                Ok(())
            })
            .map_err(|source| FetchError::Http { source })?;
        Ok((temp, path))
    }
}

impl Fetcher for HttpFetcher {
    fn fetch_file(&self, url: &str) -> Result<Fetched, FetchError> {
        if !is_http_url(url) {
            return LocalFetcher.fetch_file(url);
        }
        let (temp, path) = self.download(url)?;
        Ok(Fetched {
            path,
            _temp: Some(temp),
        })
    }

    #[cfg(feature = "archive")]
    fn fetch_tarball(&self, url: &str) -> Result<Fetched, FetchError> {
        if !is_http_url(url) {
            return LocalFetcher.fetch_tarball(url);
        }
        let (temp, file) = self.download(url)?;
        let out = temp.path().join("unpacked");
        std::fs::create_dir(&out).map_err(|source| FetchError::Io {
            url: url.to_owned(),
            source,
        })?;
        let path =
            crate::archive::unpack_file(&file, &out).map_err(|source| FetchError::Archive {
                url: url.to_owned(),
                source,
            })?;
        // The archive itself is no longer needed; its tree stays until `Fetched` drops.
        let _ = std::fs::remove_file(&file);
        Ok(Fetched {
            path,
            _temp: Some(temp),
        })
    }

    #[cfg(not(feature = "archive"))]
    fn fetch_tarball(&self, url: &str) -> Result<Fetched, FetchError> {
        LocalFetcher.fetch_tarball(url)
    }

    fn fetch_git(&self, url: &str, rev: Option<&str>) -> Result<FetchedGit, FetchError> {
        LocalFetcher.fetch_git(url, rev)
    }
}
