//! Variable resolution: binds every [`Var`] to a scope slot, a `with` lookup
//! or a global, and reports undefined variables as CppNix does at parse time.


use crate::ast::*;
use crate::error::{ParseError, ParseErrorKind};
use crate::symbol::FxHashMap;
use crate::{Globals, Symbol};

enum Scope {
    Slots { names: Vec<Symbol>, map: Option<FxHashMap<Symbol, u32>> },
    With,
}

impl Scope {
    fn slots(names: Vec<Symbol>) -> Scope {
        let map = (names.len() > 8).then(|| {
            let mut m = FxHashMap::with_capacity_and_hasher(names.len(), Default::default());
            for (i, n) in names.iter().enumerate() {
                m.entry(*n).or_insert(i as u32);
            }
            m
        });
        Scope::Slots { names, map }
    }

    fn find(&self, name: Symbol) -> Option<u32> {
        match self {
            Scope::Slots { map: Some(m), .. } => m.get(&name).copied(),
            Scope::Slots { names, map: None } => names.iter().position(|n| *n == name).map(|i| i as u32),
            Scope::With => None,
        }
    }
}

struct Resolver<'a> {
    scopes: Vec<Scope>,
    globals: &'a Globals,
    errors: &'a mut Vec<ParseError>,
}

pub(crate) fn resolve(expr: &mut Expr, globals: &Globals, errors: &mut Vec<ParseError>) {
    let mut r = Resolver { scopes: Vec::new(), globals, errors };
    r.expr(expr);
}

impl Resolver<'_> {
    fn lookup(&mut self, var: &mut Var, span: Span) {
        let mut innermost_with = None;
        for (depth, scope) in self.scopes.iter().rev().enumerate() {
            if let Some(slot) = scope.find(var.name) {
                var.resolution = Resolution::Local { depth: depth as u32, slot };
                return;
            }
            if matches!(scope, Scope::With) && innermost_with.is_none() {
                innermost_with = Some(depth as u32);
            }
        }
        if self.globals.contains(var.name) {
            var.resolution = Resolution::Global;
        } else if let Some(depth) = innermost_with {
            var.resolution = Resolution::With { depth };
        } else {
            self.errors.push(ParseError {
                kind: ParseErrorKind::UndefinedVariable(var.name.as_str().to_owned()),
                span,
            });
        }
    }

    fn attr_names(&mut self, path: &mut [AttrName]) {
        for n in path {
            if let AttrName::Dynamic(e) = n {
                self.expr(e);
            }
        }
    }

    /// Resolves the bindings of `attrs`; `scoped` is whether a new scope
    /// (already pushed) holds them.
    fn bindings(&mut self, attrs: &mut Attrs, scoped: bool) {
        for def in &mut attrs.attrs {
            if def.kind == AttrKind::Inherited && scoped {
                let top = self.scopes.pop();
                self.expr(&mut def.value);
                if let Some(top) = top {
                    self.scopes.push(top);
                }
            } else {
                self.expr(&mut def.value);
            }
        }
        for d in &mut attrs.dynamic {
            self.expr(&mut d.name);
            self.expr(&mut d.value);
        }
        for e in &mut attrs.inherit_from {
            self.expr(e);
        }
    }

    fn expr(&mut self, expr: &mut Expr) {
        stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.expr_inner(expr));
    }

    fn expr_inner(&mut self, expr: &mut Expr) {
        let span = expr.span;
        match &mut expr.kind {
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Str(_)
            | ExprKind::Path(_)
            | ExprKind::CurPos
            | ExprKind::InheritFrom(_)
            | ExprKind::Error => {}
            ExprKind::Var(v) => self.lookup(v, span),
            ExprKind::Select(s) => {
                self.expr(&mut s.expr);
                self.attr_names(&mut s.path);
                if let Some(d) = &mut s.default {
                    self.expr(d);
                }
            }
            ExprKind::HasAttr(h) => {
                self.expr(&mut h.expr);
                self.attr_names(&mut h.path);
            }
            ExprKind::Attrs(a) => {
                if a.recursive {
                    self.scopes.push(Scope::slots(a.attrs.iter().map(|d| d.name).collect()));
                    self.bindings(a, true);
                    self.scopes.pop();
                } else {
                    self.bindings(a, false);
                }
            }
            ExprKind::List(items) => {
                for i in items.iter_mut() {
                    self.expr(i);
                }
            }
            ExprKind::Lambda(l) => {
                let mut names = Vec::new();
                if let Some((a, _)) = l.arg {
                    names.push(a);
                }
                if let Some(f) = &l.formals {
                    names.extend(f.entries.iter().map(|e| e.name));
                }
                self.scopes.push(Scope::slots(names));
                if let Some(f) = &mut l.formals {
                    for e in &mut f.entries {
                        if let Some(d) = &mut e.default {
                            self.expr(d);
                        }
                    }
                }
                self.expr(&mut l.body);
                self.scopes.pop();
            }
            ExprKind::Call(c) => {
                self.expr(&mut c.fun);
                for a in &mut c.args {
                    self.expr(a);
                }
            }
            ExprKind::Let(l) => {
                self.scopes.push(Scope::slots(l.attrs.attrs.iter().map(|d| d.name).collect()));
                self.bindings(&mut l.attrs, true);
                self.expr(&mut l.body);
                self.scopes.pop();
            }
            ExprKind::With(w) => {
                self.expr(&mut w.env);
                w.outer_with = self
                    .scopes
                    .iter()
                    .rev()
                    .position(|s| matches!(s, Scope::With))
                    .map(|p| p as u32 + 1);
                self.scopes.push(Scope::With);
                self.expr(&mut w.body);
                self.scopes.pop();
            }
            ExprKind::If(i) => {
                self.expr(&mut i.cond);
                self.expr(&mut i.then_);
                self.expr(&mut i.else_);
            }
            ExprKind::Assert(a) => {
                self.expr(&mut a.cond);
                self.expr(&mut a.body);
            }
            ExprKind::Not(e) => self.expr(e),
            ExprKind::Binary(b) => {
                self.expr(&mut b.lhs);
                self.expr(&mut b.rhs);
            }
            ExprKind::ConcatStrings(c) => {
                for p in &mut c.parts {
                    self.expr(p);
                }
            }
        }
    }
}
