//! Function application: lambdas (with formals), builtins (with partial
//! application) and `__functor` sets, plus the call depth limit.

use triomphe::Arc;

use crate::compile::{Expr, ExprKind, LambdaExpr};
use crate::error::{ErrorKind, EvalError, EvalResult};
use crate::eval::{evaluated_local, local_slot, type_error, EvalState};
use crate::print::show_for_error;
use crate::source::Pos;
use crate::stats::bump;
use crate::thunk::{Env, Thunk};
use crate::value::{Closure, PrimOpApp, Value};

impl EvalState {
    /// [`EvalState::call`] with one argument given by value: a lambda's
    /// scope takes it over (no reference count up and down for a copy).
    #[inline]
    pub(crate) fn call1(&mut self, f: &Value, arg: Value, pos: Pos) -> EvalResult<Value> {
        if let Value::Lambda(c) = f {
            return self.call_lambda(&c.lambda, &c.env, arg, pos);
        }
        self.call(f, std::slice::from_ref(&arg), pos)
    }

    /// [`EvalState::call`] with two arguments given by value (see
    /// [`EvalState::call1`]).
    #[inline]
    pub(crate) fn call2(&mut self, f: &Value, a: Value, b: Value, pos: Pos) -> EvalResult<Value> {
        if let Value::Lambda(c) = f {
            if let Some(inner) = c.lambda.curried_inner() {
                return self.call_lambda2(&c.lambda, &c.env, inner, a, b, pos);
            }
        }
        self.call(f, &[a, b], pos)
    }

    /// Applies a (forced) function to arguments.
    pub fn call(&mut self, f: &Value, args: &[Value], pos: Pos) -> EvalResult<Value> {
        // The common case: one argument to a lambda, without cloning it.
        if let (Value::Lambda(c), [arg]) = (f, args) {
            return self.call_lambda(&c.lambda, &c.env, arg.clone(), pos);
        }
        // `a: b: body` with both arguments: both scopes at once, reused
        // when nothing captured them.
        if let (Value::Lambda(c), [a, b]) = (f, args) {
            if let Some(inner) = c.lambda.curried_inner() {
                return self.call_lambda2(&c.lambda, &c.env, inner, a.clone(), b.clone(), pos);
            }
        }
        if let (Value::Lambda(f), [a, b, c]) = (f, args) {
            if let Some((inner, third)) = f.lambda.curried_third() {
                let args = [a.clone(), b.clone(), c.clone()];
                return self.call_lambda3(&f.lambda, &f.env, [inner, third], args, pos);
            }
        }
        match f {
            // A builtin given exactly its arguments (`head values`).
            Value::PrimOp(op) if usize::from(op.arity) == args.len() => {
                self.call_primop(op, args, pos)
            }
            // A builtin partly applied and now given exactly the arguments it
            // lacks (`at i` with `at = elemAt xs`): called without cloning it.
            Value::PrimOpApp(app)
                if app.args.len() + args.len() == usize::from(app.op.arity)
                    && app.op.arity <= 4 =>
            {
                self.call_primop_app(app, args, pos)
            }
            _ => self.call_general(f, args, pos),
        }
    }

    /// [`EvalState::call`] of any other shape: several arguments applied one
    /// after another, partial application, `__functor`, errors. Out of line,
    /// so that the common calls above (on the stack twice in each level of
    /// a thunk chain) keep a small frame.
    #[inline(never)]
    fn call_general(&mut self, f: &Value, args: &[Value], pos: Pos) -> EvalResult<Value> {
        let mut f = f.clone();
        let mut rest = args;
        // The inner lambda of `a: b: …` reached by binding an argument, and
        // its scope: called with the next argument without building the
        // closure in between.
        let mut inner_lambda: Option<(Arc<LambdaExpr>, Arc<Env>)> = None;
        while let Some((arg, tail)) = rest.split_first() {
            if let Some((l, env)) = inner_lambda.take() {
                self.apply_lambda_step(&l, &env, arg, tail, pos, &mut f, &mut inner_lambda)?;
                rest = tail;
                continue;
            }
            match &f {
                Value::Lambda(c) => {
                    let c = c.clone();
                    self.apply_lambda_step(
                        &c.lambda,
                        &c.env,
                        arg,
                        tail,
                        pos,
                        &mut f,
                        &mut inner_lambda,
                    )?;
                    rest = tail;
                }
                Value::PrimOp(op) => {
                    let arity = usize::from(op.arity);
                    if rest.len() < arity {
                        return Ok(Value::PrimOpApp(Arc::new(PrimOpApp {
                            op,
                            args: rest.to_vec(),
                        })));
                    }
                    let (now, later) = rest.split_at(arity);
                    f = self.call_primop(op, now, pos)?;
                    rest = later;
                }
                Value::PrimOpApp(app) => {
                    let op = app.op;
                    let missing = usize::from(op.arity) - app.args.len();
                    if rest.len() < missing {
                        let mut all = app.args.clone();
                        all.extend_from_slice(rest);
                        return Ok(Value::PrimOpApp(Arc::new(PrimOpApp { op, args: all })));
                    }
                    let (now, later) = rest.split_at(missing);
                    let arity = usize::from(op.arity);
                    f = if arity <= 4 {
                        self.call_primop_app(app, now, pos)?
                    } else {
                        let mut all = app.args.clone();
                        all.extend_from_slice(now);
                        self.call_primop(op, &all, pos)?
                    };
                    rest = later;
                }
                Value::Attrs(a) => {
                    let Some(functor) = a.get(sym!("__functor")).cloned() else {
                        return Err(not_a_function(&f).at(pos));
                    };
                    let functor = self.force(&functor).map_err(|e| {
                        e.with_frame("while evaluating the attribute '__functor'", pos)
                    })?;
                    let g = self.call(&functor, std::slice::from_ref(&f), pos)?;
                    f = self.call(&g, std::slice::from_ref(arg), pos)?;
                    rest = tail;
                }
                _ => return Err(not_a_function(&f).at(pos)),
            }
        }
        if let Some((l, env)) = inner_lambda {
            return Ok(Closure::value(l, env));
        }
        Ok(f)
    }

    /// Applies lambda `l` (closing over `env`) to `arg`, with `tail` the
    /// arguments still to come. For `a: b: …` with more arguments to come,
    /// only binds `arg` and leaves the inner lambda and its scope in
    /// `inner` (evaluating the body would only build that closure);
    /// otherwise calls it and leaves the result in `f`.
    #[allow(clippy::too_many_arguments)]
    fn apply_lambda_step(
        &mut self,
        l: &Arc<LambdaExpr>,
        env: &Arc<Env>,
        arg: &Value,
        tail: &[Value],
        pos: Pos,
        f: &mut Value,
        inner: &mut Option<(Arc<LambdaExpr>, Arc<Env>)>,
    ) -> EvalResult<()> {
        if let (crate::compile::ExprKind::Lambda(next), [_, ..]) = (&l.body.kind, tail) {
            let scope = self.enter_lambda(l, env, arg.clone(), pos)?;
            *inner = Some((next.clone(), scope));
        } else {
            *f = self.call_lambda(l, env, arg.clone(), pos)?;
        }
        Ok(())
    }

    /// Calls the builtin of `app` (arity at most 4) with its stored
    /// arguments followed by `now`, which completes them: the arguments on
    /// the stack.
    fn call_primop_app(&mut self, app: &PrimOpApp, now: &[Value], pos: Pos) -> EvalResult<Value> {
        let arity = usize::from(app.op.arity);
        let mut all = [Value::Null, Value::Null, Value::Null, Value::Null];
        for (slot, v) in all.iter_mut().zip(app.args.iter().chain(now)) {
            *slot = v.clone();
        }
        self.call_primop(app.op, &all[..arity.min(4)], pos)
    }

    fn call_primop(
        &mut self,
        op: &'static crate::value::PrimOp,
        args: &[Value],
        pos: Pos,
    ) -> EvalResult<Value> {
        // Like CppNix, primops report their errors without position: the
        // call site is shown once, by the "while calling" frame.
        crate::stats::bump(&self.stats.primop_calls, 1);
        self.step()?;
        // A builtin's call counts towards `max-call-depth` as a lambda's
        // does (CppNix counts every application).
        if self.call_depth > self.settings.max_call_depth {
            return Err(stack_overflow().at(pos));
        }
        self.call_depth += 1;
        let result = (op.func)(self, args, Pos::NONE);
        self.call_depth -= 1;
        result.map_err(|e| {
            // `addErrorContext` adds its own frame instead (CppNix registers
            // it without the "while calling" one).
            if op.name == "addErrorContext" {
                return e;
            }
            let name = crate::extra::display_name(self, op, args);
            e.with_frame(format!("while calling the '{name}' builtin"), pos)
        })
    }

    /// Calls a lambda with one argument.
    pub(crate) fn call_lambda(
        &mut self,
        l: &Arc<LambdaExpr>,
        closure: &Arc<Env>,
        arg: Value,
        pos: Pos,
    ) -> EvalResult<Value> {
        let env = self.enter_lambda(l, closure, arg, pos)?;
        self.call_depth += 1;
        let result = self.eval(&l.body, &env);
        self.call_depth -= 1;
        // Nothing captured the scope (no thunk or closure refers to it):
        // keep it, emptied, for the next call instead of freeing it.
        let mut env = env;
        if l.formals.is_none() {
            if self.spare_envs.len() < crate::eval::SPARE_SCOPES && Env::clear_one(&mut env) {
                self.spare_envs.push(env);
            }
        } else {
            // Defaults never used refer to the scope that holds them.
            self.release_scope(env);
        }
        result.map_err(|e| self.call_frames(l, e, pos))
    }

    /// The trace frames of an error raised in a lambda's body.
    fn call_frames(&self, l: &LambdaExpr, e: EvalError, pos: Pos) -> EvalError {
        if !self.settings.show_trace {
            return e;
        }
        let what = match l.name {
            Some(n) => format!("while calling '{n}'"),
            None => "while calling anonymous lambda".to_string(),
        };
        let e = e.with_frame(what, l.pos);
        if pos.is_none() {
            e
        } else {
            e.with_frame("from call site", pos)
        }
    }

    /// `a: b: body` (no formals) applied to two arguments: what `call` and
    /// `call_lambda` would do, without building the intermediate closure,
    /// and with both scopes kept for the next such call when nothing
    /// captured them.
    pub(crate) fn call_lambda2(
        &mut self,
        l: &Arc<LambdaExpr>,
        closure: &Arc<Env>,
        inner: &Arc<LambdaExpr>,
        a: Value,
        b: Value,
        pos: Pos,
    ) -> EvalResult<Value> {
        self.count_call(l, pos)?;
        self.count_call(inner, pos)?;
        let env = self.bind_two(closure, a, b);
        self.call_depth += 1;
        let result = self.eval(&inner.body, &env);
        self.call_depth -= 1;
        let mut env = env;
        if self.spare_env2s.len() < crate::eval::SPARE_SCOPES && Env::clear_two(&mut env) {
            self.spare_env2s.push(env);
        }
        result.map_err(|e| self.call_frames(inner, e, pos))
    }

    /// `a: b: c: …` (the first two without formals) applied to three
    /// arguments: the first two bound as [`EvalState::call_lambda2`] binds
    /// them, then the third lambda called, without the two intermediate
    /// closures the general loop of `call` would build.
    pub(crate) fn call_lambda3(
        &mut self,
        l: &Arc<LambdaExpr>,
        closure: &Arc<Env>,
        [inner, third]: [&Arc<LambdaExpr>; 2],
        [a, b, c]: [Value; 3],
        pos: Pos,
    ) -> EvalResult<Value> {
        self.count_call(l, pos)?;
        self.count_call(inner, pos)?;
        let env = self.bind_two(closure, a, b);
        let result = self.call_lambda(third, &env, c, pos);
        let mut env = env;
        if self.spare_env2s.len() < crate::eval::SPARE_SCOPES && Env::clear_two(&mut env) {
            self.spare_env2s.push(env);
        }
        result
    }

    /// The checks and counting of a lambda call, and its scope with the
    /// argument bound (everything before evaluating the body).
    fn enter_lambda(
        &mut self,
        l: &Arc<LambdaExpr>,
        closure: &Arc<Env>,
        arg: Value,
        pos: Pos,
    ) -> EvalResult<Arc<Env>> {
        self.count_call(l, pos)?;
        self.bind_arguments(l, closure, arg, pos)
    }

    /// Runs a recursive step of a deep traversal (`toJSON`, `==`, …):
    /// counts towards `max-call-depth` (a level past the limit fails, as in
    /// CppNix) and grows the stack as needed.
    pub(crate) fn nested<R>(
        &mut self,
        f: impl FnOnce(&mut EvalState) -> EvalResult<R>,
    ) -> EvalResult<R> {
        self.nested_below(self.settings.max_call_depth, Pos::NONE, f)
    }

    /// [`EvalState::nested`] for the value defined at `pos`, where the
    /// overflow is reported (CppNix's `toJSON`).
    pub(crate) fn nested_at<R>(
        &mut self,
        pos: Pos,
        f: impl FnOnce(&mut EvalState) -> EvalResult<R>,
    ) -> EvalResult<R> {
        self.nested_below(self.settings.max_call_depth, pos, f)
    }

    /// A level of `deepSeq`'s (and `--strict` printing's) traversal, which
    /// CppNix lets reach one level further: the call that forces a value at
    /// the limit is what fails, at that call's position.
    pub(crate) fn nested_deep<R>(
        &mut self,
        f: impl FnOnce(&mut EvalState) -> EvalResult<R>,
    ) -> EvalResult<R> {
        self.nested_below(self.settings.max_call_depth.saturating_add(1), Pos::NONE, f)
    }

    fn nested_below<R>(
        &mut self,
        limit: u32,
        pos: Pos,
        f: impl FnOnce(&mut EvalState) -> EvalResult<R>,
    ) -> EvalResult<R> {
        if self.call_depth >= limit {
            return Err(crate::call::stack_overflow().at(pos));
        }
        self.call_depth += 1;
        let r = self.guarded(f);
        self.call_depth -= 1;
        r
    }

    /// The depth check, step and counters of entering a lambda.
    #[inline]
    fn count_call(&mut self, l: &LambdaExpr, pos: Pos) -> EvalResult<()> {
        if self.call_depth > self.settings.max_call_depth {
            return Err(stack_overflow().at(pos));
        }
        self.step()?;
        crate::stats::bump(&self.stats.function_calls, 1);
        crate::stats::bump(&self.stats.envs, 1);
        crate::stats::bump(&self.stats.env_slots, l.slot_count() as u64);
        Ok(())
    }

    /// The two scopes of `a: b: body` for a call with both arguments: a
    /// spare pair rebound in place, or a new one.
    fn bind_two(&mut self, closure: &Arc<Env>, a: Value, b: Value) -> Arc<Env> {
        if let Some(mut env) = self.spare_env2s.pop() {
            if let Some((aslot, bslot)) = Env::reuse_two(&mut env, closure) {
                *aslot = a;
                *bslot = b;
                return env;
            }
        }
        Env::with_two(closure, a, b)
    }

    fn bind_arguments(
        &mut self,
        l: &Arc<LambdaExpr>,
        closure: &Arc<Env>,
        arg: Value,
        pos: Pos,
    ) -> EvalResult<Arc<Env>> {
        let Some(formals) = &l.formals else {
            if let Some(mut env) = self.spare_envs.pop() {
                if let Some(slot) = Env::reuse_one(&mut env, closure) {
                    *slot = arg;
                    return Ok(env);
                }
            }
            return Ok(Env::with_one(closure, arg));
        };
        let attrs = match self.force(&arg) {
            Ok(Value::Attrs(a)) => a,
            forced => {
                let e = match forced {
                    Ok(other) => type_error("a set", &other),
                    Err(e) => e,
                };
                let e = e.with_frame(
                    "while evaluating the value passed for the lambda argument",
                    l.pos,
                );
                return Err(if pos.is_none() {
                    e
                } else {
                    e.with_frame("from call site", pos)
                });
            }
        };
        // The scope is only needed before its slots are known when a default
        // is evaluated in it; otherwise it is built complete, without the
        // synchronisation of a deferred fill.
        let mut env: Option<Arc<Env>> = None;
        let mut slots = Vec::with_capacity(l.slot_count());
        if l.arg.is_some() {
            slots.push(arg.clone());
        }
        let mut used = 0;
        for f in formals {
            match attrs.get(f.name) {
                Some(v) => {
                    used += 1;
                    // An evaluated thunk is bound as its value (as `delay`
                    // does for variables): reads skip the indirection.
                    slots.push(v.forced().unwrap_or(v).clone());
                }
                None => match &f.default {
                    Some(d) => {
                        // A default that names an earlier formal shares its
                        // value, as in CppNix.
                        let v = match d.kind {
                            crate::compile::ExprKind::Local { depth: 0, slot }
                                if (slot as usize) < slots.len() =>
                            {
                                slots[slot as usize].clone()
                            }
                            _ => {
                                let env = env.get_or_insert_with(|| Env::deferred(closure));
                                self.delay(d, env)
                            }
                        };
                        slots.push(v);
                    }
                    None => {
                        return Err(EvalError::eval(format!(
                            "function '{}' called without required argument '{}'",
                            lambda_name(l),
                            f.name
                        ))
                        .at(l.pos)
                        .with_frame("from call site", pos))
                    }
                },
            }
        }
        if !l.ellipsis && used < attrs.len() {
            for a in attrs.sorted_by_name() {
                if !formals.iter().any(|f| f.name == a.name) {
                    let msg = format!(
                        "function '{}' called with unexpected argument '{}'",
                        lambda_name(l),
                        a.name
                    );
                    let mut e = EvalError::eval(msg)
                        .at(l.pos)
                        .with_frame("from call site", pos);
                    if let Some(s) = crate::eval::suggestions(
                        a.name.as_str(),
                        formals.iter().map(|f| f.name.as_str()),
                    ) {
                        e = e.with_suggestion(s);
                    }
                    return Err(e);
                }
            }
        }
        Ok(match env {
            Some(env) => {
                env.fill(slots);
                env
            }
            None => Env::with_slots(closure, slots.into_boxed_slice()),
        })
    }

    /// `a - b`, `a * b`, `a / b`, `a < b` with the builtin not shadowed:
    /// integers inline, everything else (and every error) through the
    /// builtin, with the operands it would have forced already forced.
    pub(crate) fn eval_arith(
        &mut self,
        op: crate::compile::ArithOp,
        prim: &'static crate::value::PrimOp,
        lhs: &Arc<Expr>,
        rhs: &Arc<Expr>,
        env: &Arc<Env>,
        pos: Pos,
    ) -> EvalResult<Value> {
        if let (Some(a), Some(b)) = (
            crate::strict::known_int(lhs, env),
            crate::strict::known_int(rhs, env),
        ) {
            if let Some(v) = op.ints(a, b) {
                crate::stats::bump(&self.stats.arith_inline, 1);
                return Ok(v);
            }
        }
        // Operands that are evaluated variables are read in place (`a < b`
        // on two strings in a comparison function): no reference counting
        // unless the builtin is called.
        let (mut lh, mut rh) = (None, None);
        let l = match evaluated_local(lhs, env) {
            Some(v) => v,
            None => match self.eval(lhs, env) {
                Ok(v) => &*lh.insert(v),
                Err(e) => {
                    return self.call(
                        &Value::PrimOp(prim),
                        &[Thunk::failed(e), self.delay(rhs, env)],
                        pos,
                    )
                }
            },
        };
        let r = match evaluated_local(rhs, env) {
            Some(v) => v,
            None => match self.eval(rhs, env) {
                Ok(v) => &*rh.insert(v),
                Err(e) => {
                    return self.call(&Value::PrimOp(prim), &[l.clone(), Thunk::failed(e)], pos)
                }
            },
        };
        match (l, r) {
            (Value::Int(a), Value::Int(b)) => {
                if let Some(v) = op.ints(*a, *b) {
                    crate::stats::bump(&self.stats.arith_inline, 1);
                    return Ok(v);
                }
            }
            // `<` on strings compares their bytes, contexts ignored (as the
            // builtin does).
            (Value::String(a), Value::String(b)) if op == crate::compile::ArithOp::LessThan => {
                crate::stats::bump(&self.stats.arith_inline, 1);
                return Ok(Value::Bool(a.cmp_bytes(b).is_lt()));
            }
            _ => {}
        }
        self.call(&Value::PrimOp(prim), &[l.clone(), r.clone()], pos)
    }

    /// Calls a set's `__toString` attribute on the set itself, with CppNix's
    /// frame on failure; returns the result and the attribute's position.
    pub(crate) fn call_to_string_attr(
        &mut self,
        set: &Value,
        attr: &crate::value::Attr,
    ) -> EvalResult<(Value, Pos)> {
        let (f, at) = (attr.value.clone(), attr.pos);
        let r = self
            .apply(&f, std::slice::from_ref(set), at)
            .map_err(|e| e.with_frame("while calling the `__toString` attribute", at))?;
        Ok((r, at))
    }

    /// Evaluates a call `fun args…` (`ExprKind::Call`; inlined into
    /// `eval_inner`, of which it is the largest arm).
    #[inline(always)]
    pub(crate) fn eval_call(
        &mut self,
        fun: &Arc<Expr>,
        args: &[Arc<Expr>],
        env: &Arc<Env>,
        pos: Pos,
    ) -> EvalResult<Value> {
        // A function bound to a variable is called through a
        // reference: no reference-count traffic on the closure.
        let owned;
        // A `let`-bound function (see `Env::own_lambda`): its lambda
        // and the scope it was found in, called without making a
        // closure value.
        let mut own = None;
        let f = match &fun.kind {
            ExprKind::Local { .. } | ExprKind::LocalFar { .. } => match local_slot(fun, env) {
                Some((scope, v)) => match (Env::own_lambda(v), v.forced()) {
                    (Some(l), _) => {
                        own = Some((l, scope));
                        &Value::Null
                    }
                    (None, Some(f)) => f,
                    (None, None) => {
                        owned = self.eval(fun, env)?;
                        &owned
                    }
                },
                None => {
                    owned = self.eval(fun, env)?;
                    &owned
                }
            },
            // `lib.f x`: a function found by walking evaluated sets
            // is borrowed in place too.
            ExprKind::Select {
                expr,
                path,
                default: None,
            } => {
                let found = evaluated_local(expr, env)
                    .and_then(|base| crate::select::select_in_place(base, path))
                    .and_then(|(x, _, _)| x.forced());
                match found {
                    Some(f) => {
                        bump(&self.stats.lookups, path.len() as u64);
                        f
                    }
                    None => {
                        owned = self.eval(fun, env)?;
                        &owned
                    }
                }
            }
            _ => {
                owned = self.eval(fun, env)?;
                &owned
            }
        };
        let lambda = match (own, f) {
            (Some(found), _) => Some(found),
            (None, Value::Lambda(c)) => Some((&c.lambda, &c.env)),
            _ => None,
        };
        // The argument the callee forces first, if it is a lambda
        // that does (see `strict`).
        let strict = lambda
            .and_then(|(l, _)| l.strict_arg)
            .filter(|s| s.need as usize <= args.len())
            .map(|s| s.index as usize);
        let arg = |s: &Self, i: usize| {
            if strict == Some(i) {
                s.delay_strict(&args[i], env)
            } else {
                s.delay(&args[i], env)
            }
        };
        // The common shapes go straight to the lambda: one argument, or
        // both arguments of `a: b: body`.
        if let Some((l, closure)) = lambda {
            if args.len() == 1 {
                let a = arg(self, 0);
                return self.call_lambda(l, closure, a, pos);
            }
            if let (Some(inner), 2) = (l.curried_inner(), args.len()) {
                let (a, b) = (arg(self, 0), arg(self, 1));
                return self.call_lambda2(l, closure, inner, a, b, pos);
            }
            // `cmp: a: b: …`, `op: nul: list: …` given all three.
            if let (Some((inner, third)), 3) = (l.curried_third(), args.len()) {
                let (a, b, c) = (arg(self, 0), arg(self, 1), arg(self, 2));
                return self.call_lambda3(l, closure, [inner, third], [a, b, c], pos);
            }
        }
        // Any other call of a `let`-bound function goes through its value.
        let made;
        let f = match own {
            Some((l, scope)) => {
                made = Closure::value(l.clone(), scope.clone());
                &made
            }
            None => f,
        };
        // A builtin of one argument given a variable (`head xs`, `length
        // values`, `isAttrs x`) reads its slot in place, evaluated or not
        // (forcing the slot's thunk is what forcing a copy of it would do):
        // no reference counting on the argument. A constant too (`[]`).
        if let (Value::PrimOp(op), [arg]) = (f, args) {
            if op.arity == 1 && op.forces_first == Some(0) {
                let lent = match &arg.kind {
                    ExprKind::Const(v) => Some(v),
                    _ => local_slot(arg, env)
                        .map(|(_, v)| v)
                        .filter(|v| Env::own_lambda(v).is_none()),
                };
                if let Some(v) = lent {
                    return self.call(f, std::slice::from_ref(v), pos);
                }
                // Any other argument (`length (attrNames x)`, `head x.list`)
                // is evaluated right here instead of through a thunk.
                let v = self.forced_arg(arg, env);
                return self.call(f, std::slice::from_ref(&v), pos);
            }
        }
        // No argument vector for the common arities.
        match args.len() {
            n @ 1..=4 => {
                // `foldl' op nul list` and the like: the arguments on the
                // stack.
                // The argument a builtin forces first (`map f (attrNames
                // x)`: the list) is evaluated now, without a thunk.
                let first = match f {
                    Value::PrimOp(op) if usize::from(op.arity) == n => {
                        op.forces_first.map(usize::from)
                    }
                    _ => None,
                };
                let args_expr = args;
                let mut args = [Value::Null, Value::Null, Value::Null, Value::Null];
                for (i, slot) in args.iter_mut().take(n).enumerate() {
                    *slot = if first == Some(i) {
                        self.forced_arg(&args_expr[i], env)
                    } else {
                        arg(self, i)
                    };
                }
                self.call(f, &args[..n], pos)
            }
            n => {
                let args: Vec<Value> = (0..n).map(|i| arg(self, i)).collect();
                self.call(f, &args, pos)
            }
        }
    }

    /// The argument `e` of a builtin that forces it before anything else
    /// (`PrimOp::forces_first`): evaluated now, unless it needs no thunk
    /// anyway (a constant, a variable, a function). An error is handed to
    /// the builtin as a failed thunk, so that it reports it with its usual
    /// frames, at the point where it would have forced the argument.
    fn forced_arg(&mut self, e: &Arc<Expr>, env: &Arc<Env>) -> Value {
        match &e.kind {
            ExprKind::Const(_)
            | ExprKind::Local { .. }
            | ExprKind::LocalFar { .. }
            | ExprKind::Lambda(_) => self.delay(e, env),
            _ => self.eval(e, env).unwrap_or_else(Thunk::failed),
        }
    }

    /// Calls a value with arguments, forcing the function first.
    pub fn apply(&mut self, f: &Value, args: &[Value], pos: Pos) -> EvalResult<Value> {
        let f = self.force(f)?;
        self.call(&f, args, pos)
    }
}

fn lambda_name(l: &LambdaExpr) -> String {
    match l.name {
        Some(n) => n.as_str().to_string(),
        None => "anonymous lambda".to_string(),
    }
}

fn not_a_function(v: &Value) -> EvalError {
    EvalError::eval(format!(
        "attempt to call something which is not a function but {}: {}",
        v.show_type(),
        show_for_error(v)
    ))
}

/// The error of a call nested deeper than `max-call-depth`.
pub(crate) fn stack_overflow() -> EvalError {
    EvalError::new(
        ErrorKind::StackOverflow,
        "stack overflow; max-call-depth exceeded",
    )
}
