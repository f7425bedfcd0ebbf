//! String builtins: `toString`, `substring`, `stringLength`,
//! `concatStringsSep`, `replaceStrings`, and the edit distance used for
//! "did you mean" suggestions.

use crate::builtins::{arg_text, primop, Args};
use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::ops::Coerce;
use crate::source::Pos;
use crate::value::{Context, NixString, PrimOp, StringContext, Value};
use triomphe::Arc;

pub(crate) static PRIMOPS: &[PrimOp] = &[
    primop!("toString", 1, to_string),
    primop!("substring", 3, substring, forces 0),
    primop!("stringLength", 1, string_length),
    primop!("concatStringsSep", 2, concat_strings_sep),
    primop!("replaceStrings", 3, replace_strings),
];

/// Levenshtein distance (for suggestions).
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

fn string_value(n: NixString) -> Value {
    Value::String(Arc::new(n))
}

fn to_string(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    // The two common cases directly: a string is its own result (shared,
    // not copied), an integer is written once at its exact length.
    match a[0].forced() {
        Some(v @ Value::String(_)) => return Ok(v.clone()),
        Some(Value::Int(i)) => return Ok(Value::string(itoa::Buffer::new().format(*i))),
        _ => {}
    }
    let n =
        s.coerce_to_nix_string_for(&a[0], Coerce::TO_STRING, pos, &|| arg_text(0, "toString"))?;
    Ok(string_value(n))
}

fn substring(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "substring", pos);
    let start = args.int(s, 0)?;
    let len = args.int(s, 1)?;
    let text = args.coerced(s, 2, Coerce::INTERPOLATE)?;
    if start < 0 {
        return Err(EvalError::eval("negative start position in 'substring'").at(pos));
    }
    let start = usize::try_from(start).unwrap_or(usize::MAX);
    let end = if len < 0 {
        usize::MAX
    } else {
        start.saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
    };
    // Bytes, not characters: a cut inside a multi-byte character keeps the
    // byte (as an escape, see `NixString`).
    let piece = text.byte_slice(start, end);
    let ctx = text
        .context()
        .map(StringContext::to_set)
        .unwrap_or_default();
    Ok(Value::string_with_context(piece, ctx))
}

fn string_length(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let text = Args::new(a, "stringLength", pos).coerced(s, 0, Coerce::INTERPOLATE)?;
    Ok(Value::Int(text.byte_len() as i64))
}

fn concat_strings_sep(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "concatStringsSep", pos);
    let sep = args.string(s, 0)?;
    let list = args.list(s, 1)?;
    let mut ctx = Context::new();
    if let Some(c) = sep.context() {
        ctx.extend(c.iter().cloned());
    }
    let mut out = String::new();
    for (i, item) in list.iter().enumerate() {
        if i > 0 {
            out.push_str(sep.as_str());
        }
        s.coerce_into(item, &mut ctx, Coerce::INTERPOLATE, pos, &mut out, &|| {
            "while evaluating one element of the list of strings to concat passed to builtins.concatStringsSep"
                .to_string()
        })?;
    }
    Ok(Value::string_with_context(out, ctx))
}

fn replace_strings(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "replaceStrings", pos);
    let from = args.list(s, 0)?;
    let to = args.list(s, 1)?;
    if from.len() != to.len() {
        return Err(EvalError::eval(
            "'from' and 'to' arguments passed to builtins.replaceStrings have different lengths",
        ));
    }
    let mut froms = Vec::with_capacity(from.len());
    for f in from.iter() {
        let f = s.force_string(f, Pos::NONE).map_err(|e| {
            e.with_frame(
                "while evaluating one of the strings to replace passed to builtins.replaceStrings",
                Pos::NONE,
            )
        })?;
        froms.push(f);
    }
    let text = args.string(s, 2)?;
    // Replacement strings are forced lazily, once each.
    let mut tos: Vec<Option<Arc<NixString>>> = vec![None; to.len()];
    let mut ctx = text
        .context()
        .map(StringContext::to_set)
        .unwrap_or_default();
    // On bytes, as CppNix: an empty pattern inserts between bytes.
    let from_bytes: Vec<_> = froms.iter().map(|f| f.as_bytes()).collect();
    let pats: Vec<&[u8]> = from_bytes.iter().map(|f| f.as_ref()).collect();
    let mut replaced = false;
    let out = if !text.has_raw_bytes()
        && froms.iter().all(|f| !f.has_raw_bytes())
        && pats.iter().all(|p| !p.is_empty())
    {
        // UTF-8 text and non-empty UTF-8 patterns: a match starts and ends
        // between characters (UTF-8 synchronises on lead bytes), so the
        // text is copied in runs of whole characters.
        let bytes = text.as_str().as_bytes();
        let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
        let (mut i, mut run) = (0, 0);
        while i < bytes.len() {
            match pats.iter().position(|p| bytes[i..].starts_with(p)) {
                Some(k) => {
                    out.extend_from_slice(&bytes[run..i]);
                    match &tos[k] {
                        Some(t) => out.extend_from_slice(t.as_str().as_bytes()),
                        None => out.extend_from_slice(
                            replacement(s, &to[..], &mut tos, k, &mut ctx)?
                                .as_str()
                                .as_bytes(),
                        ),
                    }
                    i += pats[k].len();
                    run = i;
                    replaced = true;
                }
                None => i += 1,
            }
        }
        out.extend_from_slice(&bytes[run..]);
        // Whole characters and whole texts: valid UTF-8 (checked, not
        // assumed; joined escapes are made canonical by the constructor).
        match String::from_utf8(out) {
            Ok(text) => text,
            Err(e) => nixkit_syntax::decode_bytes(e.as_bytes()).into_owned(),
        }
    } else {
        let input = text.as_bytes();
        let mut out: Vec<u8> = Vec::with_capacity(input.len());
        let mut i = 0;
        while i <= input.len() {
            match pats.iter().position(|p| input[i..].starts_with(p)) {
                Some(k) => {
                    out.extend_from_slice(
                        &replacement(s, &to[..], &mut tos, k, &mut ctx)?.as_bytes(),
                    );
                    replaced = true;
                    if pats[k].is_empty() {
                        out.extend(input.get(i).copied());
                        i += 1;
                    } else {
                        i += pats[k].len();
                    }
                }
                None => {
                    out.extend(input.get(i).copied());
                    i += 1;
                }
            }
        }
        nixkit_syntax::decode_vec(out)
    };
    if !replaced {
        // Nothing matched: the result is the input, shared.
        return Ok(Value::String(text.clone()));
    }
    Ok(Value::string_with_context(out, ctx))
}

/// Replacement `k` of `replaceStrings`, forced on first use (its context
/// joins the result's then).
fn replacement(
    s: &mut EvalState,
    to: &[Value],
    tos: &mut [Option<Arc<NixString>>],
    k: usize,
    ctx: &mut Context,
) -> EvalResult<Arc<NixString>> {
    if let Some(t) = &tos[k] {
        return Ok(t.clone());
    }
    let t = s.force_string(&to[k], Pos::NONE).map_err(|e| {
        e.with_frame(
            "while evaluating one of the replacement strings passed to builtins.replaceStrings",
            Pos::NONE,
        )
    })?;
    if let Some(c) = t.context() {
        ctx.extend(c.iter().cloned());
    }
    tos[k] = Some(t.clone());
    Ok(t)
}
