//! Printing of the lowered AST exactly as CppNix's `Expr::show` does
//! (`nix-instantiate --parse`): fully parenthesised, attributes and formals
//! sorted by name.

use std::fmt::Write;

use crate::ast::*;

pub(crate) fn show(ast: &Ast, expr: ExprId) -> String {
    let mut out = String::new();
    show_into(&mut out, ast, expr);
    out
}

/// Formats a float as C's `printf("%g")` / an `std::ostream` with default
/// precision (6 significant digits), which is how CppNix prints floats.
pub fn format_float(f: f64) -> String {
    if f.is_nan() {
        return if f.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
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
pub fn write_identifier(out: &mut String, s: &str) {
    const RESERVED: &[&str] = &[
        "if", "then", "else", "assert", "with", "let", "in", "rec", "inherit",
    ];
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
        && bytes
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'\'' | b'-'));
    if plain {
        out.push_str(s);
    } else {
        write_string_literal(out, s);
    }
}

/// A dotted attribute path as CppNix prints it in messages and `--parse`.
pub(crate) fn attr_path_string(ast: &Ast, path: &[AttrName]) -> String {
    let mut out = String::new();
    write_attr_path(&mut out, ast, path);
    out
}

fn write_attr_path(out: &mut String, ast: &Ast, path: &[AttrName]) {
    for (i, n) in path.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        match n {
            AttrName::Static(s, _) => write_identifier(out, s.as_str()),
            AttrName::Dynamic(e) => {
                out.push_str("\"${");
                show_into(out, ast, *e);
                out.push_str("}\"");
            }
        }
    }
}

fn show_bindings(out: &mut String, ast: &Ast, attrs: &Attrs) {
    let mut sorted: Vec<&AttrDef> = ast.defs(attrs.attrs).iter().collect();
    sorted.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
    let inherits: Vec<&str> = sorted
        .iter()
        .filter(|d| d.kind == AttrKind::Inherited)
        .map(|d| d.name.as_str())
        .collect();
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
        let ExprKind::InheritFrom(k) = ast.expr(d.value).kind else {
            continue;
        };
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, names)) => names.push(d.name.as_str()),
            None => groups.push((k, vec![d.name.as_str()])),
        }
    }
    groups.sort_by_key(|(k, _)| *k);
    for (k, names) in groups {
        out.push_str("inherit (");
        if let Some(&from) = ast.items(attrs.inherit_from).get(k as usize) {
            show_into(out, ast, from);
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
        show_into(out, ast, d.value);
        out.push_str("; ");
    }
    for d in ast.dynamic_attrs(attrs.dynamic) {
        out.push_str("\"${");
        show_into(out, ast, d.name);
        out.push_str("}\" = ");
        show_into(out, ast, d.value);
        out.push_str("; ");
    }
}

fn show_into(out: &mut String, ast: &Ast, expr: ExprId) {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, || {
        show_kind(out, ast, ast.expr(expr))
    });
}

fn show_kind(out: &mut String, ast: &Ast, expr: &Expr) {
    match expr.kind {
        ExprKind::Int(n) => {
            let _ = write!(out, "{n}");
        }
        ExprKind::Float(f) => out.push_str(&format_float(f)),
        ExprKind::Str(s) => write_string_literal(out, ast.str(s)),
        ExprKind::Path(p) => out.push_str(ast.str(p)),
        ExprKind::Var(v) => write_identifier(out, v.name.as_str()),
        ExprKind::Select(s) => {
            let s = ast.select(s);
            out.push('(');
            show_into(out, ast, s.expr);
            out.push_str(").");
            write_attr_path(out, ast, ast.path(s.path));
            if let Some(d) = s.default {
                out.push_str(" or (");
                show_into(out, ast, d);
                out.push(')');
            }
        }
        ExprKind::HasAttr { expr, path } => {
            out.push_str("((");
            show_into(out, ast, expr);
            out.push_str(") ? ");
            write_attr_path(out, ast, ast.path(path));
            out.push(')');
        }
        ExprKind::Attrs(a) => {
            let a = ast.attrs(a);
            if a.recursive {
                out.push_str("rec ");
            }
            out.push_str("{ ");
            show_bindings(out, ast, a);
            out.push('}');
        }
        ExprKind::List(items) => {
            out.push_str("[ ");
            for &i in ast.items(items) {
                out.push('(');
                show_into(out, ast, i);
                out.push_str(") ");
            }
            out.push(']');
        }
        ExprKind::Lambda(l) => {
            let l = ast.lambda(l);
            out.push('(');
            if let Some(f) = &l.formals {
                out.push_str("{ ");
                let mut entries: Vec<&Formal> = ast.formals(f.entries).iter().collect();
                entries.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
                for (i, e) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_identifier(out, e.name.as_str());
                    if let Some(d) = e.default {
                        out.push_str(" ? ");
                        show_into(out, ast, d);
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
            show_into(out, ast, l.body);
            out.push(')');
        }
        ExprKind::Call { items, .. } => {
            out.push('(');
            for (i, &e) in ast.items(items).iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                show_into(out, ast, e);
            }
            out.push(')');
        }
        ExprKind::Let { attrs, body } => {
            out.push_str("(let ");
            show_bindings(out, ast, ast.attrs(attrs));
            out.push_str("in ");
            show_into(out, ast, body);
            out.push(')');
        }
        ExprKind::With { env, body, .. } => {
            out.push_str("(with ");
            show_into(out, ast, env);
            out.push_str("; ");
            show_into(out, ast, body);
            out.push(')');
        }
        ExprKind::If { cond, then_, else_ } => {
            out.push_str("(if ");
            show_into(out, ast, cond);
            out.push_str(" then ");
            show_into(out, ast, then_);
            out.push_str(" else ");
            show_into(out, ast, else_);
            out.push(')');
        }
        ExprKind::Assert { cond, body } => {
            out.push_str("assert ");
            show_into(out, ast, cond);
            out.push_str("; ");
            show_into(out, ast, body);
        }
        ExprKind::Not(e) => {
            out.push_str("(! ");
            show_into(out, ast, e);
            out.push(')');
        }
        ExprKind::Binary { op, lhs, rhs, .. } => {
            out.push('(');
            show_into(out, ast, lhs);
            out.push(' ');
            out.push_str(op.as_str());
            out.push(' ');
            show_into(out, ast, rhs);
            out.push(')');
        }
        ExprKind::ConcatStrings { parts, .. } => {
            out.push('(');
            for (i, p) in ast.parts(parts).iter().enumerate() {
                if i > 0 {
                    out.push_str(" + ");
                }
                show_into(out, ast, p.expr);
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
