//! Function application: lambdas (with formals), builtins (with partial
//! application) and `__functor` sets, plus the call depth limit.

use std::sync::Arc;

use nixkit_syntax::Symbol;

use crate::compile::LambdaExpr;
use crate::error::{ErrorKind, EvalError, EvalResult};
use crate::eval::{type_error, EvalState};
use crate::print::show_for_error;
use crate::source::Pos;
use crate::thunk::Env;
use crate::value::{PrimOpApp, Value};

impl EvalState {
    /// Applies a (forced) function to arguments.
    pub fn call(&mut self, f: &Value, args: &[Value], pos: Pos) -> EvalResult<Value> {
        let mut f = f.clone();
        let mut rest = args;
        while let Some((arg, tail)) = rest.split_first() {
            match &f {
                Value::Lambda(l, env) => {
                    f = self.call_lambda(l, env, arg.clone(), pos)?;
                    rest = tail;
                }
                Value::PrimOp(op) => {
                    let arity = usize::from(op.arity);
                    if rest.len() < arity {
                        return Ok(Value::PrimOpApp(Arc::new(PrimOpApp { op, args: rest.to_vec() })));
                    }
                    let (now, later) = rest.split_at(arity);
                    f = self.call_primop(op, now, pos)?;
                    rest = later;
                }
                Value::PrimOpApp(app) => {
                    let op = app.op;
                    let missing = usize::from(op.arity) - app.args.len();
                    let mut all = app.args.clone();
                    if rest.len() < missing {
                        all.extend_from_slice(rest);
                        return Ok(Value::PrimOpApp(Arc::new(PrimOpApp { op, args: all })));
                    }
                    let (now, later) = rest.split_at(missing);
                    all.extend_from_slice(now);
                    f = self.call_primop(op, &all, pos)?;
                    rest = later;
                }
                Value::Attrs(a) => {
                    let Some(functor) = a.get(Symbol::intern("__functor")).cloned() else {
                        return Err(not_a_function(&f).at(pos));
                    };
                    let functor = self
                        .force(&functor)
                        .map_err(|e| e.with_frame("while evaluating the attribute '__functor'", pos))?;
                    let g = self.call(&functor, std::slice::from_ref(&f), pos)?;
                    f = self.call(&g, std::slice::from_ref(arg), pos)?;
                    rest = tail;
                }
                _ => return Err(not_a_function(&f).at(pos)),
            }
        }
        Ok(f)
    }

    fn call_primop(&mut self, op: &'static crate::value::PrimOp, args: &[Value], pos: Pos) -> EvalResult<Value> {
        (op.func)(self, args, pos)
            .map_err(|e| e.at(pos).with_frame(format!("while calling the '{}' builtin", op.name), pos))
    }

    /// Calls a lambda with one argument.
    pub(crate) fn call_lambda(
        &mut self,
        l: &Arc<LambdaExpr>,
        closure: &Arc<Env>,
        arg: Value,
        pos: Pos,
    ) -> EvalResult<Value> {
        if self.call_depth >= self.settings.max_call_depth {
            return Err(EvalError::new(ErrorKind::StackOverflow, "stack overflow; max-call-depth exceeded").at(pos));
        }
        self.check_cancelled()?;
        let env = self.bind_arguments(l, closure, arg, pos)?;
        self.call_depth += 1;
        let result = self.eval(&l.body, &env);
        self.call_depth -= 1;
        result.map_err(|e| {
            let what = match l.name {
                Some(n) => format!("while calling '{n}'"),
                None => "while calling anonymous lambda".to_string(),
            };
            e.with_frame(what, l.pos).with_frame("from call site", pos)
        })
    }

    fn bind_arguments(&mut self, l: &Arc<LambdaExpr>, closure: &Arc<Env>, arg: Value, pos: Pos) -> EvalResult<Arc<Env>> {
        let Some(formals) = &l.formals else {
            return Ok(Env::with_slots(closure, vec![arg].into_boxed_slice()));
        };
        let attrs = match self.force(&arg) {
            Ok(Value::Attrs(a)) => a,
            Ok(other) => {
                return Err(type_error("a set", &other).at(pos).with_frame(
                    match l.name {
                        Some(n) => format!("while evaluating the value passed for the lambda argument of '{n}'"),
                        None => "while evaluating the value passed for the lambda argument".to_string(),
                    },
                    pos,
                ))
            }
            Err(e) => return Err(e),
        };
        let env = Env::deferred(closure);
        let mut slots = Vec::with_capacity(l.slot_count());
        if l.arg.is_some() {
            slots.push(arg.clone());
        }
        let mut used = 0;
        for f in formals {
            match attrs.get(f.name) {
                Some(v) => {
                    used += 1;
                    slots.push(v.clone());
                }
                None => match &f.default {
                    Some(d) => slots.push(self.delay(d, &env)),
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
                    let mut names: Vec<&str> = formals.iter().map(|f| f.name.as_str()).collect();
                    names.sort_unstable();
                    let similar: Vec<&str> = names
                        .iter()
                        .copied()
                        .filter(|n| crate::builtins::strings::levenshtein(n, a.name.as_str()) <= 2)
                        .collect();
                    let mut msg =
                        format!("function '{}' called with unexpected argument '{}'", lambda_name(l), a.name);
                    if let [one] = similar.as_slice() {
                        msg.push_str(&format!("\nDid you mean {one}?"));
                    } else if let Some((last, rest)) = similar.split_last() {
                        msg.push_str(&format!("\nDid you mean one of {} or {last}?", rest.join(", ")));
                    }
                    return Err(EvalError::eval(msg).at(l.pos).with_frame("from call site", pos));
                }
            }
        }
        env.fill(slots.into_boxed_slice());
        Ok(env)
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
