//! Forcing a value that must have a given type (`force_attrs`, `force_int`, ...,
//! each also by reference), and the errors of that: "expected X but found Y",
//! "attribute 'x' missing" with CppNix's suggestions of similar names.

use triomphe::Arc;

use nixkit_syntax::Symbol;

use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::source::Pos;
use crate::value::{Attrs, NixString, Value};

impl EvalState {
    /// Forces a value that must be a Boolean.
    pub(crate) fn expect_bool(&mut self, v: &Value) -> EvalResult<bool> {
        match self.force(v)? {
            Value::Bool(b) => Ok(b),
            other => Err(type_error("a Boolean", &other)),
        }
    }

    /// Forces a value that must be an attribute set.
    pub(crate) fn force_attrs(&mut self, v: &Value, pos: Pos) -> EvalResult<Attrs> {
        self.force_attrs_ref(v, pos).cloned()
    }

    /// [`EvalState::force_attrs`], lending the set in place.
    pub(crate) fn force_attrs_ref<'v>(&mut self, v: &'v Value, pos: Pos) -> EvalResult<&'v Attrs> {
        match self.force_ref(v, Pos::NONE)? {
            Value::Attrs(a) => Ok(a),
            other => Err(type_error("a set", other).at(pos)),
        }
    }

    /// Forces a value that must be a list.
    pub(crate) fn force_list(&mut self, v: &Value, pos: Pos) -> EvalResult<crate::value::List> {
        self.force_list_ref(v, pos).cloned()
    }

    /// [`EvalState::force_list`], lending the list in place.
    pub(crate) fn force_list_ref<'v>(
        &mut self,
        v: &'v Value,
        pos: Pos,
    ) -> EvalResult<&'v crate::value::List> {
        match self.force_ref(v, Pos::NONE)? {
            Value::List(l) => Ok(l),
            other => Err(type_error("a list", other).at(pos)),
        }
    }

    /// Forces a value that must be an integer.
    pub(crate) fn force_int(&mut self, v: &Value, pos: Pos) -> EvalResult<i64> {
        match self.force_ref(v, Pos::NONE)? {
            Value::Int(i) => Ok(*i),
            other => Err(type_error("an integer", other).at(pos)),
        }
    }

    /// Forces a value that must be a string (no coercion).
    pub(crate) fn force_string(&mut self, v: &Value, pos: Pos) -> EvalResult<Arc<NixString>> {
        self.force_string_ref(v, pos).cloned()
    }

    /// [`EvalState::force_string`], lending the string in place.
    pub(crate) fn force_string_ref<'v>(
        &mut self,
        v: &'v Value,
        pos: Pos,
    ) -> EvalResult<&'v Arc<NixString>> {
        match self.force_ref(v, Pos::NONE)? {
            Value::String(s) => Ok(s),
            other => Err(type_error("a string", other).at(pos)),
        }
    }

    /// Forces a value that must be a function.
    pub(crate) fn force_function(&mut self, v: &Value, pos: Pos) -> EvalResult<Value> {
        self.force_function_ref(v, pos).cloned()
    }

    /// [`EvalState::force_function`], lending the function in place.
    pub(crate) fn force_function_ref<'v>(
        &mut self,
        v: &'v Value,
        pos: Pos,
    ) -> EvalResult<&'v Value> {
        let f = self.force_ref(v, Pos::NONE)?;
        match f {
            Value::Lambda(..) | Value::PrimOp(_) | Value::PrimOpApp(_) => Ok(f),
            Value::Attrs(a) if a.get_str("__functor").is_some() => Ok(f),
            other => Err(type_error("a function", other).at(pos)),
        }
    }
}

/// "expected X but found Y: value".
pub(crate) fn type_error(expected: &str, found: &Value) -> EvalError {
    EvalError::eval(format!(
        "expected {expected} but found {}: {}",
        found.show_type(),
        crate::print::show_for_error(found)
    ))
}

/// "attribute 'x' missing", with CppNix's suggestion of similar names.
pub(crate) fn missing_attr(name: Symbol, attrs: &Attrs) -> EvalError {
    let similar = suggestions(name.as_str(), attrs.iter().map(|a| a.name.as_str()));
    let e = EvalError::eval(format!("attribute '{name}' missing"));
    match similar {
        Some(s) => e.with_suggestion(s),
        None => e,
    }
}

/// CppNix's "did you mean" text for `name` among `candidates`: the five
/// closest within edit distance 2, by distance then name; `x`, or
/// `one of x, y or z`.
pub(crate) fn suggestions<'a>(
    name: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<String> {
    let mut similar: Vec<(usize, &str)> = candidates
        .map(|n| (crate::builtins::strings::levenshtein(n, name), n))
        .filter(|(d, _)| *d <= 2)
        .collect();
    similar.sort_unstable();
    similar.dedup();
    similar.truncate(5);
    let names: Vec<&str> = similar.into_iter().map(|(_, n)| n).collect();
    match names.split_last() {
        None => None,
        Some((last, [])) => Some((*last).to_string()),
        Some((last, rest)) => Some(format!("one of {} or {last}", rest.join(", "))),
    }
}
