//! Thunks (delayed values) and environments (run-time scopes).
//!
//! # Why `OnceLock` + `Mutex`
//! Evaluators must be `Send` and the code is `#![forbid(unsafe_code)]`, so a
//! thunk cannot use `Cell`/`RefCell`. A [`Thunk`] keeps its result in a
//! [`OnceLock<Value>`]: once forced, reading it is one atomic load and a
//! reference-count bump, which is the hot path (a thunk is forced once and read
//! many times). The pending computation lives in a small [`Mutex`] that is only
//! taken twice per thunk: to take the code out (leaving a black hole behind, so
//! re-entering the same thunk is reported as infinite recursion) and, if
//! evaluation failed, to put it back (CppNix re-evaluates a failed thunk on the
//! next force). The lock is never held while evaluating.
//!
//! A thunk is meant to be forced by one evaluator at a time: a second thread
//! forcing a thunk that another thread is evaluating sees the black hole.
//!
//! # Environments
//! An [`Env`] is one scope: a `let`, a recursive set, a lambda call, or a
//! `with`. Its slots are filled once, after the environment exists, because
//! the thunks stored in a recursive scope refer to the scope itself. Such
//! cycles of `Arc`s are never freed (there is no garbage collector); an
//! evaluator's memory is reclaimed when the values it produced are dropped,
//! except for recursive scopes.

use std::sync::{Arc, Mutex, OnceLock};

use nixkit_syntax::Symbol;

use crate::compile::Expr;
use crate::source::Pos;
use crate::value::Value;

/// What a thunk computes when forced.
pub(crate) enum Code {
    /// Evaluate an expression in an environment.
    Expr(Arc<Expr>, Arc<Env>),
    /// Select an attribute of a (lazy) value: `inherit (e) name`. Boxed, like
    /// `Call`, so that a thunk stays small (most thunks are `Expr`).
    Select(Box<(Value, Symbol, Pos)>),
    /// Apply a function to arguments.
    Call(Box<(Value, Box<[Value]>, Pos)>),
    /// Apply a function to one argument (`map`): one allocation, not two.
    Call1(Box<(Value, Value, Pos)>),
    /// Apply a function shared by many thunks to an integer (`genList`):
    /// no allocation besides the thunk itself.
    CallInt(Arc<(Value, Pos)>, i64),
}

enum Pending {
    Code(Code),
    /// Evaluation failed; forcing again reports the same error (CppNix
    /// memoises errors since 2.34).
    Failed(crate::error::EvalError),
    /// Being evaluated: forcing it again is infinite recursion.
    Blackhole,
}

/// A delayed value, evaluated at most once.
pub struct Thunk {
    value: OnceLock<Value>,
    pending: Mutex<Pending>,
}

impl Thunk {
    pub(crate) fn new(code: Code) -> Thunk {
        Thunk { value: OnceLock::new(), pending: Mutex::new(Pending::Code(code)) }
    }

    /// A thunk with no code whose value is set later with [`Thunk::finish`]
    /// (for self-references such as `builtins.builtins`).
    pub(crate) fn empty() -> Thunk {
        Thunk { value: OnceLock::new(), pending: Mutex::new(Pending::Blackhole) }
    }

    /// A thunk whose evaluation already failed with `error` (forcing it
    /// reports the error), as a value.
    pub(crate) fn failed(error: crate::error::EvalError) -> Value {
        Value::Thunk(std::sync::Arc::new(Thunk { value: OnceLock::new(), pending: Mutex::new(Pending::Failed(error)) }))
    }

    /// A thunk that is already evaluated.
    pub fn done(value: Value) -> Thunk {
        Thunk { value: OnceLock::from(value), pending: Mutex::new(Pending::Blackhole) }
    }

    /// The value, if it has been forced.
    #[inline]
    pub fn get(&self) -> Option<&Value> {
        self.value.get()
    }

    /// Takes the code out, leaving a black hole. `None` means the thunk is
    /// already being evaluated (infinite recursion) or was just finished.
    pub(crate) fn take(&self) -> Result<Code, Option<crate::error::EvalError>> {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match std::mem::replace(&mut *p, Pending::Blackhole) {
            Pending::Code(c) => Ok(c),
            Pending::Blackhole => Err(None),
            Pending::Failed(e) => {
                *p = Pending::Failed(e.clone());
                Err(Some(e))
            }
        }
    }

    /// Records a failure to report on later forces.
    pub(crate) fn fail(&self, error: crate::error::EvalError) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        *p = Pending::Failed(error);
    }

    /// Whether the thunk is being evaluated right now.
    pub fn is_blackholed(&self) -> bool {
        self.value.get().is_none()
            && matches!(*self.pending.lock().unwrap_or_else(|e| e.into_inner()), Pending::Blackhole)
    }

    /// Records the result.
    pub(crate) fn finish(&self, value: Value) {
        let _ = self.value.set(value);
    }

    /// Puts the code back after a failed evaluation.
    pub(crate) fn restore(&self, code: Code) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        *p = Pending::Code(code);
    }
}

/// Marks an environment that is not a `with` scope.
pub(crate) const NOT_WITH: u32 = u32::MAX;
/// Marks a `with` scope with no enclosing `with`.
pub(crate) const NO_OUTER_WITH: u32 = u32::MAX - 1;

/// The slots of a scope. A one-slot scope known when it is created (the
/// argument of `x: body`, the attribute set of a `with`) keeps its value
/// inline: creating it is one allocation and no synchronisation (building an
/// initialised `OnceLock` still goes through its `Once`); so does a scope
/// whose slots are all known up front (formals without defaults used), in a
/// boxed slice. Scopes whose slots
/// refer to the scope itself (`let`, `rec`, formals with defaults) are
/// filled once, after creation.
enum Slots {
    One(Value),
    Many(Box<[Value]>),
    Deferred(OnceLock<Box<[Value]>>),
}

/// A run-time scope.
pub struct Env {
    slots: Slots,
    parent: Option<Arc<Env>>,
    /// For `with` scopes: scopes between this one and the next `with` outward.
    with_outer: u32,
}

impl Env {
    /// The empty top-level environment.
    pub(crate) fn root() -> Arc<Env> {
        Arc::new(Env { slots: Slots::Deferred(OnceLock::from(Box::<[Value]>::default())), parent: None, with_outer: NOT_WITH })
    }

    /// A scope whose slots are filled later with [`Env::fill`].
    pub(crate) fn deferred(parent: &Arc<Env>) -> Arc<Env> {
        Arc::new(Env { slots: Slots::Deferred(OnceLock::new()), parent: Some(parent.clone()), with_outer: NOT_WITH })
    }

    /// A scope whose slots are all known (a lambda's formals, no default
    /// used).
    pub(crate) fn with_slots(parent: &Arc<Env>, slots: Box<[Value]>) -> Arc<Env> {
        Arc::new(Env { slots: Slots::Many(slots), parent: Some(parent.clone()), with_outer: NOT_WITH })
    }

    /// A scope with one slot (a lambda's plain argument): one allocation.
    pub(crate) fn with_one(parent: &Arc<Env>, value: Value) -> Arc<Env> {
        Arc::new(Env { slots: Slots::One(value), parent: Some(parent.clone()), with_outer: NOT_WITH })
    }

    /// A `with` scope holding the (lazy) attribute set.
    pub(crate) fn with_scope(parent: &Arc<Env>, attrs: Value, outer: Option<u32>) -> Arc<Env> {
        Arc::new(Env {
            slots: Slots::One(attrs),
            parent: Some(parent.clone()),
            with_outer: outer.unwrap_or(NO_OUTER_WITH),
        })
    }

    /// Fills the slots of a deferred scope.
    pub(crate) fn fill(&self, slots: Box<[Value]>) {
        if let Slots::Deferred(cell) = &self.slots {
            let _ = cell.set(slots);
        }
    }

    /// The scope `depth` levels out (0 = this one).
    #[inline]
    pub(crate) fn up(self: &Arc<Env>, depth: u32) -> Option<&Arc<Env>> {
        let mut env = self;
        for _ in 0..depth {
            env = env.parent.as_ref()?;
        }
        Some(env)
    }

    /// A slot's value, if the scope is filled.
    #[inline]
    pub(crate) fn slot(&self, slot: u32) -> Option<&Value> {
        match &self.slots {
            Slots::One(v) => (slot == 0).then_some(v),
            Slots::Many(s) => s.get(slot as usize),
            Slots::Deferred(cell) => cell.get()?.get(slot as usize),
        }
    }

    /// For a `with` scope: distance to the next enclosing `with`.
    pub(crate) fn with_outer(&self) -> Option<u32> {
        match self.with_outer {
            NOT_WITH | NO_OUTER_WITH => None,
            n => Some(n),
        }
    }
}
