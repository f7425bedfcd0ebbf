//! The [`Ast`] container: the tables the nodes live in, typed ids and runs
//! into them, lookups, and the appending used while lowering.

use std::fmt;
use std::marker::PhantomData;

use super::{
    AttrDef, AttrName, Attrs, DynamicAttr, Expr, ExprKind, Formal, Lambda, Select, Span, StrPart,
};

/// Identifies an [`Expr`] of an [`Ast`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExprId(u32);

/// Identifies the [`Select`] of an [`ExprKind::Select`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SelectId(u32);

/// Identifies the [`Attrs`] of an [`ExprKind::Attrs`] or [`ExprKind::Let`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AttrsId(u32);

/// Identifies the [`Lambda`] of an [`ExprKind::Lambda`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LambdaId(u32);

impl ExprId {
    /// An id that names no expression (looked up, it gives an `Error` node).
    pub(crate) const MISSING: ExprId = ExprId(u32::MAX);

    /// The position of the expression in its [`Ast`]'s table.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Text in an [`Ast`]'s string buffer (see [`Ast::str`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StrRef {
    start: u32,
    len: u32,
}

/// A run of consecutive entries of one of an [`Ast`]'s tables: the items of
/// a list, an attribute path, the attributes of a set, ... Read it with the
/// `Ast` method for its table ([`Ast::items`], [`Ast::path`], ...).
pub struct Run<T> {
    start: u32,
    len: u32,
    of: PhantomData<fn() -> T>,
}

impl<T> Run<T> {
    /// The empty run.
    pub const EMPTY: Run<T> = Run {
        start: 0,
        len: 0,
        of: PhantomData,
    };

    /// Number of entries.
    pub fn len(self) -> usize {
        self.len as usize
    }

    /// Whether there are none.
    pub fn is_empty(self) -> bool {
        self.len == 0
    }

    fn range(self) -> std::ops::Range<usize> {
        let start = self.start as usize;
        start..start + self.len as usize
    }
}

impl<T> Clone for Run<T> {
    fn clone(&self) -> Run<T> {
        *self
    }
}

impl<T> Copy for Run<T> {}

impl<T> PartialEq for Run<T> {
    fn eq(&self, other: &Run<T>) -> bool {
        (self.start, self.len) == (other.start, other.len)
    }
}

impl<T> Eq for Run<T> {}

impl<T> fmt::Debug for Run<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Run({}..+{})", self.start, self.len)
    }
}

/// The lowered tree of one parse: every node in flat tables (see the
/// [module docs](super)). Lookups with ids of another `Ast` never panic:
/// out of range, they give an `Error` expression and empty parts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ast {
    exprs: Vec<Expr>,
    selects: Vec<Select>,
    attr_sets: Vec<Attrs>,
    lambdas: Vec<Lambda>,
    /// List items and call items.
    items: Vec<ExprId>,
    /// Attribute path elements.
    names: Vec<AttrName>,
    parts: Vec<StrPart>,
    defs: Vec<AttrDef>,
    dynamic: Vec<DynamicAttr>,
    formals: Vec<Formal>,
    /// The text of string and path literals.
    strings: String,
    /// A table outgrew `u32` indices (see [`Ast::too_large`]).
    too_large: bool,
}

/// What a missing expression looks like.
static MISSING_EXPR: Expr = Expr {
    span: Span { start: 0, end: 0 },
    kind: ExprKind::Error,
};
static MISSING_SELECT: Select = Select {
    expr: ExprId::MISSING,
    path: Run::EMPTY,
    default: None,
};
static MISSING_ATTRS: Attrs = Attrs {
    recursive: false,
    attrs: Run::EMPTY,
    dynamic: Run::EMPTY,
    inherit_from: Run::EMPTY,
};
static MISSING_LAMBDA: Lambda = Lambda {
    arg: None,
    formals: None,
    body: ExprId::MISSING,
    name: None,
};

/// Largest number of entries of a table (indices are `u32`).
const MAX_ENTRIES: usize = u32::MAX as usize;

/// Appends `items` to `table`, or nothing if the table would outgrow `u32`.
fn append<T: Copy>(table: &mut Vec<T>, items: &[T], too_large: &mut bool) -> Run<T> {
    append_iter(table, items.iter().copied(), too_large)
}

fn append_iter<T>(
    table: &mut Vec<T>,
    items: impl ExactSizeIterator<Item = T>,
    too_large: &mut bool,
) -> Run<T> {
    let start = table.len();
    let len = items.len();
    match (u32::try_from(start), u32::try_from(len)) {
        (Ok(s), Ok(l)) if start + len <= MAX_ENTRIES => {
            table.extend(items);
            Run {
                start: s,
                len: l,
                of: PhantomData,
            }
        }
        _ => {
            *too_large = true;
            Run::EMPTY
        }
    }
}

/// Appends `item` to `table` and returns its index, or `u32::MAX` (an id
/// that reads as missing) and sets `too_large` if the index would not fit
/// in `u32`.
fn append_one<T>(table: &mut Vec<T>, too_large: &mut bool, item: T) -> u32 {
    match u32::try_from(table.len()).ok().filter(|&i| i < u32::MAX) {
        Some(index) => {
            table.push(item);
            index
        }
        None => {
            *too_large = true;
            u32::MAX
        }
    }
}

impl Ast {
    /// The expression `id`.
    pub fn expr(&self, id: ExprId) -> &Expr {
        self.exprs.get(id.index()).unwrap_or(&MISSING_EXPR)
    }

    /// The selection `id`.
    pub fn select(&self, id: SelectId) -> &Select {
        self.selects.get(id.0 as usize).unwrap_or(&MISSING_SELECT)
    }

    /// The attribute set (or bindings of a `let`) `id`.
    pub fn attrs(&self, id: AttrsId) -> &Attrs {
        self.attr_sets.get(id.0 as usize).unwrap_or(&MISSING_ATTRS)
    }

    /// The function `id`.
    pub fn lambda(&self, id: LambdaId) -> &Lambda {
        self.lambdas.get(id.0 as usize).unwrap_or(&MISSING_LAMBDA)
    }

    /// The text of a string or path literal.
    pub fn str(&self, s: StrRef) -> &str {
        let start = s.start as usize;
        self.strings
            .get(start..start + s.len as usize)
            .unwrap_or("")
    }

    /// List items, or a call's function then arguments, or `inherit (e)` sources.
    pub fn items(&self, run: Run<ExprId>) -> &[ExprId] {
        self.items.get(run.range()).unwrap_or(&[])
    }

    /// The elements of an attribute path.
    pub fn path(&self, run: Run<AttrName>) -> &[AttrName] {
        self.names.get(run.range()).unwrap_or(&[])
    }

    /// The parts of a string concatenation.
    pub fn parts(&self, run: Run<StrPart>) -> &[StrPart] {
        self.parts.get(run.range()).unwrap_or(&[])
    }

    /// The statically named attributes of a set.
    pub fn defs(&self, run: Run<AttrDef>) -> &[AttrDef] {
        self.defs.get(run.range()).unwrap_or(&[])
    }

    /// The dynamically named attributes of a set.
    pub fn dynamic_attrs(&self, run: Run<DynamicAttr>) -> &[DynamicAttr] {
        self.dynamic.get(run.range()).unwrap_or(&[])
    }

    /// The formals of a function pattern.
    pub fn formals(&self, run: Run<Formal>) -> &[Formal] {
        self.formals.get(run.range()).unwrap_or(&[])
    }

    /// Number of expressions in the tree (including any that lowering made
    /// and then replaced, which no other node refers to).
    pub fn expr_count(&self) -> usize {
        self.exprs.len()
    }

    /// Bytes of heap the tables hold (their capacities).
    pub fn heap_bytes(&self) -> usize {
        fn bytes<T>(v: &Vec<T>) -> usize {
            v.capacity() * std::mem::size_of::<T>()
        }
        bytes(&self.exprs)
            + bytes(&self.selects)
            + bytes(&self.attr_sets)
            + bytes(&self.lambdas)
            + bytes(&self.items)
            + bytes(&self.names)
            + bytes(&self.parts)
            + bytes(&self.defs)
            + bytes(&self.dynamic)
            + bytes(&self.formals)
            + self.strings.capacity()
    }

    /// A copy with tables of exactly the size they need (lowering builds
    /// in a kept, oversized tree and hands out this copy).
    pub(crate) fn compact_copy(&self) -> Ast {
        Ast {
            exprs: self.exprs.clone(),
            selects: self.selects.clone(),
            attr_sets: self.attr_sets.clone(),
            lambdas: self.lambdas.clone(),
            items: self.items.clone(),
            names: self.names.clone(),
            parts: self.parts.clone(),
            defs: self.defs.clone(),
            dynamic: self.dynamic.clone(),
            formals: self.formals.clone(),
            strings: self.strings.as_str().into(),
            too_large: self.too_large,
        }
    }

    /// Empties the tree, keeping the tables' capacity.
    pub(crate) fn clear(&mut self) {
        self.exprs.clear();
        self.selects.clear();
        self.attr_sets.clear();
        self.lambdas.clear();
        self.items.clear();
        self.names.clear();
        self.parts.clear();
        self.defs.clear();
        self.dynamic.clear();
        self.formals.clear();
        self.strings.clear();
        self.too_large = false;
    }

    /// Whether a table outgrew `u32` indices, so that some nodes were left
    /// out (lowering reports it as an error).
    pub(crate) fn too_large(&self) -> bool {
        self.too_large
    }

    /// The expression `id`, to change it.
    pub(crate) fn expr_mut(&mut self, id: ExprId) -> Option<&mut Expr> {
        self.exprs.get_mut(id.index())
    }

    /// The function `id`, to change it.
    pub(crate) fn lambda_mut(&mut self, id: LambdaId) -> Option<&mut Lambda> {
        self.lambdas.get_mut(id.0 as usize)
    }

    /// Appends an expression.
    pub(crate) fn push(&mut self, expr: Expr) -> ExprId {
        ExprId(append_one(&mut self.exprs, &mut self.too_large, expr))
    }

    /// Appends an expression of `kind` at `span`.
    pub(crate) fn node(&mut self, span: Span, kind: ExprKind) -> ExprId {
        self.push(Expr { span, kind })
    }

    /// Removes `id` if it is the last expression appended and a string
    /// literal at the end of the buffer (one that lowering turned into
    /// something else).
    pub(crate) fn discard_last_str(&mut self, id: ExprId) {
        if id.index() + 1 != self.exprs.len() {
            return;
        }
        if let Some(Expr {
            kind: ExprKind::Str(s),
            ..
        }) = self.exprs.last()
        {
            if (s.start + s.len) as usize == self.strings.len() {
                self.strings.truncate(s.start as usize);
            }
            self.exprs.pop();
        }
    }

    pub(crate) fn add_select(&mut self, select: Select) -> SelectId {
        SelectId(append_one(&mut self.selects, &mut self.too_large, select))
    }

    pub(crate) fn add_attrs(&mut self, attrs: Attrs) -> AttrsId {
        AttrsId(append_one(&mut self.attr_sets, &mut self.too_large, attrs))
    }

    pub(crate) fn add_lambda(&mut self, lambda: Lambda) -> LambdaId {
        LambdaId(append_one(&mut self.lambdas, &mut self.too_large, lambda))
    }

    /// Appends text to the string buffer.
    pub(crate) fn add_str(&mut self, text: &str) -> StrRef {
        let start = self.strings.len();
        match (u32::try_from(start), u32::try_from(text.len())) {
            (Ok(s), Ok(len)) if start + text.len() <= MAX_ENTRIES => {
                self.strings.push_str(text);
                StrRef { start: s, len }
            }
            _ => {
                self.too_large = true;
                StrRef { start: 0, len: 0 }
            }
        }
    }

    pub(crate) fn add_items(&mut self, items: &[ExprId]) -> Run<ExprId> {
        append(&mut self.items, items, &mut self.too_large)
    }

    pub(crate) fn add_path(&mut self, names: &[AttrName]) -> Run<AttrName> {
        append(&mut self.names, names, &mut self.too_large)
    }

    pub(crate) fn add_parts(&mut self, parts: &[StrPart]) -> Run<StrPart> {
        append(&mut self.parts, parts, &mut self.too_large)
    }

    pub(crate) fn add_defs(
        &mut self,
        defs: impl ExactSizeIterator<Item = AttrDef>,
    ) -> Run<AttrDef> {
        append_iter(&mut self.defs, defs, &mut self.too_large)
    }

    pub(crate) fn add_dynamic_attrs(&mut self, attrs: &[DynamicAttr]) -> Run<DynamicAttr> {
        append(&mut self.dynamic, attrs, &mut self.too_large)
    }

    pub(crate) fn add_formals(&mut self, formals: &[Formal]) -> Run<Formal> {
        append(&mut self.formals, formals, &mut self.too_large)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.

    use super::*;
    use crate::{parse, ParseOptions};

    /// Parses are shared between threads (the evaluator's parse cache).
    #[test]
    fn trees_are_send_and_sync() {
        fn shared<T: Send + Sync>() {}
        shared::<Ast>();
        shared::<crate::Parse>();
    }

    #[test]
    fn children_are_read_through_their_tree() {
        let parsed = parse(
            "let f = { a, b ? \"x${a}\" }: [ a b.c ]; in f",
            &ParseOptions::new("/"),
        );
        assert!(parsed.errors().is_empty());
        let ast = parsed.ast();
        let ExprKind::Let { attrs, body } = ast.expr(parsed.root()).kind else {
            panic!("not a let")
        };
        let [def] = ast.defs(ast.attrs(attrs).attrs) else {
            panic!("one binding expected")
        };
        assert_eq!(def.name.as_str(), "f");
        assert!(matches!(ast.expr(body).kind, ExprKind::Var(_)));
        let ExprKind::Lambda(l) = ast.expr(def.value).kind else {
            panic!("not a lambda")
        };
        let lambda = ast.lambda(l);
        assert_eq!(lambda.name.map(|n| n.as_str()), Some("f"));
        let formals = ast.formals(lambda.formals.unwrap().entries);
        assert_eq!(
            formals.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let ExprKind::ConcatStrings { parts, .. } = ast.expr(formals[1].default.unwrap()).kind
        else {
            panic!()
        };
        let ExprKind::Str(x) = ast.expr(ast.parts(parts)[0].expr).kind else {
            panic!("not a literal")
        };
        assert_eq!(ast.str(x), "x");
        let ExprKind::List(items) = ast.expr(lambda.body).kind else {
            panic!("not a list")
        };
        let ExprKind::Select(s) = ast.expr(ast.items(items)[1]).kind else {
            panic!("not a selection")
        };
        assert!(
            matches!(ast.path(ast.select(s).path), [AttrName::Static(c, _)] if c.as_str() == "c")
        );
    }

    /// Ids out of range (of another, larger tree) never panic.
    #[test]
    fn foreign_ids_read_as_error_and_empty() {
        let big = parse(
            "[ (x: { a = x; }) \"s\" (y: y.z) ]",
            &ParseOptions::new("/"),
        );
        let small = parse("1", &ParseOptions::new("/"));
        let ast = small.ast();
        let ExprKind::List(items) = big.ast().expr(big.root()).kind else {
            panic!("not a list")
        };
        assert!(ast.items(items).is_empty());
        for &id in big.ast().items(items) {
            let _ = ast.expr(id);
        }
        assert_eq!(ast.expr(ExprId::MISSING).kind, ExprKind::Error);
        assert_eq!(ast.lambda(LambdaId(7)).body, ExprId::MISSING);
        assert!(ast.attrs(AttrsId(7)).attrs.is_empty());
        assert_eq!(ast.select(SelectId(7)).default, None);
        assert_eq!(ast.str(StrRef { start: 100, len: 5 }), "");
    }
}
