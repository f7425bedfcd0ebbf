//! Bindings (`{ ... }`, `let`, `let { }`) with CppNix's merging of nested
//! attribute paths and its duplicate-attribute errors.
//!
//! A set is gathered in a [`Builder`] before it goes into the tree (merging
//! may still add to it, or to sets nested in it, until its last binding).
//! Builders are kept on a stack ([`SetBuilders`]) and reused, vectors and
//! all, so that gathering a set allocates nothing once the stack is warm.

use rnix::SyntaxKind::*;

use super::green::Node;

use super::{node_span, Lowerer};
use crate::ast::*;
use crate::error::ParseErrorKind;
use crate::print::attr_path_string;
use crate::symbol::FxHashMap;
use crate::Symbol;

/// An attribute set under construction.
#[derive(Default)]
struct Builder {
    recursive: bool,
    span: Span,
    attrs: Vec<Entry>,
    /// Name → position in `attrs`, filled once the set outgrows a linear
    /// scan (`indexed`).
    index: FxHashMap<Symbol, usize>,
    indexed: bool,
    dynamic: Vec<DynamicAttr>,
    inherit_from: Vec<ExprId>,
}

#[derive(Clone, Copy)]
struct Entry {
    name: Symbol,
    pos: Span,
    kind: AttrKind,
    value: Val,
}

#[derive(Clone, Copy)]
enum Val {
    Expr(ExprId),
    /// An attribute set that later bindings may still merge into: the
    /// builder at this position of [`SetBuilders`].
    Nested(usize),
}

/// The builders of the sets being gathered, innermost last, and spare ones.
#[derive(Default)]
pub(crate) struct SetBuilders {
    builders: Vec<Builder>,
    /// Builders below this position are in use.
    live: usize,
}

impl SetBuilders {
    /// A builder for a new set (reused if there is a spare one).
    fn open(&mut self, recursive: bool, span: Span) -> usize {
        let i = self.live;
        if i == self.builders.len() {
            self.builders.push(Builder::default());
        }
        if let Some(b) = self.builders.get_mut(i) {
            b.recursive = recursive;
            b.span = span;
            b.attrs.clear();
            b.index.clear();
            b.indexed = false;
            b.dynamic.clear();
            b.inherit_from.clear();
        }
        self.live = i + 1;
        i
    }

    /// Frees builder `i` and every builder opened after it.
    fn release(&mut self, i: usize) {
        self.live = self.live.min(i);
    }

    /// Drops spare builders beyond `keep`.
    pub(crate) fn trim(&mut self, keep: usize) {
        self.builders.truncate(keep.max(self.live));
    }
}

impl Builder {
    /// Sets with at most this many attributes are searched linearly.
    const LINEAR: usize = 8;

    /// The position of the attribute `name`.
    fn find(&self, name: Symbol) -> Option<usize> {
        if self.indexed {
            self.index.get(&name).copied()
        } else {
            self.attrs.iter().position(|e| e.name == name)
        }
    }

    /// Appends an attribute whose name is not yet in the set.
    fn push(&mut self, entry: Entry) {
        let idx = self.attrs.len();
        if self.indexed {
            self.index.insert(entry.name, idx);
        } else if idx >= Self::LINEAR {
            // Sized for every attribute reserved for (no regrowth).
            self.index.reserve((2 * idx + 2).max(self.attrs.capacity()));
            self.index
                .extend(self.attrs.iter().enumerate().map(|(i, e)| (e.name, i)));
            self.index.insert(entry.name, idx);
            self.indexed = true;
        }
        self.attrs.push(entry);
    }
}

impl Lowerer<'_> {
    /// The builder at `i` of the stack.
    fn set(&mut self, i: usize) -> &mut Builder {
        &mut self.scratch.sets.builders[i]
    }

    /// Lowers the bindings directly under `node`; also gives the last child
    /// node (the body of a `let`, if it is not a binding).
    pub(crate) fn bindings<'g>(
        &mut self,
        node: &Node<'g>,
        recursive: bool,
        is_let: bool,
    ) -> (AttrsId, Option<Node<'g>>) {
        // (A reused builder has its vectors' capacity from earlier sets.)
        let b = self.scratch.sets.open(recursive, node_span(node));
        let mut last = None;
        for child in node.children() {
            last = Some(child);
            match child.kind() {
                NODE_ATTRPATH_VALUE => self.binding(b, &child),
                NODE_INHERIT => self.inherit(b, &child, recursive),
                _ => {}
            }
        }
        let attrs = self.finish_set(b);
        let span = node_span(node);
        let broken = self
            .first_syntax_error
            .is_some_and(|at| span.start <= at && at < span.end);
        if is_let && !broken && !self.ast.attrs(attrs).dynamic.is_empty() {
            self.error(
                ParseErrorKind::DynamicInLet,
                Span::new(node_span(node).start, node_span(node).start),
            );
        }
        (attrs, last)
    }

    /// Puts the set of builder `i` (and the sets nested in it) into the
    /// tree, and frees the builders.
    fn finish_set(&mut self, i: usize) -> AttrsId {
        for k in 0..self.set(i).attrs.len() {
            if let Val::Nested(j) = self.set(i).attrs[k].value {
                let span = self.set(j).span;
                // Nesting is as deep as the longest attribute path.
                let attrs = stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.finish_set(j));
                let value = self.ast.node(span, ExprKind::Attrs(attrs));
                self.set(i).attrs[k].value = Val::Expr(value);
            }
        }
        let b = &self.scratch.sets.builders[i];
        let attrs = self.ast.add_defs(b.attrs.iter().map(|e| AttrDef {
            name: e.name,
            name_span: e.pos,
            kind: e.kind,
            value: match e.value {
                Val::Expr(x) => x,
                // Finished above.
                Val::Nested(_) => ExprId::MISSING,
            },
        }));
        let dynamic = self.ast.add_dynamic_attrs(&b.dynamic);
        let inherit_from = self.ast.add_items(&b.inherit_from);
        let recursive = b.recursive;
        self.scratch.sets.release(i);
        self.ast.add_attrs(Attrs {
            recursive,
            attrs,
            dynamic,
            inherit_from,
        })
    }

    fn binding(&mut self, b: usize, node: &Node<'_>) {
        let mut kids = node.children();
        let (Some(path_node), Some(value_node)) = (kids.next(), kids.next()) else {
            return;
        };
        // Paths of bindings are only needed until the value is placed:
        // their vectors are recycled.
        let mut path = self.scratch.path_pool.pop().unwrap_or_default();
        self.attrpath_into(&path_node, &mut path);
        let value = self.expr(&value_node);
        if !path.is_empty() {
            let pos = node_span(&path_node);
            self.add_attr(b, &path, value, pos);
        }
        path.clear();
        self.scratch.path_pool.push(path);
    }

    /// The builder for entry `idx` of builder `i`, if that entry is a plain
    /// attribute set (one written out is turned back into a builder).
    fn nested_set(&mut self, i: usize, idx: usize) -> Option<usize> {
        let entry = self.set(i).attrs[idx];
        if entry.kind != AttrKind::Plain {
            return None;
        }
        match entry.value {
            Val::Nested(j) => Some(j),
            Val::Expr(e) => {
                let Expr {
                    span,
                    kind: ExprKind::Attrs(written),
                } = *self.ast.expr(e)
                else {
                    return None;
                };
                let a = *self.ast.attrs(written);
                let j = self.scratch.sets.open(a.recursive, span);
                let nested = &mut self.scratch.sets.builders[j];
                nested.attrs.reserve(a.attrs.len());
                for def in self.ast.defs(a.attrs) {
                    let value = Val::Expr(def.value);
                    nested.push(Entry {
                        name: def.name,
                        pos: def.name_span,
                        kind: def.kind,
                        value,
                    });
                }
                nested
                    .dynamic
                    .extend_from_slice(self.ast.dynamic_attrs(a.dynamic));
                nested
                    .inherit_from
                    .extend_from_slice(self.ast.items(a.inherit_from));
                self.set(i).attrs[idx].value = Val::Nested(j);
                Some(j)
            }
        }
    }

    fn add_attr(&mut self, b: usize, path: &[AttrName], value: ExprId, pos: Span) {
        let Some((last, prefix)) = path.split_last() else {
            return;
        };
        let mut cur = b;
        for (i, name) in prefix.iter().enumerate() {
            match *name {
                AttrName::Static(sym, _) => {
                    let idx = match self.set(cur).find(sym) {
                        Some(idx) => idx,
                        None => {
                            let nested = self.scratch.sets.open(false, pos);
                            let set = self.set(cur);
                            set.push(Entry {
                                name: sym,
                                pos,
                                kind: AttrKind::Plain,
                                value: Val::Nested(nested),
                            });
                            set.attrs.len() - 1
                        }
                    };
                    let prev = self.set(cur).attrs[idx].pos;
                    if matches!(self.set(cur).attrs[idx].value, Val::Expr(_)) {
                        // Extending a set written out (or a duplicate): resolve
                        // the finished tree instead.
                        self.resolved = false;
                    }
                    match self.nested_set(cur, idx) {
                        Some(next) => cur = next,
                        None => {
                            self.dup_attr(attr_path_string(&self.ast, path), pos, prev);
                            return;
                        }
                    }
                }
                AttrName::Dynamic(e) => {
                    let nested = self.scratch.sets.open(false, pos);
                    self.add_attr(nested, &path[i + 1..], value, pos);
                    let attrs = self.finish_set(nested);
                    let value = self.ast.node(pos, ExprKind::Attrs(attrs));
                    self.set(cur).dynamic.push(DynamicAttr {
                        name: e,
                        value,
                        span: pos,
                    });
                    return;
                }
            }
        }
        match *last {
            AttrName::Static(sym, _) => {
                self.insert_attr(cur, path, &mut Vec::new(), sym, AttrKind::Plain, value, pos);
            }
            AttrName::Dynamic(e) => self.set(cur).dynamic.push(DynamicAttr {
                name: e,
                value,
                span: pos,
            }),
        }
    }

    /// Inserts one attribute into builder `b`, merging attribute-set
    /// literals into an existing attribute set of the same name; `path` then
    /// `nested` (ending in `name`) is its full path, for errors.
    #[allow(clippy::too_many_arguments)]
    fn insert_attr(
        &mut self,
        b: usize,
        path: &[AttrName],
        nested: &mut Vec<AttrName>,
        name: Symbol,
        kind: AttrKind,
        value: ExprId,
        pos: Span,
    ) {
        let Some(idx) = self.set(b).find(name) else {
            // Like CppNix, `f = a: b: …` names the curried lambdas too.
            let mut e = value;
            while let ExprKind::Lambda(l) = self.ast.expr(e).kind {
                let Some(lambda) = self.ast.lambda_mut(l) else {
                    break;
                };
                if lambda.name.is_none() {
                    lambda.name = Some(name);
                }
                e = lambda.body;
            }
            self.set(b).push(Entry {
                name,
                pos,
                kind,
                value: Val::Expr(value),
            });
            return;
        };
        // Merging sets (or a duplicate): resolve the finished tree instead.
        self.resolved = false;
        let prev = self.set(b).attrs[idx].pos;
        let incoming = match self.ast.expr(value).kind {
            ExprKind::Attrs(a) if kind == AttrKind::Plain => Some(a),
            _ => None,
        };
        let target = if incoming.is_some() {
            self.nested_set(b, idx)
        } else {
            None
        };
        let (Some(target), Some(incoming)) = (target, incoming) else {
            let full: Vec<AttrName> = path.iter().chain(nested.iter()).copied().collect();
            self.dup_attr(attr_path_string(&self.ast, &full), pos, prev);
            return;
        };
        let offset = self.set(target).inherit_from.len() as u32;
        let incoming = *self.ast.attrs(incoming);
        for k in 0..incoming.attrs.len() {
            let Some(&def) = self.ast.defs(incoming.attrs).get(k) else {
                break;
            };
            if def.kind == AttrKind::InheritedFrom {
                // Its source moves to the end of the target's.
                if let Some(Expr {
                    kind: ExprKind::InheritFrom(n),
                    ..
                }) = self.ast.expr_mut(def.value)
                {
                    *n += offset;
                }
            }
            nested.push(AttrName::Static(def.name, def.name_span));
            self.insert_attr(
                target,
                path,
                nested,
                def.name,
                def.kind,
                def.value,
                def.name_span,
            );
            nested.pop();
        }
        let into = &mut self.scratch.sets.builders[target];
        into.dynamic
            .extend_from_slice(self.ast.dynamic_attrs(incoming.dynamic));
        into.inherit_from
            .extend_from_slice(self.ast.items(incoming.inherit_from));
    }

    fn dup_attr(&mut self, path: String, pos: Span, prev: Span) {
        let (line, col) = self.line_col(prev.start);
        self.error(
            ParseErrorKind::DuplicateAttr { path, line, col },
            Span::new(pos.start, pos.start),
        );
    }

    /// `inherit` names; `scoped` when the bindings have their own scope
    /// (`let`, `rec`), which `inherit x` looks past.
    fn inherit(&mut self, b: usize, node: &Node<'_>, scoped: bool) {
        let mut from_index = None;
        for child in node.children() {
            if child.kind() == NODE_INHERIT_FROM {
                let from = self.nth_expr(&child, 0);
                let set = self.set(b);
                from_index = Some(set.inherit_from.len() as u32);
                set.inherit_from.push(from);
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
            if let Some(idx) = self.set(b).find(name) {
                let prev = self.set(b).attrs[idx].pos;
                self.dup_attr(name.as_str().to_owned(), span, prev);
                continue;
            }
            let (kind, value) = match from_index {
                None => (
                    AttrKind::Inherited,
                    self.var_expr(name, span, usize::from(scoped)),
                ),
                // The selection of `name` is implied (no node of its own).
                Some(k) => (
                    AttrKind::InheritedFrom,
                    self.ast.node(span, ExprKind::InheritFrom(k)),
                ),
            };
            self.set(b).push(Entry {
                name,
                pos: span,
                kind,
                value: Val::Expr(value),
            });
        }
    }
}
