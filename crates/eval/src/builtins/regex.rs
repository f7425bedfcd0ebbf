//! `match` and `split`: POSIX extended regular expressions on bytes, with
//! CppNix's syntax and iteration rules (`nixkit-regex`), compiled once per
//! pattern and evaluator.

use std::sync::Arc;

use nixkit_regex::{Groups, Regex, RegexError};

use crate::builtins::{primop, Args};
use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::source::Pos;
use crate::value::{NixString, PrimOp, Value};

pub(crate) static PRIMOPS: &[PrimOp] = &[primop!("match", 2, match_), primop!("split", 2, split)];

impl EvalState {
    /// The compiled pattern, from the cache or compiled now (as CppNix,
    /// which keeps every pattern it compiled).
    fn regex(&mut self, re: &NixString, pos: Pos) -> EvalResult<Arc<Regex>> {
        if let Some(r) = self.regex_cache.get(re.as_str()) {
            return Ok(r.clone());
        }
        let compiled = Regex::new(&re.as_bytes()).map_err(|e| {
            let msg = match e {
                RegexError::TooLarge => "memory limit exceeded by regular expression",
                RegexError::Invalid => "invalid regular expression",
            };
            EvalError::eval(format!("{msg} '{}'", re.as_str())).at(pos)
        })?;
        let compiled = Arc::new(compiled);
        self.regex_cache
            .insert(re.as_str().into(), compiled.clone());
        Ok(compiled)
    }
}

/// The text of `input[range]` (bytes that are not UTF-8 kept as escapes).
fn piece(input: &[u8], range: std::ops::Range<usize>) -> Value {
    Value::string(nixkit_syntax::decode_bytes(&input[range]))
}

/// A match's groups as Nix values: a string each, `null` if unset.
fn groups_list(input: &[u8], groups: &Groups) -> Value {
    Value::list(
        groups
            .iter()
            .skip(1)
            .map(|g| match g {
                Some(r) => piece(input, r.clone()),
                None => Value::Null,
            })
            .collect(),
    )
}

fn match_(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "match", pos);
    let re = args.string(s, 0)?;
    let text = args.string(s, 1)?;
    let re = s.regex(re, pos)?;
    let input = text.as_bytes();
    Ok(match re.full_match(&input) {
        Some(groups) => groups_list(&input, &groups),
        None => Value::Null,
    })
}

fn split(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "split", pos);
    let re = args.string(s, 0)?;
    let text = args.string(s, 1)?;
    let re = s.regex(re, pos)?;
    let input = text.as_bytes();
    let mut out = Vec::new();
    let mut last = 0;
    for groups in re.find_all(&input) {
        let Some(Some(whole)) = groups.first() else {
            continue;
        };
        out.push(piece(&input, last..whole.start));
        out.push(groups_list(&input, &groups));
        last = whole.end;
    }
    out.push(piece(&input, last..input.len()));
    Ok(Value::list(out))
}
