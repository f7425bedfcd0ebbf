//! Operators: `==`, `&&`/`||`/`->`, `//`, `++`, `+` (numbers, strings and
//! paths), arithmetic with overflow checks, and ordering (`__lessThan`).

use std::cmp::Ordering;
use std::sync::Arc;

use nixkit_syntax::ast::BinaryOp;

use crate::compile::Expr;
use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::print::show_for_error;
use crate::source::Pos;
use crate::thunk::Env;
use crate::value::{Context, ContextExt, NixString, Value};

/// Options for [`EvalState::coerce_to_string`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Coerce {
    /// `toString` semantics: also numbers, Booleans, null and lists.
    pub(crate) more: bool,
    /// Copy paths to the store (string interpolation) instead of using them as is.
    pub(crate) copy_to_store: bool,
}

impl Coerce {
    pub(crate) const INTERPOLATE: Coerce = Coerce { more: false, copy_to_store: true };
    pub(crate) const TO_STRING: Coerce = Coerce { more: true, copy_to_store: false };
    pub(crate) const PLAIN: Coerce = Coerce { more: false, copy_to_store: false };
}

/// Resolves `.`, `..` and repeated slashes in an absolute path.
pub(crate) fn canon_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        "/".to_string()
    } else {
        let mut s = String::with_capacity(path.len());
        for p in parts {
            s.push('/');
            s.push_str(p);
        }
        s
    }
}

/// Formats a float as `toString` does (C's `%f`... via CppNix's `std::to_string`).
pub(crate) fn float_to_string(f: f64) -> String {
    format!("{f:.6}")
}

impl EvalState {
    pub(crate) fn eval_binary(
        &mut self,
        op: BinaryOp,
        lhs: &Arc<Expr>,
        rhs: &Arc<Expr>,
        env: &Arc<Env>,
        pos: Pos,
    ) -> EvalResult<Value> {
        match op {
            BinaryOp::Eq | BinaryOp::NotEq => {
                let l = self.eval(lhs, env)?;
                let r = self.eval(rhs, env)?;
                let eq = self.equal(&l, &r)?;
                Ok(Value::Bool(eq == (op == BinaryOp::Eq)))
            }
            BinaryOp::And | BinaryOp::Or | BinaryOp::Impl => {
                let name = match op {
                    BinaryOp::And => "&&",
                    BinaryOp::Or => "||",
                    _ => "->",
                };
                let l = self.eval(lhs, env)?;
                let l = self.expect_bool(&l).map_err(|e| {
                    e.at(pos).with_frame(format!("in the left operand of the {} operator", op_name(name)), pos)
                })?;
                let short = match op {
                    BinaryOp::And => (!l).then_some(false),
                    BinaryOp::Or => l.then_some(true),
                    _ => (!l).then_some(true),
                };
                if let Some(b) = short {
                    return Ok(Value::Bool(b));
                }
                let r = self.eval(rhs, env)?;
                let r = self.expect_bool(&r).map_err(|e| {
                    e.at(pos).with_frame(format!("in the right operand of the {} operator", op_name(name)), pos)
                })?;
                Ok(Value::Bool(r))
            }
            BinaryOp::Update => {
                let l = self.eval(lhs, env)?;
                let l = self
                    .force_attrs(&l, pos)
                    .map_err(|e| e.with_frame("in the left operand of the update (//) operator", pos))?;
                let r = self.eval(rhs, env)?;
                let r = self
                    .force_attrs(&r, pos)
                    .map_err(|e| e.with_frame("in the right operand of the update (//) operator", pos))?;
                if r.is_empty() {
                    return Ok(Value::Attrs(l));
                }
                if l.is_empty() {
                    return Ok(Value::Attrs(r));
                }
                Ok(Value::attrs(l.update(&r)))
            }
            BinaryOp::ConcatLists => {
                let l = self.eval(lhs, env)?;
                let l = self
                    .force_list(&l, pos)
                    .map_err(|e| e.with_frame("in the left operand of the list concatenation (++) operator", pos))?;
                let r = self.eval(rhs, env)?;
                let r = self
                    .force_list(&r, pos)
                    .map_err(|e| e.with_frame("in the right operand of the list concatenation (++) operator", pos))?;
                if r.is_empty() {
                    return Ok(Value::List(l));
                }
                if l.is_empty() {
                    return Ok(Value::List(r));
                }
                Ok(Value::List(l.iter().chain(r.iter()).cloned().collect::<Vec<_>>().into()))
            }
        }
    }

    pub(crate) fn eval_concat(
        &mut self,
        force_string: bool,
        parts: &[Arc<Expr>],
        env: &Arc<Env>,
        pos: Pos,
    ) -> EvalResult<Value> {
        let Some((first_expr, rest)) = parts.split_first() else { return Ok(Value::string("")) };
        let first = self.eval(first_expr, env)?;
        if !force_string {
            if let Value::Int(_) | Value::Float(_) = first {
                let mut acc = first;
                for p in rest {
                    let v = self.eval(p, env)?;
                    acc = add_numbers(&acc, &v).map_err(|e| e.at(pos))?;
                }
                return Ok(acc);
            }
            if let Value::Path(p) = &first {
                let mut s = p.to_string();
                let mut ctx = Context::new();
                for part in rest {
                    let v = self.eval(part, env)?;
                    let piece = self
                        .coerce_to_string(&v, &mut ctx, Coerce::PLAIN, pos)
                        .map_err(|e| e.at(pos).with_frame("while evaluating a path segment", part.pos))?;
                    s.push_str(&piece);
                }
                if !ctx.is_empty() {
                    return Err(EvalError::eval(format!(
                        "a string that refers to a store path cannot be appended to a path: '{s}'"
                    ))
                    .at(pos));
                }
                return Ok(Value::path(canon_path(&s)));
            }
        }
        let mut ctx = Context::new();
        let mut s = String::new();
        let mut first = Some(first);
        for part in parts {
            let v = match first.take() {
                Some(v) => v,
                None => self.eval(part, env)?,
            };
            let piece = self.coerce_to_string(&v, &mut ctx, Coerce::INTERPOLATE, pos).map_err(|e| {
                e.at(part.pos).with_frame(
                    if force_string {
                        "while evaluating a path segment"
                    } else {
                        "while evaluating one of the elements to concatenate"
                    },
                    part.pos,
                )
            })?;
            s.push_str(&piece);
        }
        Ok(Value::string_with_context(s, ctx))
    }

    /// Converts a value to a string, collecting its context into `ctx`.
    pub(crate) fn coerce_to_string(
        &mut self,
        v: &Value,
        ctx: &mut Context,
        how: Coerce,
        pos: Pos,
    ) -> EvalResult<String> {
        let v = self.force(v)?;
        match &v {
            Value::String(s) => {
                if let Some(c) = s.context() {
                    ctx.extend(c.iter().cloned());
                }
                Ok(s.as_str().to_string())
            }
            Value::Path(p) => {
                if how.copy_to_store {
                    let store_path = self.copy_path_to_store(p, pos)?;
                    ctx.insert(store_path.clone().into());
                    Ok(store_path)
                } else {
                    Ok(p.to_string())
                }
            }
            Value::Attrs(a) => {
                if let Some(f) = a.get_str("__toString") {
                    let f = self.force(f)?;
                    let r = self.call(&f, std::slice::from_ref(&v), pos)?;
                    return self.coerce_to_string(&r, ctx, how, pos);
                }
                if let Some(out) = a.get_str("outPath") {
                    let out = out.clone();
                    return self.coerce_to_string(&out, ctx, how, pos);
                }
                Err(cannot_coerce(&v))
            }
            Value::Null if how.more => Ok(String::new()),
            Value::Bool(b) if how.more => Ok(if *b { "1".to_string() } else { String::new() }),
            Value::Int(i) if how.more => Ok(i.to_string()),
            Value::Float(f) if how.more => Ok(float_to_string(*f)),
            Value::List(items) if how.more => {
                let mut s = String::new();
                for (n, item) in items.iter().enumerate() {
                    let item = self.force(item)?;
                    s.push_str(&self.nested(|st| st.coerce_to_string(&item, ctx, how, pos))?);
                    let empty_list = matches!(&item, Value::List(l) if l.is_empty());
                    if n + 1 < items.len() && !empty_list {
                        s.push(' ');
                    }
                }
                Ok(s)
            }
            _ => Err(cannot_coerce(&v)),
        }
    }

    /// Converts to a string value (with context) as string interpolation does.
    pub(crate) fn coerce_to_nix_string(&mut self, v: &Value, how: Coerce, pos: Pos) -> EvalResult<NixString> {
        let mut ctx = Context::new();
        let s = self.coerce_to_string(v, &mut ctx, how, pos)?;
        Ok(match ctx.into_option() {
            None => NixString::new(s),
            Some(c) => {
                let Value::String(ns) = Value::string_with_context(s, *c) else { return Ok(NixString::default()) };
                Arc::try_unwrap(ns).unwrap_or_else(|a| (*a).clone())
            }
        })
    }

    /// Deep equality as `==` computes it.
    pub fn equal(&mut self, a: &Value, b: &Value) -> EvalResult<bool> {
        let a = self.force(a)?;
        let b = self.force(b)?;
        Ok(match (&a, &b) {
            (Value::Null, Value::Null) => true,
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::Int(x), Value::Int(y)) => x == y,
            (Value::Int(x), Value::Float(y)) => (*x as f64) == *y,
            (Value::Float(x), Value::Int(y)) => *x == (*y as f64),
            (Value::Float(x), Value::Float(y)) => x == y,
            (Value::String(x), Value::String(y)) => x.as_str() == y.as_str(),
            (Value::Path(x), Value::Path(y)) => x == y,
            (Value::List(x), Value::List(y)) => {
                if x.len() != y.len() {
                    return Ok(false);
                }
                for (p, q) in x.iter().zip(y.iter()) {
                    if !p.same_allocation(q) && !self.nested(|s| s.equal(p, q))? {
                        return Ok(false);
                    }
                }
                true
            }
            (Value::Attrs(x), Value::Attrs(y)) => {
                if self.is_derivation(x)? && self.is_derivation(y)? {
                    if let (Some(p), Some(q)) = (x.get_str("outPath"), y.get_str("outPath")) {
                        let (p, q) = (p.clone(), q.clone());
                        return self.equal(&p, &q);
                    }
                }
                if x.len() != y.len() {
                    return Ok(false);
                }
                for (p, q) in x.iter().zip(y.iter()) {
                    if p.name != q.name {
                        return Ok(false);
                    }
                    if !p.value.same_allocation(&q.value) && !self.nested(|s| s.equal(&p.value, &q.value))? {
                        return Ok(false);
                    }
                }
                true
            }
            _ => false,
        })
    }

    /// Whether a set is a derivation (`type == "derivation"`).
    pub(crate) fn is_derivation(&mut self, a: &crate::value::Attrs) -> EvalResult<bool> {
        match a.get_str("type") {
            Some(t) => {
                let t = t.clone();
                Ok(matches!(self.force(&t)?, Value::String(s) if s.as_str() == "derivation"))
            }
            None => Ok(false),
        }
    }

    /// Ordering as `__lessThan` and `sort` use it.
    pub(crate) fn compare(&mut self, a: &Value, b: &Value, pos: Pos) -> EvalResult<Ordering> {
        let a = self.force(a)?;
        let b = self.force(b)?;
        let incomparable = || {
            let (sa, sb) = (show_for_error(&a), show_for_error(&b));
            let msg = if std::mem::discriminant(&a) == std::mem::discriminant(&b) {
                format!(
                    "cannot compare {} with {}; values of that type are incomparable (values are {sa} and {sb})",
                    a.show_type(),
                    b.show_type()
                )
            } else {
                format!("cannot compare {} with {}; values are {sa} and {sb}", a.show_type(), b.show_type())
            };
            EvalError::eval(msg).at(pos)
        };
        match (&a, &b) {
            (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
            (Value::Int(x), Value::Float(y)) => (*x as f64).partial_cmp(y).ok_or_else(incomparable).or(Ok(Ordering::Equal)),
            (Value::Float(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)).ok_or_else(incomparable).or(Ok(Ordering::Equal)),
            (Value::Float(x), Value::Float(y)) => Ok(x.partial_cmp(y).unwrap_or(Ordering::Equal)),
            (Value::String(x), Value::String(y)) => Ok(x.as_str().cmp(y.as_str())),
            (Value::Path(x), Value::Path(y)) => Ok(x.cmp(y)),
            (Value::List(x), Value::List(y)) => {
                for (p, q) in x.iter().zip(y.iter()) {
                    match self.nested(|s| s.compare(p, q, pos))? {
                        Ordering::Equal => {}
                        o => return Ok(o),
                    }
                }
                Ok(x.len().cmp(&y.len()))
            }
            _ => Err(incomparable()),
        }
    }
}

fn op_name(op: &str) -> &'static str {
    match op {
        "&&" => "AND (&&)",
        "||" => "OR (||)",
        _ => "implication (->)",
    }
}

/// `a + b` on numbers.
pub(crate) fn add_numbers(a: &Value, b: &Value) -> EvalResult<Value> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x
            .checked_add(*y)
            .map(Value::Int)
            .ok_or_else(|| EvalError::eval(format!("integer overflow in adding {x} + {y}"))),
        (Value::Int(x), Value::Float(y)) => Ok(Value::Float(*x as f64 + y)),
        (Value::Float(x), Value::Int(y)) => Ok(Value::Float(x + *y as f64)),
        (Value::Float(x), Value::Float(y)) => Ok(Value::Float(x + y)),
        (Value::Int(_), other) => Err(EvalError::eval(format!("cannot add {} to an integer", other.show_type()))),
        (_, other) => Err(EvalError::eval(format!("cannot add {} to a float", other.show_type()))),
    }
}

fn cannot_coerce(v: &Value) -> EvalError {
    EvalError::eval(format!("cannot coerce {} to a string: {}", v.show_type(), show_for_error(v)))
}

