//! Freeing deep values without deep recursion: a list of lists a million
//! levels deep (`fromJSON` of `[[[…]]]`, a fold that nests) would otherwise
//! be freed by one nested drop call per level and overflow the stack.
//!
//! The containers whose drop can chain (lists, attribute sets, thunks and
//! scopes) let the ordinary drop free their children, recursing, while the
//! thread has stack to spare (the common case: one read of its stack limit);
//! when it runs low they move each child they own alone out of themselves and
//! hand it to [`defer`]. The first drop on a thread to do so
//! becomes the drain: it frees the children one by one, and the children's
//! own children, handed over while it runs, join a thread-local work list
//! instead of recursing. Children that are shared, scalars or empty are
//! freed in place as before (that is only a reference-count decrement).

use std::cell::{Cell, RefCell};

use crate::value::Value;

/// A value whose drop is put off.
struct Deferred(#[allow(dead_code)] Value);

thread_local! {
    /// Whether a drain runs on this thread.
    static DRAINING: Cell<bool> = const { Cell::new(false) };
    /// What the running drain still has to free.
    static PENDING: RefCell<Vec<Deferred>> = const { RefCell::new(Vec::new()) };
}

/// Whether dropping `value` frees a container that owns children (the
/// last reference to a non-empty list or set, a thunk or a scope holder).
#[inline]
pub(crate) fn is_deep(value: &Value) -> bool {
    match value {
        Value::List(l) => !l.is_empty() && l.is_unique(),
        Value::Attrs(a) => a.is_unique(),
        // A forced thunk holding a string or a number frees nothing deep:
        // dropped in place, it recurses one level only.
        Value::Thunk(t) => t.is_unique() && t.get().map_or(true, holds_children),
        Value::Lambda(c) => c.is_unique() && c.env_is_unique(),
        _ => false,
    }
}

/// Whether `value` is a container (without looking at who else holds it).
#[inline]
fn holds_children(value: &Value) -> bool {
    match value {
        Value::List(l) => !l.is_empty(),
        Value::Attrs(_) | Value::Thunk(_) | Value::Lambda(_) | Value::PrimOpApp(_) => true,
        _ => false,
    }
}

/// Whether a container being freed may let its children be freed by the
/// ordinary, recursive drop: while more than [`STACK_RESERVE`] bytes of stack
/// are left (nearly always; one read of the thread's stack limit), else its
/// children go through the work list. An unknown stack limit counts as low.
#[inline]
pub(crate) fn may_recurse() -> bool {
    stacker::remaining_stack().is_some_and(|left| left > STACK_RESERVE)
}

/// Stack kept free below a recursive drop.
const STACK_RESERVE: usize = 128 * 1024;

/// Frees `value` if it is a deep container: by the ordinary drop while the
/// stack is ample, else through the work list. The stack is only read for a
/// value that owns children (most freed thunks hold a number or a string).
#[inline]
pub(crate) fn free_one(value: &mut Value) {
    if is_deep(value) && !may_recurse() {
        defer_value(std::mem::replace(value, Value::Null));
    }
}

/// Frees the containers among `values` as [`free_one`] does, reading the
/// stack once and only if one of them owns children.
#[inline]
pub(crate) fn free_slice(values: &mut [Value]) {
    if values.iter().any(is_deep) && !may_recurse() {
        defer_items(values.iter_mut());
    }
}

/// Takes the deep children out of `items` (leaving `null`) and frees them
/// through the work list.
pub(crate) fn defer_items<'a>(items: impl Iterator<Item = &'a mut Value>) {
    for item in items {
        if is_deep(item) {
            defer_value(std::mem::replace(item, Value::Null));
        }
    }
}

/// Frees `value` through the work list.
pub(crate) fn defer_value(value: Value) {
    defer(Deferred(value));
}

fn defer(item: Deferred) {
    let draining = DRAINING.try_with(|d| d.replace(true)).unwrap_or(true);
    if draining {
        // Inside a drain: queue it (while the thread's locals are torn down,
        // the closure is dropped instead, and the item with it, here).
        let _ = PENDING.try_with(move |p| p.borrow_mut().push(item));
        return;
    }
    let mut next = Some(item);
    while let Some(item) = next.take() {
        drop(item);
        next = PENDING.with(|p| p.borrow_mut().pop());
    }
    DRAINING.with(|d| d.set(false));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_and_shared_values_are_not_deep() {
        assert!(!is_deep(&Value::Int(1)));
        let list = Value::List(vec![Value::Int(1)].into());
        assert!(is_deep(&list));
        let copy = list.clone();
        assert!(!is_deep(&list));
        drop(copy);
        assert!(!is_deep(&Value::List(crate::value::List::default())));
    }
}
