//! String context builtins: `getContext`, `appendContext`, `hasContext`,
//! `unsafeDiscardStringContext`, `unsafeDiscardOutputDependency`,
//! `addDrvOutputDependencies`.

use std::collections::BTreeMap;

use nixkit_syntax::Symbol;

use crate::builtins::{primop, Args};
use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::ops::Coerce;
use crate::source::Pos;
use crate::value::{Attrs, Context, PrimOp, StringContext, Value};

pub(crate) static PRIMOPS: &[PrimOp] = &[
    primop!("unsafeDiscardStringContext", 1, discard),
    primop!("hasContext", 1, has_context),
    primop!(
        "unsafeDiscardOutputDependency",
        1,
        discard_output_dependency
    ),
    primop!("addDrvOutputDependencies", 1, add_drv_output_dependencies),
    primop!("getContext", 1, get_context),
    primop!("appendContext", 2, append_context),
];

fn discard(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let text =
        Args::new(a, "unsafeDiscardStringContext", pos).coerced(s, 0, Coerce::INTERPOLATE)?;
    Ok(Value::string(text.as_str()))
}

fn has_context(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let text = Args::new(a, "hasContext", pos).string(s, 0)?;
    Ok(Value::Bool(text.has_context()))
}

fn discard_output_dependency(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let text =
        Args::new(a, "unsafeDiscardOutputDependency", pos).coerced(s, 0, Coerce::INTERPOLATE)?;
    let ctx: Context = text
        .context()
        .map(|c| {
            c.iter()
                .map(|e| e.strip_prefix('=').map_or_else(|| e.clone(), Into::into))
                .collect()
        })
        .unwrap_or_default();
    Ok(Value::string_with_context(text.as_str(), ctx))
}

fn add_drv_output_dependencies(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let text = Args::new(a, "addDrvOutputDependencies", pos).coerced(s, 0, Coerce::INTERPOLATE)?;
    let ctx = text
        .context()
        .map(StringContext::to_set)
        .unwrap_or_default();
    if ctx.len() != 1 {
        return Err(EvalError::eval(format!(
            "context of string '{}' must have exactly one element, but has {}",
            text.as_str(),
            ctx.len()
        ))
        .at(pos));
    }
    let elem = ctx.iter().next().cloned().unwrap_or_default();
    let new: Box<str> = if let Some(rest) = elem.strip_prefix('!') {
        let out = rest.split('!').next().unwrap_or("");
        return Err(EvalError::eval(format!(
            "`addDrvOutputDependencies` can only act on derivations, not on a derivation output such as '{out}'"
        ))
        .at(pos));
    } else if elem.starts_with('=') {
        elem
    } else if elem.ends_with(".drv") {
        format!("={elem}").into()
    } else {
        return Err(EvalError::eval(format!("path '{elem}' is not a derivation")).at(pos));
    };
    let mut c = Context::new();
    c.insert(new);
    Ok(Value::string_with_context(text.as_str(), c))
}

#[derive(Default)]
struct PathInfo {
    path: bool,
    all_outputs: bool,
    outputs: Vec<String>,
}

fn get_context(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let text = Args::new(a, "getContext", pos).string(s, 0)?;
    let mut infos: BTreeMap<String, PathInfo> = BTreeMap::new();
    for e in text.context().into_iter().flatten() {
        if let Some(p) = e.strip_prefix('=') {
            infos.entry(p.to_string()).or_default().all_outputs = true;
        } else if let Some(rest) = e.strip_prefix('!') {
            let (out, p) = rest.split_once('!').unwrap_or((rest, ""));
            infos
                .entry(p.to_string())
                .or_default()
                .outputs
                .push(out.to_string());
        } else {
            infos.entry(e.to_string()).or_default().path = true;
        }
    }
    let entries = infos.into_iter().map(|(p, info)| {
        let mut fields = Vec::new();
        if info.path {
            fields.push((sym!("path"), Value::Bool(true)));
        }
        if info.all_outputs {
            fields.push((sym!("allOutputs"), Value::Bool(true)));
        }
        if !info.outputs.is_empty() {
            let mut outs = info.outputs;
            outs.sort();
            fields.push((
                sym!("outputs"),
                Value::list(outs.into_iter().map(Value::string).collect()),
            ));
        }
        (Symbol::intern(&p), Value::attrs(Attrs::from_pairs(fields)))
    });
    Ok(Value::attrs(Attrs::from_pairs(entries.collect::<Vec<_>>())))
}

fn append_context(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "appendContext", pos);
    let text = args.string(s, 0)?;
    let extra = args.attrs(s, 1)?;
    let mut ctx = text
        .context()
        .map(StringContext::to_set)
        .unwrap_or_default();
    let store_dir = s.store.store_dir().to_string();
    for attr in extra.iter() {
        let path = attr.name.as_str();
        if !path.starts_with(&format!("{store_dir}/")) {
            return Err(
                EvalError::eval(format!("context key '{path}' is not a store path")).at(pos),
            );
        }
        let info = s.force_attrs_ref(&attr.value, pos)?;
        if let Some(p) = info.get_str("path") {
            if s.expect_bool(p)? {
                ctx.insert(path.into());
            }
        }
        if let Some(all) = info.get_str("allOutputs") {
            if s.expect_bool(all)? {
                if !path.ends_with(".drv") {
                    return Err(EvalError::eval(format!(
                        "tried to add all-outputs context of {path}, which is not a derivation, to a string"
                    ))
                    .at(pos));
                }
                ctx.insert(format!("={path}").into());
            }
        }
        if let Some(outs) = info.get_str("outputs") {
            let outs = s.force_list(outs, pos)?;
            if !outs.is_empty() && !path.ends_with(".drv") {
                return Err(EvalError::eval(format!(
                    "tried to add derivation output context of {path}, which is not a derivation, to a string"
                ))
                .at(pos));
            }
            for o in outs.iter() {
                let o = s.force_string(o, pos)?;
                ctx.insert(format!("!{}!{path}", o.as_str()).into());
            }
        }
    }
    Ok(Value::string_with_context(text.as_str(), ctx))
}
