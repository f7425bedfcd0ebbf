//! `match` and `split`: POSIX extended regular expressions, translated to the
//! `regex` crate's syntax and cached per evaluator.

use std::sync::Arc;

use regex::Regex;

use crate::builtins::{primop, Args};
use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::source::Pos;
use crate::value::{PrimOp, Value};

pub(crate) static PRIMOPS: &[PrimOp] = &[primop!("match", 2, match_), primop!("split", 2, split)];

/// Translates a POSIX ERE into `regex` syntax: inside bracket expressions a
/// backslash and `[` (other than `[:class:]`) are literal, and the set
/// operators `&&`, `--`, `~~` of `regex` must not apply.
fn translate(ere: &str) -> String {
    let chars: Vec<char> = ere.chars().collect();
    let mut out = String::with_capacity(ere.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            out.push(c);
            out.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if c != '[' {
            out.push(c);
            i += 1;
            continue;
        }
        // A bracket expression.
        out.push('[');
        i += 1;
        if chars.get(i) == Some(&'^') {
            out.push('^');
            i += 1;
        }
        let mut first = true;
        while i < chars.len() {
            let c = chars[i];
            if c == ']' && !first {
                break;
            }
            first = false;
            if c == '[' && matches!(chars.get(i + 1), Some(':') | Some('.') | Some('=')) {
                let delim = chars[i + 1];
                let mut j = i + 2;
                while j + 1 < chars.len() && !(chars[j] == delim && chars[j + 1] == ']') {
                    j += 1;
                }
                let inner: String = chars[i..(j + 2).min(chars.len())].iter().collect();
                out.push_str(&inner);
                i = j + 2;
                continue;
            }
            match c {
                '\\' | '[' | ']' | '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                '-' if chars.get(i + 1) == Some(&'-') => out.push_str("\\-"),
                c => out.push(c),
            }
            i += 1;
        }
        out.push(']');
        i += 1;
    }
    out
}

impl EvalState {
    fn regex(&mut self, re: &str, anchored: bool, pos: Pos) -> EvalResult<Arc<Regex>> {
        let key = if anchored {
            format!("^{re}")
        } else {
            format!("~{re}")
        };
        if let Some(r) = self.regex_cache.get(&key) {
            return Ok(r.clone());
        }
        let translated = translate(re);
        // POSIX `.` matches any character, newlines included: `(?s)`.
        let source = if anchored {
            format!("(?s)^(?:{translated})$")
        } else {
            format!("(?s){translated}")
        };
        let compiled = Regex::new(&source)
            .map_err(|_| EvalError::eval(format!("invalid regular expression '{re}'")).at(pos))?;
        let compiled = Arc::new(compiled);
        self.regex_cache.insert(key, compiled.clone());
        Ok(compiled)
    }
}

fn captures_list(caps: &regex::Captures<'_>) -> Value {
    Value::list(
        caps.iter()
            .skip(1)
            .map(|m| match m {
                Some(m) => Value::string(m.as_str()),
                None => Value::Null,
            })
            .collect(),
    )
}

fn match_(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "match", pos);
    let re = args.string(s, 0)?;
    let text = args.string(s, 1)?;
    let re = s.regex(re.as_str(), true, pos)?;
    Ok(match re.captures(text.as_str()) {
        Some(caps) => captures_list(&caps),
        None => Value::Null,
    })
}

fn split(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let args = Args::new(a, "split", pos);
    let re = args.string(s, 0)?;
    let text = args.string(s, 1)?;
    let re = s.regex(re.as_str(), false, pos)?;
    let input = text.as_str();
    let mut out = Vec::new();
    let mut last = 0;
    for caps in re.captures_iter(input) {
        let Some(m) = caps.get(0) else { continue };
        out.push(Value::string(&input[last..m.start()]));
        out.push(captures_list(&caps));
        last = m.end();
    }
    out.push(Value::string(&input[last..]));
    Ok(Value::list(out))
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn brackets_are_posix() {
        assert_eq!(translate(r"[\]"), r"[\\]");
        assert_eq!(translate(r"[]a]"), r"[\]a]");
        assert_eq!(translate(r"[[:alpha:]_]"), r"[[:alpha:]_]");
        assert_eq!(translate(r"a\.b"), r"a\.b");
    }
}
