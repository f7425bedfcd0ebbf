//! Attribute names as string values, made once per evaluator and name.
//!
//! `attrNames`, and the names `mapAttrs` and `zipAttrsWith` pass to their
//! function, turn a [`Symbol`] into a string value. Module code does so over
//! the same names again and again; a shared string costs one reference count
//! where a new one costs two allocations and their freeing.

use nixkit_syntax::Symbol;
use triomphe::Arc;

use crate::eval::EvalState;
use crate::value::{NixString, Value};

/// The strings made so far, in pages of [`PAGE`] names by symbol index, each
/// page made when a name on it is first asked for: an evaluator in a process
/// that interned millions of symbols holds only the pages it used. Freed with
/// the evaluator.
#[derive(Default)]
pub(crate) struct NameStrings {
    pages: Vec<Option<Box<Page>>>,
}

/// One page of [`NameStrings`]: the strings of [`PAGE`] consecutive symbols.
type Page = [Option<Arc<NixString>>; PAGE];

/// Names per page of [`NameStrings`].
const PAGE: usize = 256;

impl EvalState {
    /// The attribute name `sym` as a string value, shared with every earlier
    /// request for it.
    #[inline]
    pub(crate) fn name_string(&mut self, sym: Symbol) -> Value {
        let i = sym.index() as usize;
        let page = self
            .name_strings
            .pages
            .get(i / PAGE)
            .and_then(Option::as_ref);
        if let Some(Some(s)) = page.map(|p| &p[i % PAGE]) {
            return Value::String(s.clone());
        }
        self.new_name_string(sym)
    }

    #[inline(never)]
    fn new_name_string(&mut self, sym: Symbol) -> Value {
        let i = sym.index() as usize;
        let pages = &mut self.name_strings.pages;
        if pages.len() <= i / PAGE {
            pages.resize_with(i / PAGE + 1, || None);
        }
        let page = pages[i / PAGE].get_or_insert_with(|| Box::new(std::array::from_fn(|_| None)));
        let s = Arc::new(NixString::from_symbol(sym));
        page[i % PAGE] = Some(s.clone());
        Value::String(s)
    }
}
