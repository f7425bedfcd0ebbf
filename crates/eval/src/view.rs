//! The public view of a value: what an embedder matches on, without the
//! evaluator's internals (thunks, builtins applied to too few arguments).

use crate::value::{Attrs, List, NixString, Value};

/// What a forced value is. Obtained with [`Value::view`] after
/// [`Evaluator::force`](crate::Evaluator::force) (or `force_deep`); new kinds
/// may be added, so matches need a wildcard arm.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum ValueView<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string, with its context.
    String(&'a NixString),
    /// An absolute path.
    Path(&'a str),
    /// An attribute set (its values may still be unforced).
    Attrs(&'a Attrs),
    /// A list (its items may still be unforced).
    List(&'a List),
    /// A function: a lambda, a builtin, or a builtin applied to some of its
    /// arguments.
    Function,
}

impl ValueView<'_> {
    /// The type's name as `builtins.typeOf` gives it.
    pub fn type_name(&self) -> &'static str {
        match self {
            ValueView::Null => "null",
            ValueView::Bool(_) => "bool",
            ValueView::Int(_) => "int",
            ValueView::Float(_) => "float",
            ValueView::String(_) => "string",
            ValueView::Path(_) => "path",
            ValueView::Attrs(_) => "set",
            ValueView::List(_) => "list",
            ValueView::Function => "lambda",
        }
    }
}

impl Value {
    /// The value as an embedder sees it, looking through a thunk that has been
    /// forced; `None` for a thunk not evaluated yet (force it first).
    pub fn view(&self) -> Option<ValueView<'_>> {
        Some(match self.forced()? {
            Value::Null => ValueView::Null,
            Value::Bool(b) => ValueView::Bool(*b),
            Value::Int(i) => ValueView::Int(*i),
            Value::Float(f) => ValueView::Float(*f),
            Value::String(s) => ValueView::String(s),
            Value::Path(p) => ValueView::Path(p.as_str()),
            Value::Attrs(a) => ValueView::Attrs(a),
            Value::List(l) => ValueView::List(l),
            Value::Lambda(_) | Value::PrimOp(_) | Value::PrimOpApp(_) => ValueView::Function,
            // `forced` never returns a thunk: its value is never itself a thunk.
            Value::Thunk(_) => return None,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::{Evaluator, ValueView};

    #[test]
    fn views_forced_values_and_not_unforced_ones() {
        let mut ev = Evaluator::builder().build();
        let v = ev
            .eval_str("{ a = 1 + 1; b = [ \"x\" ]; f = x: x; p = /tmp; }", "/")
            .unwrap();
        let Some(ValueView::Attrs(attrs)) = v.view() else {
            panic!("not a set")
        };
        let a = attrs.get_str("a").unwrap().clone();
        assert!(a.view().is_none(), "an unforced thunk has no view");
        let a = ev.force(&a).unwrap();
        assert!(matches!(a.view(), Some(ValueView::Int(2))));
        let f = ev.force(attrs.get_str("f").unwrap()).unwrap();
        assert_eq!(f.view().unwrap().type_name(), "lambda");
        let p = ev.force(attrs.get_str("p").unwrap()).unwrap();
        assert!(matches!(p.view(), Some(ValueView::Path("/tmp"))));
        let b = ev.force(attrs.get_str("b").unwrap()).unwrap();
        assert!(matches!(b.view(), Some(ValueView::List(l)) if l.len() == 1));
    }
}
