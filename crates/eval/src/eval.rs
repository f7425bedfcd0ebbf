//! The interpreter: [`EvalState`] and the evaluation of compiled expressions.
//!
//! `eval` returns values in weak head normal form (never a thunk); `delay`
//! wraps a subexpression in a thunk unless it is trivially a value already
//! (a constant, a filled variable slot, a function). Rust stack depth is kept
//! in check with `stacker`, which grows the stack on demand, so deep but
//! finite Nix recursion works on any thread; the `max-call-depth` limit turns
//! runaway recursion into an error.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use triomphe::Arc;

use nixkit_syntax::ast::BinaryOp;
use nixkit_syntax::Symbol;

use crate::compile::{Expr, ExprKind, Key};
// The type errors live with the typed forcing helpers; callers name them here.
use crate::error::{ErrorKind, EvalError, EvalResult};
pub(crate) use crate::force::{missing_attr, suggestions, type_error};
use crate::io::{EvalIo, EvalStore};
use crate::source::Pos;
use crate::stats::bump;
use crate::thunk::{Code, Env, EnvChain, NotTaken, OtherCode, Thunk};
use crate::value::{Attrs, Closure, Value};

/// Bytes of stack that must remain before recursing further. The stack is
/// only checked every [`STACK_CHECK_EVERY`] levels of guarded recursion (see
/// [`EvalState::guarded`]), so this covers that many levels of the deepest
/// frames (each level is a few KiB at most: `eval_inner` plus a call).
/// Unoptimised builds have much larger frames, hence the larger margin.
const RED_ZONE: usize = if cfg!(debug_assertions) {
    4 * 1024 * 1024
} else {
    1024 * 1024
};
/// Guarded recursion levels between two stack checks.
const STACK_CHECK_EVERY: u32 = 8;
/// Size of each additional stack segment.
const STACK_SEGMENT: usize = if cfg!(debug_assertions) {
    16 * 1024 * 1024
} else {
    8 * 1024 * 1024
};

/// Runs `f` with at least [`RED_ZONE`] bytes of stack available.
pub(crate) fn with_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, f)
}

/// How many emptied call scopes an evaluator keeps for reuse (each also
/// keeps its parent scope alive until it is reused or dropped).
pub(crate) const SPARE_SCOPES: usize = 16;

/// Settings fixed when an evaluator is built.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) pure: bool,
    pub(crate) max_call_depth: u32,
    pub(crate) search_path: Vec<(String, String)>,
    pub(crate) home: Option<String>,
    pub(crate) store_dir: String,
    pub(crate) current_system: String,
    pub(crate) abort_on_warn: bool,
    /// `--trace-verbose`: `builtins.traceVerbose` prints like `trace`.
    pub(crate) trace_verbose: bool,
    pub(crate) toml_timestamps: bool,
    /// `--show-trace`: CppNix records extra frames (function calls) in
    /// error traces only with it.
    pub(crate) show_trace: bool,
    /// `--lint-{absolute-path,short-path,url}-literals`: `None` off,
    /// `Some(false)` warn, `Some(true)` fatal.
    pub(crate) lints: [Option<bool>; 3],
    /// Whether reference cycles are collected between top-level calls and
    /// when the evaluator is dropped ([`crate::EvaluatorBuilder::collect_cycles`]).
    pub(crate) collect_cycles: bool,
    /// Collect every so many steps when anchors were registered
    /// ([`crate::EvaluatorBuilder::collect_cycles_every`]).
    pub(crate) collect_cycles_every: Option<u64>,
}

/// Receives `trace:` and `warning:` output.
pub type MessageSink = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// The mutable state of one evaluator.
pub struct EvalState {
    pub(crate) settings: Settings,
    pub(crate) io: std::sync::Arc<dyn EvalIo>,
    pub(crate) store: std::sync::Arc<dyn EvalStore>,
    pub(crate) fetcher: std::sync::Arc<dyn nixkit_fetch::Fetcher>,
    pub(crate) globals: std::sync::Arc<crate::builtins::Globals>,
    pub(crate) call_depth: u32,
    pub(crate) cancel: Option<std::sync::Arc<AtomicBool>>,
    /// Steps left before [`EvalState::step`] takes its slow path (polling
    /// the cancellation flag and drawing on `steps_left`).
    pub(crate) step_countdown: u64,
    /// The rest of the step budget (`None`: unlimited).
    pub(crate) steps_left: Option<u64>,
    /// Parses shared with other evaluators, if any.
    pub(crate) parse_cache: Option<std::sync::Arc<crate::ParseCache>>,
    /// [`crate::builtins::Globals::fingerprint`] of `globals`.
    pub(crate) globals_fingerprint: u64,
    pub(crate) import_cache: HashMap<Arc<str>, Value>,
    pub(crate) regex_cache: HashMap<Box<str>, std::sync::Arc<nixkit_regex::Regex>>,
    pub(crate) messages: MessageSink,
    pub(crate) parse_globals: std::sync::Arc<nixkit_syntax::Globals>,
    pub(crate) store_paths: HashMap<String, String>,
    pub(crate) derivation_fn: Option<Value>,
    /// Hash-modulo results and records of derivations created so far.
    pub(crate) derivations: crate::derivation::DerivationCache,
    pub(crate) xml_seen: std::collections::HashSet<String>,
    /// Attribute names as string values, made once per name and shared
    /// (`attrNames`, the names `mapAttrs` and `zipAttrsWith` pass); see
    /// [`EvalState::name_string`].
    pub(crate) name_strings: crate::name_strings::NameStrings,
    /// Counters for `NIXKIT_SHOW_STATS` and the stack guard's depth.
    pub(crate) stats: crate::stats::Stats,
    /// Scopes of finished one-argument lambda calls that nothing captured,
    /// kept (emptied) for the next calls, at most [`SPARE_SCOPES`]: a
    /// stack, because calls nest (`fib` takes one on entry and gives it
    /// back on return, so its two recursive calls need two). See
    /// [`crate::thunk::Env::reuse_one`].
    pub(crate) spare_envs: Vec<Arc<Env>>,
    /// The same for the two scopes of `a: b: body` called with both
    /// arguments (`foldl' f`, `mod a b`): see [`crate::thunk::Env::reuse_two`].
    pub(crate) spare_env2s: Vec<Arc<Env>>,
    /// Scopes that may sit in reference cycles, for the cycle collector.
    pub(crate) cycles: crate::cycles::CycleRegistry,
    /// Whether this evaluator may be evaluating, as the process's cycle
    /// collectors see it (a collection runs only while no other one is).
    pub(crate) activity: crate::activity::Activity,
}

/// Identifies a thunk while it is being evaluated.
fn thunk_id(t: &Arc<Thunk>) -> usize {
    Arc::as_ptr(t) as usize
}

/// `Ok(v.clone())`, written straight into the caller's result. Inlined,
/// the derived (out-of-line) clone wrote the copy to a stack slot as two
/// words that were then read back as one 16-byte move: a store-forwarding
/// stall on every variable read. Out of line itself, this function gets the
/// caller's result slot and writes each word once.
#[inline(never)]
pub(crate) fn ok_cloned(v: &Value) -> EvalResult<Value> {
    Ok(v.clone_inline())
}

pub(crate) fn infinite_recursion() -> EvalError {
    EvalError::new(
        ErrorKind::InfiniteRecursion,
        "infinite recursion encountered",
    )
}

impl EvalState {
    /// Forces a value to weak head normal form.
    #[inline]
    pub fn force(&mut self, v: &Value) -> EvalResult<Value> {
        self.force_at(v, Pos::NONE)
    }

    /// Forces a value; `pos` is where, for the position of an infinite
    /// recursion detected right here (CppNix's `forceValue(v, pos)`).
    #[inline]
    pub(crate) fn force_at(&mut self, v: &Value, pos: Pos) -> EvalResult<Value> {
        match v {
            // The fast path (already evaluated) stays inline.
            Value::Thunk(t) => match t.get() {
                Some(v) => ok_cloned(v),
                None => self.force_thunk(t, pos),
            },
            v => ok_cloned(v),
        }
    }

    pub(crate) fn force_thunk(&mut self, t: &Arc<Thunk>, pos: Pos) -> EvalResult<Value> {
        match self.force_thunk_ref(t, pos) {
            Ok(v) => ok_cloned(v),
            Err(e) => Err(e),
        }
    }

    /// Forces a value and lends the result in place: from the thunk's
    /// cell, which lives as long as `v` (no reference count up and down
    /// for a caller that only reads it).
    #[inline]
    pub(crate) fn force_ref<'v>(&mut self, v: &'v Value, pos: Pos) -> EvalResult<&'v Value> {
        match v {
            Value::Thunk(t) => match t.get() {
                Some(v) => Ok(v),
                None => self.force_thunk_ref(t, pos),
            },
            v => Ok(v),
        }
    }

    /// Evaluates a thunk (if it is not yet) and lends its value.
    pub(crate) fn force_thunk_ref<'t>(
        &mut self,
        t: &'t Arc<Thunk>,
        pos: Pos,
    ) -> EvalResult<&'t Value> {
        if let Some(v) = t.get() {
            return Ok(v);
        }
        self.step()?;
        let (claim, code) = match t.take() {
            Ok(claimed) => claimed,
            Err(NotTaken::Done(v)) => return Ok(v),
            Err(NotTaken::Failed(failure)) => return Err(failure.clone()),
            Err(NotTaken::Running) => {
                return Err(infinite_recursion().at(pos).entering(thunk_id(t)))
            }
        };
        let result = self.guarded(|s| s.run(&code, t.index()));
        match result {
            Ok(v) => {
                drop(code);
                Ok(claim.finish(v))
            }
            Err(e) => {
                if matches!(e.kind(), ErrorKind::Cancelled | ErrorKind::StepLimit) {
                    // Not a property of the thunk: it can be forced again.
                    claim.restore(code);
                    return Err(e);
                }
                // Mark where the cycle starts: this thunk is the one found
                // being evaluated again.
                let e = if e.recursion_entered_at(thunk_id(t)) {
                    e.with_context_frame("entering the infinite recursion")
                } else {
                    e
                };
                drop(code);
                claim.fail(e.clone());
                Err(e)
            }
        }
    }

    /// A function value to call: borrowed when it is not a thunk (a
    /// closure shared by many thunks is not cloned for each call).
    #[inline]
    fn force_fn<'v>(&mut self, f: &'v Value) -> EvalResult<std::borrow::Cow<'v, Value>> {
        match f.forced() {
            Some(f) => Ok(std::borrow::Cow::Borrowed(f)),
            None => self.force(f).map(std::borrow::Cow::Owned),
        }
    }

    /// Runs a thunk's code. An expression (nearly every thunk) is run here;
    /// the other kinds, with larger locals, in [`EvalState::run_other`], so
    /// that this frame, one per level of a chain of thunks, stays small.
    #[inline(never)]
    fn run(&mut self, code: &Code, index: u32) -> EvalResult<Value> {
        match code {
            // Already under `guarded` (see `force_thunk_ref`): straight to the
            // node, without a second stack-guard step.
            Code::Expr(e, env) => self.eval_inner(e, env),
            Code::Other(other) => self.run_other(other, index),
        }
    }

    /// Runs the rarer kinds of code; `index` is the thunk's (see
    /// [`Code::Other`]).
    #[inline(never)]
    fn run_other(&mut self, code: &OtherCode, index: u32) -> EvalResult<Value> {
        match code {
            OtherCode::Call(call) => {
                let (f, args, pos) = &**call;
                let f = self.force_fn(f)?;
                self.call(&f, args, *pos)
            }
            OtherCode::SelectFromSet(attrs, from) => self.select_inherited(attrs, from),
            OtherCode::SelectFromThunk(t, from) => {
                let attrs = match self.force_thunk_ref(t, Pos::NONE)? {
                    Value::Attrs(a) => a,
                    other => return Err(type_error("a set", other).at(from.pos)),
                };
                self.select_inherited(attrs, from)
            }
            OtherCode::SelectFromValue(boxed) => {
                let (v, from) = &**boxed;
                let attrs = self.force_attrs_ref(v, from.pos)?;
                self.select_inherited(attrs, from)
            }
            OtherCode::Call1(call) => {
                let (f, arg, pos) = &**call;
                let f = self.force_fn(f)?;
                self.call(&f, std::slice::from_ref(arg), *pos)
            }
            OtherCode::MapList(shared) => {
                let (f, pos, list) = &**shared;
                let x = list.get(index as usize).cloned().unwrap_or(Value::Null);
                let f = self.force_fn(f)?;
                self.call1(&f, x, applied_pos(&f, *pos))
            }
            OtherCode::MapAttrs(shared) => {
                let (f, pos, attrs) = &**shared;
                let (name, value) = match attrs.at(index as usize) {
                    Some(a) => (self.name_string(a.name), a.value.clone()),
                    None => (Value::Null, Value::Null),
                };
                let f = self.force_fn(f)?;
                // CppNix's `mapAttrs` leaves its function unforced, so the
                // application's position is not the lambda's (see `applied_pos`).
                self.call2(&f, name, value, *pos)
            }
            OtherCode::CallIndex(f, pos) => {
                let f = self.force_fn(f)?;
                self.call1(&f, Value::Int(i64::from(index)), applied_pos(&f, *pos))
            }
            OtherCode::ZipAttrs(shared) => {
                let (f, pos, entries) = &**shared;
                let (name, values) = match entries.get(index as usize) {
                    Some((name, values)) => (self.name_string(*name), Value::List(values.clone())),
                    None => (Value::Null, Value::Null),
                };
                let f = self.force_fn(f)?;
                self.call2(&f, name, values, applied_pos(&f, *pos))
            }
        }
    }

    /// The attribute `from.name` of `attrs` (`inherit (e) name`), forced.
    fn select_inherited(
        &mut self,
        attrs: &Attrs,
        from: &crate::compile::InheritedFrom,
    ) -> EvalResult<Value> {
        match attrs.get(from.name) {
            Some(x) => self.force(x),
            None => Err(missing_attr(from.name, attrs).at(from.pos)),
        }
    }

    /// A thunk (or a ready value) for `e` in `env`.
    ///
    /// Like CppNix's `maybeThunk`, no thunk is allocated when the value is
    /// already known: constants, functions, variables bound to a value.
    pub(crate) fn delay(&self, e: &Arc<Expr>, env: &Arc<Env>) -> Value {
        match &e.kind {
            ExprKind::Const(v) => {
                bump(&self.stats.thunks_avoided, 1);
                return v.clone();
            }
            ExprKind::Local { .. } | ExprKind::LocalFar { .. } => {
                if let Some((scope, v)) = local_slot(e, env) {
                    bump(&self.stats.thunks_avoided, 1);
                    // An evaluated thunk is passed on as its value (the two
                    // are indistinguishable): later copies of it (`//`,
                    // lists) need no reference count for scalars, readers
                    // skip an indirection, and the thunk can be freed.
                    return Env::slot_value(v, scope);
                }
            }
            ExprKind::Lambda(l) => {
                bump(&self.stats.thunks_avoided, 1);
                return Closure::value(l.clone(), env.clone());
            }
            _ => {}
        }
        bump(&self.stats.thunks, 1);
        Value::Thunk(Arc::new(Thunk::new(Code::Expr(e.clone(), env.clone()))))
    }

    /// [`EvalState::delay`] for an argument the callee forces first (see
    /// `strict`): integer arithmetic on known integers (`n - 1` with `n`
    /// evaluated) is computed right away. It is pure and cannot fail
    /// (overflow and division by zero still get a thunk), so nothing can
    /// tell the difference, and it is much cheaper than the thunk.
    pub(crate) fn delay_strict(&self, e: &Arc<Expr>, env: &Arc<Env>) -> Value {
        if let ExprKind::Arith { .. }
        | ExprKind::Concat {
            force_string: false,
            ..
        } = &e.kind
        {
            if let Some(v) = crate::strict::known_int_expr(e, env, 3) {
                bump(&self.stats.thunks_avoided, 1);
                return v;
            }
        }
        self.delay(e, env)
    }

    /// A thunk applying `f` to `args`.
    pub(crate) fn delay_call(f: Value, mut args: Vec<Value>, pos: Pos) -> Value {
        let code = match args.pop() {
            Some(arg) if args.is_empty() => OtherCode::Call1(Box::new((f, arg, pos))),
            Some(arg) => {
                args.push(arg);
                OtherCode::Call(Box::new((f, args.into_boxed_slice(), pos)))
            }
            None => OtherCode::Call(Box::new((f, Box::default(), pos))),
        };
        Value::Thunk(Arc::new(Thunk::new(code.into())))
    }

    /// Evaluates `e` in `env` to weak head normal form.
    #[inline]
    pub(crate) fn eval(&mut self, e: &Expr, env: &Arc<Env>) -> EvalResult<Value> {
        // A variable bound to an evaluated value needs neither the stack
        // guard nor a trip through `eval_inner` (forcing a thunk is guarded
        // by `force_thunk` itself).
        if let Some(v) = evaluated_local(e, env) {
            return ok_cloned(v);
        }
        self.guarded(|s| s.eval_inner(e, env))
    }

    /// Runs a step of the evaluator's recursion (evaluating a subexpression,
    /// forcing a thunk, a nested step of a deep traversal). Checking the
    /// remaining stack costs a call into `stacker`, so it is done only every
    /// [`STACK_CHECK_EVERY`] levels; [`RED_ZONE`] covers the levels between.
    #[inline(always)]
    pub(crate) fn guarded<R>(&mut self, f: impl FnOnce(&mut EvalState) -> R) -> R {
        let depth = self.stats.depth.get().wrapping_add(1);
        self.stats.depth.set(depth);
        let r = if depth % STACK_CHECK_EVERY == 0 {
            with_stack(|| f(self))
        } else {
            f(self)
        };
        self.stats.depth.set(depth.wrapping_sub(1));
        r
    }

    fn eval_inner(&mut self, e: &Expr, env: &Arc<Env>) -> EvalResult<Value> {
        let tail = OnceCell::new();
        let result = self.eval_tail(e, env, &tail);
        if let Some(TailScope::Let(scope)) = tail.into_inner() {
            self.release_scope(scope);
        }
        result
    }

    /// The body of [`EvalState::eval_inner`]. A branch of `if`, the body of
    /// `assert` and the body of the outermost `let` or `with` are in tail
    /// position: they are evaluated by this same call (the loop) instead of
    /// a nested one, so that a recursion through them (`f = n: if … then …
    /// else f …`; a chain of thunks each a function body `let …; in if …`,
    /// as a fold of `recursiveUpdate` makes) takes one frame of this large
    /// function per level fewer. The scope of that `let` or `with` is kept
    /// in `tail` (set at most once, so `env` can borrow from it), which the
    /// caller releases after the result.
    #[inline(always)]
    fn eval_tail<'t>(
        &mut self,
        e: &'t Expr,
        env: &'t Arc<Env>,
        tail: &'t OnceCell<TailScope>,
    ) -> EvalResult<Value> {
        let mut e = e;
        let mut env = env;
        loop {
            return match &e.kind {
                ExprKind::Const(v) => self.force(v),
                ExprKind::Local { .. } | ExprKind::LocalFar { .. } => {
                    let (scope, v) = local_slot(e, env).ok_or_else(|| {
                        EvalError::eval("internal error: unbound variable slot").at(e.pos)
                    })?;
                    match Env::own_lambda(v) {
                        Some(l) => Ok(Closure::value(l.clone(), scope.clone())),
                        None => self.force_at(v, e.pos),
                    }
                }
                ExprKind::WithVar { depth, name } => {
                    let v = self.lookup_with(env, *depth, *name, e.pos)?;
                    self.force_at(v, e.pos)
                }
                ExprKind::Undefined(name) => {
                    Err(EvalError::eval(format!("undefined variable '{name}'")).at(e.pos))
                }
                ExprKind::Select {
                    expr,
                    path,
                    default,
                } => self.eval_select(e.pos, expr, path, default.as_ref(), env),
                ExprKind::HasAttr { expr, path } => {
                    let mut holder = None;
                    let mut cur =
                        self.eval_operand_ref(expr, env, "in the argument of '?'", &mut holder)?;
                    let mut owned;
                    for (i, key) in path.iter().enumerate() {
                        let name = self.key_name(key, env)?;
                        let Value::Attrs(a) = cur else {
                            return Ok(Value::Bool(false));
                        };
                        match a.get(name) {
                            // Only intermediate values are forced.
                            Some(x) if i + 1 < path.len() => match x.forced() {
                                Some(x) => cur = x,
                                None => {
                                    let next = self.force(x)?;
                                    owned = next;
                                    cur = &owned;
                                }
                            },
                            Some(_) => return Ok(Value::Bool(true)),
                            None => return Ok(Value::Bool(false)),
                        }
                    }
                    Ok(Value::Bool(true))
                }
                ExprKind::Attrs(a) => self.build_attrs(a, env, e.pos),
                ExprKind::List(items) => {
                    bump(&self.stats.lists, 1);
                    bump(&self.stats.list_elems, items.len() as u64);
                    Ok(Value::List(crate::value::List::from_exact(
                        items.iter().map(|x| self.delay(x, env)),
                    )))
                }
                ExprKind::Lambda(l) => Ok(Closure::value(l.clone(), env.clone())),
                ExprKind::Call { fun, args } => self.eval_call(fun, args, env, e.pos),
                ExprKind::Arith { op, prim, lhs, rhs } => {
                    self.eval_arith(*op, prim, lhs, rhs, env, e.pos)
                }
                ExprKind::Let(a, body) => {
                    let scope = self.build_let(a, env)?;
                    if tail.get().is_none() {
                        env = tail.get_or_init(|| TailScope::Let(scope)).scope();
                        e = body;
                        continue;
                    }
                    let result = self.eval(body, &scope);
                    self.release_scope(scope);
                    result
                }
                ExprKind::With {
                    env: attrs,
                    body,
                    outer_with,
                } => {
                    let scope = Env::with_scope(env, self.delay(attrs, env), *outer_with);
                    if tail.get().is_none() {
                        env = tail.get_or_init(|| TailScope::With(scope)).scope();
                        e = body;
                        continue;
                    }
                    self.eval(body, &scope)
                }
                ExprKind::If { cond, then_, else_ } => {
                    let b = self.eval_bool(cond, env, "while evaluating a branch condition")?;
                    e = if b { then_ } else { else_ };
                    continue;
                }
                ExprKind::Assert { cond, body, text } => {
                    if !self.eval_bool(cond, env, "in the condition of the assert statement")? {
                        if let ExprKind::Binary {
                            op: BinaryOp::Eq,
                            lhs,
                            rhs,
                        } = &cond.kind
                        {
                            // CppNix explains why the equality failed.
                            let l = self.eval(lhs, env)?;
                            let r = self.eval(rhs, env)?;
                            if let Err(err) = self.assert_equal(&l, &r, cond.pos) {
                                if err.kind() != ErrorKind::Assert {
                                    return Err(err);
                                }
                                return Err(err.with_frame(
                                    format!(
                                        "while evaluating the condition of the assertion '{text}'"
                                    ),
                                    e.pos,
                                ));
                            }
                        }
                        return Err(EvalError::new(
                            ErrorKind::Assert,
                            format!("assertion '{text}' failed"),
                        )
                        .at(e.pos));
                    }
                    e = body;
                    continue;
                }
                ExprKind::Not(x) => Ok(Value::Bool(!self.eval_bool(
                    x,
                    env,
                    "in the argument of '!'",
                )?)),
                ExprKind::Binary { op, lhs, rhs } => self.eval_binary(*op, lhs, rhs, env, e.pos),
                ExprKind::Concat {
                    force_string: true,
                    parts,
                    part_pos,
                } => self.concat_strings(None, parts, part_pos, env, e.pos),
                ExprKind::Concat {
                    force_string: false,
                    parts,
                    part_pos,
                } => self.eval_add(parts, part_pos, env, e.pos),
                ExprKind::InheritFrom | ExprKind::Error => {
                    Err(EvalError::eval("internal error: expression cannot be evaluated").at(e.pos))
                }
            };
        }
    }

    /// Evaluates a Boolean operand; any error gets the `context` frame at
    /// the operand (CppNix's `evalBool`).
    pub(crate) fn eval_bool(
        &mut self,
        e: &Expr,
        env: &Arc<Env>,
        context: &'static str,
    ) -> EvalResult<bool> {
        match self.eval(e, env) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(type_error("a Boolean", &other)
                .at(e.pos)
                .with_frame(context, e.pos)),
            Err(err) => Err(err.with_frame(context, e.pos)),
        }
    }

    /// Evaluates an operand; any error gets the `context` frame at the
    /// operand (CppNix's `Expr::eval` with an error context).
    pub(crate) fn eval_operand(
        &mut self,
        e: &Expr,
        env: &Arc<Env>,
        context: &'static str,
    ) -> EvalResult<Value> {
        self.eval(e, env)
            .map_err(|err| err.with_frame(context, e.pos))
    }

    /// [`EvalState::eval_operand`] for a caller that only reads the value: a
    /// variable bound to an evaluated value is lent in place (no reference
    /// counting); anything else is evaluated into `holder` and lent from
    /// there. So is a constant.
    pub(crate) fn eval_operand_ref<'a>(
        &mut self,
        e: &'a Expr,
        env: &'a Arc<Env>,
        context: &'static str,
        holder: &'a mut Option<Value>,
    ) -> EvalResult<&'a Value> {
        if let Some(v) = evaluated_local(e, env) {
            return Ok(v);
        }
        if let ExprKind::Const(v) = &e.kind {
            if let Some(v) = v.forced() {
                return Ok(v);
            }
        }
        let v = self.eval_operand(e, env, context)?;
        Ok(holder.insert(v))
    }

    fn lookup_with<'e>(
        &mut self,
        env: &'e Arc<Env>,
        depth: u32,
        name: Symbol,
        pos: Pos,
    ) -> EvalResult<&'e Value> {
        // The chain is walked by reference: each `with` set is forced in
        // place and searched there, and the value found is lent, without
        // reference counting per scope.
        let mut scope = env.up(depth);
        while let Some(s) = scope {
            let slot = s.slot(0).unwrap_or(&Value::Null);
            match self.force_ref(slot, Pos::NONE)? {
                Value::Attrs(attrs) => {
                    if let Some(v) = attrs.get(name) {
                        return Ok(v);
                    }
                }
                other => return Err(with_not_a_set(other, pos)),
            }
            scope = match s.with_outer() {
                Some(d) => s.up(d),
                None => None,
            };
        }
        Err(EvalError::eval(format!("undefined variable '{name}'")).at(pos))
    }

    /// The name of an attribute path element.
    pub(crate) fn key_name(&mut self, key: &Key, env: &Arc<Env>) -> EvalResult<Symbol> {
        match key {
            Key::Static(s) => Ok(*s),
            Key::Dynamic(e, _) => {
                let v = self.eval(e, env)?;
                match &v {
                    Value::String(s) => Ok(s.symbol()),
                    _ => Err(type_error("a string", &v)
                        .at(e.pos)
                        .with_frame("while evaluating an attribute name", e.pos)),
                }
            }
        }
    }

    /// An attribute path as CppNix shows it in traces (`a.b."${e}"`): only
    /// computed when an error is reported; dynamic names are evaluated again,
    /// and shown as source when that fails.
    pub(crate) fn show_attr_path(&mut self, path: &[Key], env: &Arc<Env>) -> String {
        let mut out = String::new();
        for (i, key) in path.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            match (key, self.key_name(key, env)) {
                (_, Ok(name)) => out.push_str(name.as_str()),
                (Key::Dynamic(_, text), Err(_)) => {
                    out.push_str("\"${");
                    out.push_str(text);
                    out.push_str("}\"");
                }
                (Key::Static(s), Err(_)) => out.push_str(s.as_str()),
            }
        }
        out
    }

    /// Prints a `trace:`/`warning:` line.
    pub(crate) fn message(&self, text: &str) {
        (self.messages)(text);
    }
}

/// The scope whose body [`EvalState::eval_tail`] evaluates in tail position.
enum TailScope {
    /// A `let`'s: released with [`EvalState::release_scope`] after the result.
    Let(Arc<Env>),
    /// A `with`'s: dropped.
    With(Arc<Env>),
}

impl TailScope {
    fn scope(&self) -> &Arc<Env> {
        match self {
            TailScope::Let(scope) | TailScope::With(scope) => scope,
        }
    }
}

/// The error for a `with` whose expression is not a set.
fn with_not_a_set(v: &Value, pos: Pos) -> EvalError {
    EvalError::eval(format!(
        "expected a set but found {}: {}",
        v.show_type(),
        crate::print::show_for_error(v)
    ))
    .at(pos)
}

/// The value of `e` if it is a variable bound to an evaluated value (read in
/// place: no reference counting, no evaluation step).
#[inline]
pub(crate) fn evaluated_local<'a>(e: &Expr, env: &'a Arc<Env>) -> Option<&'a Value> {
    match &e.kind {
        // A lambda in its own scope's slot is not a value as it stands
        // (see `Env::own_lambda`): the caller evaluates the variable. (A
        // thunk's value never is one: such lambdas are only ever stored in
        // slots directly.)
        ExprKind::Local { depth, slot } => match env.up(*depth)?.slot(*slot)? {
            Value::Thunk(t) => t.get(),
            v if Env::own_lambda(v).is_some() => None,
            v => Some(v),
        },
        ExprKind::LocalFar { .. } => evaluated_local_far(e, env),
        _ => None,
    }
}

/// [`evaluated_local`] for `LocalFar`, out of line.
#[inline(never)]
fn evaluated_local_far<'a>(e: &Expr, env: &'a Arc<Env>) -> Option<&'a Value> {
    local_slot(e, env)
        .and_then(|(_, v)| v.forced())
        .filter(|v| Env::own_lambda(v).is_none())
}

/// The slot of a variable (`Local` or `LocalFar`), evaluated or not, and
/// the scope it is in.
#[inline]
pub(crate) fn local_slot<'a>(e: &Expr, env: &'a Arc<Env>) -> Option<(&'a Arc<Env>, &'a Value)> {
    let scope = match &e.kind {
        ExprKind::Local { depth, .. } => env.up(*depth)?,
        ExprKind::LocalFar { depth, .. } => env.up_far(*depth)?,
        _ => return None,
    };
    let (ExprKind::Local { slot, .. } | ExprKind::LocalFar { slot, .. }) = &e.kind else {
        return None;
    };
    Some((scope, scope.slot(*slot)?))
}

/// The call position of a function applied lazily by a builtin that forced
/// the function first (an element of `map`, `genList` or `zipAttrsWith`):
/// CppNix keeps such an element as an application and, forcing it, takes
/// its position from the function (`Value::determinePos`): a lambda's own
/// position, else `pos`.
fn applied_pos(f: &Value, pos: Pos) -> Pos {
    match f {
        Value::Lambda(c) => c.lambda.pos,
        _ => pos,
    }
}
