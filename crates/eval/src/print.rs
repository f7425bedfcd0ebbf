//! Printing values as CppNix does: `nix-instantiate --eval` output
//! (`printAmbiguous`), the value printer used by `trace` and error messages,
//! and float formatting (C++ ostream default: `%g` with 6 digits).

use std::collections::HashSet;
use std::fmt::Write as _;
use triomphe::Arc;

use crate::source;
use crate::thunk::Thunk;
use crate::value::{Attrs, Value};

/// How to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrintStyle {
    /// `nix-instantiate --eval`: `<LAMBDA>`, `<PRIMOP>`, `<CODE>`, no limits.
    Ambiguous,
    /// `trace`: `«lambda …»`, `«primop x»`, `«thunk»`, no limits.
    Trace,
    /// Error messages: like `Trace`, with CppNix's size limits.
    Error,
}

/// Formats a float as C++'s `ostream << double` does (one implementation,
/// shared with the parser's `--parse` printer).
pub use nixkit_syntax::format_float;

/// Appends a string literal with Nix escapes (the parser's printer does the
/// same; one implementation).
pub(crate) fn escape_string(s: &str, out: &mut String) {
    nixkit_syntax::write_string_literal(out, s);
}

/// Whether `s` can be printed as an attribute name without quotes.
pub(crate) fn is_plain_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if !(first.is_ascii_alphabetic() || first == '_') {
        return false;
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '\'' || c == '-') {
        return false;
    }
    !matches!(
        s,
        "if" | "then" | "else" | "assert" | "with" | "let" | "in" | "rec" | "inherit" | "or"
    )
}

/// Appends an attribute name, quoted when needed.
pub(crate) fn push_attr_name(s: &str, out: &mut String) {
    if is_plain_identifier(s) {
        out.push_str(s);
    } else {
        escape_string(s, out);
    }
}

struct Printer {
    style: PrintStyle,
    out: String,
    /// Identities of sets and lists already printed (see [`identity`]).
    seen: HashSet<usize>,
    depth: usize,
    /// Attributes and list items printed so far, anywhere in the value
    /// (CppNix's limits count across nesting levels).
    attrs_printed: usize,
    items_printed: usize,
}

/// `«1 attribute elided»`, `«2 attributes elided»`.
fn elided(out: &mut String, n: usize, one: &str, many: &str) {
    let _ = write!(out, "«{n} {} elided»", if n == 1 { one } else { many });
}

/// The identity CppNix's `«repeated»` check uses: a set is known by its
/// attributes (CppNix's `Bindings *`), wherever it is stored; a list by the
/// value slot holding it (CppNix's `Value *`), which for us is the thunk
/// holding the list, or the list itself when it is stored directly.
fn identity(outer: Option<&Arc<Thunk>>, v: &Value) -> usize {
    match (outer, v) {
        (_, Value::Attrs(a)) => a.addr(),
        (Some(t), _) => Arc::as_ptr(t) as usize,
        (None, Value::List(l)) => l.addr(),
        _ => 0,
    }
}

impl Printer {
    /// Records a set or list about to be printed; true if it was printed
    /// before (see [`identity`]).
    fn repeated(&mut self, outer: Option<&Arc<Thunk>>, v: &Value) -> bool {
        !self.seen.insert(identity(outer, v))
    }

    fn limits(&self) -> (usize, usize, usize) {
        // (max attrs, max list items, max depth)
        match self.style {
            PrintStyle::Error => (10, 10, 10),
            _ => (usize::MAX, usize::MAX, usize::MAX),
        }
    }

    fn value(&mut self, v: &Value) {
        let (outer, forced) = match v {
            Value::Thunk(t) => match t.get() {
                Some(x) => (Some(t), x.clone()),
                None => {
                    let text = match self.style {
                        PrintStyle::Ambiguous => "<CODE>",
                        _ if t.is_blackholed() => "«potential infinite recursion»",
                        _ => "«thunk»",
                    };
                    self.out.push_str(text);
                    return;
                }
            },
            v => (None, v.clone()),
        };
        match &forced {
            Value::Null => self.out.push_str("null"),
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(self.out, "{i}");
            }
            Value::Float(f) => self.out.push_str(&format_float(*f)),
            Value::String(s) => {
                if self.style == PrintStyle::Error && s.as_str().len() > 1024 {
                    let cut = floor_char_boundary(s.as_str(), 1024);
                    escape_string(&s.as_str()[..cut], &mut self.out);
                    self.out.push('«');
                    let _ = write!(self.out, "{} bytes elided", s.as_str().len() - cut);
                    self.out.push('»');
                } else {
                    escape_string(s.as_str(), &mut self.out);
                }
            }
            Value::Path(p) => self.out.push_str(p),
            Value::Attrs(a) => self.attrs(outer, &forced, a),
            Value::List(l) => {
                if l.is_empty() {
                    self.out.push_str("[ ]");
                    return;
                }
                if self.repeated(outer, &forced) {
                    self.out.push_str("«repeated»");
                    return;
                }
                let (_, max_items, max_depth) = self.limits();
                if self.depth >= max_depth {
                    self.out.push_str("[ ... ]");
                    return;
                }
                self.depth += 1;
                self.out.push_str("[ ");
                for (n, item) in l.iter().enumerate() {
                    if self.items_printed >= max_items {
                        elided(&mut self.out, l.len() - n, "item", "items");
                        self.out.push(' ');
                        break;
                    }
                    crate::eval::with_stack(|| self.value(item));
                    self.out.push(' ');
                    self.items_printed += 1;
                }
                self.out.push(']');
                self.depth -= 1;
            }
            Value::Lambda(c) => match self.style {
                PrintStyle::Ambiguous => self.out.push_str("<LAMBDA>"),
                _ => {
                    self.out.push_str("«lambda");
                    if let Some(n) = c.lambda.name {
                        let _ = write!(self.out, " {n}");
                    }
                    if let Some(loc) = source::locate(c.lambda.pos) {
                        let _ = write!(
                            self.out,
                            " @ {}:{}:{}",
                            loc.origin.display(),
                            loc.line,
                            loc.column
                        );
                    }
                    self.out.push('»');
                }
            },
            Value::PrimOp(p) => match self.style {
                PrintStyle::Ambiguous => self.out.push_str("<PRIMOP>"),
                _ => {
                    let _ = write!(self.out, "«primop {}»", p.name);
                }
            },
            Value::PrimOpApp(app) => match self.style {
                PrintStyle::Ambiguous => self.out.push_str("<PRIMOP-APP>"),
                _ => {
                    let _ = write!(self.out, "«partially applied primop {}»", app.op.name);
                }
            },
            Value::Thunk(_) => self.out.push_str("<CODE>"),
        }
    }

    fn attrs(&mut self, outer: Option<&Arc<Thunk>>, v: &Value, a: &Attrs) {
        if a.is_empty() {
            self.out.push_str("{ }");
            return;
        }
        if self.style != PrintStyle::Ambiguous {
            if let Some(drv) = derivation_path(a) {
                let _ = write!(self.out, "«derivation {drv}»");
                return;
            }
        }
        if self.repeated(outer, v) {
            self.out.push_str("«repeated»");
            return;
        }
        let (max_attrs, _, max_depth) = self.limits();
        if self.depth >= max_depth {
            self.out.push_str("{ ... }");
            return;
        }
        self.depth += 1;
        self.out.push_str("{ ");
        let mut sorted = a.sorted_by_name();
        if max_attrs != usize::MAX {
            // With limits, CppNix shows `type` and `_type` first.
            sorted.sort_by_key(|x| !matches!(x.name.as_str(), "type" | "_type"));
        }
        for (n, attr) in sorted.iter().enumerate() {
            if self.attrs_printed >= max_attrs {
                elided(&mut self.out, sorted.len() - n, "attribute", "attributes");
                self.out.push(' ');
                break;
            }
            push_attr_name(attr.name.as_str(), &mut self.out);
            self.out.push_str(" = ");
            crate::eval::with_stack(|| self.value(&attr.value));
            self.out.push_str("; ");
            self.attrs_printed += 1;
        }
        self.out.push('}');
        self.depth -= 1;
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The `drvPath` of an already-evaluated derivation, for `«derivation …»`.
fn derivation_path(a: &Attrs) -> Option<String> {
    let is_drv = matches!(a.get_str("type").and_then(Value::peek), Some(Value::String(s)) if s.as_str() == "derivation");
    if !is_drv {
        return None;
    }
    match a.get_str("drvPath").and_then(Value::peek) {
        Some(Value::String(s)) => Some(s.as_str().to_string()),
        _ => Some("???".to_string()),
    }
}

/// Prints a value (without forcing anything) in the given style.
pub fn print_value(v: &Value, style: PrintStyle) -> String {
    let mut p = Printer {
        style,
        out: String::new(),
        seen: HashSet::new(),
        depth: 0,
        attrs_printed: 0,
        items_printed: 0,
    };
    p.value(v);
    p.out
}

/// Prints a value as error messages show it.
pub(crate) fn show_for_error(v: &Value) -> String {
    print_value(v, PrintStyle::Error)
}
