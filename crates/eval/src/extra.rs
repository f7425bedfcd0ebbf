//! Builtins added by an embedder ([`crate::EvaluatorBuilder::builtin`] and
//! [`crate::EvaluatorBuilder::builtin_nix`]).
//!
//! The evaluator's builtins are `&'static` primop tables, so a Rust closure
//! cannot be one without leaking it. Instead a closure of arity `n` is the
//! static *trampoline* of arity `n + 1` partially applied to its index in the
//! evaluator's table: `builtins.myFn` is a `PrimOpApp` holding that index,
//! and the trampoline looks the closure up when the call is complete. Error
//! frames still name the builtin (`while calling the 'myFn' builtin`).
//!
//! A Nix-source builtin is a thunk that evaluates its source (in the global
//! scope, so it sees the other builtins) the first time it is used.

use std::sync::Arc;

use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::source::{Origin, Pos};
use crate::thunk::{OtherCode, Thunk};
use crate::value::{PrimOp, PrimOpApp, Value};

/// A builtin written in Rust: it gets the evaluator and its arguments
/// (unforced; use [`EvalState::force`]) and returns a value or an error.
pub type BuiltinFn = dyn Fn(&mut EvalState, &[Value]) -> EvalResult<Value> + Send + Sync;

/// The largest arity of a Rust builtin.
pub const MAX_BUILTIN_ARITY: u8 = 8;

/// A builtin added by the embedder.
#[derive(Clone)]
pub(crate) enum ExtraBuiltin {
    /// Implemented by a closure.
    Rust {
        name: Arc<str>,
        arity: u8,
        func: Arc<BuiltinFn>,
    },
    /// Nix source text, evaluated on first use.
    Nix { name: Arc<str>, source: Arc<str> },
}

impl ExtraBuiltin {
    pub(crate) fn name(&self) -> &str {
        match self {
            ExtraBuiltin::Rust { name, .. } | ExtraBuiltin::Nix { name, .. } => name,
        }
    }
}

/// Trampolines by arity (index 0: a builtin of arity 1, taking 2 arguments).
static TRAMPOLINES: [PrimOp; MAX_BUILTIN_ARITY as usize] = [
    PrimOp {
        name: "«extra»",
        arity: 2,
        func: call_rust,
        forces_first: None,
    },
    PrimOp {
        name: "«extra»",
        arity: 3,
        func: call_rust,
        forces_first: None,
    },
    PrimOp {
        name: "«extra»",
        arity: 4,
        func: call_rust,
        forces_first: None,
    },
    PrimOp {
        name: "«extra»",
        arity: 5,
        func: call_rust,
        forces_first: None,
    },
    PrimOp {
        name: "«extra»",
        arity: 6,
        func: call_rust,
        forces_first: None,
    },
    PrimOp {
        name: "«extra»",
        arity: 7,
        func: call_rust,
        forces_first: None,
    },
    PrimOp {
        name: "«extra»",
        arity: 8,
        func: call_rust,
        forces_first: None,
    },
    PrimOp {
        name: "«extra»",
        arity: 9,
        func: call_rust,
        forces_first: None,
    },
];

/// Evaluates the source of a Nix builtin (argument: its index).
static LOAD_NIX: PrimOp = PrimOp {
    name: "«extra-nix»",
    arity: 1,
    func: load_nix,
    forces_first: None,
};

/// The value bound to the `index`th extra builtin.
pub(crate) fn builtin_value(index: usize, b: &ExtraBuiltin) -> Value {
    let index = Value::Int(i64::try_from(index).unwrap_or(i64::MAX));
    match b {
        ExtraBuiltin::Rust { arity, .. } => {
            let slot = usize::from((*arity).clamp(1, MAX_BUILTIN_ARITY)) - 1;
            Value::PrimOpApp(triomphe::Arc::new(PrimOpApp {
                op: &TRAMPOLINES[slot],
                args: vec![index],
            }))
        }
        ExtraBuiltin::Nix { .. } => Value::Thunk(triomphe::Arc::new(Thunk::new(
            OtherCode::Call(Box::new((
                Value::PrimOp(&LOAD_NIX),
                Box::new([index]),
                Pos::NONE,
            )))
            .into(),
        ))),
    }
}

/// The name to show for a call of `op` with `args`: the embedder's name for
/// a trampoline, the primop's own otherwise. Only used on the error path.
pub(crate) fn display_name(s: &EvalState, op: &'static PrimOp, args: &[Value]) -> Arc<str> {
    if TRAMPOLINES.iter().any(|t| std::ptr::eq(t, op)) {
        if let Some(b) = args.first().and_then(|i| lookup(s, i)) {
            return b.name().into();
        }
    }
    op.name.into()
}

fn lookup<'a>(s: &'a EvalState, index: &Value) -> Option<&'a ExtraBuiltin> {
    let Value::Int(i) = index else { return None };
    s.globals.extra.get(usize::try_from(*i).ok()?)
}

fn call_rust(s: &mut EvalState, args: &[Value], _pos: Pos) -> EvalResult<Value> {
    let Some((index, rest)) = args.split_first() else {
        return Err(EvalError::eval(
            "internal error: extra builtin called without arguments",
        ));
    };
    match lookup(s, index) {
        Some(ExtraBuiltin::Rust { func, .. }) => {
            let func = func.clone();
            func(s, rest)
        }
        _ => Err(EvalError::eval("internal error: unknown extra builtin")),
    }
}

fn load_nix(s: &mut EvalState, args: &[Value], _pos: Pos) -> EvalResult<Value> {
    let (name, source) = match args.first().and_then(|i| lookup(s, i)) {
        Some(ExtraBuiltin::Nix { name, source }) => (name.clone(), source.clone()),
        _ => return Err(EvalError::eval("internal error: unknown extra builtin")),
    };
    let origin = Origin::File(format!("«builtin:{name}»").into());
    s.eval_source(&source, origin, "/")
}
