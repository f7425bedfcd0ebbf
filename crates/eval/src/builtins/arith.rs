//! Arithmetic: `add`, `sub`, `mul`, `div` (the `+ - * /` operators desugar to
//! some of these), bitwise operations, `lessThan`, `ceil` and `floor`.

use std::cmp::Ordering;

use crate::builtins::{primop, Args};
use crate::error::{EvalError, EvalResult};
use crate::eval::{type_error, EvalState};
use crate::source::Pos;
use crate::value::{PrimOp, Value};

pub(crate) static PRIMOPS: &[PrimOp] = &[
    primop!("add", 2, add),
    primop!("sub", 2, sub),
    primop!("mul", 2, mul),
    primop!("div", 2, div),
    primop!("bitAnd", 2, bit_and),
    primop!("bitOr", 2, bit_or),
    primop!("bitXor", 2, bit_xor),
    primop!("lessThan", 2, less_than),
    primop!("ceil", 1, ceil),
    primop!("floor", 1, floor),
];

/// Forces argument `i`, which must be a number; `what` names it in the frame.
fn number(
    s: &mut EvalState,
    a: &[Value],
    i: usize,
    expected: &str,
    what: &str,
) -> EvalResult<Value> {
    match s.force(&a[i]) {
        Ok(v @ (Value::Int(_) | Value::Float(_))) => Ok(v),
        Ok(other) => Err(type_error(expected, &other)
            .with_frame(format!("while evaluating the {what}"), Pos::NONE)),
        Err(e) => Err(e),
    }
}

/// Forces both arguments, which must be numbers.
fn numbers(s: &mut EvalState, a: &[Value], what: &str, pos: Pos) -> EvalResult<(Value, Value)> {
    // As CppNix: both operands are forced, left first, before either's type
    // is checked.
    let forced = [
        s.force(&a[0]).map_err(|e| e.at(pos))?,
        s.force(&a[1]).map_err(|e| e.at(pos))?,
    ];
    let mut out = [Value::Null, Value::Null];
    for (i, (slot, v)) in out.iter_mut().zip(forced).enumerate() {
        match v {
            Value::Int(_) | Value::Float(_) => *slot = v,
            other => {
                let which = if i == 0 { "first" } else { "second" };
                return Err(type_error("an integer", &other).at(pos).with_frame(
                    format!("while evaluating the {which} argument of the {what}"),
                    pos,
                ));
            }
        }
    }
    let [x, y] = out;
    Ok((x, y))
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        _ => 0.0,
    }
}

fn add(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let (x, y) = numbers(s, a, "addition", pos)?;
    crate::ops::add_numbers(&x, &y).map_err(|e| e.at(pos))
}

fn sub(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let (x, y) = numbers(s, a, "subtraction", pos)?;
    match (&x, &y) {
        (Value::Int(p), Value::Int(q)) => p.checked_sub(*q).map(Value::Int).ok_or_else(|| {
            EvalError::eval(format!("integer overflow in subtracting {p} - {q}")).at(pos)
        }),
        _ => Ok(Value::Float(as_f64(&x) - as_f64(&y))),
    }
}

fn mul(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let (x, y) = numbers(s, a, "multiplication", pos)?;
    match (&x, &y) {
        (Value::Int(p), Value::Int(q)) => p.checked_mul(*q).map(Value::Int).ok_or_else(|| {
            EvalError::eval(format!("integer overflow in multiplying {p} * {q}")).at(pos)
        }),
        _ => Ok(Value::Float(as_f64(&x) * as_f64(&y))),
    }
}

fn div(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    // CppNix forces both operands in order, then checks the divisor first,
    // and words these frames "operand".
    s.force(&a[0])?;
    s.force(&a[1])?;
    let y = number(s, a, 1, "a float", "second operand of the division")?;
    if as_f64(&y) == 0.0 {
        return Err(EvalError::eval("division by zero"));
    }
    let expected = if matches!(y, Value::Float(_)) {
        "a float"
    } else {
        "an integer"
    };
    let x = number(s, a, 0, expected, "first operand of the division")?;
    match (&x, &y) {
        (Value::Int(p), Value::Int(q)) => p.checked_div(*q).map(Value::Int).ok_or_else(|| {
            EvalError::eval(format!("integer overflow in dividing {p} / {q}")).at(pos)
        }),
        _ => Ok(Value::Float(as_f64(&x) / as_f64(&y))),
    }
}

fn ints(s: &mut EvalState, a: &[Value], name: &'static str, pos: Pos) -> EvalResult<(i64, i64)> {
    let args = Args::new(a, name, pos);
    Ok((args.int(s, 0)?, args.int(s, 1)?))
}

fn bit_and(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let (x, y) = ints(s, a, "bitAnd", pos)?;
    Ok(Value::Int(x & y))
}

fn bit_or(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let (x, y) = ints(s, a, "bitOr", pos)?;
    Ok(Value::Int(x | y))
}

fn bit_xor(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let (x, y) = ints(s, a, "bitXor", pos)?;
    Ok(Value::Int(x ^ y))
}

fn less_than(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    Ok(Value::Bool(s.compare(&a[0], &a[1], pos)? == Ordering::Less))
}

fn float_arg(s: &mut EvalState, a: &[Value], name: &'static str, pos: Pos) -> EvalResult<f64> {
    match Args::new(a, name, pos).value(s, 0)? {
        Value::Int(i) => Ok(i as f64),
        Value::Float(f) => Ok(f),
        other => Err(crate::builtins::arg_frame(
            type_error("a float", &other).at(pos),
            0,
            name,
        )),
    }
}

fn to_int(f: f64, pos: Pos) -> EvalResult<Value> {
    if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f) {
        Ok(Value::Int(f as i64))
    } else {
        Err(EvalError::eval(format!(
            "float {} does not fit in an integer",
            crate::print::format_float(f)
        ))
        .at(pos))
    }
}

fn ceil(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    if let Value::Int(i) = s.force(&a[0])? {
        return Ok(Value::Int(i));
    }
    to_int(float_arg(s, a, "ceil", pos)?.ceil(), pos)
}

fn floor(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    if let Value::Int(i) = s.force(&a[0])? {
        return Ok(Value::Int(i));
    }
    to_int(float_arg(s, a, "floor", pos)?.floor(), pos)
}
