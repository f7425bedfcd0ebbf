//! Printing of the lowered AST exactly as CppNix's `Expr::show` does
//! (`nix-instantiate --parse`): fully parenthesised, attributes and formals
//! sorted by name.

use std::fmt::Write;

use crate::ast::*;

pub(crate) fn show(expr: &Expr) -> String {
    let mut out = String::new();
    show_into(&mut out, expr);
    out
}

/// Formats a float as C's `printf("%g")` / an `std::ostream` with default
/// precision (6 significant digits), which is how CppNix prints floats.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return if f.is_sign_negative() { "-nan".into() } else { "nan".into() };
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let sci = format!("{f:.5e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        let decimals = (5 - exp).max(0) as usize;
        let fixed = format!("{f:.decimals$}");
        trim_zeros(&fixed).to_owned()
    } else {
        let m = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", exp.abs())
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Writes a string literal with CppNix's escaping.
pub fn write_string_literal(out: &mut String, s: &str) {
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes a symbol as CppNix's `printIdentifier` does: bare when it is a
/// valid identifier, quoted otherwise (and for reserved keywords).
pub(crate) fn write_identifier(out: &mut String, s: &str) {
    const RESERVED: &[&str] = &["if", "then", "else", "assert", "with", "let", "in", "rec", "inherit"];
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        out.push_str("\"\"");
        return;
    };
    if RESERVED.contains(&s) {
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
    let plain = (first.is_ascii_alphabetic() || first == b'_')
        && bytes.iter().all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'\'' | b'-'));
    if plain {
        out.push_str(s);
    } else {
        write_string_literal(out, s);
    }
}

/// A dotted attribute path as CppNix prints it in messages and `--parse`.
pub(crate) fn attr_path_string(path: &[AttrName]) -> String {
    let mut out = String::new();
    write_attr_path(&mut out, path);
    out
}

fn write_attr_path(out: &mut String, path: &[AttrName]) {
    for (i, n) in path.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        match n {
            AttrName::Static(s, _) => write_identifier(out, s.as_str()),
            AttrName::Dynamic(e) => {
                out.push_str("\"${");
                show_into(out, e);
                out.push_str("}\"");
            }
        }
    }
}

fn show_bindings(out: &mut String, attrs: &Attrs) {
    let mut sorted: Vec<&AttrDef> = attrs.attrs.iter().collect();
    sorted.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
    let inherits: Vec<&str> =
        sorted.iter().filter(|d| d.kind == AttrKind::Inherited).map(|d| d.name.as_str()).collect();
    if !inherits.is_empty() {
        out.push_str("inherit");
        for n in inherits {
            out.push(' ');
            write_identifier(out, n);
        }
        out.push_str("; ");
    }
    let mut groups: Vec<(u32, Vec<&str>)> = Vec::new();
    for d in sorted.iter().filter(|d| d.kind == AttrKind::InheritedFrom) {
        let ExprKind::InheritFrom(k) = d.value.kind else { continue };
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, names)) => names.push(d.name.as_str()),
            None => groups.push((k, vec![d.name.as_str()])),
        }
    }
    groups.sort_by_key(|(k, _)| *k);
    for (k, names) in groups {
        out.push_str("inherit (");
        if let Some(from) = attrs.inherit_from.get(k as usize) {
            show_into(out, from);
        }
        out.push(')');
        for n in names {
            out.push(' ');
            write_identifier(out, n);
        }
        out.push_str("; ");
    }
    for d in sorted.iter().filter(|d| d.kind == AttrKind::Plain) {
        write_identifier(out, d.name.as_str());
        out.push_str(" = ");
        show_into(out, &d.value);
        out.push_str("; ");
    }
    for d in &attrs.dynamic {
        out.push_str("\"${");
        show_into(out, &d.name);
        out.push_str("}\" = ");
        show_into(out, &d.value);
        out.push_str("; ");
    }
}

fn show_into(out: &mut String, expr: &Expr) {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, || show_kind(out, expr));
}

fn show_kind(out: &mut String, expr: &Expr) {
    match &expr.kind {
        ExprKind::Int(n) => {
            let _ = write!(out, "{n}");
        }
        ExprKind::Float(f) => out.push_str(&format_float(*f)),
        ExprKind::Str(s) => write_string_literal(out, s),
        ExprKind::Path(p) => out.push_str(p),
        ExprKind::Var(v) => write_identifier(out, v.name.as_str()),
        ExprKind::Select(s) => {
            out.push('(');
            show_into(out, &s.expr);
            out.push_str(").");
            write_attr_path(out, &s.path);
            if let Some(d) = &s.default {
                out.push_str(" or (");
                show_into(out, d);
                out.push(')');
            }
        }
        ExprKind::HasAttr(h) => {
            out.push_str("((");
            show_into(out, &h.expr);
            out.push_str(") ? ");
            write_attr_path(out, &h.path);
            out.push(')');
        }
        ExprKind::Attrs(a) => {
            if a.recursive {
                out.push_str("rec ");
            }
            out.push_str("{ ");
            show_bindings(out, a);
            out.push('}');
        }
        ExprKind::List(items) => {
            out.push_str("[ ");
            for i in items.iter() {
                out.push('(');
                show_into(out, i);
                out.push_str(") ");
            }
            out.push(']');
        }
        ExprKind::Lambda(l) => {
            out.push('(');
            if let Some(f) = &l.formals {
                out.push_str("{ ");
                let mut entries: Vec<&Formal> = f.entries.iter().collect();
                entries.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
                for (i, e) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_identifier(out, e.name.as_str());
                    if let Some(d) = &e.default {
                        out.push_str(" ? ");
                        show_into(out, d);
                    }
                }
                if f.ellipsis {
                    if !entries.is_empty() {
                        out.push_str(", ");
                    }
                    out.push_str("...");
                }
                out.push_str(" }");
                if l.arg.is_some() {
                    out.push_str(" @ ");
                }
            }
            if let Some((a, _)) = l.arg {
                write_identifier(out, a.as_str());
            }
            out.push_str(": ");
            show_into(out, &l.body);
            out.push(')');
        }
        ExprKind::Call { items, .. } => {
            out.push('(');
            for (i, e) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                show_into(out, e);
            }
            out.push(')');
        }
        ExprKind::Let(l) => {
            out.push_str("(let ");
            show_bindings(out, &l.attrs);
            out.push_str("in ");
            show_into(out, &l.body);
            out.push(')');
        }
        ExprKind::With(w) => {
            out.push_str("(with ");
            show_into(out, &w.env);
            out.push_str("; ");
            show_into(out, &w.body);
            out.push(')');
        }
        ExprKind::If(i) => {
            out.push_str("(if ");
            show_into(out, &i.cond);
            out.push_str(" then ");
            show_into(out, &i.then_);
            out.push_str(" else ");
            show_into(out, &i.else_);
            out.push(')');
        }
        ExprKind::Assert(a) => {
            out.push_str("assert ");
            show_into(out, &a.cond);
            out.push_str("; ");
            show_into(out, &a.body);
        }
        ExprKind::Not(e) => {
            out.push_str("(! ");
            show_into(out, e);
            out.push(')');
        }
        ExprKind::Binary(b) => {
            out.push('(');
            show_into(out, &b.lhs);
            out.push(' ');
            out.push_str(b.op.as_str());
            out.push(' ');
            show_into(out, &b.rhs);
            out.push(')');
        }
        ExprKind::ConcatStrings { parts, .. } => {
            out.push('(');
            for (i, (p, _)) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_str(" + ");
                }
                show_into(out, p);
            }
            out.push(')');
        }
        ExprKind::CurPos => out.push_str("__curPos"),
        ExprKind::InheritFrom(k) => {
            let _ = write!(out, "«inherit-from {k}»");
        }
        ExprKind::Error => out.push_str("«error»"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_printf_g() {
        assert_eq!(format_float(1.5), "1.5");
        assert_eq!(format_float(1500.0), "1500");
        assert_eq!(format_float(1e6), "1e+06");
        assert_eq!(format_float(1.0 / 3.0), "0.333333");
        assert_eq!(format_float(0.0001), "0.0001");
        assert_eq!(format_float(0.00001), "1e-05");
        assert_eq!(format_float(123456.7), "123457");
        assert_eq!(format_float(-2.5e-10), "-2.5e-10");
    }
}
