//! Thunks (delayed values) and environments (run-time scopes).
//!
//! # One cell per thunk
//! Evaluators must be `Send` and this crate is `#![forbid(unsafe_code)]`, so
//! a thunk's state lives in a [`Lazy`] cell of `nixkit-once` (the one small
//! crate whose `unsafe` implements it): the pending code, then the value or
//! the error, in one union under one atomic state byte. Forcing claims the
//! code with one compare-and-swap (leaving a black hole behind, so
//! re-entering the same thunk is reported as infinite recursion), runs it
//! with nothing locked, and publishes the value with one release store; a
//! forced thunk is read with one acquire load and a reference-count bump,
//! which is the hot path (a thunk is forced once and read many times). If
//! evaluation is cancelled the code is put back; if it fails, the error is
//! kept (CppNix memoises errors).
//!
//! A thunk is meant to be forced by one evaluator at a time: a second thread
//! forcing a thunk that another thread is evaluating sees the black hole.
//!
//! A thunk is 24 bytes (32 with its reference count, `triomphe::Arc` having
//! no weak count): the union (the code is two pointers: an expression and its
//! scope, or one to the rarer kinds; a value is two words), the state byte and
//! a 32-bit index for code shared by many thunks.
//! Before, the value sat in a `OnceLock` and the code in a separate box
//! (one more allocation per thunk, two atomic read-modify-writes and a call
//! to set the value).
//!
//! # Environments
//! An [`Env`] is one scope: a `let`, a recursive set, a lambda call, or a
//! `with`. A scope whose slots are known when it is created (a lambda's
//! argument, formals without defaults, a `with`) holds them directly; one
//! whose thunks refer to the scope itself (`let`, `rec`, formals with
//! defaults) is filled once, after it exists. Such cycles of `Arc`s are
//! broken when the thunks are evaluated (their code, holding the scope, is
//! dropped), and for the thunks never evaluated when the `let` (or call) is
//! done and nothing else refers to the scope ([`Env::release_own_cycle`]).
//! A function bound by a `let` or a `rec` set does not close over its scope
//! in the slot at all (it closes over a marker; readers bind the scope,
//! [`Env::own_lambda`]). The cycles left (a formal's default function, a
//! function computed by a binding's expression, a fixpoint, a set holding
//! the thunk that computed it) are found by the cycle collector
//! (`crate::cycles`), told about each deferred scope when it is done
//! ([`Released`]). Everything else is freed as soon as nothing refers to it.

use std::sync::OnceLock;

use nixkit_once::{Claim, Lazy, SetOnce, Unclaimed};
use triomphe::Arc;

use crate::compile::Expr;
use crate::source::Pos;
use crate::value::{SharedSlice, Value};

/// What a thunk computes when forced: an expression in a scope (nearly every
/// thunk) inline, anything else behind a shared pointer. Two words, so that
/// the thunk's cell is three (the state byte and the thunk's index share the
/// last) and a thunk with its reference count is 32 bytes; an expression's
/// two pointers leave the second variant the null value of the first as its
/// tag.
pub(crate) enum Code {
    /// Evaluate an expression in an environment.
    Expr(Arc<Expr>, Arc<Env>),
    /// Any other code. The kinds that apply one function to many elements
    /// (`map`, `mapAttrs`, `genList`, `zipAttrsWith`) share one allocation
    /// among all their thunks, each thunk holding its element's index ([`Thunk::index`]);
    /// the others have one of their own, freed when forcing starts.
    Other(Arc<OtherCode>),
}

/// The rarer kinds of [`Code`] (three words at most).
pub(crate) enum OtherCode {
    /// `inherit (e) name` with `e` an evaluated set: selects from it (the
    /// set and the compiled attribute: name, position).
    SelectFromSet(crate::value::Attrs, Arc<crate::compile::InheritedFrom>),
    /// `inherit (e) name` with `e` not evaluated yet (a thunk).
    SelectFromThunk(Arc<Thunk>, Arc<crate::compile::InheritedFrom>),
    /// `inherit (e) name` with `e` any other value (forcing reports that it
    /// is not a set).
    SelectFromValue(Box<(Value, Arc<crate::compile::InheritedFrom>)>),
    /// Apply a function to arguments.
    Call(Box<(Value, Box<[Value]>, Pos)>),
    /// Apply a function to one argument.
    Call1(Box<(Value, Value, Pos)>),
    /// Shared by all elements of one `genList`: apply the function to the
    /// thunk's index.
    CallIndex(Value, Pos),
    /// Shared by all elements of one `map`: apply the function to the
    /// element at the thunk's index of the list.
    MapList(Arc<(Value, Pos, crate::value::List)>),
    /// Shared by all attributes of one `mapAttrs`: apply the function to the
    /// name and value of the attribute at the thunk's index (the name string
    /// is made when forced).
    MapAttrs(Arc<(Value, Pos, crate::value::Attrs)>),
    /// Shared by all entries of one `zipAttrsWith`: apply the function to the
    /// name and the list of values at the thunk's index (the name string is
    /// made when forced).
    ZipAttrs(Arc<ZipEntries>),
}

/// The function, the position and each name's values of one `zipAttrsWith`.
pub(crate) type ZipEntries = (
    Value,
    Pos,
    Box<[(nixkit_syntax::Symbol, crate::value::List)]>,
);

impl From<OtherCode> for Code {
    #[inline]
    fn from(code: OtherCode) -> Code {
        Code::Other(Arc::new(code))
    }
}

/// A delayed value, evaluated at most once.
///
/// One [`Lazy`] cell: the pending code, then the value or the error,
/// switched by one atomic state byte (see `nixkit-once`). Forcing claims
/// the code (one compare-and-swap, leaving a black hole: re-entering the
/// same thunk is reported as infinite recursion) and publishes the value
/// (one release store); reading a forced thunk is one acquire load.
pub struct Thunk {
    cell: Lazy<Code, Value, crate::error::EvalError>,
}

/// The right to finish a thunk being forced (from [`Thunk::take`]).
pub(crate) type ThunkClaim<'a> = Claim<'a, Code, Value, crate::error::EvalError>;

/// Why a thunk's code could not be taken.
pub(crate) enum NotTaken<'a> {
    /// It is being evaluated (infinite recursion), or was released.
    Running,
    /// It is evaluated already.
    Done(&'a Value),
    /// Its evaluation failed; forcing again reports the same error (CppNix
    /// memoises errors since 2.34).
    Failed(&'a crate::error::EvalError),
}

/// A chain of thunks (each one's value holding the next) is freed without
/// recursion ([`crate::deep_drop`]).
impl Drop for Thunk {
    fn drop(&mut self) {
        if let Some(value) = self.cell.get_mut() {
            crate::deep_drop::free_one(value);
        }
        // Pending code is dropped in place: the values it holds are
        // containers that defer their own children.
    }
}

impl Thunk {
    pub(crate) fn new(code: Code) -> Thunk {
        Thunk {
            cell: Lazy::new(code),
        }
    }

    /// A thunk running shared code for the element `index` (see
    /// [`Code::Other`]).
    pub(crate) fn indexed(code: &Arc<OtherCode>, index: u32) -> Thunk {
        Thunk {
            cell: Lazy::new_tagged(Code::Other(code.clone()), index),
        }
    }

    /// The index given to [`Thunk::indexed`] (0 for other thunks).
    #[inline]
    pub(crate) fn index(&self) -> u32 {
        self.cell.tag()
    }

    /// A thunk with no code whose value is set later with [`Thunk::set`]
    /// (for self-references such as `builtins.builtins`).
    pub(crate) fn empty() -> Thunk {
        Thunk {
            cell: Lazy::empty(),
        }
    }

    /// A thunk whose evaluation already failed with `error` (forcing it
    /// reports the error), as a value.
    pub(crate) fn failed(error: crate::error::EvalError) -> Value {
        Value::Thunk(Arc::new(Thunk {
            cell: Lazy::failed(error),
        }))
    }

    /// A thunk that is already evaluated.
    pub fn done(value: Value) -> Thunk {
        Thunk {
            cell: Lazy::done(value),
        }
    }

    /// The value, if it has been forced.
    #[inline]
    pub fn get(&self) -> Option<&Value> {
        self.cell.get()
    }

    /// Takes the code out, leaving a black hole; the claim finishes,
    /// fails or restores the thunk.
    #[inline]
    pub(crate) fn take(&self) -> Result<(ThunkClaim<'_>, Code), NotTaken<'_>> {
        self.cell.claim().map_err(|why| match why {
            Unclaimed::Done(v) => NotTaken::Done(v),
            Unclaimed::Failed(e) => NotTaken::Failed(e),
            Unclaimed::Running | Unclaimed::Empty => NotTaken::Running,
        })
    }

    /// Whether its evaluation failed (the error is kept).
    pub(crate) fn has_failed(&self) -> bool {
        self.cell.failure().is_some()
    }

    /// Whether the thunk is being evaluated right now (or is an empty
    /// self-reference not set yet).
    pub fn is_blackholed(&self) -> bool {
        self.cell.is_running() || self.cell.is_empty()
    }

    /// Sets the value of an [empty](Thunk::empty) thunk.
    pub(crate) fn set(&self, value: Value) {
        let _ = self.cell.set(value);
    }

    /// The pending code, lent without claiming it (for the cycle collector,
    /// which reads what it refers to).
    ///
    /// # Safety
    /// As [`nixkit_once::Lazy::work_ref`]: nothing may force the thunk (or
    /// drop it) while the reference lives.
    #[allow(unsafe_code)]
    pub(crate) unsafe fn pending_code(&self) -> Option<&Code> {
        // SAFETY: the caller's guarantee is `work_ref`'s requirement.
        unsafe { self.cell.work_ref() }
    }

    /// Takes the value back out, leaving the thunk empty (for the cycle
    /// collector, breaking a cycle it proved unreachable).
    ///
    /// # Safety
    /// As [`nixkit_once::Lazy::retract`]: no reference to the value may be
    /// alive, now or later.
    #[allow(unsafe_code)]
    pub(crate) unsafe fn retract_value(&self) -> Option<Value> {
        // SAFETY: the caller's guarantee is `retract`'s requirement.
        unsafe { self.cell.retract() }
    }

    /// Takes a pending thunk's code out for good, leaving the thunk running
    /// (for the cycle collector: nothing will force it again).
    pub(crate) fn abandon_code(&self) -> Option<Code> {
        let (_running_for_good, code) = self.cell.claim().ok()?;
        Some(code)
    }

    /// Takes out the pending code if it is an expression in `scope`, for
    /// [`Env::release_own_cycle`]; anything else stays where it is.
    fn take_code_in(&self, scope: &Arc<Env>) -> Option<(ThunkClaim<'_>, Code)> {
        let (claim, code) = self.cell.claim().ok()?;
        match &code {
            Code::Expr(_, env) if Arc::ptr_eq(env, scope) => Some((claim, code)),
            _ => {
                claim.restore(code);
                None
            }
        }
    }
}

/// Points a kept scope at `parent`, leaving it (and its reference count)
/// alone when it already is.
fn rebind_parent(slot: &mut Option<Arc<Env>>, parent: &Arc<Env>) {
    if !slot.as_ref().is_some_and(|p| Arc::ptr_eq(p, parent)) {
        *slot = Some(parent.clone());
    }
}

/// What is left of a scope after [`Env::release_own_cycle`].
#[must_use = "the cycle collector is told about both"]
pub(crate) enum Released {
    /// Something else still refers to it (it may sit in a cycle).
    Shared(Arc<Env>),
    /// This is the last reference (its bindings may sit in cycles).
    Last(Arc<Env>),
}

/// A reference a scope holds ([`Env::visit_refs`]).
pub(crate) enum EnvRef<'a> {
    /// A slot's value, or a `with` scope's set.
    Value(&'a Value),
    /// The parent, or a `with` scope's base.
    Env(&'a Arc<Env>),
    /// A deferred scope's filled slot array.
    Slots(&'a SharedSlice<Value>),
}

/// Walking a chain of scopes outward.
pub(crate) trait EnvChain {
    /// The scope `depth` levels out (0 = this one).
    fn up(&self, depth: u32) -> Option<&Arc<Env>>;
    /// The same for a distant scope (a variable compiled as
    /// `ExprKind::LocalFar`): a run of nested `with` scopes (each one level)
    /// is crossed in one step, through the innermost one's `base`. Without
    /// it, a variable from outside 200 nested `with`s costs 200 steps at
    /// every use.
    fn up_far(&self, depth: u32) -> Option<&Arc<Env>>;
}

impl EnvChain for Arc<Env> {
    #[inline]
    fn up(&self, depth: u32) -> Option<&Arc<Env>> {
        let mut env = self;
        for _ in 0..depth {
            env = env.parent.as_ref()?;
        }
        Some(env)
    }

    fn up_far(&self, depth: u32) -> Option<&Arc<Env>> {
        let (mut env, mut depth) = (self, depth);
        while depth > 0 {
            if let Slots::With(w) = &env.slots {
                if w.run <= depth {
                    env = &w.base;
                    depth -= w.run;
                    continue;
                }
            }
            env = env.parent.as_ref()?;
            depth -= 1;
        }
        Some(env)
    }
}

/// Variables this many scopes out or more are compiled as
/// `ExprKind::LocalFar`, looked up with [`EnvChain::up_far`]. Testing for
/// `with` runs on every variable read cost 10 % on `a-fib`; from 8 scopes
/// out, the module system's deep (`with`-free) variables paid 0.5 % more
/// instructions; from 16, 0.14 %.
pub(crate) const FAR: u32 = 16;

/// The scope that `let`-bound lambdas in their own scope's slots close over
/// instead of it: a marker, never used as a scope (see [`Env::own_lambda`]).
pub(crate) fn own_scope_marker() -> &'static Arc<Env> {
    OWN_SCOPE_MARKER.get_or_init(Env::root)
}

static OWN_SCOPE_MARKER: OnceLock<Arc<Env>> = OnceLock::new();

/// Marks a `with` scope with no enclosing `with`.
pub(crate) const NO_OUTER_WITH: u32 = u32::MAX - 1;

/// What a `with` scope holds besides its parent, boxed so that every other
/// scope stays 32 bytes.
struct WithScope {
    /// The (lazy) attribute set.
    attrs: Value,
    /// The number of scopes between this one and the next `with` outward
    /// ([`NO_OUTER_WITH`]: none).
    outer: u32,
    /// How many `with` scopes in a row end here, this one included: `base`
    /// is that many levels up.
    run: u32,
    /// The first scope outside that run.
    base: Arc<Env>,
}

/// The slots of a scope. A one-slot scope known when it is created (the
/// argument of `x: body`, the attribute set of a `with`) keeps its value
/// inline: creating it is one allocation and no synchronisation; so does a
/// scope whose slots are all known up front (formals without defaults
/// used), in a boxed slice. Scopes whose slots
/// refer to the scope itself (`let`, `rec`, formals with defaults) are
/// filled once, after creation.
///
/// A `with` scope keeps its attribute set and its links to outer scopes in
/// a box, which keeps the enum at 24 bytes.
enum Slots {
    One(Value),
    /// A `with` scope: its one slot is the lazy attribute set.
    With(Box<WithScope>),
    Many(Box<[Value]>),
    Deferred(SetOnce<SharedSlice<Value>>),
}

/// A run-time scope.
pub(crate) struct Env {
    slots: Slots,
    parent: Option<Arc<Env>>,
}

/// A scope hands the values it alone holds to [`crate::deep_drop`]: a
/// chain of closures each capturing the previous one is freed without
/// recursion.
impl Drop for Env {
    fn drop(&mut self) {
        match &mut self.slots {
            Slots::One(value) => crate::deep_drop::free_one(value),
            Slots::Many(values) => crate::deep_drop::free_slice(values),
            Slots::With(_) | Slots::Deferred(_) => {}
        }
    }
}

impl Env {
    /// The empty top-level environment.
    pub(crate) fn root() -> Arc<Env> {
        Arc::new(Env {
            slots: Slots::Deferred(SetOnce::done(SharedSlice::default())),
            parent: None,
        })
    }

    /// A scope whose slots are filled later with [`Env::fill`].
    pub(crate) fn deferred(parent: &Arc<Env>) -> Arc<Env> {
        Arc::new(Env {
            slots: Slots::Deferred(SetOnce::empty()),
            parent: Some(parent.clone()),
        })
    }

    /// A scope whose slots are all known (a lambda's formals, no default
    /// used).
    pub(crate) fn with_slots(parent: &Arc<Env>, slots: Box<[Value]>) -> Arc<Env> {
        Arc::new(Env {
            slots: Slots::Many(slots),
            parent: Some(parent.clone()),
        })
    }

    /// A scope with one slot (a lambda's plain argument): one allocation.
    pub(crate) fn with_one(parent: &Arc<Env>, value: Value) -> Arc<Env> {
        Arc::new(Env {
            slots: Slots::One(value),
            parent: Some(parent.clone()),
        })
    }

    /// The argument slot of a one-slot scope that nothing else refers to
    /// (a spare kept by [`Env::clear_one`]), rebound for a new call of a
    /// function closing over `parent`: the caller writes the argument in
    /// place, saving an allocation and a free; when the spare already
    /// closes over `parent` (recursion, `map f`), also the reference
    /// counting of the parent. `None` if the scope cannot be reused. (The
    /// argument is not passed in: given back in a `Result`, its tag would
    /// become the result's, and the value would be copied as a tag byte
    /// plus 15 unaligned bytes.)
    pub(crate) fn reuse_one<'a>(
        this: &'a mut Arc<Env>,
        parent: &Arc<Env>,
    ) -> Option<&'a mut Value> {
        match Arc::get_mut(this) {
            Some(Env {
                slots: Slots::One(v),
                parent: p,
            }) => {
                rebind_parent(p, parent);
                Some(v)
            }
            _ => None,
        }
    }

    /// The two scopes of `a: b: body` called with both arguments, built
    /// without the intermediate closure: returns the inner one.
    pub(crate) fn with_two(parent: &Arc<Env>, a: Value, b: Value) -> Arc<Env> {
        let outer = Arc::new(Env {
            slots: Slots::One(a),
            parent: Some(parent.clone()),
        });
        Arc::new(Env {
            slots: Slots::One(b),
            parent: Some(outer),
        })
    }

    /// Like [`Env::reuse_one`] for the pair of scopes of [`Env::with_two`]:
    /// the two argument slots (and, if it differs, the outer scope's parent
    /// rebound) if nothing else refers to either scope.
    pub(crate) fn reuse_two<'a>(
        this: &'a mut Arc<Env>,
        parent: &Arc<Env>,
    ) -> Option<(&'a mut Value, &'a mut Value)> {
        let Some(Env {
            slots: Slots::One(bslot),
            parent: Some(outer),
        }) = Arc::get_mut(this)
        else {
            return None;
        };
        match Arc::get_mut(outer) {
            Some(Env {
                slots: Slots::One(aslot),
                parent: p,
            }) => {
                rebind_parent(p, parent);
                Some((aslot, bslot))
            }
            _ => None,
        }
    }

    /// Like [`Env::clear_one`] for the pair of scopes of [`Env::with_two`].
    pub(crate) fn clear_two(this: &mut Arc<Env>) -> bool {
        let Some(Env {
            slots: Slots::One(bslot),
            parent: Some(outer),
        }) = Arc::get_mut(this)
        else {
            return false;
        };
        match Arc::get_mut(outer) {
            Some(Env {
                slots: Slots::One(aslot),
                ..
            }) => {
                *aslot = Value::Null;
                *bslot = Value::Null;
                true
            }
            _ => false,
        }
    }

    /// Empties a one-slot scope that nothing else refers to, so that it can
    /// be kept as a spare (its argument is released now, as if the scope
    /// were freed). Returns whether it could.
    pub(crate) fn clear_one(this: &mut Arc<Env>) -> bool {
        match Arc::get_mut(this) {
            Some(Env {
                slots: Slots::One(v),
                ..
            }) => {
                *v = Value::Null;
                true
            }
            _ => false,
        }
    }

    /// A `with` scope holding the (lazy) attribute set.
    pub(crate) fn with_scope(parent: &Arc<Env>, attrs: Value, outer: Option<u32>) -> Arc<Env> {
        let (run, base) = match &parent.slots {
            Slots::With(w) => (w.run.saturating_add(1), w.base.clone()),
            _ => (1, parent.clone()),
        };
        let with = WithScope {
            attrs,
            outer: outer.unwrap_or(NO_OUTER_WITH),
            run,
            base,
        };
        Arc::new(Env {
            slots: Slots::With(Box::new(with)),
            parent: Some(parent.clone()),
        })
    }

    /// Hands every reference this scope holds to the cycle collector:
    /// values in its slots (or its `with` set), scopes (parent, `with`
    /// base), and a deferred scope's filled slot array.
    pub(crate) fn visit_refs<'a>(&'a self, visit: &mut dyn FnMut(EnvRef<'a>)) {
        match &self.slots {
            Slots::One(v) => visit(EnvRef::Value(v)),
            Slots::With(w) => {
                visit(EnvRef::Value(&w.attrs));
                visit(EnvRef::Env(&w.base));
            }
            Slots::Many(vs) => vs.iter().for_each(|v| visit(EnvRef::Value(v))),
            Slots::Deferred(cell) => {
                if let Some(s) = cell.get() {
                    visit(EnvRef::Slots(s));
                }
            }
        }
        if let Some(p) = &self.parent {
            visit(EnvRef::Env(p));
        }
    }

    /// The cell of a deferred scope's slots (`let`, `rec`, formals with
    /// defaults), which the cycle collector empties to break a cycle.
    pub(crate) fn deferred_cell(&self) -> Option<&SetOnce<SharedSlice<Value>>> {
        match &self.slots {
            Slots::Deferred(cell) => Some(cell),
            _ => None,
        }
    }

    /// Whether this is the marker `let`-bound lambdas close over
    /// ([`own_scope_marker`]), shared by every evaluator of the process.
    pub(crate) fn is_marker(this: &Arc<Env>) -> bool {
        OWN_SCOPE_MARKER.get().is_some_and(|m| Arc::ptr_eq(this, m))
    }

    /// Fills the slots of a deferred scope.
    pub(crate) fn fill(&self, slots: Vec<Value>) {
        if let Slots::Deferred(cell) = &self.slots {
            let _ = cell.set(SharedSlice::new(slots));
        }
    }

    /// Breaks the reference cycle between a filled `let` scope and its own
    /// bindings that were never forced, once nothing else refers to the
    /// scope: `this` is the caller's last handle on it (the `let` has been
    /// evaluated). Each such binding's pending code holds the scope, and
    /// the scope holds the binding, so reference counting alone would keep
    /// both for the rest of the evaluation.
    ///
    /// The scope is released only when every other reference to it is
    /// accounted for by a pending binding that nothing else refers to
    /// either: such a binding can never be forced, so dropping its code
    /// changes nothing observable. Otherwise (a closure or a set escaped
    /// with the scope) everything is left as it was.
    ///
    /// Gives the scope back if something else still refers to it (it may
    /// sit in a cycle: the caller registers it with the cycle collector).
    #[inline]
    pub(crate) fn release_own_cycle(this: Arc<Env>) -> Released {
        let count = Arc::count(&this);
        if count > 1 {
            Env::release_own_cycle_slow(&this, count - 1);
            if Arc::count(&this) > 1 {
                return Released::Shared(this);
            }
        }
        Released::Last(this)
    }

    fn release_own_cycle_slow(this: &Arc<Env>, others: usize) {
        let Slots::Deferred(cell) = &this.slots else {
            return;
        };
        let Some(slots) = cell.get() else { return };
        if others > slots.len() {
            return;
        }
        // A binding can sit in several slots (`b = a;` shares `a`'s thunk):
        // it is the scope's alone when all its references are slots.
        let thunks: Vec<&Arc<Thunk>> = slots
            .iter()
            .filter_map(|v| {
                if let Value::Thunk(t) = v {
                    Some(t)
                } else {
                    None
                }
            })
            .collect();
        let mut taken = Vec::new();
        for (i, t) in thunks.iter().enumerate() {
            if thunks[..i].iter().any(|u| Arc::ptr_eq(t, u)) {
                continue;
            }
            let slots_holding = thunks[i..].iter().filter(|u| Arc::ptr_eq(t, u)).count();
            if Arc::count(t) == slots_holding {
                if let Some(claimed) = t.take_code_in(this) {
                    taken.push(claimed);
                }
            }
        }
        if taken.len() != others {
            // Referred to from elsewhere: put everything back.
            for (claim, code) in taken {
                claim.restore(code);
            }
        }
        // Otherwise the codes are dropped here, and with them the scope's
        // last references but the caller's.
    }

    /// The lambda in a slot of this scope that closes over this scope
    /// itself, if the slot holds one (a `let`-bound function; see
    /// [`crate::value::Closure::in_own_scope`]). Every reader of a slot
    /// checks for it: the value of such a slot is a closure over the scope
    /// the slot was found in.
    #[inline]
    pub(crate) fn own_lambda(v: &Value) -> Option<&Arc<crate::compile::LambdaExpr>> {
        match v {
            // Before the first marker is made, nothing can be one.
            Value::Lambda(c)
                if OWN_SCOPE_MARKER
                    .get()
                    .is_some_and(|m| Arc::ptr_eq(&c.env, m)) =>
            {
                Some(&c.lambda)
            }
            _ => None,
        }
    }

    /// A slot's value as a value, found in `scope`: a lambda stored in its
    /// own scope becomes a closure over that scope (a new function value);
    /// anything else is cloned, an evaluated thunk as its value.
    #[inline]
    pub(crate) fn slot_value(v: &Value, scope: &Arc<Env>) -> Value {
        match Env::own_lambda(v) {
            Some(l) => crate::value::Closure::value(l.clone(), scope.clone()),
            None => v.forced().unwrap_or(v).clone(),
        }
    }

    /// A slot's value, if the scope is filled.
    #[inline]
    pub(crate) fn slot(&self, slot: u32) -> Option<&Value> {
        match &self.slots {
            Slots::One(v) => (slot == 0).then_some(v),
            Slots::With(w) => (slot == 0).then_some(&w.attrs),
            Slots::Many(s) => s.get(slot as usize),
            Slots::Deferred(cell) => cell.get()?.get(slot as usize),
        }
    }

    /// For a `with` scope: distance to the next enclosing `with`.
    pub(crate) fn with_outer(&self) -> Option<u32> {
        match &self.slots {
            Slots::With(w) if w.outer != NO_OUTER_WITH => Some(w.outer),
            _ => None,
        }
    }
}
#[cfg(test)]
mod layout {
    /// The sizes the memory figures in PERFORMANCE.md depend on.
    #[test]
    fn hot_types_stay_small() {
        assert_eq!(std::mem::size_of::<crate::value::Value>(), 16);
        // The tag's unused values carry `None` and `Err`.
        assert_eq!(std::mem::size_of::<Option<crate::value::Value>>(), 16);
        assert_eq!(
            std::mem::size_of::<crate::error::EvalResult<crate::value::Value>>(),
            16
        );
        assert_eq!(std::mem::size_of::<super::Code>(), 16);
        assert_eq!(std::mem::size_of::<super::Thunk>(), 24);
        assert_eq!(std::mem::size_of::<super::Env>(), 32);
        assert_eq!(std::mem::size_of::<crate::value::Attr>(), 24);
        assert_eq!(std::mem::size_of::<crate::source::Pos>(), 4);
    }
}

#[cfg(test)]
mod own_cycles {
    use super::{Code, Env, Thunk};
    use crate::compile::{Expr, ExprKind};
    use crate::source::Pos;
    use crate::value::Value;
    use triomphe::Arc;

    /// A `let` scope whose bindings are pending thunks of expressions in
    /// the scope itself (the cycle), sharing one expression so that its
    /// reference count shows whether their code was dropped.
    fn let_scope(bindings: usize) -> (Arc<Env>, Arc<Expr>, Vec<Value>) {
        let expr = Arc::new(Expr {
            kind: ExprKind::Const(Value::Null),
            pos: Pos::NONE,
        });
        let scope = Env::deferred(&Env::root());
        let slots: Vec<Value> = (0..bindings)
            .map(|_| {
                Value::Thunk(Arc::new(Thunk::new(Code::Expr(
                    expr.clone(),
                    scope.clone(),
                ))))
            })
            .collect();
        (scope, expr, slots)
    }

    #[test]
    fn unreferenced_scope_is_released() {
        let (scope, expr, slots) = let_scope(3);
        // `b = a;`: one thunk in two slots.
        let mut slots = slots;
        slots.push(slots[0].clone());
        scope.fill(slots);
        assert_eq!(Arc::count(&expr), 4);
        let _ = Env::release_own_cycle(scope);
        assert_eq!(
            Arc::count(&expr),
            1,
            "the pending codes (and the scope) are freed"
        );
    }

    #[test]
    fn scope_referred_to_from_elsewhere_is_kept() {
        let (scope, expr, slots) = let_scope(2);
        scope.fill(slots);
        let escaped = scope.clone(); // e.g. a closure returned by the body
        let _ = Env::release_own_cycle(scope);
        assert_eq!(Arc::count(&expr), 3, "nothing is dropped");
        // The bindings can still be forced through the escaped scope.
        let Some(Value::Thunk(t)) = escaped.slot(0) else {
            panic!("slot 0 is a thunk")
        };
        assert!(t.take().is_ok(), "the code is still there");
    }

    #[test]
    fn binding_referred_to_from_elsewhere_keeps_the_scope() {
        let (scope, expr, slots) = let_scope(2);
        let escaped = slots[1].clone(); // e.g. `in { x = b; }`
        scope.fill(slots);
        let _ = Env::release_own_cycle(scope);
        assert_eq!(Arc::count(&expr), 3, "nothing is dropped");
        let Value::Thunk(t) = &escaped else {
            panic!("a thunk")
        };
        assert!(t.take().is_ok(), "the escaped binding can still be forced");
    }
}
