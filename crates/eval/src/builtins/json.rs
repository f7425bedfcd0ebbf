//! JSON: `toJSON`, `fromJSON`, and the printer behind `--json`.

use crate::builtins::{primop, Args};
use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::ops::Coerce;
use crate::print::show_for_error;
use crate::source::Pos;
use crate::value::{Context, PrimOp, Value};

pub(crate) static PRIMOPS: &[PrimOp] = &[
    primop!("toJSON", 1, to_json),
    primop!("fromJSON", 1, from_json),
];

/// Appends a JSON string literal.
pub(crate) fn json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn json_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".to_string();
    }
    let s = format!("{f:?}");
    match s.split_once('e') {
        Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
        _ => s,
    }
}

/// CppNix's JSON library refuses bytes that are not UTF-8; nixkit keeps such
/// bytes as escape characters (`nixkit_syntax::decode_bytes`). Escapes that
/// together are well-formed UTF-8 are a real character of the escape range
/// (U+10FF80..U+10FFFF), which is written as it is (the text stays canonical).
fn invalid_utf8_check(s: &str, pos: Pos) -> EvalResult<()> {
    if !nixkit_syntax::has_escapes(s) {
        return Ok(());
    }
    let bytes = nixkit_syntax::encode_bytes(s);
    if let Err(e) = std::str::from_utf8(&bytes) {
        let index = e.valid_up_to();
        let b = bytes.get(index).copied().unwrap_or(0);
        return Err(EvalError::eval(format!(
            "JSON serialization error: [json.exception.type_error.316] invalid UTF-8 byte at index {index}: 0x{b:02X}"
        ))
        .at(pos));
    }
    Ok(())
}

impl EvalState {
    /// Serialises a value to JSON, forcing it deeply; `copy_to_store` turns
    /// paths into store paths (as `toJSON` does).
    pub(crate) fn value_to_json(
        &mut self,
        v: &Value,
        ctx: &mut Context,
        copy_to_store: bool,
        out: &mut String,
        pos: Pos,
    ) -> EvalResult<()> {
        let v = self.force(v)?;
        match &v {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => out.push_str(&i.to_string()),
            Value::Float(f) => out.push_str(&json_float(*f)),
            Value::String(s) => {
                if let Some(c) = s.context() {
                    ctx.extend(c.iter().cloned());
                }
                invalid_utf8_check(s.as_str(), pos)?;
                json_string(s.as_str(), out);
            }
            Value::Path(p) => {
                let s = if copy_to_store {
                    self.copy_path_to_store(p, pos)?
                } else {
                    p.to_string()
                };
                if copy_to_store {
                    ctx.insert(s.clone().into());
                }
                json_string(&s, out);
            }
            Value::Attrs(a) => {
                if let Some(attr) = a.get_attr(sym!("__toString")) {
                    let (r, at) = self.call_to_string_attr(&v, attr)?;
                    return self.json_to_string_result(&r, ctx, out, at).map_err(|e| {
                        e.with_frame("while using the result of the `__toString` attribute", at)
                    });
                }
                if let Some(attr) = a.get_attr(sym!("outPath")) {
                    let (o, at) = (attr.value.clone(), attr.pos);
                    return self
                        .nested(|s| s.value_to_json(&o, ctx, copy_to_store, out, at))
                        .map_err(|e| e.with_frame("while using the `outPath` attribute", at));
                }
                out.push('{');
                for (i, attr) in a.sorted_by_name().into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_string(attr.name.as_str(), out);
                    out.push(':');
                    self.nested_at(attr.pos, |s| {
                        s.value_to_json(&attr.value, ctx, copy_to_store, out, attr.pos)
                    })
                    .map_err(|e| {
                        e.with_frame(
                            format!("while evaluating attribute '{}'", attr.name),
                            attr.pos,
                        )
                    })?;
                }
                out.push('}');
            }
            Value::List(l) => {
                out.push('[');
                for (i, item) in l.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.nested(|s| s.value_to_json(item, ctx, copy_to_store, out, pos))
                        .map_err(|e| {
                            e.with_frame(format!("while evaluating list element at index {i}"), pos)
                        })?;
                }
                out.push(']');
            }
            other => {
                return Err(EvalError::eval(format!(
                    "cannot convert {} to JSON",
                    other.show_type()
                ))
                .at(pos));
            }
        }
        Ok(())
    }
}

impl EvalState {
    /// Writes the result of a `__toString` call as a JSON string. Unlike
    /// string coercion, CppNix's `toJSON` insists on a string (a path, or a
    /// set that peels through `__toString`/`outPath`, is coerced as usual) and
    /// reports anything else at the attribute.
    fn json_to_string_result(
        &mut self,
        r: &Value,
        ctx: &mut Context,
        out: &mut String,
        at: Pos,
    ) -> EvalResult<()> {
        let r = self.force(r)?;
        let verb = match &r {
            Value::String(_) | Value::Path(_) => {
                let s = self.coerce_to_string(&r, ctx, Coerce::INTERPOLATE, at)?;
                json_string(&s, out);
                return Ok(());
            }
            Value::Attrs(a)
                if a.get_str("__toString").is_some() || a.get_str("outPath").is_some() =>
            {
                let s = self.coerce_to_string(&r, ctx, Coerce::INTERPOLATE, at)?;
                json_string(&s, out);
                return Ok(());
            }
            Value::Attrs(_) => "must",
            _ => "should",
        };
        let msg = format!(
            "`__toString` {verb} return a string, but got {}: {}",
            r.show_type(),
            show_for_error(&r)
        );
        Err(EvalError::eval(msg).at(at))
    }
}

fn to_json(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let mut out = String::new();
    let mut ctx = Context::new();
    // The value itself is a level of the traversal, as each nested one is.
    s.nested(|s| s.value_to_json(&a[0], &mut ctx, true, &mut out, pos))?;
    Ok(Value::string_with_context(out, ctx))
}

/// Parses JSON text into a value.
pub(crate) fn parse_json(text: &str) -> EvalResult<Value> {
    super::json_parse::parse_json_bytes(&nixkit_syntax::encode_bytes(text))
}

fn from_json(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let text = Args::new(a, "fromJSON", pos).string(s, 0)?;
    parse_json(text.as_str()).map_err(|e| e.at(pos))
}
