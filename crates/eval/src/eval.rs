//! The interpreter: [`EvalState`] and the evaluation of compiled expressions.
//!
//! `eval` returns values in weak head normal form (never a thunk); `delay`
//! wraps a subexpression in a thunk unless it is trivially a value already
//! (a constant, a filled variable slot, a function). Rust stack depth is kept
//! in check with `stacker`, which grows the stack on demand, so deep but
//! finite Nix recursion works on any thread; the `max-call-depth` limit turns
//! runaway recursion into an error.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use nixkit_syntax::ast::BinaryOp;
use nixkit_syntax::Symbol;

use crate::compile::{Expr, ExprKind, Key};
use crate::error::{ErrorKind, EvalError, EvalResult};
use crate::io::{EvalIo, EvalStore};
use crate::source::Pos;
use crate::thunk::{Code, Env, Thunk};
use crate::value::{Attrs, NixString, Value};

/// Bytes of stack that must remain before recursing further.
const RED_ZONE: usize = 256 * 1024;
/// Size of each additional stack segment.
const STACK_SEGMENT: usize = 8 * 1024 * 1024;

/// Runs `f` with at least [`RED_ZONE`] bytes of stack available.
pub(crate) fn with_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, f)
}

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
    pub(crate) toml_timestamps: bool,
    /// `--lint-{absolute-path,short-path,url}-literals`: `None` off,
    /// `Some(false)` warn, `Some(true)` fatal.
    pub(crate) lints: [Option<bool>; 3],
}

/// Receives `trace:` and `warning:` output.
pub type MessageSink = Arc<dyn Fn(&str) + Send + Sync>;

/// The mutable state of one evaluator.
pub struct EvalState {
    pub(crate) settings: Settings,
    pub(crate) io: Arc<dyn EvalIo>,
    pub(crate) store: Arc<dyn EvalStore>,
    pub(crate) globals: Arc<crate::builtins::Globals>,
    pub(crate) call_depth: u32,
    pub(crate) cancel: Option<Arc<AtomicBool>>,
    pub(crate) import_cache: HashMap<Arc<str>, Value>,
    pub(crate) regex_cache: HashMap<String, Arc<regex::Regex>>,
    pub(crate) messages: MessageSink,
    pub(crate) parse_globals: Arc<nixkit_syntax::Globals>,
    pub(crate) store_paths: HashMap<String, String>,
    pub(crate) derivation_fn: Option<Value>,
    pub(crate) xml_seen: std::collections::HashSet<String>,
}

pub(crate) fn infinite_recursion() -> EvalError {
    EvalError::new(ErrorKind::InfiniteRecursion, "infinite recursion encountered")
}

impl EvalState {
    /// Forces a value to weak head normal form.
    pub fn force(&mut self, v: &Value) -> EvalResult<Value> {
        match v {
            Value::Thunk(t) => self.force_thunk(t),
            v => Ok(v.clone()),
        }
    }

    pub(crate) fn force_thunk(&mut self, t: &Arc<Thunk>) -> EvalResult<Value> {
        if let Some(v) = t.get() {
            return Ok(v.clone());
        }
        let code = match t.take() {
            Ok(code) => code,
            Err(Some(failure)) => return Err(failure),
            Err(None) => {
                return match t.get() {
                    Some(v) => Ok(v.clone()),
                    None => Err(infinite_recursion()),
                }
            }
        };
        let result = with_stack(|| self.run(&code));
        match result {
            Ok(v) => {
                t.finish(v.clone());
                Ok(v)
            }
            Err(e) => {
                if e.kind() == ErrorKind::Cancelled {
                    t.restore(code);
                } else {
                    t.fail(e.clone());
                }
                Err(e)
            }
        }
    }

    fn run(&mut self, code: &Code) -> EvalResult<Value> {
        match code {
            Code::Expr(e, env) => self.eval(e, env),
            Code::Select(v, name, pos) => {
                let attrs = self.force_attrs(v, *pos)?;
                match attrs.get(*name) {
                    Some(x) => self.force(x),
                    None => Err(missing_attr(*name, &attrs).at(*pos)),
                }
            }
            Code::Call(f, args, pos) => {
                let f = self.force(f)?;
                self.call(&f, args, *pos)
            }
        }
    }

    /// A thunk (or a ready value) for `e` in `env`.
    pub(crate) fn delay(&self, e: &Arc<Expr>, env: &Arc<Env>) -> Value {
        match &e.kind {
            ExprKind::Const(v) => v.clone(),
            ExprKind::Local { depth, slot } => {
                if let Some(v) = env.up(*depth).and_then(|s| s.slot(*slot)) {
                    return v.clone();
                }
                Value::Thunk(Arc::new(Thunk::new(Code::Expr(e.clone(), env.clone()))))
            }
            ExprKind::Lambda(l) => Value::Lambda(l.clone(), env.clone()),
            _ => Value::Thunk(Arc::new(Thunk::new(Code::Expr(e.clone(), env.clone())))),
        }
    }

    /// A thunk applying `f` to `args`.
    pub(crate) fn delay_call(f: Value, args: Vec<Value>, pos: Pos) -> Value {
        Value::Thunk(Arc::new(Thunk::new(Code::Call(f, args.into_boxed_slice(), pos))))
    }

    /// Evaluates `e` in `env` to weak head normal form.
    pub(crate) fn eval(&mut self, e: &Expr, env: &Arc<Env>) -> EvalResult<Value> {
        with_stack(|| self.eval_inner(e, env))
    }

    fn eval_inner(&mut self, e: &Expr, env: &Arc<Env>) -> EvalResult<Value> {
        match &e.kind {
            ExprKind::Const(v) => self.force(v),
            ExprKind::Local { depth, slot } => {
                let v = env
                    .up(*depth)
                    .and_then(|s| s.slot(*slot))
                    .cloned()
                    .ok_or_else(|| EvalError::eval("internal error: unbound variable slot").at(e.pos))?;
                self.force(&v)
            }
            ExprKind::WithVar { depth, name } => {
                let v = self.lookup_with(env, *depth, *name, e.pos)?;
                self.force(&v)
            }
            ExprKind::Undefined(name) => Err(EvalError::eval(format!("undefined variable '{name}'")).at(e.pos)),
            ExprKind::Select { expr, path, default } => self.eval_select(e.pos, expr, path, default.as_ref(), env),
            ExprKind::HasAttr { expr, path } => {
                let mut v = self.eval(expr, env)?;
                for (i, key) in path.iter().enumerate() {
                    let name = self.key_name(key, env)?;
                    let Value::Attrs(a) = v else { return Ok(Value::Bool(false)) };
                    match a.get(name) {
                        // Only intermediate values are forced.
                        Some(x) if i + 1 < path.len() => v = self.force(x)?,
                        Some(_) => return Ok(Value::Bool(true)),
                        None => return Ok(Value::Bool(false)),
                    }
                }
                Ok(Value::Bool(true))
            }
            ExprKind::Attrs(a) => self.build_attrs(a, env, e.pos),
            ExprKind::List(items) => {
                Ok(Value::List(items.iter().map(|x| self.delay(x, env)).collect::<Vec<_>>().into()))
            }
            ExprKind::Lambda(l) => Ok(Value::Lambda(l.clone(), env.clone())),
            ExprKind::Call { fun, args } => {
                let f = self.eval(fun, env)?;
                let args: Vec<Value> = args.iter().map(|a| self.delay(a, env)).collect();
                self.call(&f, &args, e.pos)
            }
            ExprKind::Let(a, body) => {
                let scope = self.build_let(a, env)?;
                self.eval(body, &scope)
            }
            ExprKind::With { env: attrs, body, outer_with } => {
                let scope = Env::with_scope(env, self.delay(attrs, env), *outer_with);
                self.eval(body, &scope)
            }
            ExprKind::If { cond, then_, else_ } => {
                let c = self.eval(cond, env)?;
                let b = self
                    .expect_bool(&c)
                    .map_err(|err| err.at(cond.pos).with_frame("while evaluating a branch condition", cond.pos))?;
                self.eval(if b { then_ } else { else_ }, env)
            }
            ExprKind::Assert { cond, body, text } => {
                let c = self.eval(cond, env)?;
                let ok = self.expect_bool(&c).map_err(|err| {
                    err.at(cond.pos).with_frame(format!("while evaluating the condition of the assertion '{text}'"), e.pos)
                })?;
                if !ok {
                    if let ExprKind::Binary { op: BinaryOp::Eq, lhs, rhs } = &cond.kind {
                        // CppNix explains why the equality failed.
                        let l = self.eval(lhs, env)?;
                        let r = self.eval(rhs, env)?;
                        if let Err(err) = self.assert_equal(&l, &r, cond.pos) {
                            return Err(err.with_frame(
                                format!("while evaluating the condition of the assertion '{text}'"),
                                e.pos,
                            ));
                        }
                    }
                    return Err(EvalError::new(ErrorKind::Assert, format!("assertion '{text}' failed")).at(e.pos));
                }
                self.eval(body, env)
            }
            ExprKind::Not(x) => {
                let v = self.eval(x, env)?;
                let b = self.expect_bool(&v).map_err(|err| err.at(e.pos))?;
                Ok(Value::Bool(!b))
            }
            ExprKind::Binary { op, lhs, rhs } => self.eval_binary(*op, lhs, rhs, env, e.pos),
            ExprKind::Concat { force_string, parts } => self.eval_concat(*force_string, parts, env, e.pos),
            ExprKind::InheritFrom | ExprKind::Error => {
                Err(EvalError::eval("internal error: expression cannot be evaluated").at(e.pos))
            }
        }
    }

    fn lookup_with(&mut self, env: &Arc<Env>, depth: u32, name: Symbol, pos: Pos) -> EvalResult<Value> {
        let mut scope = env.up(depth).cloned();
        while let Some(s) = scope {
            let attrs_value = s.slot(0).cloned().unwrap_or(Value::Null);
            let attrs = self.force(&attrs_value)?;
            let Value::Attrs(attrs) = attrs else {
                return Err(EvalError::eval(format!(
                    "expected a set but found {}: {}",
                    attrs.show_type(),
                    crate::print::show_for_error(&attrs)
                ))
                .at(pos));
            };
            if let Some(v) = attrs.get(name) {
                return Ok(v.clone());
            }
            scope = match s.with_outer() {
                Some(d) => s.up(d).cloned(),
                None => None,
            };
        }
        Err(EvalError::eval(format!("undefined variable '{name}'")).at(pos))
    }

    /// The name of an attribute path element.
    pub(crate) fn key_name(&mut self, key: &Key, env: &Arc<Env>) -> EvalResult<Symbol> {
        match key {
            Key::Static(s) => Ok(*s),
            Key::Dynamic(e) => {
                let v = self.eval(e, env)?;
                match &v {
                    Value::String(s) => Ok(Symbol::intern(s.as_str())),
                    _ => Err(type_error("a string", &v)
                        .at(e.pos)
                        .with_frame("while evaluating an attribute name", e.pos)),
                }
            }
        }
    }

    fn eval_select(
        &mut self,
        pos: Pos,
        expr: &Arc<Expr>,
        path: &[Key],
        default: Option<&Arc<Expr>>,
        env: &Arc<Env>,
    ) -> EvalResult<Value> {
        let mut v = self.eval(expr, env)?;
        for key in path {
            let name = self.key_name(key, env)?;
            if default.is_some() {
                let Value::Attrs(a) = &v else {
                    return self.eval(default.unwrap_or(expr), env);
                };
                match a.get(name) {
                    Some(x) => {
                        let x = x.clone();
                        v = self.force(&x)?;
                    }
                    None => return self.eval(default.unwrap_or(expr), env),
                }
            } else {
                let Value::Attrs(a) = &v else {
                    return Err(type_error("a set", &v).at(pos).with_frame("while selecting an attribute", pos));
                };
                match a.get(name) {
                    Some(x) => {
                        let x = x.clone();
                        v = self.force(&x)?;
                    }
                    None => return Err(missing_attr(name, a).at(pos)),
                }
            }
        }
        Ok(v)
    }

    /// Runs a recursive step of a deep traversal (`deepSeq`, `toJSON`, `==`,
    /// …): counts towards `max-call-depth` and grows the stack as needed.
    pub(crate) fn nested<R>(&mut self, f: impl FnOnce(&mut EvalState) -> EvalResult<R>) -> EvalResult<R> {
        if self.call_depth >= self.settings.max_call_depth {
            return Err(EvalError::new(ErrorKind::StackOverflow, "stack overflow; max-call-depth exceeded"));
        }
        self.call_depth += 1;
        let r = with_stack(|| f(self));
        self.call_depth -= 1;
        r
    }

    /// Checks the cancellation flag.
    pub(crate) fn check_cancelled(&self) -> EvalResult<()> {
        if let Some(c) = &self.cancel {
            if c.load(Ordering::Relaxed) {
                return Err(EvalError::new(ErrorKind::Cancelled, "evaluation cancelled"));
            }
        }
        Ok(())
    }

    /// Prints a `trace:`/`warning:` line.
    pub(crate) fn message(&self, text: &str) {
        (self.messages)(text);
    }

    /// Forces a value that must be a Boolean.
    pub(crate) fn expect_bool(&mut self, v: &Value) -> EvalResult<bool> {
        match self.force(v)? {
            Value::Bool(b) => Ok(b),
            other => Err(type_error("a Boolean", &other)),
        }
    }

    /// Forces a value that must be an attribute set.
    pub(crate) fn force_attrs(&mut self, v: &Value, pos: Pos) -> EvalResult<Arc<Attrs>> {
        match self.force(v)? {
            Value::Attrs(a) => Ok(a),
            other => Err(type_error("a set", &other).at(pos)),
        }
    }

    /// Forces a value that must be a list.
    pub(crate) fn force_list(&mut self, v: &Value, pos: Pos) -> EvalResult<Arc<[Value]>> {
        match self.force(v)? {
            Value::List(l) => Ok(l),
            other => Err(type_error("a list", &other).at(pos)),
        }
    }

    /// Forces a value that must be an integer.
    pub(crate) fn force_int(&mut self, v: &Value, pos: Pos) -> EvalResult<i64> {
        match self.force(v)? {
            Value::Int(i) => Ok(i),
            other => Err(type_error("an integer", &other).at(pos)),
        }
    }

    /// Forces a value that must be a string (no coercion).
    pub(crate) fn force_string(&mut self, v: &Value, pos: Pos) -> EvalResult<Arc<NixString>> {
        match self.force(v)? {
            Value::String(s) => Ok(s),
            other => Err(type_error("a string", &other).at(pos)),
        }
    }

    /// Forces a value that must be a function.
    pub(crate) fn force_function(&mut self, v: &Value, pos: Pos) -> EvalResult<Value> {
        let f = self.force(v)?;
        match &f {
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
    let mut similar: Vec<&str> = attrs
        .iter()
        .map(|a| a.name.as_str())
        .filter(|n| crate::builtins::strings::levenshtein(n, name.as_str()) <= 2)
        .collect();
    similar.sort_unstable();
    let mut msg = format!("attribute '{name}' missing");
    match similar.len() {
        0 => {}
        1 => msg.push_str(&format!("\nDid you mean {}?", similar[0])),
        _ => {
            let (last, rest) = similar.split_last().map(|(l, r)| (*l, r)).unwrap_or(("", &[]));
            msg.push_str(&format!("\nDid you mean one of {} or {last}?", rest.join(", ")));
        }
    }
    EvalError::eval(msg)
}
