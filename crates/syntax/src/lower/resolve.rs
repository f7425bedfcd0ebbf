//! Variable resolution: binds every [`Var`] to a scope slot, a `with` lookup
//! or a global, and reports undefined variables as CppNix does at parse time.
//!
//! Lowering resolves variables as it creates them, keeping the scopes of the
//! enclosing constructs in [`Scopes`] (the names of a `let` or `rec` set are
//! read ahead from its bindings). Where that cannot give the answer a
//! separate walk over the finished tree would (attribute sets merged into one
//! another, names it could not read ahead), lowering says so and
//! [`resolve`] does that walk instead.

use std::num::NonZeroU32;

use rnix::SyntaxKind::*;

use super::green::Node;
use super::Lowerer;
use crate::ast::*;
use crate::error::{ParseError, ParseErrorKind};
use crate::symbol::FxHashMap;
use crate::{Globals, Symbol};

enum Scope {
    Slots {
        names: Vec<Symbol>,
        map: Option<FxHashMap<Symbol, u32>>,
    },
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
            Scope::Slots { names, map: None } => {
                names.iter().position(|n| *n == name).map(|i| i as u32)
            }
            Scope::With => None,
        }
    }
}

thread_local! {
    /// The [`Scopes`] of this thread's last parse, emptied: kept so that its
    /// tables are not grown afresh for every file ([`Scopes::innermost`] is
    /// indexed by symbol, so it grows with the symbols seen).
    static KEPT: std::cell::Cell<Option<Scopes>> = const { std::cell::Cell::new(None) };
}

/// The scopes enclosing the expression being lowered, innermost last.
///
/// A lookup costs one step per shadowed binding of the name, not one per
/// enclosing scope: each name's innermost binding is found by the name's
/// symbol index ([`Self::innermost`]), and each binding knows the one it
/// shadows. A scope's bindings are pushed together and undone together.
#[derive(Default)]
pub(crate) struct Scopes {
    frames: Vec<Frame>,
    /// Every binding of the open scopes, outermost scope first.
    bindings: Vec<Binding>,
    /// By symbol index: 1 + the index in `bindings` of the name's innermost
    /// binding, or 0. All zero whenever no scope is open.
    innermost: Vec<u32>,
    /// The frames that are `with` scopes, innermost last.
    withs: Vec<u32>,
    /// Name vectors of closed scopes, empty, for reuse.
    spare: Vec<Vec<Symbol>>,
}

enum Frame {
    /// A scope with slots: their names, and where its bindings start.
    Slots {
        names: Vec<Symbol>,
        first: u32,
    },
    With,
}

struct Binding {
    name: Symbol,
    frame: u32,
    slot: u32,
    /// What `innermost` held for the name before (restored on pop).
    shadowed: u32,
}

impl Scopes {
    /// Scopes nesting deeper than this (or more bindings) are not kept.
    const KEEP: usize = 1 << 12;

    /// This thread's kept scopes, or new ones.
    pub(crate) fn take() -> Scopes {
        super::take_kept(&KEPT)
    }

    /// Closes whatever is still open and keeps the tables for the thread's
    /// next parse.
    pub(crate) fn keep(mut self) {
        while !self.frames.is_empty() {
            self.pop();
        }
        self.frames.shrink_to(Self::KEEP);
        self.bindings.shrink_to(Self::KEEP);
        self.withs.shrink_to(Self::KEEP);
        self.spare.truncate(Self::KEEP);
        super::keep_for_thread(&KEPT, self);
    }

    /// An empty vector for the names of a scope.
    pub(crate) fn names(&mut self) -> Vec<Symbol> {
        self.spare.pop().unwrap_or_default()
    }

    pub(crate) fn push_slots(&mut self, names: Vec<Symbol>) {
        let frame = self.frames.len() as u32;
        let first = self.bindings.len() as u32;
        for (slot, &name) in names.iter().enumerate() {
            let i = name.index() as usize;
            if i >= self.innermost.len() {
                self.innermost.resize(i + 1, 0);
            }
            let shadowed = self.innermost[i];
            // A name twice in one scope: the first slot is the binding.
            if shadowed != 0 && self.bindings[shadowed as usize - 1].frame == frame {
                continue;
            }
            self.bindings.push(Binding {
                name,
                frame,
                slot: slot as u32,
                shadowed,
            });
            self.innermost[i] = self.bindings.len() as u32;
        }
        self.frames.push(Frame::Slots { names, first });
    }

    pub(crate) fn push_with(&mut self) {
        self.withs.push(self.frames.len() as u32);
        self.frames.push(Frame::With);
    }

    /// Closes the innermost scope, returning its names if it had slots.
    fn pop_frame(&mut self) -> Option<Vec<Symbol>> {
        match self.frames.pop()? {
            Frame::Slots { names, first } => {
                for b in self.bindings.drain(first as usize..).rev() {
                    self.innermost[b.name.index() as usize] = b.shadowed;
                }
                Some(names)
            }
            Frame::With => {
                self.withs.pop();
                None
            }
        }
    }

    pub(crate) fn pop(&mut self) {
        if let Some(mut names) = self.pop_frame() {
            names.clear();
            self.spare.push(names);
        }
    }

    /// Pops the innermost scope, saying whether its names are `names`.
    fn pop_matching(&mut self, mut names: impl Iterator<Item = Symbol>) -> bool {
        match self.pop_frame() {
            Some(mut have) => {
                let same = have.iter().all(|&h| names.next() == Some(h)) && names.next().is_none();
                have.clear();
                self.spare.push(have);
                same
            }
            None => false,
        }
    }

    /// Where `name` is bound, looking past the innermost `skip` scopes;
    /// `None` if it is undefined.
    fn lookup(&self, name: Symbol, skip: usize, globals: &Globals) -> Option<Resolution> {
        let visible = self.frames.len().saturating_sub(skip);
        let mut at = self
            .innermost
            .get(name.index() as usize)
            .copied()
            .unwrap_or(0);
        while at != 0 {
            let b = &self.bindings[at as usize - 1];
            if (b.frame as usize) < visible {
                return Some(Resolution::Local {
                    depth: (visible - 1 - b.frame as usize) as u32,
                    slot: b.slot,
                });
            }
            at = b.shadowed;
        }
        if globals.contains(name) {
            return Some(Resolution::Global);
        }
        let with = self.withs.iter().rev().find(|&&w| (w as usize) < visible)?;
        Some(Resolution::With {
            depth: (visible - 1 - *with as usize) as u32,
        })
    }

    /// [`With::outer_with`] of a `with` opened here.
    pub(crate) fn outer_with(&self) -> Option<u32> {
        self.withs
            .last()
            .map(|&w| (self.frames.len() - w as usize) as u32)
    }
}

fn undefined(name: Symbol, span: Span) -> ParseError {
    ParseError {
        kind: ParseErrorKind::UndefinedVariable(name.as_str().to_owned()),
        span,
    }
}

struct Resolver<'a> {
    ast: &'a mut Ast,
    scopes: Vec<Scope>,
    globals: &'a Globals,
    errors: &'a mut Vec<ParseError>,
    /// Nesting of the walk, for stack checks.
    depth: u32,
    /// Only put the tree back as lowering without resolution leaves it.
    clear: bool,
}

/// Resolves every variable of the tree at `root` (overriding what lowering
/// found).
pub(crate) fn resolve(
    ast: &mut Ast,
    root: ExprId,
    globals: &Globals,
    errors: &mut Vec<ParseError>,
) {
    let mut r = Resolver {
        ast,
        scopes: Vec::new(),
        globals,
        errors,
        depth: 0,
        clear: false,
    };
    r.expr(root);
}

/// Undoes lowering's resolution: variables global, no `with` chains (as in
/// the tree of a parse with errors, which is not resolved).
pub(crate) fn unresolve(ast: &mut Ast, root: ExprId, globals: &Globals) {
    let mut errors = Vec::new();
    let mut r = Resolver {
        ast,
        scopes: Vec::new(),
        globals,
        errors: &mut errors,
        depth: 0,
        clear: true,
    };
    r.expr(root);
}

impl Resolver<'_> {
    fn lookup(&mut self, var: &mut Var, span: Span) {
        if self.clear {
            var.set_resolution(Resolution::Global);
            return;
        }
        let mut innermost_with = None;
        for (depth, scope) in self.scopes.iter().rev().enumerate() {
            if let Some(slot) = scope.find(var.name) {
                var.set_resolution(Resolution::Local {
                    depth: depth as u32,
                    slot,
                });
                return;
            }
            if matches!(scope, Scope::With) && innermost_with.is_none() {
                innermost_with = Some(depth as u32);
            }
        }
        if self.globals.contains(var.name) {
            var.set_resolution(Resolution::Global);
        } else if let Some(depth) = innermost_with {
            var.set_resolution(Resolution::With { depth });
        } else {
            var.set_resolution(Resolution::Global);
            self.errors.push(undefined(var.name, span));
        }
    }

    /// Resolves the expressions of a run of list or call items.
    fn items(&mut self, run: Run<ExprId>) {
        for k in 0..run.len() {
            if let Some(&e) = self.ast.items(run).get(k) {
                self.expr(e);
            }
        }
    }

    fn attr_names(&mut self, path: Run<AttrName>) {
        for k in 0..path.len() {
            if let Some(&AttrName::Dynamic(e)) = self.ast.path(path).get(k) {
                self.expr(e);
            }
        }
    }

    /// The slot names of a recursive set or `let`.
    fn set_scope(&self, attrs: &Attrs) -> Scope {
        Scope::slots(self.ast.defs(attrs.attrs).iter().map(|d| d.name).collect())
    }

    /// Resolves the bindings of `attrs`; `scoped` is whether a new scope
    /// (already pushed) holds them.
    fn bindings(&mut self, attrs: &Attrs, scoped: bool) {
        for k in 0..attrs.attrs.len() {
            let Some(&def) = self.ast.defs(attrs.attrs).get(k) else {
                break;
            };
            if def.kind == AttrKind::Inherited && scoped {
                let top = self.scopes.pop();
                self.expr(def.value);
                if let Some(top) = top {
                    self.scopes.push(top);
                }
            } else {
                self.expr(def.value);
            }
        }
        for k in 0..attrs.dynamic.len() {
            let Some(&d) = self.ast.dynamic_attrs(attrs.dynamic).get(k) else {
                break;
            };
            self.expr(d.name);
            self.expr(d.value);
        }
        self.items(attrs.inherit_from);
    }

    fn expr(&mut self, id: ExprId) {
        self.depth += 1;
        if self.depth % super::STACK_CHECK_LEVELS == 0 {
            stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.expr_inner(id));
        } else {
            self.expr_inner(id);
        }
        self.depth -= 1;
    }

    fn expr_inner(&mut self, id: ExprId) {
        let Expr { span, kind } = *self.ast.expr(id);
        match kind {
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Str(_)
            | ExprKind::Path(_)
            | ExprKind::CurPos
            | ExprKind::InheritFrom(_)
            | ExprKind::Error => {}
            ExprKind::Var(mut v) => {
                self.lookup(&mut v, span);
                if let Some(e) = self.ast.expr_mut(id) {
                    e.kind = ExprKind::Var(v);
                }
            }
            ExprKind::Select(s) => {
                let s = *self.ast.select(s);
                self.expr(s.expr);
                self.attr_names(s.path);
                if let Some(d) = s.default {
                    self.expr(d);
                }
            }
            ExprKind::HasAttr { expr, path } => {
                self.expr(expr);
                self.attr_names(path);
            }
            ExprKind::Attrs(a) => {
                let a = *self.ast.attrs(a);
                if a.recursive {
                    let scope = self.set_scope(&a);
                    self.scopes.push(scope);
                    self.bindings(&a, true);
                    self.scopes.pop();
                } else {
                    self.bindings(&a, false);
                }
            }
            ExprKind::List(items) | ExprKind::Call { items, .. } => self.items(items),
            ExprKind::Lambda(l) => {
                let l = *self.ast.lambda(l);
                let mut names = Vec::new();
                if let Some((a, _)) = l.arg {
                    names.push(a);
                }
                let formals = l.formals.map_or(Run::EMPTY, |f| f.entries);
                names.extend(self.ast.formals(formals).iter().map(|e| e.name));
                self.scopes.push(Scope::slots(names));
                for k in 0..formals.len() {
                    if let Some(&Formal {
                        default: Some(d), ..
                    }) = self.ast.formals(formals).get(k)
                    {
                        self.expr(d);
                    }
                }
                self.expr(l.body);
                self.scopes.pop();
            }
            ExprKind::Let { attrs, body } => {
                let a = *self.ast.attrs(attrs);
                let scope = self.set_scope(&a);
                self.scopes.push(scope);
                self.bindings(&a, true);
                self.expr(body);
                self.scopes.pop();
            }
            ExprKind::With { env, body, .. } => {
                self.expr(env);
                let outer_with = self
                    .scopes
                    .iter()
                    .rev()
                    .position(|s| matches!(s, Scope::With))
                    .and_then(|p| NonZeroU32::new(p as u32 + 1))
                    .filter(|_| !self.clear);
                if let Some(e) = self.ast.expr_mut(id) {
                    e.kind = ExprKind::With {
                        env,
                        body,
                        outer_with,
                    };
                }
                self.scopes.push(Scope::With);
                self.expr(body);
                self.scopes.pop();
            }
            ExprKind::If { cond, then_, else_ } => {
                self.expr(cond);
                self.expr(then_);
                self.expr(else_);
            }
            ExprKind::Assert { cond, body } => {
                self.expr(cond);
                self.expr(body);
            }
            ExprKind::Not(e) => self.expr(e),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            ExprKind::ConcatStrings { parts, .. } => {
                for k in 0..parts.len() {
                    if let Some(&p) = self.ast.parts(parts).get(k) {
                        self.expr(p.expr);
                    }
                }
            }
        }
    }
}

impl Lowerer<'_> {
    /// A variable, resolved in the current scopes past the innermost `skip`.
    pub(crate) fn var_expr(&mut self, name: Symbol, span: Span, skip: usize) -> ExprId {
        let resolution = match self.scopes.lookup(name, skip, &self.options.globals) {
            Some(r) => r,
            None => {
                self.undefined.push(undefined(name, span));
                Resolution::Global
            }
        };
        self.ast
            .node(span, ExprKind::Var(Var::new(name, resolution)))
    }

    /// The name of an attribute-path element if it is a plain identifier or
    /// string (other static names are left to the check in [`Self::close_set_scope`]).
    fn plain_name(&mut self, node: &Node<'_>) -> Option<Symbol> {
        match node.kind() {
            NODE_IDENT => Some(self.ident_symbol(node)),
            NODE_STRING => self.plain_string_body(node).map(Symbol::intern_cached),
            _ => None,
        }
    }

    /// The slot names of the `let` or `rec` bindings under `node`, read
    /// ahead: first attribute names in order of first appearance.
    pub(crate) fn binding_names(&mut self, node: &Node<'_>) -> Vec<Symbol> {
        let mut names = self.scopes.names();
        let mut seen: Option<FxHashMap<Symbol, ()>> = None;
        let mut add = |names: &mut Vec<Symbol>, n: Symbol| {
            let new = match &mut seen {
                Some(set) => set.insert(n, ()).is_none(),
                None => !names.contains(&n),
            };
            if new {
                names.push(n);
                if seen.is_none() && names.len() > 16 {
                    seen = Some(names.iter().map(|&n| (n, ())).collect());
                }
            }
        };
        for child in node.children() {
            match child.kind() {
                NODE_ATTRPATH_VALUE => {
                    let mut kids = child.children();
                    let (Some(path), Some(_)) = (kids.next(), kids.next()) else {
                        continue;
                    };
                    if let Some(n) = path
                        .children()
                        .next()
                        .and_then(|first| self.plain_name(&first))
                    {
                        add(&mut names, n);
                    }
                }
                NODE_INHERIT => {
                    for c in child.children().filter(|c| c.kind() != NODE_INHERIT_FROM) {
                        if let Some(n) = self.plain_name(&c) {
                            add(&mut names, n);
                        }
                    }
                }
                _ => {}
            }
        }
        names
    }

    /// The slot names of a lambda with parameter `param`, read ahead.
    pub(crate) fn lambda_names(&mut self, param: Option<&Node<'_>>) -> Vec<Symbol> {
        let mut names = self.scopes.names();
        match param {
            Some(p) if p.kind() == NODE_IDENT_PARAM => {
                if let Some(id) = p.children().next() {
                    names.push(self.ident_symbol(&id));
                }
            }
            Some(p) if p.kind() == NODE_PATTERN => {
                let mut bind = None;
                for c in p.children() {
                    let first = c.children().next();
                    match (c.kind(), first) {
                        (NODE_PAT_ENTRY, Some(id)) => names.push(self.ident_symbol(&id)),
                        (NODE_PAT_BIND, Some(id)) => bind = Some(self.ident_symbol(&id)),
                        _ => {}
                    }
                }
                if let Some(b) = bind {
                    names.insert(0, b);
                }
            }
            _ => {}
        }
        names
    }

    /// Closes the innermost scope, a `let` or recursive set now lowered as
    /// `attrs`: if its slot names differ from the names read ahead, the
    /// variables inside were resolved against the wrong names and the tree
    /// must be resolved again as a whole.
    pub(crate) fn close_set_scope(&mut self, attrs: AttrsId) {
        let defs = self.ast.defs(self.ast.attrs(attrs).attrs);
        if !self.scopes.pop_matching(defs.iter().map(|d| d.name)) {
            self.resolved = false;
        }
    }

    /// Closes the innermost scope, a function now lowered with the argument
    /// `arg` and `formals`, as [`Self::close_set_scope`] does.
    pub(crate) fn close_lambda_scope(&mut self, arg: Option<Symbol>, formals: Option<Run<Formal>>) {
        let formals = formals.map_or(&[][..], |f| self.ast.formals(f));
        if !self
            .scopes
            .pop_matching(arg.into_iter().chain(formals.iter().map(|f| f.name)))
        {
            self.resolved = false;
        }
    }
}
