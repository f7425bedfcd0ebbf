//! `fromTOML`, on top of the `toml` crate.

use nixkit_syntax::Symbol;

use crate::builtins::{primop, Args};
use crate::error::{EvalError, EvalResult};
use crate::eval::EvalState;
use crate::source::Pos;
use crate::value::{Attr, Attrs, PrimOp, Value};

pub(crate) static PRIMOPS: &[PrimOp] = &[primop!("fromTOML", 1, from_toml)];

fn convert(v: toml::Value, timestamps: bool) -> Result<Value, String> {
    Ok(match v {
        toml::Value::String(s) => {
            crate::builtins::check_no_nul(&s).map_err(|e| format!("error: {e}"))?;
            Value::string(s)
        }
        toml::Value::Integer(i) => Value::Int(i),
        toml::Value::Float(f) => Value::Float(f),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => {
            if !timestamps {
                return Err("Dates and times are not supported".to_string());
            }
            Value::attrs(Attrs::from_pairs([
                (sym!("_type"), Value::string("timestamp")),
                (sym!("value"), Value::string(pad_fraction(&d.to_string()))),
            ]))
        }
        toml::Value::Array(items) => Value::list(
            items
                .into_iter()
                .map(|x| convert(x, timestamps))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        toml::Value::Table(t) => {
            let mut entries = Vec::with_capacity(t.len());
            for (k, v) in t {
                crate::builtins::check_no_nul(&k).map_err(|e| format!("error: {e}"))?;
                entries.push(Attr {
                    name: Symbol::intern(&k),
                    value: convert(v, timestamps)?,
                    pos: Pos::NONE,
                });
            }
            Value::attrs(Attrs::from_unsorted(entries))
        }
    })
}

fn from_toml(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let text = Args::new(a, "fromTOML", pos).string(s, 0)?;
    let parsed: toml::Table = text.as_str().parse().map_err(|e: toml::de::Error| {
        match integer_range_message(text.as_str(), &e) {
            Some(message) => EvalError::eval(format!("while parsing TOML: {message}"))
                .at(pos)
                .with_blank_last_line(),
            None => EvalError::eval(format!("while parsing TOML: {}", e.message())).at(pos),
        }
    })?;
    let timestamps = s.settings.toml_timestamps;
    convert(toml::Value::Table(parsed), timestamps)
        .map_err(|e| EvalError::eval(format!("while parsing TOML: {e}")).at(pos))
}

/// An integer out of the 64-bit range, reported in toml11's words (CppNix's
/// TOML parser): its message, the line with the number and a caret after it.
fn integer_range_message(text: &str, e: &toml::de::Error) -> Option<String> {
    if !matches!(
        e.message(),
        "number too large to fit in target type" | "number too small to fit in target type"
    ) {
        return None;
    }
    let mut end = e.span()?.end.min(text.len());
    if !text.is_char_boundary(end) {
        return None;
    }
    // The span may stop where the number starts: the caret goes after it.
    end += text[end..]
        .find(|c: char| !(c.is_ascii_alphanumeric() || "_+-.".contains(c)))
        .unwrap_or(text.len() - end);
    let line_start = text[..end].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
    let line_no = text[..end].matches('\n').count() + 1;
    let column = text[line_start..end].chars().count();
    let gutter = " ".repeat(line_no.to_string().len() + 1);
    Some(format!(
        "[error] toml::parse_dec_integer: too large integer: current max digits = 2^63\n \
         --> fromTOML\n{gutter} |\n {line_no} | {}\n{gutter} | {}^-- must be < 2^63",
        &text[line_start..line_end],
        " ".repeat(column),
    ))
}

/// toml11 (CppNix's TOML parser) prints fractional seconds as milli-, micro-
/// or nanoseconds: `.1` becomes `.100`, `.1234` becomes `.123400`.
fn pad_fraction(text: &str) -> String {
    let Some(dot) = text.find('.') else {
        return text.to_string();
    };
    let digits = text[dot + 1..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    let width = match digits {
        0..=3 => 3,
        4..=6 => 6,
        _ => 9,
    };
    let end = dot + 1 + digits;
    format!(
        "{}{:0<width$}{}",
        &text[..dot + 1],
        &text[dot + 1..end],
        &text[end..]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn pads_fractions_like_toml11() {
        assert_eq!(super::pad_fraction("07:32:00.1"), "07:32:00.100");
        assert_eq!(
            super::pad_fraction("1979-05-27T07:32:00.1234Z"),
            "1979-05-27T07:32:00.123400Z"
        );
        assert_eq!(
            super::pad_fraction("00:32:00.999999-07:00"),
            "00:32:00.999999-07:00"
        );
        assert_eq!(
            super::pad_fraction("00:32:00.12345678"),
            "00:32:00.123456780"
        );
        assert_eq!(super::pad_fraction("1979-05-27"), "1979-05-27");
    }

    fn range_message(text: &str) -> Option<String> {
        let e = text.parse::<toml::Table>().err()?;
        super::integer_range_message(text, &e)
    }

    #[test]
    fn integers_out_of_range_are_reported_like_toml11() {
        // On a later line: the gutter, the line number and the caret after
        // the number follow that line.
        let text = "a = 1\nb = \"x\"\nbig = 99999999999999999999 # note\n";
        let expected = format!(
            "[error] toml::parse_dec_integer: too large integer: current max digits = 2^63\n \
             --> fromTOML\n   |\n 3 | big = 99999999999999999999 # note\n   | {}^-- must be < 2^63",
            " ".repeat(26)
        );
        assert_eq!(range_message(text), Some(expected));
        // Too small in a table, and other errors keep the parser's own text.
        assert!(range_message("[t]\nx = -9223372036854775809").is_some());
        assert_eq!(range_message("x = 9223372036854775807"), None);
        assert_eq!(range_message("x = = 1"), None);
    }
}
