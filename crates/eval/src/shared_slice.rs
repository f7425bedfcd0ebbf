//! [`SharedSlice`]: an immutable slice behind a thin, reference-counted
//! pointer — the storage of lists and attribute sets.
//!
//! One allocation holds the reference count, the length and the items, and
//! a value refers to it with one word, which keeps [`crate::Value`] at 16
//! bytes. Cloning is one reference-count increment.

use std::fmt;
use std::ops::Deref;

use triomphe::ThinArc;

/// An immutable, shared slice of `T` behind a one-word pointer.
pub struct SharedSlice<T: 'static>(ThinArc<(), T>);

/// Lists and sets hand the children they alone own to
/// `deep_drop` when the stack runs low, so that freeing a deep nesting does not
/// overflow it.
impl<T: 'static> Drop for SharedSlice<T> {
    fn drop(&mut self) {
        // A shared slice is only released (the common case): nothing is
        // freed, so the stack need not be read.
        if !self.is_unique() || crate::deep_drop::may_recurse() {
            return;
        }
        let any: &mut dyn std::any::Any = self;
        if let Some(list) = any.downcast_mut::<SharedSlice<crate::value::Value>>() {
            list.0.with_arc_mut(|arc| {
                if let Some(items) = triomphe::Arc::get_mut(arc) {
                    crate::deep_drop::defer_items(items.slice_mut().iter_mut());
                }
            });
        } else if let Some(set) = any.downcast_mut::<SharedSlice<crate::value::Attr>>() {
            set.0.with_arc_mut(|arc| {
                if let Some(attrs) = triomphe::Arc::get_mut(arc) {
                    crate::deep_drop::defer_items(
                        attrs.slice_mut().iter_mut().map(|a| &mut a.value),
                    );
                }
            });
        }
    }
}

impl<T: 'static> SharedSlice<T> {
    /// A shared slice of `items` (moved, not cloned).
    pub fn new(items: Vec<T>) -> SharedSlice<T> {
        if items.is_empty() {
            if let Some(empty) = shared_empty() {
                return empty;
            }
        }
        SharedSlice(ThinArc::from_header_and_iter((), items.into_iter()))
    }

    /// A shared slice of the items of an iterator of known length, written
    /// straight into the shared allocation (no intermediate vector).
    pub fn from_exact<I: ExactSizeIterator<Item = T>>(items: I) -> SharedSlice<T> {
        if items.len() == 0 {
            if let Some(empty) = shared_empty() {
                return empty;
            }
        }
        SharedSlice(ThinArc::from_header_and_iter((), items))
    }
}

impl<T: Clone + 'static> SharedSlice<T> {
    /// The items of `parts` one after the other, cloned straight into one
    /// shared allocation (no vector grown and then copied: a large list
    /// would briefly take two or three times its size).
    pub fn concat(parts: &[&[T]]) -> SharedSlice<T> {
        let len = parts.iter().map(|p| p.len()).sum();
        SharedSlice::from_exact(Counted {
            items: parts.iter().flat_map(|p| p.iter().cloned()),
            left: len,
        })
    }
}

/// An iterator whose exact length is known from how it was built.
struct Counted<I> {
    items: I,
    left: usize,
}

impl<I: Iterator> Iterator for Counted<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        let item = self.items.next()?;
        self.left = self.left.saturating_sub(1);
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<I: Iterator> ExactSizeIterator for Counted<I> {}

/// The one empty list and the one empty attribute set of the process, as
/// CppNix shares its empty set: `[ ]` and `{ }` are made often (150 k times
/// in `e-modules`), and an empty slice still costs an allocation.
/// `None` for other item types.
fn shared_empty<T: 'static>() -> Option<SharedSlice<T>> {
    use std::any::{Any, TypeId};
    use std::sync::OnceLock;
    static VALUES: OnceLock<SharedSlice<crate::value::Value>> = OnceLock::new();
    static ATTRS: OnceLock<SharedSlice<crate::value::Attr>> = OnceLock::new();
    let empty: &dyn Any = if TypeId::of::<T>() == TypeId::of::<crate::value::Value>() {
        VALUES.get_or_init(|| SharedSlice(ThinArc::from_header_and_iter((), std::iter::empty())))
    } else if TypeId::of::<T>() == TypeId::of::<crate::value::Attr>() {
        ATTRS.get_or_init(|| SharedSlice(ThinArc::from_header_and_iter((), std::iter::empty())))
    } else {
        return None;
    };
    empty.downcast_ref::<SharedSlice<T>>().cloned()
}

impl<T: 'static> SharedSlice<T> {
    /// Whether this is the only reference to the allocation.
    #[inline]
    pub(crate) fn is_unique(&self) -> bool {
        self.0.with_arc(|a| a.is_unique())
    }

    /// How many references the allocation has (for the cycle collector).
    pub(crate) fn ref_count(&self) -> usize {
        self.0.with_arc(triomphe::Arc::count)
    }

    /// Whether two slices are the same allocation.
    pub fn ptr_eq(a: &SharedSlice<T>, b: &SharedSlice<T>) -> bool {
        a.0.as_ptr() == b.0.as_ptr()
    }

    /// The allocation's address (an identity for cycle checks).
    pub fn addr(&self) -> usize {
        self.0.as_ptr() as usize
    }
}

impl<T: 'static> Clone for SharedSlice<T> {
    #[inline]
    fn clone(&self) -> SharedSlice<T> {
        SharedSlice(self.0.clone())
    }
}

impl<T: 'static> Deref for SharedSlice<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        &self.0.slice
    }
}

impl<T: 'static> Default for SharedSlice<T> {
    fn default() -> SharedSlice<T> {
        SharedSlice::new(Vec::new())
    }
}

impl<T: 'static> From<Vec<T>> for SharedSlice<T> {
    fn from(items: Vec<T>) -> SharedSlice<T> {
        SharedSlice::new(items)
    }
}

impl<T: Clone + 'static> From<&[T]> for SharedSlice<T> {
    fn from(items: &[T]) -> SharedSlice<T> {
        SharedSlice::from_exact(items.iter().cloned())
    }
}

impl<T: 'static> FromIterator<T> for SharedSlice<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> SharedSlice<T> {
        SharedSlice::new(iter.into_iter().collect())
    }
}

impl<T: fmt::Debug + 'static> fmt::Debug for SharedSlice<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::SharedSlice;

    #[test]
    fn concat_writes_every_part_in_order() {
        let a = [1u32, 2];
        let b: [u32; 0] = [];
        let c = [3u32];
        assert_eq!(&SharedSlice::concat(&[&a, &b, &c, &b])[..], &[1, 2, 3]);
        assert!(SharedSlice::<u32>::concat(&[&b, &b]).is_empty());
        assert!(SharedSlice::<u32>::concat(&[]).is_empty());
    }

    #[test]
    fn shares_and_derefs() {
        let a: SharedSlice<u32> = vec![1, 2, 3].into();
        let b = a.clone();
        assert!(SharedSlice::ptr_eq(&a, &b));
        assert_eq!(&b[..], &[1, 2, 3]);
        let c: SharedSlice<u32> = (&[1u32, 2, 3][..]).into();
        let d = SharedSlice::from_exact([1u32, 2, 3].into_iter());
        assert_eq!(d[..], a[..]);
        assert!(!SharedSlice::ptr_eq(&a, &c));
        assert_eq!(a[..], c[..]);
        assert!(SharedSlice::<u32>::default().is_empty());
        // Empty lists and sets share one allocation; other types do not.
        let (e1, e2) = (
            crate::value::List::default(),
            crate::value::List::from_exact(std::iter::empty()),
        );
        assert!(SharedSlice::ptr_eq(&e1, &e2));
        assert!(!SharedSlice::ptr_eq(
            &SharedSlice::<u32>::default(),
            &SharedSlice::<u32>::default()
        ));
        assert_eq!(std::mem::size_of::<SharedSlice<u32>>(), 8);
    }
}
