//! Control and debugging: `abort`, `throw`, `tryEval`, `addErrorContext`,
//! `seq`, `deepSeq`, `trace`, `warn`, `traceVerbose`, `break`.

use std::collections::HashSet;

use crate::builtins::{primop, Args};
use crate::error::{ErrorKind, EvalError, EvalResult};
use crate::eval::EvalState;
use crate::ops::Coerce;
use crate::print::{print_value, PrintStyle};
use crate::source::Pos;
use crate::value::{Attrs, PrimOp, Value};

pub(crate) static PRIMOPS: &[PrimOp] = &[
    primop!("abort", 1, abort),
    primop!("throw", 1, throw),
    primop!("break", 1, break_),
    primop!("tryEval", 1, try_eval),
    primop!("addErrorContext", 2, add_error_context),
    primop!("seq", 2, seq, forces 0),
    primop!("deepSeq", 2, deep_seq, forces 0),
    primop!("trace", 2, trace),
    primop!("warn", 2, warn),
    primop!("traceVerbose", 2, trace_verbose),
];

fn message(s: &mut EvalState, a: &[Value], name: &'static str, pos: Pos) -> EvalResult<String> {
    // (CppNix words the frame for `throw` as "builtin.throw".)
    let prefix = if name == "throw" {
        "builtin"
    } else {
        "builtins"
    };
    s.coerce_to_nix_string_for(&a[0], Coerce::INTERPOLATE, pos, &|| {
        format!("while evaluating the error message passed to {prefix}.{name}")
    })
    .map(|n| n.as_str().to_string())
}

fn abort(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let msg = message(s, a, "abort", pos)?;
    Err(EvalError::new(
        ErrorKind::Abort,
        format!("evaluation aborted with the following error message: '{msg}'"),
    ))
}

fn throw(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let msg = message(s, a, "throw", pos)?;
    Err(EvalError::new(ErrorKind::Throw, msg))
}

fn break_(s: &mut EvalState, a: &[Value], _pos: Pos) -> EvalResult<Value> {
    s.force(&a[0])
}

fn try_eval(s: &mut EvalState, a: &[Value], _pos: Pos) -> EvalResult<Value> {
    let (success, value) = match s.force(&a[0]) {
        Ok(v) => (true, v),
        Err(e) if e.is_catchable() => (false, Value::Bool(false)),
        Err(e) => return Err(e),
    };
    Ok(Value::attrs(Attrs::from_pairs([
        (sym!("success"), Value::Bool(success)),
        (sym!("value"), value),
    ])))
}

fn add_error_context(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    match s.force(&a[1]) {
        Ok(v) => Ok(v),
        Err(e) => {
            let ctx = s
                .coerce_to_nix_string(&a[0], Coerce::PLAIN, pos)
                .map_err(|e| e.with_frame("while evaluating the error context", Pos::NONE))?;
            Err(e.with_context_frame(ctx.as_str()))
        }
    }
}

fn seq(s: &mut EvalState, a: &[Value], _pos: Pos) -> EvalResult<Value> {
    s.force(&a[0])?;
    s.force(&a[1])
}

fn deep_seq(s: &mut EvalState, a: &[Value], _pos: Pos) -> EvalResult<Value> {
    s.force_deep(&a[0])?;
    s.force(&a[1])
}

fn trace(s: &mut EvalState, a: &[Value], _pos: Pos) -> EvalResult<Value> {
    let v = s.force(&a[0])?;
    let text = match &v {
        Value::String(st) => st.as_str().to_string(),
        _ => print_value(&a[0], PrintStyle::Trace),
    };
    s.message(&format!("trace: {text}"));
    s.force(&a[1])
}

fn trace_verbose(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    if s.settings.trace_verbose {
        return trace(s, a, pos);
    }
    s.force(&a[1])
}

fn warn(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let msg = Args::new(a, "warn", pos).string(s, 0)?;
    let text = msg.as_str();
    if text.starts_with('\n') {
        s.message(&format!("evaluation warning:{text}"));
    } else {
        s.message(&format!(
            "evaluation warning: {}",
            text.replace('\n', &format!("\n{}", " ".repeat(20)))
        ));
    }
    if s.settings.abort_on_warn {
        return Err(EvalError::eval(msg.as_str().to_string())
            .with_frame("while evaluating a warning with --abort-on-warn", pos));
    }
    s.force(&a[1])
}

impl EvalState {
    /// Forces a value and everything inside it (`deepSeq`, `--strict`).
    pub fn force_deep(&mut self, v: &Value) -> EvalResult<()> {
        let mut seen = HashSet::new();
        // The value itself is a level of the traversal, as each nested one is.
        self.nested_deep(|s| s.force_deep_inner(v, &mut seen))
    }

    fn force_deep_inner(&mut self, v: &Value, seen: &mut HashSet<usize>) -> EvalResult<()> {
        let v = self.force(v)?;
        match &v {
            Value::Attrs(a) => {
                if !seen.insert(a.addr()) {
                    return Ok(());
                }
                for attr in a.iter() {
                    self.nested_deep(|s| s.force_deep_inner(&attr.value, seen))
                        .map_err(|e| {
                            e.with_frame(
                                format!("while evaluating the attribute '{}'", attr.name),
                                attr.pos,
                            )
                        })?;
                }
            }
            Value::List(l) => {
                if !seen.insert(l.addr()) {
                    return Ok(());
                }
                for (index, item) in l.iter().enumerate() {
                    self.nested_deep(|s| s.force_deep_inner(item, seen))
                        .map_err(|e| {
                            e.with_frame(
                                format!("while evaluating list element at index {index}"),
                                Pos::NONE,
                            )
                        })?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
