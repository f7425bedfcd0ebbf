//! XML: `toXML` and the printer behind `--xml`, as CppNix's XML writer
//! writes it: element attributes in name order, only newlines written as
//! character references, empty sets and lists as an open and a close tag.

use std::fmt::Write as _;

use crate::builtins::primop;
use crate::error::EvalResult;
use crate::eval::EvalState;
use crate::print::format_float;
use crate::source::{self, Pos};
use crate::value::{Context, PrimOp, Value};

pub(crate) static PRIMOPS: &[PrimOp] = &[primop!("toXML", 1, to_xml)];

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' => out.push_str("&#xA;"),
            c => out.push(c),
        }
    }
}

struct XmlWriter {
    out: String,
    location: bool,
    /// Force values while writing (`toXML`, `--xml --strict`); otherwise a
    /// value not evaluated yet is written as `<unevaluated />`.
    strict: bool,
}

/// Writes ` key="value"` for each attribute, in name order (CppNix keeps
/// them in a sorted map).
fn write_attrs(out: &mut String, attrs: &[(&str, &str)]) {
    let mut sorted = attrs.to_vec();
    sorted.sort_by_key(|(k, _)| *k);
    for (k, v) in sorted {
        let _ = write!(out, " {k}=\"");
        escape(v, out);
        out.push('"');
    }
}

impl XmlWriter {
    fn indent(&mut self, depth: usize) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
    }

    fn empty(&mut self, depth: usize, tag: &str, attrs: &[(&str, &str)]) {
        self.indent(depth);
        let _ = write!(self.out, "<{tag}");
        write_attrs(&mut self.out, attrs);
        self.out.push_str(" />\n");
    }

    fn open(&mut self, depth: usize, tag: &str, attrs: &[(&str, &str)]) {
        self.indent(depth);
        let _ = write!(self.out, "<{tag}");
        write_attrs(&mut self.out, attrs);
        self.out.push_str(">\n");
    }

    fn close(&mut self, depth: usize, tag: &str) {
        self.indent(depth);
        let _ = writeln!(self.out, "</{tag}>");
    }

    fn pos_attrs(&self, pos: Pos) -> Vec<(String, String)> {
        if !self.location {
            return Vec::new();
        }
        match source::locate(pos) {
            Some(l) => {
                let mut attrs = vec![
                    ("column".into(), l.column.to_string()),
                    ("line".into(), l.line.to_string()),
                ];
                // Only a file has a path: `-E` and standard input have none.
                if let source::Origin::File(path) = &l.origin {
                    attrs.push(("path".into(), path.to_string()));
                }
                attrs
            }
            None => Vec::new(),
        }
    }
}

impl EvalState {
    fn xml_value(
        &mut self,
        w: &mut XmlWriter,
        v: &Value,
        depth: usize,
        ctx: &mut Context,
        pos: Pos,
    ) -> EvalResult<()> {
        self.xml_value_seen(w, v, depth, ctx, pos, false)
    }

    /// As [`Self::xml_value`]; `forced_by_check` says the printer itself has
    /// forced the value already (a set's `type`, which the derivation check
    /// reads), so CppNix shows it evaluated even when not strict.
    fn xml_value_seen(
        &mut self,
        w: &mut XmlWriter,
        v: &Value,
        depth: usize,
        ctx: &mut Context,
        pos: Pos,
        forced_by_check: bool,
    ) -> EvalResult<()> {
        let v = if w.strict {
            self.force(v)?
        } else {
            match v.forced() {
                // nixkit stores a function without a thunk where CppNix has
                // one, which only a call or a strict printer would force.
                Some(Value::Lambda(_)) if depth > 1 && !forced_by_check => {
                    w.empty(depth, "unevaluated", &[]);
                    return Ok(());
                }
                None => {
                    w.empty(depth, "unevaluated", &[]);
                    return Ok(());
                }
                Some(v) => v.clone(),
            }
        };
        match &v {
            Value::Null => w.empty(depth, "null", &[]),
            Value::Bool(b) => w.empty(
                depth,
                "bool",
                &[("value", if *b { "true" } else { "false" })],
            ),
            Value::Int(i) => w.empty(depth, "int", &[("value", &i.to_string())]),
            Value::Float(f) => w.empty(depth, "float", &[("value", &format_float(*f))]),
            Value::String(s) => {
                if let Some(c) = s.context() {
                    ctx.extend(c.iter().cloned());
                }
                w.empty(depth, "string", &[("value", s.as_str())]);
            }
            Value::Path(p) => w.empty(depth, "path", &[("value", p)]),
            Value::Attrs(a) => {
                if self.is_derivation(a)? {
                    let mut attrs: Vec<(&str, String)> = Vec::new();
                    for key in ["drvPath", "outPath"] {
                        if let Some(x) = a.get_str(key) {
                            let x = x.clone();
                            let x = if w.strict {
                                Some(self.force(&x)?)
                            } else {
                                x.forced().cloned()
                            };
                            if let Some(Value::String(s)) = x {
                                attrs.push((key, s.as_str().to_string()));
                            }
                        }
                    }
                    let refs: Vec<(&str, &str)> =
                        attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    w.open(depth, "derivation", &refs);
                    // A derivation is written once per `drvPath`; one
                    // without a `drvPath` string is never written out.
                    let drv_path = attrs
                        .iter()
                        .find(|(k, _)| *k == "drvPath")
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default();
                    if !drv_path.is_empty() && self.xml_seen.insert(drv_path) {
                        self.xml_attrs(w, a, depth + 1, ctx, pos)?;
                    } else {
                        w.empty(depth + 1, "repeated", &[]);
                    }
                    w.close(depth, "derivation");
                } else {
                    w.open(depth, "attrs", &[]);
                    self.xml_attrs(w, a, depth + 1, ctx, pos)?;
                    w.close(depth, "attrs");
                }
            }
            Value::List(l) => {
                w.open(depth, "list", &[]);
                for item in l.iter() {
                    self.nested(|s| s.xml_value(w, item, depth + 1, ctx, pos))?;
                }
                w.close(depth, "list");
            }
            Value::Lambda(c) => {
                let l = &c.lambda;
                let pa = w.pos_attrs(l.pos);
                let refs: Vec<(&str, &str)> =
                    pa.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                w.open(depth, "function", &refs);
                match &l.formals {
                    Some(formals) => {
                        let mut attrs: Vec<(&str, &str)> = Vec::new();
                        if l.ellipsis {
                            attrs.push(("ellipsis", "1"));
                        }
                        let arg_name;
                        if let Some(a) = l.arg {
                            arg_name = a.as_str();
                            attrs.push(("name", arg_name));
                        }
                        w.open(depth + 1, "attrspat", &attrs);
                        let mut names: Vec<&str> =
                            formals.iter().map(|f| f.name.as_str()).collect();
                        names.sort_unstable();
                        for n in names {
                            w.empty(depth + 2, "attr", &[("name", n)]);
                        }
                        w.close(depth + 1, "attrspat");
                    }
                    None => {
                        let name = l.arg.map(|a| a.as_str()).unwrap_or("");
                        w.empty(depth + 1, "varpat", &[("name", name)]);
                    }
                }
                w.close(depth, "function");
            }
            Value::PrimOp(_) | Value::PrimOpApp(_) => w.empty(depth, "unevaluated", &[]),
            Value::Thunk(_) => w.empty(depth, "unevaluated", &[]),
        }
        Ok(())
    }

    fn xml_attrs(
        &mut self,
        w: &mut XmlWriter,
        a: &crate::value::Attrs,
        depth: usize,
        ctx: &mut Context,
        pos: Pos,
    ) -> EvalResult<()> {
        for attr in a.sorted_by_name() {
            let pa = w.pos_attrs(attr.pos);
            let mut refs: Vec<(&str, &str)> =
                pa.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            refs.push(("name", attr.name.as_str()));
            w.open(depth, "attr", &refs);
            let forced_by_check = attr.name.as_str() == "type";
            self.nested(|s| {
                s.xml_value_seen(w, &attr.value, depth + 1, ctx, pos, forced_by_check)
            })?;
            w.close(depth, "attr");
        }
        Ok(())
    }

    /// Renders a value as CppNix's XML; with `strict` values are forced as
    /// they are written, otherwise what is not evaluated yet (below the top
    /// level) is written as `<unevaluated />`.
    pub(crate) fn value_to_xml(
        &mut self,
        v: &Value,
        location: bool,
        strict: bool,
        ctx: &mut Context,
        pos: Pos,
    ) -> EvalResult<String> {
        let mut w = XmlWriter {
            out: String::from("<?xml version='1.0' encoding='utf-8'?>\n<expr>\n"),
            location,
            strict,
        };
        self.xml_seen.clear();
        let v = self.force(v)?;
        self.xml_value(&mut w, &v, 1, ctx, pos)?;
        w.out.push_str("</expr>\n");
        Ok(w.out)
    }
}

fn to_xml(s: &mut EvalState, a: &[Value], pos: Pos) -> EvalResult<Value> {
    let mut ctx = Context::new();
    let out = s.value_to_xml(&a[0], false, true, &mut ctx, pos)?;
    Ok(Value::string_with_context(out, ctx))
}
