//! Operators: `==`, `&&`/`||`/`->`, `//`, `++`, `+` (numbers, strings and
//! paths), arithmetic with overflow checks, and ordering (`__lessThan`).

use std::cmp::Ordering;
use triomphe::Arc;

use nixkit_syntax::ast::BinaryOp;

use crate::compile::Expr;
use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::print::show_for_error;
use crate::source::Pos;
use crate::thunk::Env;
use crate::value::{Context, NixString, Value};

/// The running sum of `+` on numbers.
#[derive(Clone, Copy)]
enum Number {
    Int(i64),
    Float(f64),
}

/// Options for [`EvalState::coerce_to_string`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Coerce {
    /// `toString` semantics: also numbers, Booleans, null and lists.
    pub(crate) more: bool,
    /// Copy paths to the store (string interpolation) instead of using them as is.
    pub(crate) copy_to_store: bool,
}

impl Coerce {
    pub(crate) const INTERPOLATE: Coerce = Coerce {
        more: false,
        copy_to_store: true,
    };
    pub(crate) const TO_STRING: Coerce = Coerce {
        more: true,
        copy_to_store: false,
    };
    pub(crate) const PLAIN: Coerce = Coerce {
        more: false,
        copy_to_store: false,
    };
}

/// The text of a trace frame, built only if an error is reported.
pub(crate) type Frame<'a> = &'a dyn Fn() -> String;

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
            // Operands that are evaluated variables are compared in place
            // (`xs == []`, `rel == 0`): no reference counting.
            BinaryOp::Eq => Ok(Value::Bool(self.eval_equal(
                lhs,
                rhs,
                env,
                [
                    "in the left operand of '=='",
                    "in the right operand of '=='",
                ],
            )?)),
            BinaryOp::NotEq => Ok(Value::Bool(!self.eval_equal(
                lhs,
                rhs,
                env,
                [
                    "in the left operand of '!='",
                    "in the right operand of '!='",
                ],
            )?)),
            BinaryOp::And => Ok(Value::Bool(
                self.eval_bool(lhs, env, "in the left operand of '&&'")?
                    && self.eval_bool(rhs, env, "in the right operand of '&&'")?,
            )),
            BinaryOp::Or => Ok(Value::Bool(
                self.eval_bool(lhs, env, "in the left operand of '||'")?
                    || self.eval_bool(rhs, env, "in the right operand of '||'")?,
            )),
            BinaryOp::Impl => Ok(Value::Bool(
                !self.eval_bool(lhs, env, "in the left operand of '->'")?
                    || self.eval_bool(rhs, env, "in the right operand of '->'")?,
            )),
            BinaryOp::Update => Ok(Value::Attrs(self.eval_update(lhs, rhs, env)?)),
            BinaryOp::ConcatLists => {
                let l = self.eval_operand(lhs, env, "in the left operand of '++'")?;
                let r = self.eval_operand(rhs, env, "in the right operand of '++'")?;
                let mut lists = [l, r].into_iter().map(|v| match v {
                    Value::List(l) => Ok(l),
                    other => Err(crate::eval::type_error("a list", &other)
                        .with_frame("while evaluating one of the elements to concatenate", pos)),
                });
                let (l, r) = match (lists.next(), lists.next()) {
                    (Some(l), Some(r)) => (l?, r?),
                    _ => return Ok(Value::list(Vec::new())),
                };
                if r.is_empty() {
                    return Ok(Value::List(l));
                }
                if l.is_empty() {
                    return Ok(Value::List(r));
                }
                Ok(Value::List(crate::value::SharedSlice::concat(&[
                    &l[..],
                    &r[..],
                ])))
            }
        }
    }

    /// `l == r` (`contexts`: the error frames of the two operands, `==`'s or
    /// `!=`'s). Operands that are evaluated variables or constants are
    /// compared in place, and a `[]` literal (`xs == []`) is not made at all:
    /// no reference counting.
    fn eval_equal(
        &mut self,
        lhs: &Arc<Expr>,
        rhs: &Arc<Expr>,
        env: &Arc<Env>,
        [left, right]: [&'static str; 2],
    ) -> EvalResult<bool> {
        let is_empty = |v: &Value| matches!(v, Value::List(l) if l.is_empty());
        let (mut lh, mut rh) = (None, None);
        if is_empty_list_literal(lhs) {
            let r = self.eval_operand_ref(rhs, env, right, &mut rh)?;
            return Ok(is_empty(r));
        }
        let l = self.eval_operand_ref(lhs, env, left, &mut lh)?;
        if is_empty_list_literal(rhs) {
            return Ok(is_empty(l));
        }
        let r = self.eval_operand_ref(rhs, env, right, &mut rh)?;
        self.equal(l, r)
    }

    /// `l // r`, with chains flattened as CppNix does: operands are
    /// evaluated right to left, each with its own frame.
    fn eval_update(
        &mut self,
        lhs: &Arc<Expr>,
        rhs: &Arc<Expr>,
        env: &Arc<Env>,
    ) -> EvalResult<crate::value::Attrs> {
        let r = self.update_operand(rhs, env, "in the right operand of '//'")?;
        let l = self.update_operand(lhs, env, "in the left operand of '//'")?;
        if r.is_empty() {
            return Ok(l);
        }
        if l.is_empty() {
            return Ok(r);
        }
        crate::stats::bump(&self.stats.updates, 1);
        crate::stats::bump(&self.stats.update_copies, (l.len() + r.len()) as u64);
        Ok(l.update(&r))
    }

    fn update_operand(
        &mut self,
        e: &Arc<Expr>,
        env: &Arc<Env>,
        context: &'static str,
    ) -> EvalResult<crate::value::Attrs> {
        if let crate::compile::ExprKind::Binary {
            op: BinaryOp::Update,
            lhs,
            rhs,
        } = &e.kind
        {
            return crate::eval::with_stack(|| self.eval_update(lhs, rhs, env));
        }
        match self.eval(e, env) {
            Ok(Value::Attrs(a)) => Ok(a),
            Ok(other) => Err(crate::eval::type_error("a set", &other).with_frame(context, e.pos)),
            Err(err) => Err(err.with_frame(context, e.pos)),
        }
    }

    /// `+` (CppNix's `ExprConcatStrings` without `forceString`): numbers
    /// are added; otherwise the operands are concatenated as strings or,
    /// if the first is a path, as a path.
    /// Out of line: inlined, its locals would widen the frame of
    /// `eval_inner`, which every level of a deep recursion pays for.
    #[inline(never)]
    pub(crate) fn eval_add(
        &mut self,
        parts: &[Arc<Expr>],
        part_pos: &[Pos],
        env: &Arc<Env>,
        pos: Pos,
    ) -> EvalResult<Value> {
        let Some((first, rest)) = parts.split_first() else {
            return Ok(Value::string(""));
        };
        // `a + b` on numbers (the common case) builds no string and no
        // context.
        let mut holder = None;
        let v = self.eval_operand_ref(first, env, "in an operand of '+'", &mut holder)?;
        let mut sum = match v {
            Value::Int(n) => Number::Int(*n),
            Value::Float(f) => Number::Float(*f),
            other => {
                let v = other.clone();
                drop(holder);
                return self.concat_strings(Some(v), parts, part_pos, env, pos);
            }
        };
        for (i, part) in rest.iter().enumerate() {
            let at = part_pos.get(i + 1).copied().unwrap_or(part.pos);
            let mut holder = None;
            let v = self.eval_operand_ref(part, env, "in an operand of '+'", &mut holder)?;
            sum = match (sum, v) {
                (Number::Int(n), Value::Int(m)) => {
                    Number::Int(n.checked_add(*m).ok_or_else(|| {
                        EvalError::eval(format!("integer overflow in adding {n} + {m}")).at(at)
                    })?)
                }
                (Number::Int(n), Value::Float(f)) => Number::Float(n as f64 + f),
                (Number::Float(x), Value::Int(m)) => Number::Float(x + *m as f64),
                (Number::Float(x), Value::Float(f)) => Number::Float(x + f),
                (Number::Int(_), other) => {
                    return Err(EvalError::eval(format!(
                        "cannot add {} to an integer",
                        other.show_type()
                    ))
                    .at(at))
                }
                (Number::Float(_), other) => {
                    return Err(EvalError::eval(format!(
                        "cannot add {} to a float",
                        other.show_type()
                    ))
                    .at(at))
                }
            };
        }
        Ok(match sum {
            Number::Int(n) => Value::Int(n),
            Number::Float(f) => Value::Float(f),
        })
    }

    /// String and path concatenation: interpolation (`first` is `None`), or
    /// `+` whose first operand, already evaluated to `first`, is not a
    /// number.
    #[inline]
    pub(crate) fn concat_strings(
        &mut self,
        first: Option<Value>,
        parts: &[Arc<Expr>],
        part_pos: &[Pos],
        env: &Arc<Env>,
        pos: Pos,
    ) -> EvalResult<Value> {
        let force_string = first.is_none();
        let segment = &|| "while evaluating a path segment".to_string();
        let mut is_path = false;
        let mut ctx = Context::new();
        // Sized for what is known before evaluating (literals, evaluated
        // strings and integers) plus a little for each other part, so that
        // the common interpolation is built at its exact size, without
        // growing or leaving slack in the value.
        let capacity = if force_string {
            parts.iter().map(|p| part_len_hint(p, env)).sum()
        } else {
            0
        };
        let mut s = String::with_capacity(capacity);
        let mut skip = 0;
        if let Some(v) = first {
            // `+` whose first operand is not a number: a path starts a path.
            let at = part_pos
                .first()
                .copied()
                .or(parts.first().map(|p| p.pos))
                .unwrap_or(pos);
            if let Value::Path(p) = &v {
                s.push_str(p);
                is_path = true;
            } else {
                self.coerce_into(&v, &mut ctx, Coerce::INTERPOLATE, at, &mut s, segment)?;
            }
            skip = 1;
        }
        for (i, part) in parts.iter().enumerate().skip(skip) {
            let at = part_pos.get(i).copied().unwrap_or(part.pos);
            if force_string && append_to_string_of_known(part, env, &mut s, &mut ctx) {
                continue;
            }
            let mut holder = None;
            let v = self.eval_operand_ref(part, env, "in an operand of '+'", &mut holder)?;
            let how = if is_path {
                Coerce::PLAIN
            } else {
                Coerce::INTERPOLATE
            };
            self.coerce_into(v, &mut ctx, how, at, &mut s, segment)?;
        }
        if is_path {
            if !ctx.is_empty() {
                return Err(EvalError::eval(
                    "a string that refers to a store path cannot be appended to a path",
                )
                .at(pos));
            }
            return Ok(Value::path(canon_path(&s)));
        }
        Ok(Value::string_with_context(s, ctx))
    }

    /// Converts a value to a string, collecting its context into `ctx`,
    /// without a frame of its own for a value that cannot be coerced.
    pub(crate) fn coerce_to_string(
        &mut self,
        v: &Value,
        ctx: &mut Context,
        how: Coerce,
        pos: Pos,
    ) -> EvalResult<String> {
        self.coerce_to_string_for(v, ctx, how, pos, &String::new)
    }

    /// Converts a value to a string, collecting its context into `ctx`.
    /// `what` is the trace frame (at `pos`) for a value that cannot be
    /// coerced; it is only built when that error is reported.
    pub(crate) fn coerce_to_string_for(
        &mut self,
        v: &Value,
        ctx: &mut Context,
        how: Coerce,
        pos: Pos,
        what: Frame<'_>,
    ) -> EvalResult<String> {
        let mut out = String::new();
        self.coerce_into(v, ctx, how, pos, &mut out, what)?;
        Ok(out)
    }

    /// Like [`EvalState::coerce_to_string`], appending to `out` instead of
    /// allocating a string per piece (interpolation, `concatStringsSep`).
    ///
    /// Like CppNix, errors while forcing `v` propagate as they are; the
    /// `what` frame is only added when `v` has a type that cannot be
    /// coerced. Sets are peeled through `__toString` and `outPath`, with a
    /// frame for each step.
    pub(crate) fn coerce_into(
        &mut self,
        v: &Value,
        ctx: &mut Context,
        how: Coerce,
        pos: Pos,
        out: &mut String,
        what: Frame<'_>,
    ) -> EvalResult<()> {
        // An evaluated value is read in place: cloning it would only touch
        // its reference count.
        let owned;
        let v = match v.forced() {
            Some(v) => v,
            None => {
                owned = self.force(v)?;
                &owned
            }
        };
        match v {
            Value::String(s) => {
                if let Some(c) = s.context() {
                    ctx.extend(c.iter().cloned());
                }
                out.push_str(s.as_str());
                Ok(())
            }
            Value::Path(p) => {
                if how.copy_to_store {
                    let store_path = self.copy_path_to_store(p, pos)?;
                    out.push_str(&store_path);
                    ctx.insert(store_path.into());
                } else {
                    out.push_str(p);
                }
                Ok(())
            }
            Value::Attrs(a) => {
                if let Some(attr) = a.get_attr(sym!("__toString")) {
                    let (r, at) = self.call_to_string_attr(v, attr)?;
                    return self
                        .nested(|s| s.coerce_into(&r, ctx, how, pos, out, what))
                        .map_err(|e| {
                            e.with_frame("while using the result of the `__toString` attribute", at)
                        });
                }
                if let Some(attr) = a.get_attr(sym!("outPath")) {
                    let (o, at) = (attr.value.clone(), attr.pos);
                    return match self.force(&o) {
                        Ok(o) => self
                            .nested(|s| s.coerce_into(&o, ctx, how, pos, out, what))
                            .map_err(|e| e.with_frame("while using the `outPath` attribute", at)),
                        Err(e) => Err(e.with_frame("while evaluating the `outPath` attribute", at)),
                    };
                }
                Err(cannot_coerce(v).with_frame(what(), pos))
            }
            Value::Null if how.more => Ok(()),
            Value::Bool(b) if how.more => {
                if *b {
                    out.push('1');
                }
                Ok(())
            }
            Value::Int(i) if how.more => {
                push_int(out, *i);
                Ok(())
            }
            Value::Float(f) if how.more => {
                out.push_str(&float_to_string(*f));
                Ok(())
            }
            Value::List(items) if how.more => {
                for (n, item) in items.iter().enumerate() {
                    let element = &|| "while evaluating one element of the list".to_string();
                    let item = self
                        .nested(|st| {
                            let item = st.force(item)?;
                            st.coerce_into(&item, ctx, how, pos, out, element)?;
                            Ok(item)
                        })
                        .map_err(|e| e.with_frame(what(), pos))?;
                    let empty_list = matches!(&item, Value::List(l) if l.is_empty());
                    if n + 1 < items.len() && !empty_list {
                        out.push(' ');
                    }
                }
                Ok(())
            }
            _ => Err(cannot_coerce(v).with_frame(what(), pos)),
        }
    }

    /// Converts to a string value (with context) as string interpolation does.
    pub(crate) fn coerce_to_nix_string(
        &mut self,
        v: &Value,
        how: Coerce,
        pos: Pos,
    ) -> EvalResult<NixString> {
        self.coerce_to_nix_string_for(v, how, pos, &String::new)
    }

    /// Like [`EvalState::coerce_to_nix_string`], with the trace frame for
    /// a value that cannot be coerced.
    pub(crate) fn coerce_to_nix_string_for(
        &mut self,
        v: &Value,
        how: Coerce,
        pos: Pos,
        what: Frame<'_>,
    ) -> EvalResult<NixString> {
        let mut ctx = Context::new();
        let s = self.coerce_to_string_for(v, &mut ctx, how, pos, what)?;
        Ok(NixString::with_context(s, ctx))
    }

    /// Like [`EvalState::coerce_to_nix_string`], but a value that is already a
    /// string is returned as is (shared, not copied): `substring` on a large
    /// string must not copy it.
    pub(crate) fn coerce_to_shared_string(
        &mut self,
        v: &Value,
        how: Coerce,
        pos: Pos,
        what: Frame<'_>,
    ) -> EvalResult<Arc<NixString>> {
        match self.force(v)? {
            Value::String(s) => Ok(s),
            other => self
                .coerce_to_nix_string_for(&other, how, pos, what)
                .map(Arc::new),
        }
    }

    /// Deep equality as `==` computes it: CppNix's `eqValues` on the two
    /// operands, which are never the same cell (so `f == f` is false for a
    /// function `f`).
    pub fn equal(&mut self, a: &Value, b: &Value) -> EvalResult<bool> {
        self.equal_values(a, b, false)
    }

    /// Equality of two stored values (list items, attribute values,
    /// `elem`'s needle and the items it is compared with): both are forced
    /// first, then the same cell (the same thunk, or the same function, set
    /// or list stored directly) is equal to itself without being looked
    /// into, as CppNix's pointer test on `Value *` does; then structure.
    pub(crate) fn equal_cells(&mut self, a: &Value, b: &Value) -> EvalResult<bool> {
        self.equal_values(a, b, true)
    }

    fn equal_values(&mut self, cell_a: &Value, cell_b: &Value, cells: bool) -> EvalResult<bool> {
        let (a, b) = (cell_a, cell_b);
        // Evaluated scalars: no forcing, no reference counting.
        if let (Some(x), Some(y)) = (a.forced(), b.forced()) {
            match (x, y) {
                (Value::Int(x), Value::Int(y)) => return Ok(x == y),
                (Value::Bool(x), Value::Bool(y)) => return Ok(x == y),
                (Value::String(x), Value::String(y)) => return Ok(x.as_str() == y.as_str()),
                (Value::Null, Value::Null) => return Ok(true),
                _ => {}
            }
        }
        // Forced in place: comparing two lists or sets clones neither.
        let a = self.force_ref(a, Pos::NONE)?;
        let b = self.force_ref(b, Pos::NONE)?;
        if cells && cell_a.same_allocation(cell_b) {
            return Ok(true);
        }
        Ok(match (a, b) {
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
                    if !self.nested(|s| s.equal_cells(p, q))? {
                        return Ok(false);
                    }
                }
                true
            }
            (Value::Attrs(x), Value::Attrs(y)) => {
                if self.is_derivation(x)? && self.is_derivation(y)? {
                    if let (Some(p), Some(q)) = (x.get_str("outPath"), y.get_str("outPath")) {
                        let (p, q) = (p.clone(), q.clone());
                        return self.equal_cells(&p, &q);
                    }
                }
                if x.len() != y.len() {
                    return Ok(false);
                }
                for (p, q) in x.iter().zip(y.iter()) {
                    if p.name != q.name {
                        return Ok(false);
                    }
                    if !self.nested(|s| s.equal_cells(&p.value, &q.value))? {
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
        if let (Some(Value::Int(x)), Some(Value::Int(y))) = (a.forced(), b.forced()) {
            return Ok(x.cmp(y));
        }
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
                format!(
                    "cannot compare {} with {}; values are {sa} and {sb}",
                    a.show_type(),
                    b.show_type()
                )
            };
            EvalError::eval(msg).at(pos)
        };
        match (&a, &b) {
            (Value::Int(x), Value::Int(y)) => Ok(x.cmp(y)),
            (Value::Int(x), Value::Float(y)) => (*x as f64)
                .partial_cmp(y)
                .ok_or_else(incomparable)
                .or(Ok(Ordering::Equal)),
            (Value::Float(x), Value::Int(y)) => x
                .partial_cmp(&(*y as f64))
                .ok_or_else(incomparable)
                .or(Ok(Ordering::Equal)),
            (Value::Float(x), Value::Float(y)) => Ok(x.partial_cmp(y).unwrap_or(Ordering::Equal)),
            (Value::String(x), Value::String(y)) => Ok(x.cmp_bytes(y)),
            (Value::Path(x), Value::Path(y)) => Ok(x.cmp(y)),
            (Value::List(x), Value::List(y)) => {
                // Like CppNix: the first elements that are not equal decide.
                for (p, q) in x.iter().zip(y.iter()) {
                    if self.nested(|s| s.equal_cells(p, q))? {
                        continue;
                    }
                    return self
                        .nested(|s| s.compare(p, q, pos))
                        .map_err(|e| e.with_frame("while comparing two list elements", Pos::NONE));
                }
                Ok(x.len().cmp(&y.len()))
            }
            _ => Err(incomparable()),
        }
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
        (Value::Int(_), other) => Err(EvalError::eval(format!(
            "cannot add {} to an integer",
            other.show_type()
        ))),
        (_, other) => Err(EvalError::eval(format!(
            "cannot add {} to a float",
            other.show_type()
        ))),
    }
}

fn cannot_coerce(v: &Value) -> EvalError {
    EvalError::eval(format!(
        "cannot coerce {} to a string: {}",
        v.show_type(),
        show_for_error(v)
    ))
}

/// Appends the decimal form of `i` (what `{i}` formatting gives, without
/// going through `fmt`).
/// For `toString x` (the global, or a variable bound to the builtin, as in
/// nixpkgs' `inherit (builtins) toString`), the argument `x`.
fn to_string_argument<'e>(part: &'e Expr, env: &Arc<Env>) -> Option<&'e Expr> {
    let crate::compile::ExprKind::Call { fun, args } = &part.kind else {
        return None;
    };
    let [arg] = &args[..] else { return None };
    let prim = match &fun.kind {
        crate::compile::ExprKind::Const(Value::PrimOp(prim)) => *prim,
        _ => match crate::eval::evaluated_local(fun, env) {
            Some(Value::PrimOp(prim)) => *prim,
            _ => return None,
        },
    };
    (prim.name == "toString").then_some(arg)
}

/// The length an interpolated part will have, when it is known without
/// evaluating anything (a literal, a variable bound to an evaluated string,
/// `toString` of an evaluated integer or string); a guess otherwise.
fn part_len_hint(part: &Expr, env: &Arc<Env>) -> usize {
    use crate::compile::ExprKind;
    let known = |v: Option<&Value>| match v {
        Some(Value::String(text)) => Some(text.as_str().len()),
        Some(Value::Int(i)) => Some(itoa::Buffer::new().format(*i).len()),
        _ => None,
    };
    let len = match &part.kind {
        ExprKind::Const(Value::String(lit)) => Some(lit.as_str().len()),
        ExprKind::Local { .. } | ExprKind::LocalFar { .. } => {
            match crate::eval::evaluated_local(part, env) {
                Some(Value::String(text)) => Some(text.as_str().len()),
                _ => None,
            }
        }
        ExprKind::Call { .. } => to_string_argument(part, env)
            .and_then(|arg| known(crate::eval::evaluated_local(arg, env))),
        _ => None,
    };
    len.unwrap_or(16)
}

/// `"${toString x}"` with `x` a variable bound to an evaluated integer or
/// string: `x`'s text is appended directly, without calling the builtin and
/// building the intermediate string. Nothing is forced, and neither case
/// can fail, so the result (context included) is the builtin's. Returns
/// whether it applied.
fn append_to_string_of_known(
    part: &Expr,
    env: &Arc<Env>,
    out: &mut String,
    ctx: &mut Context,
) -> bool {
    let Some(arg) = to_string_argument(part, env) else {
        return false;
    };
    match crate::eval::evaluated_local(arg, env) {
        Some(Value::Int(i)) => push_int(out, *i),
        Some(Value::String(text)) => {
            if let Some(c) = text.context() {
                ctx.extend(c.iter().cloned());
            }
            out.push_str(text.as_str());
        }
        _ => return false,
    }
    true
}

/// Whether `e` is the literal `[]`.
fn is_empty_list_literal(e: &Expr) -> bool {
    matches!(&e.kind, crate::compile::ExprKind::List(items) if items.is_empty())
}

fn push_int(out: &mut String, i: i64) {
    out.push_str(itoa::Buffer::new().format(i));
}

#[cfg(test)]
mod tests {
    #[test]
    fn integers_print_as_to_string_does() {
        for i in [0, 7, -1, 10, -10, 12345, i64::MAX, i64::MIN] {
            let mut out = String::from("x");
            super::push_int(&mut out, i);
            assert_eq!(out, format!("x{i}"));
        }
    }
}
