//! Attribute sets: [`Attrs`], sorted vectors of [`Attr`] behind one shared
//! allocation.
//!
//! Attributes are sorted by [`Symbol::index`], so a lookup is a binary
//! search on `u32`; the lexicographic order needed by `attrNames` and
//! printing is computed only there.

use nixkit_syntax::Symbol;

use crate::shared_slice::SharedSlice;
use crate::source::Pos;
use crate::value::Value;

/// One attribute of a set.
#[derive(Debug)]
pub struct Attr {
    /// The name.
    pub name: Symbol,
    /// The value (possibly a thunk).
    pub value: Value,
    /// Where it was defined ([`Pos::NONE`] when unknown).
    pub pos: Pos,
}

impl Clone for Attr {
    /// The value is cloned first and the name and position copied after:
    /// copied before the (out-of-line) value clone, the two 4-byte fields
    /// went through the stack and were read back as one 8-byte word, a
    /// store-forwarding stall that took most of the time of `//`.
    #[inline]
    fn clone(&self) -> Attr {
        let value = self.value.clone();
        Attr {
            name: self.name,
            pos: self.pos,
            value,
        }
    }
}

/// An attribute set: attributes sorted by [`Symbol::index`], shared.
///
/// One allocation holds the reference count and the attributes, exactly as
/// many as there are (a set never changes once built); a value refers to
/// it with a one-word pointer ([`SharedSlice`]). Cloning a set is a
/// reference-count increment.
#[derive(Clone, Debug)]
pub struct Attrs {
    entries: SharedSlice<Attr>,
}

impl Default for Attrs {
    fn default() -> Attrs {
        Attrs::new()
    }
}

impl Attrs {
    /// Whether this is the only reference to a non-empty set (its drop then
    /// frees the attributes' values).
    #[inline]
    pub(crate) fn is_unique(&self) -> bool {
        !self.entries.is_empty() && self.entries.is_unique()
    }

    /// The shared array of attributes (for the cycle collector).
    pub(crate) fn entries(&self) -> &SharedSlice<Attr> {
        &self.entries
    }

    /// An empty set.
    pub fn new() -> Attrs {
        Attrs {
            entries: SharedSlice::default(),
        }
    }

    /// Builds a set from attributes in any order; on duplicate names the last wins.
    pub fn from_unsorted(mut entries: Vec<Attr>) -> Attrs {
        entries.sort_by_key(|a| a.name.index());
        // Keep the last of equal names: reverse-dedup keeps the first of a run.
        entries.reverse();
        entries.dedup_by_key(|a| a.name.index());
        entries.reverse();
        Attrs {
            entries: entries.into(),
        }
    }

    /// Builds a set from attributes already sorted by symbol index and unique.
    pub(crate) fn from_sorted(entries: Vec<Attr>) -> Attrs {
        Attrs {
            entries: entries.into(),
        }
    }

    /// Builds a set from attributes already sorted by symbol index and
    /// unique, written straight into the set's allocation.
    pub(crate) fn from_sorted_exact(entries: impl ExactSizeIterator<Item = Attr>) -> Attrs {
        let attrs = Attrs {
            entries: SharedSlice::from_exact(entries),
        };
        debug_assert!(attrs
            .entries
            .windows(2)
            .all(|w| w[0].name.index() < w[1].name.index()));
        attrs
    }

    /// Builds a set from `(name, value)` pairs.
    pub fn from_pairs<I: IntoIterator<Item = (Symbol, Value)>>(pairs: I) -> Attrs {
        Attrs::from_unsorted(
            pairs
                .into_iter()
                .map(|(name, value)| Attr {
                    name,
                    value,
                    pos: Pos::NONE,
                })
                .collect(),
        )
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Looks up an attribute.
    pub fn get(&self, name: Symbol) -> Option<&Value> {
        self.get_attr(name).map(|a| &a.value)
    }

    /// Looks up an attribute with its position.
    pub fn get_attr(&self, name: Symbol) -> Option<&Attr> {
        let key = name.index();
        self.entries
            .binary_search_by_key(&key, |a| a.name.index())
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Looks up by text.
    pub fn get_str(&self, name: &str) -> Option<&Value> {
        self.get(Symbol::intern(name))
    }

    /// The attribute at `index` in symbol-index order.
    pub(crate) fn at(&self, index: usize) -> Option<&Attr> {
        self.entries.get(index)
    }

    /// Attributes in symbol-index order.
    pub fn iter(&self) -> std::slice::Iter<'_, Attr> {
        self.entries.iter()
    }

    /// Attributes in lexicographic name order.
    pub fn sorted_by_name(&self) -> Vec<&Attr> {
        let mut v: Vec<&Attr> = self.entries.iter().collect();
        // By bytes, as Nix orders strings: UTF-8 text orders as its bytes
        // unless it holds escapes (bytes that are not UTF-8; see
        // `nixkit_syntax::cmp_bytes`), which is checked once per name.
        if v.iter()
            .any(|a| nixkit_syntax::has_escapes(a.name.as_str()))
        {
            v.sort_by(|a, b| nixkit_syntax::cmp_bytes(a.name.as_str(), b.name.as_str()));
        } else {
            v.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        }
        v
    }

    /// `self // other`.
    ///
    /// The result's size is counted first (names only), so the attributes
    /// are cloned straight into the new set's allocation.
    pub fn update(&self, other: &Attrs) -> Attrs {
        let (a, b) = (&self.entries[..], &other.entries[..]);
        let common = if b.len() * 16 <= a.len() {
            // A few attributes into a large set (`acc // { x = …; }` in a
            // fold): binary-search each name instead of walking `a`.
            b.iter()
                .filter(|y| {
                    a.binary_search_by_key(&y.name.index(), |x| x.name.index())
                        .is_ok()
                })
                .count()
        } else {
            let (mut i, mut j, mut common) = (0, 0, 0);
            while i < a.len() && j < b.len() {
                let (x, y) = (a[i].name.index(), b[j].name.index());
                i += usize::from(x <= y);
                j += usize::from(y <= x);
                common += usize::from(x == y);
            }
            common
        };
        let len = a.len() + b.len() - common;
        Attrs {
            entries: SharedSlice::from_exact(Merge { a, b, len }),
        }
    }

    /// `builtins.intersectAttrs self other`: `other`'s attributes whose
    /// names `self` has, in symbol-index order.
    ///
    /// The cost follows the smaller set: each name of the smaller one is
    /// binary-searched in the larger (`intersectAttrs (functionArgs f) pool`
    /// in `callPackage` has a few names against a pool of 100,000), and
    /// sets of similar size are merged in one walk.
    pub fn intersect(&self, other: &Attrs) -> Attrs {
        let (a, b) = (&self.entries[..], &other.entries[..]);
        let search = |set: &[Attr], name: Symbol| {
            set.binary_search_by_key(&name.index(), |x| x.name.index())
                .ok()
        };
        let kept: Vec<Attr> = if a.len().saturating_mul(16) <= b.len() {
            a.iter()
                .filter_map(|x| search(b, x.name).map(|i| b[i].clone()))
                .collect()
        } else if b.len().saturating_mul(16) <= a.len() {
            b.iter()
                .filter(|y| search(a, y.name).is_some())
                .cloned()
                .collect()
        } else {
            let (mut i, mut j) = (0, 0);
            let mut kept = Vec::with_capacity(a.len().min(b.len()));
            while i < a.len() && j < b.len() {
                let (x, y) = (a[i].name.index(), b[j].name.index());
                if x == y {
                    kept.push(b[j].clone());
                }
                i += usize::from(x <= y);
                j += usize::from(y <= x);
            }
            kept
        };
        Attrs::from_sorted(kept)
    }

    /// The attributes as a vector (symbol-index order): a copy, the set being shared.
    pub fn into_entries(self) -> Vec<Attr> {
        self.entries.to_vec()
    }

    /// Whether two sets are the same allocation.
    pub fn ptr_eq(a: &Attrs, b: &Attrs) -> bool {
        SharedSlice::ptr_eq(&a.entries, &b.entries)
    }

    /// The address of the set's attributes (an identity for cycle checks).
    pub(crate) fn addr(&self) -> usize {
        self.entries.addr()
    }
}

/// The attributes of `a // b` in symbol-index order: `b`'s win on equal
/// names. `len` is the number left to yield.
struct Merge<'s> {
    a: &'s [Attr],
    b: &'s [Attr],
    len: usize,
}

impl Iterator for Merge<'_> {
    type Item = Attr;

    #[inline]
    fn next(&mut self) -> Option<Attr> {
        let next = match (self.a.first(), self.b.first()) {
            (Some(x), Some(y)) => {
                let (xi, yi) = (x.name.index(), y.name.index());
                if xi < yi {
                    self.a = &self.a[1..];
                    x
                } else {
                    if xi == yi {
                        self.a = &self.a[1..];
                    }
                    self.b = &self.b[1..];
                    y
                }
            }
            (Some(x), None) => {
                self.a = &self.a[1..];
                x
            }
            (None, Some(y)) => {
                self.b = &self.b[1..];
                y
            }
            (None, None) => return None,
        };
        self.len = self.len.saturating_sub(1);
        Some(next.clone())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len, Some(self.len))
    }
}

impl ExactSizeIterator for Merge<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[(&str, i64)]) -> Attrs {
        Attrs::from_pairs(
            names
                .iter()
                .map(|&(n, v)| (Symbol::intern(n), Value::Int(v))),
        )
    }

    fn contents(a: &Attrs) -> Vec<(String, i64)> {
        let mut v: Vec<(String, i64)> = a
            .iter()
            .map(|x| {
                (
                    x.name.as_str().to_string(),
                    if let Value::Int(i) = x.value { i } else { -1 },
                )
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn intersect_matches_a_map_model() {
        // All three paths: a small left side, a small right side and the
        // merge of sets of similar size, with overlapping and disjoint names.
        let names: Vec<String> = (0..200)
            .map(|i| format!("attr_intersect_test_{i}"))
            .collect();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..300 {
            let sizes = [(3, 200), (200, 3), (60, 80), (0, 50), (50, 0)];
            let (left_max, right_max) = sizes[round % sizes.len()];
            let mut pick = |max: usize| -> Vec<(&str, i64)> {
                let n = if max == 0 {
                    0
                } else {
                    (next() as usize) % max + 1
                };
                (0..n)
                    .map(|_| {
                        (
                            names[(next() as usize) % names.len()].as_str(),
                            (next() % 1000) as i64,
                        )
                    })
                    .collect()
            };
            let left = pick(left_max);
            let right = pick(right_max);
            let (a, b) = (set(&left), set(&right));
            let expected: Vec<(String, i64)> = contents(&b)
                .into_iter()
                .filter(|(name, _)| a.get_str(name).is_some())
                .collect();
            let kept = a.intersect(&b);
            assert_eq!(contents(&kept), expected, "round {round}");
            assert!(kept
                .iter()
                .zip(kept.iter().skip(1))
                .all(|(x, y)| x.name.index() < y.name.index()));
        }
    }

    #[test]
    fn update_matches_a_map_model() {
        // Both paths (a small right side into a large left side, and the
        // general merge), with and without overlapping names.
        let names: Vec<String> = (0..40).map(|i| format!("attr_update_test_{i}")).collect();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..300 {
            let pick = |next: &mut dyn FnMut() -> u64, max: usize| -> Vec<(&str, i64)> {
                let n = (next() as usize) % max;
                (0..n)
                    .map(|_| {
                        (
                            names[(next() as usize) % names.len()].as_str(),
                            (next() % 1000) as i64,
                        )
                    })
                    .collect()
            };
            let left = pick(&mut next, if round % 2 == 0 { 40 } else { 5 });
            let right = pick(&mut next, if round % 3 == 0 { 3 } else { 30 });
            let (a, b) = (set(&left), set(&right));
            let mut model = std::collections::BTreeMap::new();
            for x in a.iter().chain(b.iter()) {
                model.insert(
                    x.name.as_str().to_string(),
                    if let Value::Int(i) = x.value { i } else { -1 },
                );
            }
            let merged = a.update(&b);
            assert_eq!(
                contents(&merged),
                model.into_iter().collect::<Vec<_>>(),
                "round {round}"
            );
            assert!(merged
                .iter()
                .zip(merged.iter().skip(1))
                .all(|(x, y)| x.name.index() < y.name.index()));
        }
    }
}
