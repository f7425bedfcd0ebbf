//! The store as every command opens it: [`StoreOptions`] (`--store`,
//! `--option NAME VALUE` for the store's settings, substituters and trusted
//! keys), [`open_store`], which goes straight to `nixkit_store::local`
//! (store work does not depend on the evaluator), and [`access::open_access`],
//! which opens that or a daemon ([`daemon`]) behind [`access::StoreAccess`].

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use nixkit_sandbox::RealiseOptions;
use nixkit_store::binary_cache::{open_cache, CacheError, HttpCache, HttpConfig, PublicKey};
use nixkit_store::local::{LocalStore, OpenError, StoreConfig};
use nixkit_store::{StoreDir, StorePath};

pub mod access;
pub mod daemon;
pub mod ops;
mod query;

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
    /// connection (default 25, as CppNix's).
    pub http_connections: usize,
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
}

impl StoreOptions {
    /// Applies the store setting `name` (as `--option NAME VALUE` gives it);
    /// false if `name` is not one of the store's settings.
    pub fn set_option(&mut self, name: &str, value: &str) -> bool {
        let list = || value.split_whitespace().map(str::to_owned);
        match name {
            "store" => self.store = Some(value.to_owned()),
            "fsync-store-paths" => self.fsync = value == "true",
            "require-sigs" => self.require_sigs = value == "true",
            "substituters" => self.substituters = list().collect(),
            "extra-substituters" => self.substituters.extend(list()),
            "trusted-public-keys" => self.trusted_public_keys = list().collect(),
            "extra-trusted-public-keys" => self.trusted_public_keys.extend(list()),
            // CppNix reads 0 as "no limit"; here it is one at a time at least.
            "http-connections" => match value.trim().parse::<usize>() {
                Ok(n) => self.http_connections = n.max(1),
                Err(_) => return false,
            },
            _ => return false,
        }
        true
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
                    std::sync::Arc::new(HttpCache::with_config(url, store_dir.clone(), config)?)
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
    use super::StoreOptions;

    #[test]
    fn store_settings_replace_or_extend() {
        let mut o = StoreOptions::default();
        assert!(o.set_option("substituters", "a b"));
        assert!(o.set_option("extra-substituters", "c"));
        assert!(o.set_option("require-sigs", "false"));
        assert!(!o.set_option("cores", "2"));
        assert_eq!(o.substituters, ["a", "b", "c"]);
        assert!(o.set_option("substituters", "d"));
        assert_eq!(o.substituters, ["d"]);
        assert!(!o.require_sigs);
    }

    #[test]
    fn http_connections_is_a_number_of_at_least_one() {
        let mut o = StoreOptions::default();
        assert_eq!(o.http_connections, 25);
        assert!(o.set_option("http-connections", "4"));
        assert_eq!(o.http_connections, 4);
        assert!(o.set_option("http-connections", "0"));
        assert_eq!(o.http_connections, 1);
        assert!(!o.set_option("http-connections", "many"));
        assert_eq!(o.http_connections, 1);
    }
}
