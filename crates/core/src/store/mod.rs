//! The store as every command opens it: [`StoreOptions`] (`--store`,
//! `--option NAME VALUE` for the store's settings, substituters and trusted
//! keys), [`open_store`], which goes straight to `nixkit_store::local`
//! (store work does not depend on the evaluator), and [`access::open_access`],
//! which opens that or a daemon ([`daemon`]) behind [`access::StoreAccess`].

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use nixkit_sandbox::RealiseOptions;
use nixkit_store::binary_cache::{
    open_cache, CacheError, HttpCache, HttpConfig, NarInfoCacheConfig, PublicKey,
    DEFAULT_NEGATIVE_TTL, DEFAULT_POSITIVE_TTL,
};
use nixkit_store::local::{LocalStore, OpenError, StoreConfig};
use nixkit_store::{StoreDir, StorePath};

pub mod access;
pub mod daemon;
pub mod ops;
mod query;

/// `http-connections = 0` (CppNix's "no limit"): as many parallel downloads as paths the
/// substituter stages ahead of the one it registers next.
pub const UNLIMITED_HTTP_CONNECTIONS: usize = 128;

/// Which store to open and how to substitute into it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// `--store SPEC` (a directory, `local?root=DIR`, `auto`; see
    /// [`StoreConfig::from_spec`]); `None`: `NIXKIT_STORE` or the default root.
    pub store: Option<String>,
    /// `fsync-store-paths` (default true).
    pub fsync: bool,
    /// `substituters`: binary cache URLs, tried in order.
    pub substituters: Vec<String>,
    /// `trusted-public-keys`: `name:base64` keys.
    pub trusted_public_keys: Vec<String>,
    /// `require-sigs` (default true).
    pub require_sigs: bool,
    /// `http-connections`: paths substituted at once from an HTTP cache, each over its own
    /// connection (default 25, as CppNix's; 0, "no limit", is
    /// [`UNLIMITED_HTTP_CONNECTIONS`]).
    pub http_connections: usize,
    /// `narinfo-cache-positive-ttl`: seconds a narinfo found in an HTTP cache is
    /// remembered (default 30 days; 0: always ask).
    pub narinfo_cache_positive_ttl: u64,
    /// `narinfo-cache-negative-ttl`: seconds a narinfo absent from an HTTP cache is
    /// remembered (default 1 hour; 0: always ask).
    pub narinfo_cache_negative_ttl: u64,
    /// The file remembered narinfo answers are shared in across processes; `None`:
    /// `$XDG_CACHE_HOME/nixkit/binary-cache.sqlite` (or under `~/.cache`).
    pub narinfo_cache_file: Option<PathBuf>,
    /// The settings given with [`StoreOptions::set_option`] (but `store`), in order: what a
    /// daemon is sent (`SetOptions`' overrides), as CppNix's client sends the settings
    /// changed from their defaults.
    pub overrides: Vec<(String, String)>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            store: None,
            fsync: true,
            substituters: Vec::new(),
            trusted_public_keys: Vec::new(),
            require_sigs: true,
            http_connections: HttpConfig::default().connections,
            narinfo_cache_positive_ttl: DEFAULT_POSITIVE_TTL.as_secs(),
            narinfo_cache_negative_ttl: DEFAULT_NEGATIVE_TTL.as_secs(),
            narinfo_cache_file: None,
            overrides: Vec::new(),
        }
    }
}

/// Why the store's options could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreOptionsError {
    /// A substituter URL is not a supported binary cache.
    #[error(transparent)]
    Substituter(#[from] CacheError),
    /// A trusted public key does not parse.
    #[error("invalid trusted public key '{key}': {reason}")]
    Key {
        /// The key as given.
        key: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A setting's value is not one it takes.
    #[error("invalid value '{value}' for setting '{name}': {reason}")]
    BadValue {
        /// The setting.
        name: String,
        /// The value as given.
        value: String,
        /// What it must be.
        reason: &'static str,
    },
}

/// `value` as a number for setting `name`.
fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, StoreOptionsError> {
    value
        .trim()
        .parse()
        .map_err(|_| StoreOptionsError::BadValue {
            name: name.to_owned(),
            value: value.to_owned(),
            reason: "expected a non-negative integer",
        })
}

impl StoreOptions {
    /// Applies the store setting `name` (as `--option NAME VALUE` gives it);
    /// false if `name` is not one of the store's settings, an error if the value is not
    /// one the setting takes.
    pub fn set_option(&mut self, name: &str, value: &str) -> Result<bool, StoreOptionsError> {
        let list = || value.split_whitespace().map(str::to_owned);
        match name {
            "store" => self.store = Some(value.to_owned()),
            "fsync-store-paths" => self.fsync = value == "true",
            "require-sigs" => self.require_sigs = value == "true",
            "substituters" => self.substituters = list().collect(),
            "extra-substituters" => self.substituters.extend(list()),
            "trusted-public-keys" => self.trusted_public_keys = list().collect(),
            "extra-trusted-public-keys" => self.trusted_public_keys.extend(list()),
            // 0 is CppNix's "no limit": as many as can be staged ahead at once.
            "http-connections" => match number(name, value)? {
                0 => self.http_connections = UNLIMITED_HTTP_CONNECTIONS,
                n => self.http_connections = n,
            },
            "narinfo-cache-positive-ttl" => {
                self.narinfo_cache_positive_ttl = number(name, value)?;
            }
            "narinfo-cache-negative-ttl" => {
                self.narinfo_cache_negative_ttl = number(name, value)?;
            }
            _ => return Ok(false),
        }
        if name != "store" {
            self.overrides.push((name.to_owned(), value.to_owned()));
        }
        Ok(true)
    }

    /// How HTTP caches remember narinfo answers under these options.
    pub fn narinfo_cache(&self) -> NarInfoCacheConfig {
        NarInfoCacheConfig {
            file: self
                .narinfo_cache_file
                .clone()
                .or_else(NarInfoCacheConfig::default_file),
            positive_ttl: std::time::Duration::from_secs(self.narinfo_cache_positive_ttl),
            negative_ttl: std::time::Duration::from_secs(self.narinfo_cache_negative_ttl),
        }
    }

    /// Puts the substituters, trusted keys and `require-sigs` into `realise`.
    pub fn configure_substitution(
        &self,
        store_dir: &StoreDir,
        realise: &mut RealiseOptions,
    ) -> Result<(), StoreOptionsError> {
        let hook = crate::progress::substitution_hook();
        for url in &self.substituters {
            let cache: std::sync::Arc<dyn nixkit_store::binary_cache::BinaryCache> =
                if HttpCache::is_http_url(url) {
                    let config = HttpConfig {
                        progress: hook.clone(),
                        connections: self.http_connections,
                        ..HttpConfig::default()
                    };
                    std::sync::Arc::new(
                        HttpCache::with_config(url, store_dir.clone(), config)?
                            .with_narinfo_cache(self.narinfo_cache()),
                    )
                } else {
                    open_cache(url, store_dir.clone())?
                };
            realise.substituters.push(cache);
        }
        for key in &self.trusted_public_keys {
            realise
                .trusted_keys
                .push(PublicKey::parse(key).map_err(|e| StoreOptionsError::Key {
                    key: key.clone(),
                    reason: e.to_string(),
                })?);
        }
        realise.require_sigs = self.require_sigs;
        Ok(())
    }
}

/// Opens the local store `options` name (logical directory `/nix/store`).
pub fn open_store(options: &StoreOptions) -> Result<LocalStore, OpenError> {
    let dir = StoreDir::default();
    let config = match options.store.as_deref() {
        Some(spec) => StoreConfig::from_spec(spec, dir)?,
        None => StoreConfig::from_env(dir)?,
    };
    LocalStore::open(config.with_fsync(options.fsync))
}

/// Records a valid `.drv`'s output paths in the store's database, as CppNix
/// does when it registers one (after `--import` or substitution); anything
/// else, or a `.drv` that does not read, is left alone.
pub fn record_derivation_outputs(store: &LocalStore, path: &StorePath) {
    if !path.name().ends_with(".drv") {
        return;
    }
    let Ok(drv) = nixkit_sandbox::read_derivation(store, path) else {
        return;
    };
    let outputs = drv.known_output_paths(store.store_dir());
    let _ = store.set_derivation_outputs(path, &outputs);
}

/// An operand that names no store path.
#[derive(Debug, thiserror::Error)]
#[error("path '{0}' is not in the Nix store")]
pub struct NotInStore(pub String);

/// Resolves an operand to a store path: a store path (or a path inside one), or a
/// symlink chain (such as `./result`) that leads to one.
pub fn resolve_store_path(dir: &StoreDir, arg: &OsStr) -> Result<StorePath, NotInStore> {
    let mut current = PathBuf::from(arg);
    for _ in 0..16 {
        let s = current.to_string_lossy().into_owned();
        if let Ok((p, _)) = dir.parse_path_prefix(&s) {
            return Ok(p);
        }
        match std::fs::read_link(&current) {
            Ok(t) if t.is_relative() => {
                current = current.parent().unwrap_or(Path::new(".")).join(t);
            }
            Ok(t) => current = t,
            Err(_) => break,
        }
    }
    Err(NotInStore(Path::new(arg).display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::{StoreOptions, UNLIMITED_HTTP_CONNECTIONS};

    #[test]
    fn store_settings_replace_or_extend() {
        let mut o = StoreOptions::default();
        assert!(o.set_option("substituters", "a b").unwrap());
        assert!(o.set_option("extra-substituters", "c").unwrap());
        assert!(o.set_option("require-sigs", "false").unwrap());
        assert!(!o.set_option("cores", "2").unwrap());
        assert_eq!(o.substituters, ["a", "b", "c"]);
        assert!(o.set_option("substituters", "d").unwrap());
        assert_eq!(o.substituters, ["d"]);
        assert!(!o.require_sigs);
    }

    #[test]
    fn http_connections_is_a_number_zero_meaning_no_limit() {
        let mut o = StoreOptions::default();
        assert_eq!(o.http_connections, 25);
        assert!(o.set_option("http-connections", "0").unwrap());
        assert_eq!(o.http_connections, UNLIMITED_HTTP_CONNECTIONS);
        assert!(o.set_option("http-connections", "4").unwrap());
        assert_eq!(o.http_connections, 4);
        for bad in ["many", "-1", "", "2.5"] {
            let err = o.set_option("http-connections", bad).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains("'http-connections'"), "{msg}");
            assert!(msg.contains(&format!("'{bad}'")), "{msg}");
            assert_eq!(o.http_connections, 4);
        }
    }

    #[test]
    fn narinfo_cache_ttls_are_numbers_of_seconds() {
        let mut o = StoreOptions::default();
        let defaults = o.narinfo_cache();
        assert_eq!(defaults.positive_ttl.as_secs(), 2_592_000);
        assert_eq!(defaults.negative_ttl.as_secs(), 3600);
        assert!(o.set_option("narinfo-cache-positive-ttl", "0").unwrap());
        assert!(o.set_option("narinfo-cache-negative-ttl", " 17 ").unwrap());
        let c = o.narinfo_cache();
        assert_eq!(
            (c.positive_ttl.as_secs(), c.negative_ttl.as_secs()),
            (0, 17)
        );
        for name in ["narinfo-cache-positive-ttl", "narinfo-cache-negative-ttl"] {
            let msg = o.set_option(name, "abc").unwrap_err().to_string();
            assert!(msg.contains(name), "{msg}");
        }
        assert_eq!(o.narinfo_cache_negative_ttl, 17);
        o.narinfo_cache_file = Some("/some/file.sqlite".into());
        assert_eq!(
            o.narinfo_cache().file.as_deref(),
            Some(std::path::Path::new("/some/file.sqlite"))
        );
    }
}
