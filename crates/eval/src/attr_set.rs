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
#[derive(Clone, Debug)]
pub struct Attr {
    /// The name.
    pub name: Symbol,
    /// The value (possibly a thunk).
    pub value: Value,
    /// Where it was defined ([`Pos::NONE`] when unknown).
    pub pos: Pos,
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
    /// An empty set.
    pub fn new() -> Attrs {
        Attrs { entries: SharedSlice::default() }
    }

    /// Builds a set from attributes in any order; on duplicate names the last wins.
    pub fn from_unsorted(mut entries: Vec<Attr>) -> Attrs {
        entries.sort_by_key(|a| a.name.index());
        // Keep the last of equal names: reverse-dedup keeps the first of a run.
        entries.reverse();
        entries.dedup_by_key(|a| a.name.index());
        entries.reverse();
        Attrs { entries: entries.into() }
    }

    /// Builds a set from attributes already sorted by symbol index and unique.
    pub(crate) fn from_sorted(entries: Vec<Attr>) -> Attrs {
        Attrs { entries: entries.into() }
    }

    /// Builds a set from `(name, value)` pairs.
    pub fn from_pairs<I: IntoIterator<Item = (Symbol, Value)>>(pairs: I) -> Attrs {
        Attrs::from_unsorted(
            pairs.into_iter().map(|(name, value)| Attr { name, value, pos: Pos::NONE }).collect(),
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
        self.entries.binary_search_by_key(&key, |a| a.name.index()).ok().map(|i| &self.entries[i])
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
        v.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        v
    }

    /// `self // other`.
    pub fn update(&self, other: &Attrs) -> Attrs {
        let (a, b) = (&self.entries[..], &other.entries[..]);
        let mut out = Vec::with_capacity(a.len() + b.len());
        if b.len() * 16 <= a.len() {
            // A few attributes into a large set (`acc // { x = …; }` in a
            // fold): binary-search each insertion point and copy the runs
            // in between in bulk instead of comparing every name.
            let mut i = 0;
            for y in b {
                let key = y.name.index();
                let k = i + a[i..].partition_point(|x| x.name.index() < key);
                out.extend_from_slice(&a[i..k]);
                out.push(y.clone());
                i = if k < a.len() && a[k].name == y.name { k + 1 } else { k };
            }
            out.extend_from_slice(&a[i..]);
            return Attrs { entries: out.into() };
        }
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            let (x, y) = (a[i].name.index(), b[j].name.index());
            if x < y {
                out.push(a[i].clone());
                i += 1;
            } else if x > y {
                out.push(b[j].clone());
                j += 1;
            } else {
                out.push(b[j].clone());
                i += 1;
                j += 1;
            }
        }
        out.extend_from_slice(&a[i..]);
        out.extend_from_slice(&b[j..]);
        Attrs { entries: out.into() }
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

