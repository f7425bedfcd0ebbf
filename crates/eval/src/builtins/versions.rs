//! Version strings: `parseDrvName`, `compareVersions`, `splitVersion`.

use std::cmp::Ordering;

use crate::builtins::{primop, Args};
use crate::error::EvalResult;
use crate::eval::EvalState;
use crate::source::Pos;
use crate::value::{Attrs, PrimOp, Value};

pub(crate) static PRIMOPS: &[PrimOp] = &[
    primop!("parseDrvName", 1, parse_drv_name),
    primop!("compareVersions", 2, compare_versions),
    primop!("splitVersion", 1, split_version),
];

/// Splits `name-version` at the first `-` followed by a non-letter.
pub(crate) fn split_drv_name(s: &str) -> (&str, &str) {
    let b = s.as_bytes();
    for i in 0..b.len() {
        if b[i] == b'-' && b.get(i + 1).is_some_and(|c| !c.is_ascii_alphabetic()) {
            return (&s[..i], &s[i + 1..]);
        }
    }
    (s, "")
}

fn parse_drv_name(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let text = Args::new(a, "parseDrvName", pos).string(s, 0)?;
    let (name, version) = split_drv_name(text.as_str());
    Ok(Value::attrs(Attrs::from_pairs([
        (sym!("name"), Value::string(name)),
        (sym!("version"), Value::string(version)),
    ])))
}

/// The next version component starting at `*i`, skipping separators.
fn next_component<'a>(s: &'a str, i: &mut usize) -> Option<&'a str> {
    let b = s.as_bytes();
    while *i < b.len() && (b[*i] == b'.' || b[*i] == b'-') {
        *i += 1;
    }
    if *i >= b.len() {
        return None;
    }
    let start = *i;
    if b[*i].is_ascii_digit() {
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
    } else {
        while *i < b.len() && !b[*i].is_ascii_digit() && b[*i] != b'.' && b[*i] != b'-' {
            *i += 1;
        }
    }
    Some(&s[start..*i])
}

/// A component's number, as CppNix reads it: a C `int`, so digit runs past
/// `i32::MAX` are not numbers and compare as words.
fn component_number(c: &str) -> Option<i32> {
    c.parse()
        .ok()
        .filter(|_| c.bytes().all(|b| b.is_ascii_digit()))
}

fn component_less(c1: &str, c2: &str) -> bool {
    let n1 = component_number(c1);
    let n2 = component_number(c2);
    match (n1, n2) {
        (Some(x), Some(y)) => x < y,
        _ if c1.is_empty() && n2.is_some() => true,
        _ if c1 == "pre" && c2 != "pre" => true,
        _ if c2 == "pre" => false,
        (_, Some(_)) => true,
        (Some(_), _) => false,
        _ => c1 < c2,
    }
}

/// Compares two version strings as `builtins.compareVersions` does.
pub(crate) fn compare_version_strings(v1: &str, v2: &str) -> Ordering {
    let (mut i, mut j) = (0, 0);
    loop {
        let c1 = next_component(v1, &mut i);
        let c2 = next_component(v2, &mut j);
        if c1.is_none() && c2.is_none() {
            return Ordering::Equal;
        }
        let (c1, c2) = (c1.unwrap_or(""), c2.unwrap_or(""));
        if component_less(c1, c2) {
            return Ordering::Less;
        }
        if component_less(c2, c1) {
            return Ordering::Greater;
        }
    }
}

fn compare_versions(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "compareVersions", pos);
    let v1 = args.string(s, 0)?;
    let v2 = args.string(s, 1)?;
    Ok(Value::Int(
        match compare_version_strings(v1.as_str(), v2.as_str()) {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        },
    ))
}

fn split_version(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let v = Args::new(a, "splitVersion", pos).string(s, 0)?;
    let mut i = 0;
    let mut out = Vec::new();
    while let Some(c) = next_component(v.as_str(), &mut i) {
        out.push(Value::string(c));
    }
    Ok(Value::list(out))
}
