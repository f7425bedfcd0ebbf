//! A cache of parsed source files that several evaluators (on several
//! threads) can share through an `Arc`.
//!
//! Only the parse is shared — the syntax tree is immutable and `Send + Sync`.
//! Each evaluator compiles and evaluates on its own, so no lazy value is
//! ever forced by two evaluators at once. Entries are keyed by the whole
//! parse input: the text, the base directory, the home directory and the
//! global names (which decide how variables resolve), so evaluators with
//! different settings or extra builtins can share one cache safely.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use nixkit_syntax::{Parse, ParseOptions};

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    text: Arc<str>,
    base_dir: String,
    home: Option<String>,
    globals: u64,
}

/// Parsed files shared between evaluators; see the module docs.
///
/// ```
/// use std::sync::Arc;
/// use nixkit_eval::{Evaluator, ParseCache};
///
/// let cache = Arc::new(ParseCache::new());
/// for _ in 0..2 {
///     let mut ev = Evaluator::builder().parse_cache(cache.clone()).build();
///     let v = ev.eval_str("1 + 2", "/").unwrap();
///     assert_eq!(ev.print(&v, true).unwrap(), "3");
/// }
/// assert_eq!(cache.len(), 1);
/// ```
#[derive(Default)]
pub struct ParseCache {
    entries: Mutex<HashMap<Key, Arc<Parse>>>,
}

impl std::fmt::Debug for ParseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParseCache")
            .field("len", &self.len())
            .finish()
    }
}

impl ParseCache {
    /// An empty cache.
    pub fn new() -> ParseCache {
        ParseCache::default()
    }

    /// How many parses are cached.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every parse.
    pub fn clear(&self) {
        if let Ok(mut m) = self.entries.lock() {
            m.clear();
        }
    }

    /// The parse of `text` with `options`, from the cache or parsed now
    /// (outside the lock, so threads parse different files in parallel).
    pub(crate) fn parse(
        &self,
        text: &Arc<str>,
        options: &ParseOptions,
        globals: u64,
    ) -> Arc<Parse> {
        let key = Key {
            text: text.clone(),
            base_dir: options.base_dir.clone(),
            home: options.home.clone(),
            globals,
        };
        if let Some(p) = self.entries.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return p;
        }
        let parsed = Arc::new(nixkit_syntax::parse(text, options));
        if let Ok(mut m) = self.entries.lock() {
            m.entry(key).or_insert_with(|| parsed.clone());
        }
        parsed
    }
}

/// A fingerprint of a set of global names (order-independent).
pub(crate) fn fingerprint<'a>(names: impl Iterator<Item = &'a str>) -> u64 {
    let mut names: Vec<&str> = names.collect();
    names.sort_unstable();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    names.hash(&mut h);
    h.finish()
}
