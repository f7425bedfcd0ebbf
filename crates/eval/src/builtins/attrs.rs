//! Attribute set builtins: `attrNames`, `attrValues`, `getAttr`, `hasAttr`,
//! `removeAttrs`, `listToAttrs`, `intersectAttrs`, `catAttrs`,
//! `functionArgs`, `mapAttrs`, `zipAttrsWith`, `unsafeGetAttrPos`.

use std::collections::HashMap;
use triomphe::Arc;

use nixkit_syntax::Symbol;

use crate::builtins::{primop, Args};
use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::source::{self, Pos};
use crate::thunk::{OtherCode, Thunk};
use crate::value::{Attr, Attrs, List, PrimOp, SharedSlice, Value};

pub(crate) static PRIMOPS: &[PrimOp] = &[
    primop!("attrNames", 1, attr_names),
    primop!("attrValues", 1, attr_values),
    primop!("getAttr", 2, get_attr),
    primop!("unsafeGetAttrPos", 2, unsafe_get_attr_pos),
    primop!("hasAttr", 2, has_attr),
    primop!("removeAttrs", 2, remove_attrs, forces 0),
    primop!("listToAttrs", 1, list_to_attrs),
    primop!("intersectAttrs", 2, intersect_attrs, forces 0),
    primop!("catAttrs", 2, cat_attrs),
    primop!("functionArgs", 1, function_args),
    primop!("mapAttrs", 2, map_attrs, forces 1),
    primop!("zipAttrsWith", 2, zip_attrs_with),
];

fn attr_names(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let attrs = Args::new(a, "attrNames", pos).attrs(s, 0)?;
    Ok(Value::List(SharedSlice::from_exact(
        attrs.sorted_by_name().iter().map(|x| s.name_string(x.name)),
    )))
}

fn attr_values(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let attrs = Args::new(a, "attrValues", pos).attrs(s, 0)?;
    Ok(Value::List(SharedSlice::from_exact(
        attrs.sorted_by_name().iter().map(|x| x.value.clone()),
    )))
}

fn get_attr(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "getAttr", pos);
    let name = args.symbol(s, 0)?;
    let attrs = args.attrs(s, 1)?;
    match attrs.get(name) {
        Some(v) => s.force(v),
        None => Err(EvalError::eval(format!("attribute '{name}' missing"))
            .with_frame("in the attribute set under consideration", Pos::NONE)),
    }
}

/// `{ file, line, column }` for a position, or null.
pub(crate) fn pos_value(pos: Pos) -> Value {
    match source::locate(pos) {
        None => Value::Null,
        Some(loc) => Value::attrs(Attrs::from_pairs([
            (sym!("file"), Value::string(loc.origin.display())),
            (sym!("line"), Value::Int(i64::from(loc.line))),
            (sym!("column"), Value::Int(i64::from(loc.column))),
        ])),
    }
}

fn unsafe_get_attr_pos(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "unsafeGetAttrPos", pos);
    let name = args.symbol(s, 0)?;
    let attrs = args.attrs(s, 1)?;
    Ok(attrs
        .get_attr(name)
        .map_or(Value::Null, |attr| pos_value(attr.pos)))
}

fn has_attr(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "hasAttr", pos);
    let name = args.symbol(s, 0)?;
    let attrs = args.attrs(s, 1)?;
    Ok(Value::Bool(attrs.get(name).is_some()))
}

fn remove_attrs(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "removeAttrs", pos);
    let attrs = args.attrs(s, 0)?;
    let names = args.list(s, 1)?;
    let mut remove = Vec::with_capacity(names.len());
    for n in names.iter() {
        let n = s
            .force_string_ref(n, pos)
            .map_err(|e| crate::builtins::arg_frame(e, 1, "removeAttrs"))?;
        remove.push(n.symbol().index());
    }
    remove.sort_unstable();
    let kept: Vec<Attr> = attrs
        .iter()
        .filter(|x| remove.binary_search(&x.name.index()).is_err())
        .cloned()
        .collect();
    if kept.len() == attrs.len() {
        return Ok(Value::Attrs(attrs.clone()));
    }
    Ok(Value::attrs(Attrs::from_sorted(kept)))
}

fn list_to_attrs(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "listToAttrs", pos);
    let list = args.list(s, 0)?;
    let name_sym = sym!("name");
    let value_sym = sym!("value");
    let mut entries: Vec<Attr> = Vec::with_capacity(list.len());
    for item in list.iter() {
        let item = s.force_attrs_ref(item, pos).map_err(|e| {
            e.with_frame(
                "while evaluating an element of the list passed to builtins.listToAttrs",
                pos,
            )
        })?;
        let pair_attr = |name: Symbol| {
            item.get_attr(name).ok_or_else(|| {
                EvalError::eval(format!("attribute '{name}' missing"))
                    .with_frame("in a {name=...; value=...;} pair", Pos::NONE)
            })
        };
        let name_attr = pair_attr(name_sym)?;
        let name = s.force_string_ref(&name_attr.value, name_attr.pos).map_err(|e| {
            e.with_frame(
                "while evaluating the `name` attribute of an element of the list passed to builtins.listToAttrs",
                name_attr.pos,
            )
        })?;
        let attr = pair_attr(value_sym)?;
        entries.push(Attr {
            name: name.symbol(),
            value: attr.value.clone(),
            pos: attr.pos,
        });
    }
    // The first occurrence of a name wins: sort stably, keep the first of each run.
    entries.sort_by_key(|x| x.name.index());
    entries.dedup_by_key(|x| x.name.index());
    Ok(Value::attrs(Attrs::from_sorted(entries)))
}

fn intersect_attrs(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "intersectAttrs", pos);
    let left = args.attrs(s, 0)?;
    let right = args.attrs(s, 1)?;
    Ok(Value::attrs(left.intersect(right)))
}

fn cat_attrs(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "catAttrs", pos);
    let name = args.symbol(s, 0)?;
    let list = args.list(s, 1)?;
    let mut out = Vec::new();
    for item in list.iter() {
        let attrs = s
            .force_attrs_ref(item, pos)
            .map_err(|e| e.with_frame("while evaluating an element in the list passed as second argument to builtins.catAttrs", pos))?;
        if let Some(v) = attrs.get(name) {
            out.push(v.clone());
        }
    }
    Ok(Value::list(out))
}

fn function_args(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let f = Args::new(a, "functionArgs", pos).value(s, 0)?;
    match &f {
        Value::Lambda(c) => Ok(match &c.lambda.formals {
            None => Value::attrs(Attrs::new()),
            Some(formals) => Value::attrs(Attrs::from_unsorted(
                formals
                    .iter()
                    .map(|fm| Attr {
                        name: fm.name,
                        value: Value::Bool(fm.default.is_some()),
                        pos: fm.pos,
                    })
                    .collect(),
            )),
        }),
        Value::PrimOp(_) | Value::PrimOpApp(_) => Ok(Value::attrs(Attrs::new())),
        _ => Err(EvalError::eval("'functionArgs' requires a function").at(pos)),
    }
}

fn map_attrs(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "mapAttrs", pos);
    let attrs = args.attrs(s, 1)?;
    let f = a[0].clone();
    // Every attribute's thunk shares one allocation for the function and the
    // source set (see `OtherCode::MapAttrs`).
    let shared = Arc::new(OtherCode::MapAttrs(Arc::new((f, pos, attrs.clone()))));
    // Same names in the same order: written straight into the new set.
    let mapped = attrs.iter().enumerate().map(|(i, x)| Attr {
        name: x.name,
        value: Value::Thunk(Arc::new(Thunk::indexed(&shared, i as u32))),
        // CppNix's result attributes carry no position.
        pos: Pos::NONE,
    });
    Ok(Value::attrs(Attrs::from_sorted_exact(mapped)))
}

fn zip_attrs_with(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "zipAttrsWith", pos);
    args.function(s, 0)?;
    let list = args.list(s, 1)?;
    let mut sets: Vec<&Attrs> = Vec::with_capacity(list.len());
    for item in list.iter() {
        sets.push(s.force_attrs_ref(item, pos).map_err(|e| {
            e.with_frame(
                "while evaluating a value of the list passed as second argument to builtins.zipAttrsWith",
                pos,
            )
        })?);
    }
    // Sets are sorted by symbol index: a few of them (`recursiveUpdate` zips two, once per
    // level and fold step) are merged in that order, with neither hashing nor sorting.
    if sets.len() <= ZIP_MERGE_MAX {
        let mut at = [0usize; ZIP_MERGE_MAX];
        let mut entries = Vec::new();
        loop {
            let next = (0..sets.len())
                .filter_map(|i| sets[i].entries().get(at[i]).map(|x| x.name))
                .min_by_key(|name| name.index());
            let Some(name) = next else { break };
            // The sets holding `name` at their cursor, in list order.
            let mut holders = [0usize; ZIP_MERGE_MAX];
            let mut count = 0;
            for (i, set) in sets.iter().enumerate() {
                if set.entries().get(at[i]).is_some_and(|x| x.name == name) {
                    holders[count] = i;
                    count += 1;
                }
            }
            let values = List::from_exact(
                holders[..count]
                    .iter()
                    .map(|&i| sets[i].entries()[at[i]].value.clone()),
            );
            for &i in &holders[..count] {
                at[i] += 1;
            }
            entries.push((name, values));
        }
        return Ok(Value::attrs(Attrs::from_sorted(zip_entries(
            &a[0], pos, entries,
        ))));
    }
    // Many sets (`zipAttrs` of module definitions): grouped by name through a hash map,
    // linear in the attributes, then the names sorted once.
    let mut groups: HashMap<Symbol, Vec<Value>> = HashMap::new();
    let mut order: Vec<Symbol> = Vec::new();
    for set in sets {
        for x in set.iter() {
            groups
                .entry(x.name)
                .or_insert_with(|| {
                    order.push(x.name);
                    Vec::new()
                })
                .push(x.value.clone());
        }
    }
    let entries = order
        .into_iter()
        .map(|name| (name, List::new(groups.remove(&name).unwrap_or_default())))
        .collect();
    Ok(Value::attrs(Attrs::from_unsorted(zip_entries(
        &a[0], pos, entries,
    ))))
}

/// The attributes of a `zipAttrsWith` result: one thunk per name, all sharing
/// one allocation for the function, the position and every name's list of
/// values (see `OtherCode::ZipAttrs`), each thunk holding its index there.
fn zip_entries(f: &Value, pos: Pos, zipped: Vec<(Symbol, List)>) -> Vec<Attr> {
    let entries = Arc::new((f.clone(), pos, zipped.into_boxed_slice()));
    let shared = Arc::new(OtherCode::ZipAttrs(entries.clone()));
    entries
        .2
        .iter()
        .enumerate()
        .map(|(i, (name, _))| Attr {
            name: *name,
            value: Value::Thunk(Arc::new(Thunk::indexed(&shared, i as u32))),
            pos: Pos::NONE,
        })
        .collect()
}

/// The most sets `zipAttrsWith` merges in order; more are grouped through a hash map.
const ZIP_MERGE_MAX: usize = 4;
