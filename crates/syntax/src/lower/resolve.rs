//! Variable resolution: binds every [`Var`] to a scope slot, a `with` lookup
//! or a global, and reports undefined variables as CppNix does at parse time.
//!
//! Lowering resolves variables as it creates them, keeping the scopes of the
//! enclosing constructs in [`Scopes`] (the names of a `let` or `rec` set are
//! read ahead from its bindings). Where that cannot give the answer a
//! separate walk over the finished tree would (attribute sets merged into one
//! another, names it could not read ahead), lowering says so and
//! [`resolve`] does that walk instead.

use rnix::SyntaxKind::*;

use super::green::Node;
use super::Lowerer;
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

thread_local! {
    /// The table behind [`Scopes::innermost`], kept between parses on a
    /// thread (it is indexed by symbol, so it grows with the symbols seen).
    static INNERMOST: std::cell::Cell<Vec<u32>> = const { std::cell::Cell::new(Vec::new()) };
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
    Slots { names: Vec<Symbol>, first: u32 },
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
    /// This thread's kept table (see [`INNERMOST`]), or a new one.
    pub(crate) fn take() -> Scopes {
        let innermost = INNERMOST.try_with(std::cell::Cell::take).unwrap_or_default();
        Scopes { innermost, ..Scopes::default() }
    }

    /// Closes whatever is still open and keeps the table for the thread's
    /// next parse.
    pub(crate) fn keep(mut self) {
        while !self.frames.is_empty() {
            self.pop();
        }
        let table = std::mem::take(&mut self.innermost);
        let _ = INNERMOST.try_with(|c| c.set(table));
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
            self.bindings.push(Binding { name, frame, slot: slot as u32, shadowed });
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
        let mut at = self.innermost.get(name.index() as usize).copied().unwrap_or(0);
        while at != 0 {
            let b = &self.bindings[at as usize - 1];
            if (b.frame as usize) < visible {
                return Some(Resolution::Local { depth: (visible - 1 - b.frame as usize) as u32, slot: b.slot });
            }
            at = b.shadowed;
        }
        if globals.contains(name) {
            return Some(Resolution::Global);
        }
        let with = self.withs.iter().rev().find(|&&w| (w as usize) < visible)?;
        Some(Resolution::With { depth: (visible - 1 - *with as usize) as u32 })
    }

    /// [`With::outer_with`] of a `with` opened here.
    pub(crate) fn outer_with(&self) -> Option<u32> {
        self.withs.last().map(|&w| (self.frames.len() - w as usize) as u32)
    }
}

fn undefined(name: Symbol, span: Span) -> ParseError {
    ParseError { kind: ParseErrorKind::UndefinedVariable(name.as_str().to_owned()), span }
}

struct Resolver<'a> {
    scopes: Vec<Scope>,
    globals: &'a Globals,
    errors: &'a mut Vec<ParseError>,
    /// Nesting of the walk, for stack checks.
    depth: u32,
    /// Only put the tree back as lowering without resolution leaves it.
    clear: bool,
}

/// Resolves every variable of `expr` (overriding what lowering found).
pub(crate) fn resolve(expr: &mut Expr, globals: &Globals, errors: &mut Vec<ParseError>) {
    let mut r = Resolver { scopes: Vec::new(), globals, errors, depth: 0, clear: false };
    r.expr(expr);
}

/// Undoes lowering's resolution: variables global, no `with` chains (as in
/// the tree of a parse with errors, which is not resolved).
pub(crate) fn unresolve(expr: &mut Expr, globals: &Globals) {
    let mut errors = Vec::new();
    let mut r = Resolver { scopes: Vec::new(), globals, errors: &mut errors, depth: 0, clear: true };
    r.expr(expr);
}

impl Resolver<'_> {
    fn lookup(&mut self, var: &mut Var, span: Span) {
        if self.clear {
            var.resolution = Resolution::Global;
            return;
        }
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
            var.resolution = Resolution::Global;
            self.errors.push(undefined(var.name, span));
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
        self.depth += 1;
        if self.depth % super::STACK_CHECK_LEVELS == 0 {
            stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.expr_inner(expr));
        } else {
            self.expr_inner(expr);
        }
        self.depth -= 1;
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
            ExprKind::Call { items, .. } => {
                for e in items.iter_mut() {
                    self.expr(e);
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
                    .map(|p| p as u32 + 1)
                    .filter(|_| !self.clear);
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
            ExprKind::ConcatStrings { parts, .. } => {
                for (p, _) in parts.iter_mut() {
                    self.expr(p);
                }
            }
        }
    }
}

impl Lowerer<'_> {
    /// A variable, resolved in the current scopes past the innermost `skip`.
    pub(crate) fn var_expr(&mut self, name: Symbol, span: Span, skip: usize) -> Expr {
        let resolution = match self.scopes.lookup(name, skip, &self.options.globals) {
            Some(r) => r,
            None => {
                self.undefined.push(undefined(name, span));
                Resolution::Global
            }
        };
        Expr { span, kind: ExprKind::Var(Var { name, resolution }) }
    }

    /// The name of an attribute-path element if it is a plain identifier or
    /// string (other static names are left to the check in [`Self::close_scope`]).
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
                    let (Some(path), Some(_)) = (kids.next(), kids.next()) else { continue };
                    if let Some(n) = path.children().next().and_then(|first| self.plain_name(&first)) {
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

    /// Closes the innermost scope, now that its construct is lowered and has
    /// the slot names `actual`: if they differ from the names read ahead, the
    /// variables inside were resolved against the wrong names and the tree
    /// must be resolved again as a whole.
    pub(crate) fn close_scope(&mut self, actual: impl Iterator<Item = Symbol>) {
        if !self.scopes.pop_matching(actual) {
            self.resolved = false;
        }
    }
}
