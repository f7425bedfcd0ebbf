//! List builtins: `map`, `filter`, `foldl'`, `sort`, `genList`, `elemAt`,
//! `head`, `tail`, `length`, `elem`, `concatLists`, `concatMap`, `any`,
//! `all`, `partition`, `groupBy`, `genericClosure`.

use std::cmp::Ordering;
use triomphe::Arc;

use nixkit_syntax::Symbol;

use crate::builtins::{primop, Args};
use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::source::Pos;
use crate::thunk::{OtherCode, Thunk};
use crate::value::{Attr, Attrs, PrimOp, SharedSlice, Value};

pub(crate) static PRIMOPS: &[PrimOp] = &[
    primop!("elemAt", 2, elem_at, forces 1),
    primop!("head", 1, head),
    primop!("tail", 1, tail),
    primop!("map", 2, map, forces 1),
    primop!("filter", 2, filter, forces 1),
    primop!("elem", 2, elem, forces 1),
    primop!("concatLists", 1, concat_lists),
    primop!("length", 1, length),
    primop!("foldl'", 3, foldl_strict),
    primop!("any", 2, any),
    primop!("all", 2, all),
    primop!("genList", 2, gen_list, forces 1),
    primop!("sort", 2, sort, forces 1),
    primop!("partition", 2, partition),
    primop!("groupBy", 2, group_by),
    primop!("concatMap", 2, concat_map),
    primop!("genericClosure", 1, generic_closure),
];

fn elem_at(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "elemAt", pos);
    // The index first, as CppNix does.
    let n = args.int(s, 1)?;
    let list = args.list(s, 0)?;
    match usize::try_from(n).ok().and_then(|i| list.get(i)) {
        Some(v) => s.force(v),
        None => Err(EvalError::eval(format!(
            "'builtins.elemAt' called with index {n} on a list of size {}",
            list.len()
        ))
        .at(pos)),
    }
}

fn head(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let list = Args::new(a, "head", pos).list(s, 0)?;
    match list.first() {
        Some(v) => s.force(v),
        None => Err(EvalError::eval("'builtins.head' called on an empty list").at(pos)),
    }
}

fn tail(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let list = Args::new(a, "tail", pos).list(s, 0)?;
    if list.is_empty() {
        return Err(EvalError::eval("'builtins.tail' called on an empty list").at(pos));
    }
    Ok(Value::List(SharedSlice::from_exact(
        list[1..].iter().cloned(),
    )))
}

fn map(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "map", pos);
    let list = args.list(s, 1)?;
    if list.is_empty() {
        return Ok(Value::List(list.clone()));
    }
    let f = args.function(s, 0)?;
    // Every element's thunk shares one allocation for the function and the
    // source list (see `OtherCode::MapList`).
    let n = list.len();
    if u32::try_from(n).is_err() {
        return Ok(Value::list(
            list.iter()
                .map(|x| EvalState::delay_call(f.clone(), vec![x.clone()], pos))
                .collect(),
        ));
    }
    let shared = Arc::new(OtherCode::MapList(Arc::new((f.clone(), pos, list.clone()))));
    // Written straight into the list's allocation (no vector to copy:
    // a list of 400 k items would briefly take twice its size).
    Ok(Value::List(SharedSlice::from_exact((0..n as u32).map(
        |i| Value::Thunk(Arc::new(Thunk::indexed(&shared, i))),
    ))))
}

/// Calls a predicate and forces a Boolean result.
fn test(s: &mut EvalState, f: &Value, x: &Value, name: &str, pos: Pos) -> EvalResult<bool> {
    let r = s.call1(f, x.clone(), pos)?;
    s.expect_bool(&r).map_err(|e| {
        let what = match name {
            "filter" => "filtering function",
            "partition" => "partition function",
            _ => "function",
        };
        e.at(pos).with_frame(
            format!("while evaluating the return value of the {what} passed to builtins.{name}"),
            pos,
        )
    })
}

fn filter(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "filter", pos);
    let list = args.list(s, 1)?;
    if list.is_empty() {
        return Ok(Value::List(list.clone()));
    }
    let f = args.function(s, 0)?;
    let mut out = Vec::with_capacity(list.len());
    for x in list.iter() {
        if test(s, f, x, "filter", pos)? {
            out.push(x.clone());
        }
    }
    if out.len() == list.len() {
        return Ok(Value::List(list.clone()));
    }
    Ok(Value::list(out))
}

fn elem(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let list = Args::new(a, "elem", pos).list(s, 1)?;
    // An integer needle (forced first, as the first comparison would) is
    // compared against evaluated integers without going through `equal`.
    let needle = if list.is_empty() {
        None
    } else {
        Some(s.force(&a[0])?)
    };
    if let Some(Value::Int(n)) = needle {
        for x in list.iter() {
            let hit = match x.forced() {
                Some(Value::Int(m)) => *m == n,
                _ => s.equal_cells(&a[0], x)?,
            };
            if hit {
                return Ok(Value::Bool(true));
            }
        }
        return Ok(Value::Bool(false));
    }
    for x in list.iter() {
        if s.equal_cells(&a[0], x)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn concat_lists(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let lists = Args::new(a, "concatLists", pos).list(s, 0)?;
    // All lists forced (in order) first, so that the result is written
    // once, at its size.
    let mut parts: Vec<&[Value]> = Vec::with_capacity(lists.len());
    for l in lists.iter() {
        let l = s.force_list_ref(l, pos).map_err(|e| {
            e.with_frame(
                "while evaluating a value of the list passed to builtins.concatLists",
                pos,
            )
        })?;
        parts.push(l);
    }
    Ok(Value::List(SharedSlice::concat(&parts)))
}

fn length(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let list = Args::new(a, "length", pos).list(s, 0)?;
    Ok(Value::Int(list.len() as i64))
}

fn foldl_strict(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "foldl'", pos);
    let f = args.function(s, 0)?;
    let list = args.list(s, 2)?;
    if list.is_empty() {
        return s.force(&a[1]);
    }
    let mut acc = a[1].clone();
    for x in list.iter() {
        acc = s.call2(f, acc, x.clone(), pos)?;
    }
    Ok(acc)
}

fn any(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "any", pos);
    let f = args.function(s, 0)?;
    let list = args.list(s, 1)?;
    for x in list.iter() {
        if test(s, f, x, "any", pos)? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

fn all(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "all", pos);
    let f = args.function(s, 0)?;
    let list = args.list(s, 1)?;
    for x in list.iter() {
        if !test(s, f, x, "all", pos)? {
            return Ok(Value::Bool(false));
        }
    }
    Ok(Value::Bool(true))
}

fn gen_list(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "genList", pos);
    let n = args.int(s, 1)?;
    if n < 0 {
        return Err(EvalError::eval(format!("cannot create list of size {n}")));
    }
    let f = args.function(s, 0)?;
    let len = usize::try_from(n)
        .map_err(|_| EvalError::eval(format!("cannot create list of size {n}")))?;
    if u32::try_from(len).is_err() {
        return Ok(Value::List(SharedSlice::from_exact((0..len).map(|i| {
            EvalState::delay_call(f.clone(), vec![Value::Int(i as i64)], pos)
        }))));
    }
    // Every element's thunk shares one allocation for the function and
    // holds its index (see `OtherCode::CallIndex`).
    let shared = Arc::new(OtherCode::CallIndex(f.clone(), pos));
    Ok(Value::List(SharedSlice::from_exact((0..len as u32).map(
        |i| Value::Thunk(Arc::new(Thunk::indexed(&shared, i))),
    ))))
}

/// Stable merge sort with a fallible `is_less`, using `buf` (as long as
/// `items`) as scratch space: elements are moved, never cloned.
fn merge_sort(
    s: &mut EvalState,
    items: &mut [Value],
    buf: &mut [Value],
    is_less: &mut dyn FnMut(&mut EvalState, &Value, &Value) -> EvalResult<bool>,
) -> EvalResult<()> {
    let n = items.len();
    if n <= 12 {
        // Insertion sort: stable, and fewer comparisons on short runs.
        for i in 1..n {
            let mut j = i;
            while j > 0 && is_less(s, &items[j], &items[j - 1])? {
                items.swap(j, j - 1);
                j -= 1;
            }
        }
        return Ok(());
    }
    let mid = n / 2;
    merge_sort(s, &mut items[..mid], &mut buf[..mid], is_less)?;
    merge_sort(s, &mut items[mid..], &mut buf[mid..n], is_less)?;
    if !is_less(s, &items[mid], &items[mid - 1])? {
        return Ok(()); // already in order
    }
    let buf = &mut buf[..n];
    buf.swap_with_slice(items);
    let (mut i, mut j, mut k) = (0, mid, 0);
    while i < mid && j < n {
        if is_less(s, &buf[j], &buf[i])? {
            std::mem::swap(&mut items[k], &mut buf[j]);
            j += 1;
        } else {
            std::mem::swap(&mut items[k], &mut buf[i]);
            i += 1;
        }
        k += 1;
    }
    for x in buf[i..mid].iter_mut() {
        std::mem::swap(&mut items[k], x);
        k += 1;
    }
    for x in buf[j..n].iter_mut() {
        std::mem::swap(&mut items[k], x);
        k += 1;
    }
    Ok(())
}

fn sort(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "sort", pos);
    let list = args.list(s, 1)?;
    let f = args.function(s, 0)?;
    // Sorting works on the forced values (a forced thunk and its value are
    // indistinguishable), so comparisons need no indirection.
    let mut items: Vec<Value> = Vec::with_capacity(list.len());
    for x in list.iter() {
        items.push(s.force(x)?);
    }
    // `builtins.lessThan` on numbers or strings is compared directly; anything
    // else (and every error) goes through the builtin.
    let less_than = matches!(&f, Value::PrimOp(op) if op.name == "lessThan");
    if less_than && items.iter().all(|x| matches!(x, Value::Int(_))) {
        // Integers under `lessThan`: a total order whose equal elements are
        // indistinguishable, so any sort gives the merge sort's result.
        let mut ints: Vec<i64> = items
            .iter()
            .map(|x| if let Value::Int(i) = x { *i } else { 0 })
            .collect();
        drop(items);
        ints.sort_unstable();
        return Ok(Value::List(SharedSlice::from_exact(
            ints.into_iter().map(Value::Int),
        )));
    }
    let mut buf = vec![Value::Null; items.len()];
    merge_sort(s, &mut items, &mut buf, &mut |s, x, y| {
        if less_than {
            match (x, y) {
                (Value::Int(p), Value::Int(q)) => return Ok(p < q),
                (Value::String(p), Value::String(q)) => return Ok(p.cmp_bytes(q).is_lt()),
                _ => {}
            }
        }
        let r = s.call(f, &[x.clone(), y.clone()], pos)?;
        s.expect_bool(&r).map_err(|e| {
            e.at(pos).with_frame(
                "while evaluating the return value of the sorting function passed to builtins.sort",
                pos,
            )
        })
    })?;
    drop(buf);
    Ok(Value::list(items))
}

fn partition(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "partition", pos);
    let f = args.function(s, 0)?;
    let list = args.list(s, 1)?;
    let (mut right, mut wrong) = (Vec::new(), Vec::new());
    for x in list.iter() {
        // CppNix forces each element before calling the predicate on it.
        s.force(x)?;
        if test(s, f, x, "partition", pos)? {
            right.push(x.clone());
        } else {
            wrong.push(x.clone());
        }
    }
    Ok(Value::attrs(Attrs::from_pairs([
        (sym!("right"), Value::list(right)),
        (sym!("wrong"), Value::list(wrong)),
    ])))
}

fn group_by(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "groupBy", pos);
    let f = args.function(s, 0)?;
    let list = args.list(s, 1)?;
    let mut groups: Vec<(Symbol, Vec<Value>)> = Vec::new();
    let mut index = std::collections::HashMap::new();
    for x in list.iter() {
        let k = s.call(f, std::slice::from_ref(x), pos)?;
        let k = s.force_string(&k, pos).map_err(|e| {
            e.with_frame("while evaluating the return value of the grouping function passed to builtins.groupBy", pos)
        })?;
        let k = Symbol::intern(k.as_str());
        let i = *index.entry(k).or_insert_with(|| {
            groups.push((k, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(x.clone());
    }
    Ok(Value::attrs(Attrs::from_unsorted(
        groups
            .into_iter()
            .map(|(name, vs)| Attr {
                name,
                value: Value::list(vs),
                pos: Pos::NONE,
            })
            .collect(),
    )))
}

fn concat_map(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "concatMap", pos);
    let f = args.function(s, 0)?;
    let list = args.list(s, 1)?;
    let mut results = Vec::with_capacity(list.len());
    for x in list.iter() {
        let r = s.call(f, std::slice::from_ref(x), pos)?;
        let at = crate::builtins::value_pos(&r)
            .or_else(|| crate::builtins::value_pos(f))
            .unwrap_or(Pos::NONE);
        let r = s.force_list(&r, Pos::NONE).map_err(|e| {
            e.with_frame(
                "while evaluating the return value of the function passed to builtins.concatMap",
                at,
            )
        })?;
        results.push(r);
    }
    let parts: Vec<&[Value]> = results.iter().map(|l| &l[..]).collect();
    Ok(Value::List(SharedSlice::concat(&parts)))
}

fn generic_closure(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "genericClosure", pos);
    let input = args.attrs(s, 0)?;
    let get = |name: &str| {
        input.get(Symbol::intern(name)).cloned().ok_or_else(|| {
            EvalError::eval(format!("attribute '{name}' missing")).with_frame(
                "in the attrset passed as argument to builtins.genericClosure",
                Pos::NONE,
            )
        })
    };
    let start_set = get("startSet")?;
    let start_set = s.force_list(&start_set, Pos::NONE).map_err(|e| {
        e.with_frame("while evaluating the 'startSet' attribute passed as argument to builtins.genericClosure", Pos::NONE)
    })?;
    if start_set.is_empty() {
        return Ok(Value::List(start_set));
    }
    let mut work: std::collections::VecDeque<Value> = start_set.iter().cloned().collect();
    let op = get("operator")?;
    let op = s.force_function(&op, Pos::NONE).map_err(|e| {
        e.with_frame("while evaluating the 'operator' attribute passed as argument to builtins.genericClosure", Pos::NONE)
    })?;
    let key = sym!("key");
    let show = |v: &Value| crate::print::show_for_error(v);
    // Keys are kept as CppNix keeps them, in an ordered set compared with
    // `<`'s rules (see `closure_keys`).
    let mut seen = super::closure_keys::ClosureKeys::default();
    let mut out = Vec::new();
    while let Some(item) = work.pop_front() {
        let in_element = |e: EvalError| {
            e.with_frame(
                format!("in genericClosure element {}", show(&item)),
                Pos::NONE,
            )
        };
        let attrs = match s.force(&item).map_err(in_element)? {
            Value::Attrs(a) => a,
            other => return Err(in_element(crate::eval::type_error("a set", &other))),
        };
        let k = attrs
            .get(key)
            .cloned()
            .ok_or_else(|| in_element(EvalError::eval("attribute 'key' missing")))?;
        let k = s.force(&k)?;
        let mut less = |a: &Value, b: &Value| Ok(s.compare(a, b, Pos::NONE)? == Ordering::Less);
        let new = seen.insert(k, &item, &mut less, &show)?;
        if !new {
            continue;
        }
        out.push(item.clone());
        let calling = |e: EvalError| {
            e.with_frame(
                format!(
                    "while calling operator on genericClosure element {}",
                    show(&item)
                ),
                Pos::NONE,
            )
        };
        let next = s
            .call(&op, std::slice::from_ref(&item), Pos::NONE)
            .map_err(calling)?;
        let next = match s.force(&next).map_err(calling)? {
            Value::List(l) => l,
            other => {
                return Err(calling(crate::eval::type_error("a list", &other).with_frame(
                    "while evaluating the return value of the `operator` passed to builtins.genericClosure",
                    Pos::NONE,
                )))
            }
        };
        for x in next.iter() {
            s.force(x).map_err(calling)?;
        }
        work.extend(next.iter().cloned());
    }
    Ok(Value::list(out))
}
