//! A small strictness analysis for function calls.
//!
//! CppNix allocates a thunk for every argument that is not already a value,
//! and so must a faithful evaluator: whether a value is still a thunk is
//! observable (`builtins.trace [ x ]` prints `«thunk»`). There is one case
//! where it is not: when the first thing the called function does is force
//! that argument. `fib (n - 1)` calls `n: if n < 2 then …`, whose first step
//! is forcing `n`; between binding `n` and forcing it nothing can look at it.
//! For such a call, an argument whose value can be computed right away
//! without any possible error or side effect (integer arithmetic on known
//! integers, see [`known_int_expr`]) is passed as the value itself.
//!
//! [`first_forced_arg`] finds, for a chain of plain lambdas `a: b: body`,
//! which argument `body` forces before anything else, if any.

use triomphe::Arc;

use crate::compile::{ArithOp, Expr, ExprKind};
use crate::thunk::{Env, EnvChain};
use crate::value::Value;
use nixkit_syntax::ast::BinaryOp;

/// Which argument of a call is forced first by the callee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StrictArg {
    /// How many arguments the call must supply for the body to run.
    pub(crate) need: u32,
    /// The argument (0 = first) forced first.
    pub(crate) index: u32,
}

/// The variable `(depth, slot)` that evaluating `e` forces before evaluating
/// anything else, following only constructs that evaluate a subexpression
/// first and open no scope.
fn first_forced(e: &Expr) -> Option<(u32, u32)> {
    match &e.kind {
        ExprKind::Local { depth, slot } | ExprKind::LocalFar { depth, slot } => {
            Some((*depth, *slot))
        }
        ExprKind::Arith { lhs, .. } => first_forced(lhs),
        ExprKind::If { cond, .. } | ExprKind::Assert { cond, .. } => first_forced(cond),
        ExprKind::Not(x) => first_forced(x),
        ExprKind::Binary {
            op: BinaryOp::Eq | BinaryOp::NotEq | BinaryOp::And | BinaryOp::Or | BinaryOp::Impl,
            lhs,
            ..
        } => first_forced(lhs),
        ExprKind::Select { expr, .. } | ExprKind::HasAttr { expr, .. } => first_forced(expr),
        ExprKind::Call { fun, .. } => first_forced(fun),
        _ => None,
    }
}

/// For a lambda whose (curried) body is `a0: a1: … ak: body` (no formal
/// patterns), the argument `body` forces first. `body` is the lambda's
/// body; `plain` says whether the lambda itself has no formals.
pub(crate) fn first_forced_arg(body: &Expr, plain: bool) -> Option<StrictArg> {
    if !plain {
        return None;
    }
    let mut k = 0u32;
    let mut e = body;
    while let ExprKind::Lambda(l) = &e.kind {
        if l.formals.is_some() {
            return None;
        }
        k += 1;
        e = &l.body;
    }
    match first_forced(e)? {
        (depth, 0) if depth <= k => Some(StrictArg {
            need: k + 1,
            index: k - depth,
        }),
        _ => None,
    }
}

/// The integer an expression is already known to have, without evaluating
/// anything: a literal, a variable bound to an evaluated integer.
#[inline]
pub(crate) fn known_int(e: &Expr, env: &Arc<Env>) -> Option<i64> {
    let v = match &e.kind {
        ExprKind::Const(v) => v,
        // (Not `LocalFar`: the extra arm kept this from being inlined.)
        ExprKind::Local { depth, slot } => env.up(*depth)?.slot(*slot)?,
        _ => return None,
    };
    match v {
        Value::Int(i) => Some(*i),
        Value::Thunk(t) => match t.get()? {
            Value::Int(i) => Some(*i),
            _ => None,
        },
        _ => None,
    }
}

/// The value of integer arithmetic (`-`, `*`, `/`, `<`, `+`) whose operands
/// are known integers (see [`known_int`]), nested up to `fuel` levels, if it
/// can be computed without any possible error or side effect.
///
/// Inlined into its caller, with the recursion on plain integers: a
/// `Value` returned out of line goes through a stack slot that is read back
/// as one 16-byte move, a store-forwarding stall (see PERFORMANCE.md).
#[inline(always)]
pub(crate) fn known_int_expr(e: &Expr, env: &Arc<Env>, fuel: u32) -> Option<Value> {
    match &e.kind {
        ExprKind::Arith {
            op: ArithOp::LessThan,
            lhs,
            rhs,
            ..
        } => Some(Value::Bool(
            known_operand(lhs, env, fuel)? < known_operand(rhs, env, fuel)?,
        )),
        _ => known_int_arith(e, env, fuel).map(Value::Int),
    }
}

/// An operand of [`known_int_expr`]: a known integer, or integer arithmetic
/// on known integers within `fuel` more levels.
fn known_operand(x: &Expr, env: &Arc<Env>, fuel: u32) -> Option<i64> {
    match known_int(x, env) {
        Some(i) => Some(i),
        None if fuel > 0 => known_int_arith(x, env, fuel - 1),
        None => None,
    }
}

/// [`known_int_expr`] for the operations with an integer result.
fn known_int_arith(e: &Expr, env: &Arc<Env>, fuel: u32) -> Option<i64> {
    match &e.kind {
        ExprKind::Arith { op, lhs, rhs, .. } => {
            let (a, b) = (
                known_operand(lhs, env, fuel)?,
                known_operand(rhs, env, fuel)?,
            );
            match op {
                ArithOp::Sub => a.checked_sub(b),
                ArithOp::Mul => a.checked_mul(b),
                ArithOp::Div => a.checked_div(b),
                ArithOp::LessThan => None,
            }
        }
        ExprKind::Concat {
            force_string: false,
            parts,
            ..
        } => {
            let (first, rest) = parts.split_first()?;
            let mut acc = known_operand(first, env, fuel)?;
            for p in rest {
                acc = acc.checked_add(known_operand(p, env, fuel)?)?;
            }
            Some(acc)
        }
        _ => None,
    }
}
