//! The daemon's substituters: the caches of its `substituters` setting (a trusted client
//! may replace or extend them), opened once per connection with the connection's
//! `http-connections` and narinfo cache TTLs (`narinfo-cache-positive-ttl`/`-negative-ttl`,
//! which any client may set, as with CppNix's daemon). They answer the substitutable-path
//! queries (the mass query asks only caches with `WantMassQuery: 1`), `QueryMissing`'s
//! substitutable paths, and substitute in `BuildPaths`, `EnsurePath` and `QueryValidPaths`.
//! Which substitutes are accepted ([`SignaturePolicy`]: `trusted-public-keys`,
//! `require-sigs`) is the daemon's, as a trusted client changed it for its connection.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use nixkit_store::binary_cache::{
    open_cache, BinaryCache, CacheError, HttpCache, HttpConfig, NarInfo, NarInfoCacheConfig,
    PublicKey, Substituters,
};
use nixkit_store::{StoreDir, StorePath};

/// `http-connections = 0` (CppNix's "no limit"): as many as the substituter stages ahead.
const UNLIMITED_HTTP_CONNECTIONS: usize = 128;

/// How a connection substitutes: the daemon's settings, as its client changed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubstituterSettings {
    /// `substituters`: cache URLs, tried by priority (then in order).
    pub urls: Vec<String>,
    /// `http-connections`: paths substituted at once from an HTTP cache.
    pub http_connections: usize,
    /// The narinfo cache file and TTLs of HTTP caches.
    pub narinfo: NarInfoCacheConfig,
    /// `use-substitutes` (the client's `SetOptions` flag; default true).
    pub use_substitutes: bool,
}

impl Default for SubstituterSettings {
    /// No caches; CppNix's `http-connections` and TTLs; the narinfo cache file of the
    /// daemon's user.
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            http_connections: HttpConfig::default().connections,
            narinfo: NarInfoCacheConfig {
                file: NarInfoCacheConfig::default_file(),
                ..NarInfoCacheConfig::default()
            },
            use_substitutes: true,
        }
    }
}

fn seconds(name: &str, value: &str) -> Result<Duration, String> {
    value
        .trim()
        .parse()
        .map(Duration::from_secs)
        .map_err(|_| format!("invalid value '{value}' for setting '{name}': expected seconds"))
}

impl SubstituterSettings {
    /// Applies setting `name` (from the daemon's configuration or a client's `SetOptions`);
    /// false if it is not one of these settings, an error if its value is not usable.
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool, String> {
        let list = || value.split_whitespace().map(str::to_owned);
        match name {
            "substituters" => self.urls = list().collect(),
            "extra-substituters" => self.urls.extend(list()),
            "http-connections" => {
                self.http_connections = match value.trim().parse::<usize>() {
                    Ok(0) => UNLIMITED_HTTP_CONNECTIONS,
                    Ok(n) => n,
                    Err(_) => {
                        return Err(format!(
                            "invalid value '{value}' for setting '{name}': expected a number"
                        ))
                    }
                }
            }
            "narinfo-cache-positive-ttl" => self.narinfo.positive_ttl = seconds(name, value)?,
            "narinfo-cache-negative-ttl" => self.narinfo.negative_ttl = seconds(name, value)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Opens the caches (none with `use-substitutes` off).
    pub(crate) fn open(
        &self,
        store_dir: &StoreDir,
    ) -> Result<Vec<Arc<dyn BinaryCache>>, CacheError> {
        if !self.use_substitutes {
            return Ok(Vec::new());
        }
        self.urls
            .iter()
            .map(|url| -> Result<Arc<dyn BinaryCache>, CacheError> {
                if HttpCache::is_http_url(url) {
                    let config = HttpConfig {
                        connections: self.http_connections,
                        ..HttpConfig::default()
                    };
                    Ok(Arc::new(
                        HttpCache::with_config(url, store_dir.clone(), config)?
                            .with_narinfo_cache(self.narinfo.clone()),
                    ))
                } else {
                    open_cache(url, store_dir.clone())
                }
            })
            .collect()
    }
}

/// Which substitutes a connection accepts: signed by one of `trusted_keys`, or any with
/// `require_sigs` off (a content-addressed path is checked against its address instead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignaturePolicy {
    /// `trusted-public-keys` (with `extra-trusted-public-keys`).
    pub trusted_keys: Vec<PublicKey>,
    /// `require-sigs`.
    pub require_sigs: bool,
}

impl SignaturePolicy {
    /// Applies setting `name` (a trusted client's `SetOptions` override); false if it is not
    /// one of these settings, an error (nothing changed) if its value is not usable.
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool, String> {
        let keys = || -> Result<Vec<PublicKey>, String> {
            value
                .split_whitespace()
                .map(|k| {
                    PublicKey::parse(k)
                        .map_err(|e| format!("invalid value for setting '{name}': {e}"))
                })
                .collect()
        };
        match name {
            "trusted-public-keys" => self.trusted_keys = keys()?,
            "extra-trusted-public-keys" => self.trusted_keys.extend(keys()?),
            "require-sigs" => {
                self.require_sigs = match value.trim() {
                    "true" | "yes" | "1" => true,
                    "false" | "no" | "0" => false,
                    _ => {
                        return Err(format!(
                            "invalid value '{value}' for setting '{name}': expected 'true' or \
                             'false'"
                        ))
                    }
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// The connection's open caches with its signature policy.
pub(crate) struct OpenSubstituters {
    pub(crate) caches: Vec<Arc<dyn BinaryCache>>,
    pub(crate) all: Substituters,
}

impl OpenSubstituters {
    pub(crate) fn new(caches: Vec<Arc<dyn BinaryCache>>, policy: &SignaturePolicy) -> Self {
        Self {
            all: Substituters::new(
                caches.clone(),
                policy.trusted_keys.clone(),
                policy.require_sigs,
            ),
            caches,
        }
    }

    /// The mass query (`QuerySubstitutablePaths`, `HasSubstitutes`).
    pub(crate) fn substitutable(
        &self,
        store_dir: &StoreDir,
        paths: &BTreeSet<StorePath>,
    ) -> BTreeSet<StorePath> {
        self.all.query_substitutable(store_dir, paths)
    }

    /// Infos of the paths some cache has (`QuerySubstitutablePathInfos`, `QueryMissing`).
    pub(crate) fn infos(
        &self,
        store_dir: &StoreDir,
        paths: &BTreeSet<StorePath>,
    ) -> BTreeMap<StorePath, NarInfo> {
        self.all.query_substitutable_infos(store_dir, paths)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn settings_parse_and_refuse_bad_values() {
        let mut s = SubstituterSettings::default();
        assert!(s.set("substituters", "http://a file:///b").unwrap());
        assert!(s.set("extra-substituters", "http://c").unwrap());
        assert_eq!(s.urls, ["http://a", "file:///b", "http://c"]);
        assert!(s.set("narinfo-cache-negative-ttl", "0").unwrap());
        assert!(s.set("narinfo-cache-positive-ttl", " 60 ").unwrap());
        assert_eq!(s.narinfo.negative_ttl, Duration::ZERO);
        assert_eq!(s.narinfo.positive_ttl, Duration::from_secs(60));
        assert!(s.set("http-connections", "0").unwrap());
        assert_eq!(s.http_connections, UNLIMITED_HTTP_CONNECTIONS);
        assert!(s.set("http-connections", "3").unwrap());
        assert_eq!(s.http_connections, 3);
        let err = s.set("narinfo-cache-negative-ttl", "soon").unwrap_err();
        assert!(err.contains("narinfo-cache-negative-ttl"), "{err}");
        assert!(s.set("http-connections", "-1").is_err());
        assert_eq!(s.narinfo.negative_ttl, Duration::ZERO);
        assert!(!s.set("max-jobs", "4").unwrap());
    }

    #[test]
    fn signature_settings_parse_and_refuse_bad_values() {
        let one = nixkit_store::binary_cache::SecretKey::generate("one").unwrap();
        let two = nixkit_store::binary_cache::SecretKey::generate("two").unwrap();
        let (one, two) = (one.public_key(), two.public_key());
        let mut p = SignaturePolicy {
            trusted_keys: vec![one.clone()],
            require_sigs: true,
        };
        assert!(p.set("extra-trusted-public-keys", &two.to_text()).unwrap());
        assert_eq!(p.trusted_keys, [one.clone(), two.clone()]);
        let both = format!(" {}  {} ", two.to_text(), one.to_text());
        assert!(p.set("trusted-public-keys", &both).unwrap());
        assert_eq!(p.trusted_keys, [two.clone(), one.clone()]);
        assert!(p.set("trusted-public-keys", "").unwrap());
        assert!(p.trusted_keys.is_empty());
        // A bad key anywhere in the list: an error naming the setting, nothing changed.
        p.trusted_keys = vec![one.clone()];
        for bad in ["garbage", "name:", "name:AAAA"] {
            let value = format!("{} {bad}", two.to_text());
            for name in ["trusted-public-keys", "extra-trusted-public-keys"] {
                let err = p.set(name, &value).unwrap_err();
                assert!(err.contains(name), "{err}");
                assert_eq!(p.trusted_keys, std::slice::from_ref(&one));
            }
        }
        for (value, want) in [
            ("false", false),
            ("true", true),
            ("0", false),
            ("yes", true),
        ] {
            assert!(p.set("require-sigs", value).unwrap());
            assert_eq!(p.require_sigs, want, "{value}");
        }
        assert!(p
            .set("require-sigs", "maybe")
            .unwrap_err()
            .contains("require-sigs"));
        assert!(p.require_sigs);
        assert!(!p.set("substituters", "http://a").unwrap());
    }
}
