//! Interned identifiers.
//!
//! A [`Symbol`] is a 4-byte handle to a string that lives for the rest of the
//! process, like CppNix's symbol table. Interning happens at parse time and when
//! attribute names are built at run time; resolving a symbol back to its text
//! takes no lock, so it is cheap on hot paths (sorting attribute names,
//! printing).
//!
//! The table is process-wide, so parsed files and symbols can be shared freely
//! between evaluators and threads.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, OnceLock};

/// An interned string. Equality and hashing are on the handle; ordering is by
/// creation order (use [`Symbol::as_str`] to compare text).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol(u32);

/// Number of entries in the first segment; segment `k` holds `FIRST << k`.
const FIRST_SEGMENT: usize = 1024;
/// Segments cover `FIRST_SEGMENT * (2^SEGMENTS - 1)` symbols: far beyond u32.
const SEGMENTS: usize = 23;

/// A small fast hash (FxHash's multiply-rotate scheme) for the interner:
/// identifiers are short and not attacker-chosen keys into a long-lived map
/// whose collisions matter for security.
#[derive(Default)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(n)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        // A multiplication only carries upward: without a final mix, input
        // bits that land high in a word (the last bytes of an 8-byte name,
        // `k1000000` … `k1999999`) never reach the low bits the hash map
        // takes its bucket from, and such names all collide. Fold the high
        // half down and multiply once more.
        let h = (self.0 ^ (self.0 >> 32)).wrapping_mul(0x9e_37_79_b9_7f_4a_7c_15);
        h ^ (h >> 29)
    }
}

pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;

/// A hash map with the interner's fast hash, for maps keyed by symbols or
/// short strings inside the crate.
pub(crate) type FxHashMap<K, V> = HashMap<K, V, FxBuild>;

struct Table {
    /// Text → symbol, guarded by a lock; only taken to intern.
    index: Mutex<HashMap<&'static str, Symbol, FxBuild>>,
    /// Symbol → text, append-only; read without locking.
    segments: [OnceLock<Box<[OnceLock<&'static str>]>>; SEGMENTS],
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| Table {
        index: Mutex::new(HashMap::with_capacity_and_hasher(4096, FxBuild::default())),
        segments: std::array::from_fn(|_| OnceLock::new()),
    })
}

/// A name of at most 23 bytes, stored in the key itself: its length, then
/// its bytes, zero-padded.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct ShortKey([u8; 24]);

impl ShortKey {
    fn new(text: &str) -> Option<ShortKey> {
        let b = text.as_bytes();
        let len = u8::try_from(b.len()).ok().filter(|&l| l < 24)?;
        let mut key = [0u8; 24];
        key[0] = len;
        key[1..=b.len()].copy_from_slice(b);
        Some(ShortKey(key))
    }
}

/// Per-thread text → symbol cache in front of the locked table.
struct LocalCache {
    short: HashMap<ShortKey, Symbol, FxBuild>,
    /// Longer names, keyed by the table's own (leaked) strings.
    long: HashMap<&'static str, Symbol, FxBuild>,
}

thread_local! {
    static LOCAL: RefCell<LocalCache> = RefCell::new(LocalCache {
        short: HashMap::with_capacity_and_hasher(1024, FxBuild::default()),
        long: HashMap::default(),
    });
}

/// Splits a symbol number into (segment, offset within segment).
fn locate(n: u32) -> (usize, usize) {
    let n = n as usize + FIRST_SEGMENT;
    let seg =
        (usize::BITS - 1 - n.leading_zeros()) as usize - FIRST_SEGMENT.trailing_zeros() as usize;
    let base = FIRST_SEGMENT << seg;
    (seg, n - base)
}

impl Symbol {
    /// Interns `text`, returning the same symbol for equal strings.
    pub fn intern(text: &str) -> Symbol {
        let t = table();
        // A poisoned lock only means another thread panicked while interning;
        // the map itself is always consistent (insertions are single calls).
        let mut index = t.index.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&sym) = index.get(text) {
            return sym;
        }
        let n = u32::try_from(index.len()).unwrap_or(u32::MAX);
        let leaked: &'static str = Box::leak(text.to_owned().into_boxed_str());
        let (seg, off) = locate(n);
        let segment = t.segments[seg]
            .get_or_init(|| (0..FIRST_SEGMENT << seg).map(|_| OnceLock::new()).collect());
        // Only this thread (holding the lock) writes slot `n`.
        let _ = segment[off].set(leaked);
        let sym = Symbol(n);
        index.insert(leaked, sym);
        sym
    }

    /// Like [`Symbol::intern`], through a per-thread cache of symbols already
    /// interned: a hit takes no lock and touches no shared memory (the parser
    /// interns every identifier it lowers, mostly names seen before).
    pub(crate) fn intern_cached(text: &str) -> Symbol {
        LOCAL
            .try_with(|cache| {
                let Ok(mut cache) = cache.try_borrow_mut() else {
                    return Symbol::intern(text);
                };
                let LocalCache { short, long } = &mut *cache;
                match ShortKey::new(text) {
                    // Most names: the key is compared in place, without
                    // visiting the (likely cold) interned text.
                    Some(key) => *short.entry(key).or_insert_with(|| Symbol::intern(text)),
                    None => {
                        if let Some(&sym) = long.get(text) {
                            return sym;
                        }
                        let sym = Symbol::intern(text);
                        long.insert(sym.as_str(), sym);
                        sym
                    }
                }
            })
            .unwrap_or_else(|_| Symbol::intern(text))
    }

    /// The symbol's text.
    pub fn as_str(self) -> &'static str {
        let (seg, off) = locate(self.0);
        table().segments[seg]
            .get()
            .and_then(|s| s.get(off))
            .and_then(|slot| slot.get())
            .copied()
            // Symbols are only created by `intern`, which fills the slot first.
            .unwrap_or("")
    }

    /// The raw handle, dense from 0 in creation order.
    pub fn index(self) -> u32 {
        self.0
    }

    /// The symbol whose [`Symbol::index`] is `n` (for caches that store the
    /// handle as a plain integer; a number no symbol has reads as `""`).
    pub fn from_index(n: u32) -> Symbol {
        Symbol(n)
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Symbol {
    fn from(s: &str) -> Symbol {
        Symbol::intern(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_stable_and_resolves() {
        let a = Symbol::intern("alpha");
        let b = Symbol::intern("beta");
        assert_ne!(a, b);
        assert_eq!(a, Symbol::intern("alpha"));
        assert_eq!(a.as_str(), "alpha");
        assert_eq!(b.as_str(), "beta");
    }

    #[test]
    fn locate_covers_segment_boundaries() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(1023), (0, 1023));
        assert_eq!(locate(1024), (1, 0));
        assert_eq!(locate(1024 + 2047), (1, 2047));
        assert_eq!(locate(1024 + 2048), (2, 0));
    }

    #[test]
    fn the_thread_cache_agrees_with_the_table() {
        let names: Vec<String> = (0..20_000)
            .map(|i| format!("c{i}{}", "x".repeat(i % 40)))
            .collect();
        for _ in 0..2 {
            for n in &names {
                assert_eq!(Symbol::intern_cached(n), Symbol::intern(n), "{n}");
            }
        }
        assert_eq!(Symbol::intern_cached(""), Symbol::intern(""));
    }

    #[test]
    fn many_symbols_resolve() {
        let syms: Vec<_> = (0..5000)
            .map(|i| Symbol::intern(&format!("s{i}")))
            .collect();
        for (i, s) in syms.iter().enumerate() {
            assert_eq!(s.as_str(), format!("s{i}"));
        }
    }

    /// Names that differ only in the high bytes of a word must not share
    /// buckets: a million 8-byte names intern in linear time.
    #[test]
    fn eight_byte_names_spread_over_buckets() {
        use std::hash::BuildHasher;
        let build = super::FxBuild::default();
        let mut low = std::collections::HashSet::new();
        for i in 1_000_000..1_004_096u32 {
            let name = format!("k{i}");
            low.insert(build.hash_one(name.as_str()) & 0xfff);
        }
        // 4,096 names over 4,096 buckets: most buckets must be hit.
        assert!(
            low.len() > 2_000,
            "only {} distinct low-bit values",
            low.len()
        );
    }
}
