//! Attribute selection: `e.a.b.c` and `e.a or d`, with the trace frames
//! CppNix adds when selecting fails. Evaluated sets are walked in place;
//! only the result is cloned or forced.

use triomphe::Arc;

use crate::compile::{Expr, Key};
use crate::error::{EvalError, EvalResult};
use crate::eval::{evaluated_local, missing_attr, type_error, EvalState};
use crate::source::Pos;
use crate::stats::bump;
use crate::thunk::Env;
use crate::value::Value;

impl EvalState {
    pub(crate) fn eval_select(
        &mut self,
        pos: Pos,
        expr: &Arc<Expr>,
        path: &[Key],
        default: Option<&Arc<Expr>>,
        env: &Arc<Env>,
    ) -> EvalResult<Value> {
        // A variable bound to an evaluated value is read in place.
        let owned;
        let base = match evaluated_local(expr, env) {
            Some(v) => v,
            None => {
                owned = self
                    .eval(expr, env)
                    .map_err(|e| e.with_frame("while selecting an attribute", expr.pos))?;
                &owned
            }
        };
        // Fast path: every step an evaluated set holding the attribute. The
        // path is walked by reference and only the result is cloned (or
        // forced), instead of a reference count up and down per step.
        if let Some((x, attr_pos, found)) = select_in_place(base, path) {
            bump(&self.stats.lookups, path.len() as u64);
            return match x.forced() {
                Some(v) => Ok(v.clone()),
                None => self
                    .force_at(x, attr_pos)
                    .map_err(|e| self.select_error(e, pos, path, env, attr_pos, found)),
            };
        }
        // Where the last attribute found was defined, and how many path
        // elements were found: for the trace if selecting fails.
        let mut attr_pos = Pos::NONE;
        let mut found = 0;
        match self.select_path(pos, base, path, default, env, &mut attr_pos, &mut found) {
            Ok(v) => Ok(v),
            Err(e) => Err(self.select_error(e, pos, path, env, attr_pos, found)),
        }
    }

    /// The frames of a failed selection `e.a.b.c` at `pos`: where the last
    /// attribute found was defined (`found` elements of the path found).
    fn select_error(
        &mut self,
        mut e: EvalError,
        pos: Pos,
        path: &[Key],
        env: &Arc<Env>,
        attr_pos: Pos,
        found: usize,
    ) -> EvalError {
        if !attr_pos.is_none() {
            let text = self.show_attr_path(&path[..found], env);
            e = e.with_frame(format!("from the definition of '{text}'"), attr_pos);
        }
        let text = self.show_attr_path(path, env);
        e.with_frame(format!("while evaluating the attribute '{text}'"), pos)
    }

    /// The general walk of a selection: forces each step in place (the
    /// sets are lent from their thunks, nothing is cloned but the result).
    #[allow(clippy::too_many_arguments)]
    fn select_path(
        &mut self,
        pos: Pos,
        base: &Value,
        path: &[Key],
        default: Option<&Arc<Expr>>,
        env: &Arc<Env>,
        attr_pos: &mut Pos,
        found: &mut usize,
    ) -> EvalResult<Value> {
        let mut v = base;
        for key in path {
            let name = self.key_name(key, env)?;
            let set = self.force_ref(v, pos)?;
            bump(&self.stats.lookups, 1);
            let attr = match (set, default) {
                (Value::Attrs(a), _) => a.get_attr(name),
                (_, Some(_)) => None,
                (other, None) => {
                    return Err(
                        type_error("a set", other).with_frame("while selecting an attribute", pos)
                    );
                }
            };
            match (attr, default) {
                (Some(x), _) => {
                    v = &x.value;
                    *attr_pos = x.pos;
                    *found += 1;
                }
                (None, Some(d)) => return self.eval(d, env),
                (None, None) => {
                    let Value::Attrs(a) = set else {
                        return Err(type_error("a set", set));
                    };
                    return Err(missing_attr(name, a));
                }
            }
        }
        self.force_at(v, if attr_pos.is_none() { pos } else { *attr_pos })
    }
}

/// Walks a path of static names through evaluated sets without forcing or
/// cloning anything: the value found (possibly a thunk), where it was
/// defined and the path length. `None` as soon as a step needs more (a
/// dynamic name, a thunk not evaluated yet, a missing attribute, not a
/// set): the caller then takes the general path, which forces and reports.
pub(crate) fn select_in_place<'v>(
    base: &'v Value,
    path: &[Key],
) -> Option<(&'v Value, Pos, usize)> {
    let mut cur = base;
    let mut pos = Pos::NONE;
    for key in path {
        let Key::Static(name) = key else { return None };
        let Value::Attrs(a) = cur.forced()? else {
            return None;
        };
        let attr = a.get_attr(*name)?;
        cur = &attr.value;
        pos = attr.pos;
    }
    Some((cur, pos, path.len()))
}
