//! Type predicates: `typeOf`, `isNull`, `isInt`, `isFunction`, ….

use crate::builtins::{primop, Args};
use crate::error::EvalResult;
use crate::eval::EvalState;
use crate::source::Pos;
use crate::value::{PrimOp, Value};

pub(crate) static PRIMOPS: &[PrimOp] = &[
    primop!("typeOf", 1, type_of),
    primop!("isNull", 1, is_null),
    primop!("isFunction", 1, is_function),
    primop!("isInt", 1, is_int),
    primop!("isFloat", 1, is_float),
    primop!("isString", 1, is_string),
    primop!("isBool", 1, is_bool),
    primop!("isPath", 1, is_path),
    primop!("isAttrs", 1, is_attrs),
    primop!("isList", 1, is_list),
];

fn forced(s: &mut EvalState, a: &[Value], name: &'static str, pos: Pos) -> EvalResult<Value> {
    Args::new(a, name, pos).value(s, 0)
}

fn type_of(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    Ok(Value::string(forced(s, a, "typeOf", pos)?.type_of()))
}

fn is_null(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    Ok(Value::Bool(matches!(
        forced(s, a, "isNull", pos)?,
        Value::Null
    )))
}

fn is_function(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    Ok(Value::Bool(forced(s, a, "isFunction", pos)?.is_function()))
}

fn is_int(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    Ok(Value::Bool(matches!(
        forced(s, a, "isInt", pos)?,
        Value::Int(_)
    )))
}

fn is_float(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    Ok(Value::Bool(matches!(
        forced(s, a, "isFloat", pos)?,
        Value::Float(_)
    )))
}

fn is_string(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    Ok(Value::Bool(matches!(
        forced(s, a, "isString", pos)?,
        Value::String(_)
    )))
}

fn is_bool(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    Ok(Value::Bool(matches!(
        forced(s, a, "isBool", pos)?,
        Value::Bool(_)
    )))
}

fn is_path(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    Ok(Value::Bool(matches!(
        forced(s, a, "isPath", pos)?,
        Value::Path(_)
    )))
}

fn is_attrs(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    Ok(Value::Bool(matches!(
        forced(s, a, "isAttrs", pos)?,
        Value::Attrs(_)
    )))
}

fn is_list(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    Ok(Value::Bool(matches!(
        forced(s, a, "isList", pos)?,
        Value::List(_)
    )))
}
