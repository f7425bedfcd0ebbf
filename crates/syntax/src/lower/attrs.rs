//! Bindings (`{ ... }`, `let`, `let { }`) with CppNix's merging of nested
//! attribute paths and its duplicate-attribute errors.


use rnix::SyntaxKind::*;

use super::green::Node;

use super::{node_span, Lowerer};
use crate::ast::*;
use crate::error::ParseErrorKind;
use crate::print::attr_path_string;
use crate::symbol::FxHashMap;
use crate::Symbol;

/// An attribute set under construction.
struct Builder {
    recursive: bool,
    span: Span,
    attrs: Vec<Entry>,
    /// Name → position in `attrs`, built once the set outgrows a linear scan.
    index: Option<FxHashMap<Symbol, usize>>,
    dynamic: Vec<DynamicAttr>,
    inherit_from: Vec<Expr>,
}

struct Entry {
    name: Symbol,
    pos: Span,
    kind: AttrKind,
    value: Val,
}

enum Val {
    Expr(Expr),
    /// An attribute set that later bindings may still merge into.
    Nested(Box<Builder>),
}

impl Builder {
    fn new(recursive: bool, span: Span) -> Builder {
        Builder {
            recursive,
            span,
            attrs: Vec::new(),
            index: None,
            dynamic: Vec::new(),
            inherit_from: Vec::new(),
        }
    }

    fn from_attrs(a: Attrs, span: Span) -> Builder {
        let mut b = Builder::new(a.recursive, span);
        b.attrs.reserve(a.attrs.len());
        for def in a.attrs {
            b.push(Entry { name: def.name, pos: def.name_span, kind: def.kind, value: Val::Expr(def.value) });
        }
        b.dynamic = a.dynamic.into_vec();
        b.inherit_from = a.inherit_from.into_vec();
        b
    }

    fn finish(self) -> Attrs {
        let attrs = self
            .attrs
            .into_iter()
            .map(|e| AttrDef {
                name: e.name,
                name_span: e.pos,
                kind: e.kind,
                value: match e.value {
                    Val::Expr(x) => x,
                    Val::Nested(b) => {
                        let span = b.span;
                        Expr { span, kind: ExprKind::Attrs(Box::new(b.finish())) }
                    }
                },
            })
            .collect();
        Attrs {
            recursive: self.recursive,
            attrs,
            dynamic: self.dynamic.into_boxed_slice(),
            inherit_from: self.inherit_from.into_boxed_slice(),
        }
    }

    /// Sets with at most this many attributes are searched linearly.
    const LINEAR: usize = 8;

    /// The position of the attribute `name`.
    fn find(&self, name: Symbol) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(&name).copied(),
            None => self.attrs.iter().position(|e| e.name == name),
        }
    }

    /// Appends an attribute whose name is not yet in the set.
    fn push(&mut self, entry: Entry) {
        let idx = self.attrs.len();
        match &mut self.index {
            Some(index) => {
                index.insert(entry.name, idx);
            }
            None if idx >= Self::LINEAR => {
                // Sized for every attribute reserved for (no regrowth).
                let size = (2 * idx + 2).max(self.attrs.capacity());
                let mut index = FxHashMap::with_capacity_and_hasher(size, Default::default());
                index.extend(self.attrs.iter().enumerate().map(|(i, e)| (e.name, i)));
                index.insert(entry.name, idx);
                self.index = Some(index);
            }
            None => {}
        }
        self.attrs.push(entry);
    }

    /// The nested builder for entry `idx`, if that entry is a plain attribute set.
    fn nested_mut(&mut self, idx: usize) -> Option<&mut Builder> {
        let entry = &mut self.attrs[idx];
        if entry.kind != AttrKind::Plain {
            return None;
        }
        if let Val::Expr(e) = &mut entry.value {
            if !matches!(e.kind, ExprKind::Attrs(_)) {
                return None;
            }
            let span = e.span;
            let taken = std::mem::replace(e, Expr { span, kind: ExprKind::Error });
            if let ExprKind::Attrs(a) = taken.kind {
                entry.value = Val::Nested(Box::new(Builder::from_attrs(*a, span)));
            }
        }
        match &mut entry.value {
            Val::Nested(b) => Some(b),
            Val::Expr(_) => None,
        }
    }
}

impl Lowerer<'_> {
    /// Lowers the bindings directly under `node`.
    pub(crate) fn bindings(&mut self, node: &Node<'_>, recursive: bool, is_let: bool) -> Attrs {
        let mut b = Builder::new(recursive, node_span(node));
        // One entry per binding and inherited name, unless paths merge.
        let entries: usize = node
            .children()
            .map(|c| match c.kind() {
                NODE_ATTRPATH_VALUE => 1,
                NODE_INHERIT => c.children().count(),
                _ => 0,
            })
            .sum();
        b.attrs.reserve_exact(entries);
        for child in node.children() {
            match child.kind() {
                NODE_ATTRPATH_VALUE => self.binding(&mut b, &child),
                NODE_INHERIT => self.inherit(&mut b, &child, recursive),
                _ => {}
            }
        }
        let attrs = b.finish();
        if is_let && !attrs.dynamic.is_empty() {
            self.error(ParseErrorKind::DynamicInLet, Span::new(node_span(node).start, node_span(node).start));
        }
        attrs
    }

    fn binding(&mut self, b: &mut Builder, node: &Node<'_>) {
        let mut kids = node.children();
        let (Some(path_node), Some(value_node)) = (kids.next(), kids.next()) else { return };
        // Paths of bindings are only needed until the value is placed:
        // their vectors are recycled.
        let mut path = self.path_pool.pop().unwrap_or_default();
        self.attrpath_into(&path_node, &mut path);
        let value = self.expr(&value_node);
        if !path.is_empty() {
            let pos = node_span(&path_node);
            self.add_attr(b, &path, value, pos);
        }
        path.clear();
        self.path_pool.push(path);
    }

    fn add_attr(&mut self, b: &mut Builder, path: &[AttrName], value: Expr, pos: Span) {
        let Some((last, prefix)) = path.split_last() else { return };
        let mut cur = b;
        for (i, name) in prefix.iter().enumerate() {
            match name {
                AttrName::Static(sym, _) => {
                    let idx = match cur.find(*sym) {
                        Some(idx) => idx,
                        None => {
                            let idx = cur.attrs.len();
                            let nested = Builder::new(false, pos);
                            cur.push(Entry { name: *sym, pos, kind: AttrKind::Plain, value: Val::Nested(Box::new(nested)) });
                            idx
                        }
                    };
                    let prev = cur.attrs[idx].pos;
                    if matches!(cur.attrs[idx].value, Val::Expr(_)) {
                        // Extending a set written out (or a duplicate): resolve
                        // the finished tree instead.
                        self.resolved = false;
                    }
                    match cur.nested_mut(idx) {
                        Some(next) => cur = next,
                        None => {
                            self.dup_attr(attr_path_string(path), pos, prev);
                            return;
                        }
                    }
                }
                AttrName::Dynamic(e) => {
                    let mut nested = Builder::new(false, pos);
                    self.add_attr(&mut nested, &path[i + 1..], value, pos);
                    let value = Expr { span: pos, kind: ExprKind::Attrs(Box::new(nested.finish())) };
                    cur.dynamic.push(DynamicAttr { name: Expr::clone(e), value, span: pos });
                    return;
                }
            }
        }
        match last {
            AttrName::Static(sym, _) => {
                self.insert_attr(cur, path, &mut Vec::new(), *sym, AttrKind::Plain, value, pos);
            }
            AttrName::Dynamic(e) => cur.dynamic.push(DynamicAttr { name: Expr::clone(e), value, span: pos }),
        }
    }

    /// Inserts one attribute, merging attribute-set literals into an existing
    /// attribute set of the same name; `path` then `nested` (ending in `name`)
    /// is its full path, for errors.
    #[allow(clippy::too_many_arguments)]
    fn insert_attr(
        &mut self,
        b: &mut Builder,
        path: &[AttrName],
        nested: &mut Vec<AttrName>,
        name: Symbol,
        kind: AttrKind,
        mut value: Expr,
        pos: Span,
    ) {
        let Some(idx) = b.find(name) else {
            // Like CppNix, `f = a: b: …` names the curried lambdas too.
            let mut e = &mut value;
            while let ExprKind::Lambda(l) = &mut e.kind {
                if l.name.is_none() {
                    l.name = Some(name);
                }
                e = &mut l.body;
            }
            b.push(Entry { name, pos, kind, value: Val::Expr(value) });
            return;
        };
        // Merging sets (or a duplicate): resolve the finished tree instead.
        self.resolved = false;
        let prev = b.attrs[idx].pos;
        let incoming_is_attrs = kind == AttrKind::Plain && matches!(value.kind, ExprKind::Attrs(_));
        let target = if incoming_is_attrs { b.nested_mut(idx) } else { None };
        let (Some(target), ExprKind::Attrs(incoming)) = (target, value.kind) else {
            let full: Vec<AttrName> = path.iter().chain(nested.iter()).cloned().collect();
            self.dup_attr(attr_path_string(&full), pos, prev);
            return;
        };
        let offset = target.inherit_from.len() as u32;
        let incoming = *incoming;
        for mut def in incoming.attrs {
            if def.kind == AttrKind::InheritedFrom {
                shift_inherit_from(&mut def.value, offset);
            }
            nested.push(AttrName::Static(def.name, def.name_span));
            self.insert_attr(target, path, nested, def.name, def.kind, def.value, def.name_span);
            nested.pop();
        }
        target.dynamic.extend(incoming.dynamic);
        target.inherit_from.extend(incoming.inherit_from);
    }

    fn dup_attr(&mut self, path: String, pos: Span, prev: Span) {
        let (line, col) = self.line_col(prev.start);
        self.error(ParseErrorKind::DuplicateAttr { path, line, col }, Span::new(pos.start, pos.start));
    }

    /// `inherit` names; `scoped` when the bindings have their own scope
    /// (`let`, `rec`), which `inherit x` looks past.
    fn inherit(&mut self, b: &mut Builder, node: &Node<'_>, scoped: bool) {
        let mut from_index = None;
        for child in node.children() {
            if child.kind() == NODE_INHERIT_FROM {
                let from = self.nth_expr(&child, 0);
                from_index = Some(b.inherit_from.len() as u32);
                b.inherit_from.push(from);
                continue;
            }
            let span = node_span(&child);
            let name = match self.attr_name(&child) {
                AttrName::Static(sym, _) => sym,
                AttrName::Dynamic(_) => {
                    self.error(ParseErrorKind::DynamicInInherit, span);
                    continue;
                }
            };
            if let Some(idx) = b.find(name) {
                let prev = b.attrs[idx].pos;
                self.dup_attr(name.as_str().to_owned(), span, prev);
                continue;
            }
            let (kind, value) = match from_index {
                None => (AttrKind::Inherited, self.var_expr(name, span, usize::from(scoped))),
                // The selection of `name` is implied (no node of its own).
                Some(k) => (AttrKind::InheritedFrom, Expr { span, kind: ExprKind::InheritFrom(k) }),
            };
            b.push(Entry { name, pos: span, kind, value: Val::Expr(value) });
        }
    }
}

fn shift_inherit_from(value: &mut Expr, offset: u32) {
    if let ExprKind::InheritFrom(k) = &mut value.kind {
        *k += offset;
    }
}
