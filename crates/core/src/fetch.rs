//! The fetcher the commands give the evaluator: `file://` URLs and local paths, and
//! `http(s)://` URLs through the workspace's HTTP client, with download progress on
//! standard error.

use std::sync::Arc;

use nixkit_fetch::{Fetcher, HttpConfig, HttpFetcher};

/// The evaluator's fetcher for `nix-instantiate`, `nix-build` and friends.
pub fn network_fetcher() -> Arc<dyn Fetcher> {
    Arc::new(
        HttpFetcher::new(HttpConfig::default()).with_progress(crate::progress::download_reporter()),
    )
}
