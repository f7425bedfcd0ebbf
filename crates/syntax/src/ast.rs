//! The lowered AST: what the evaluator consumes.
//!
//! It mirrors the shape CppNix builds at parse time, so that printing
//! (`nix-instantiate --parse`) and evaluation agree with it:
//! - nested attribute paths are merged into nested [`Attrs`];
//! - `a - b`, `a * b`, `a / b`, `-a`, `<`, `<=`, `>`, `>=` become calls of the
//!   variables `__sub`, `__mul`, `__div`, `__lessThan` (so they can be shadowed,
//!   exactly as in CppNix), and `<p>` becomes `__findFile __nixPath "p"`;
//! - string and path interpolation become [`ExprKind::ConcatStrings`];
//! - every variable is resolved to a scope slot, a `with` lookup or a global
//!   before evaluation (see [`Resolution`]).
//!
//! # Scopes
//! These nodes open a scope (one environment at run time), and nothing else does:
//! [`Lambda`] (slot 0 is the `@`-argument when present, then the formals in
//! [`Formals::entries`] order), [`Let`] (one slot per [`Attrs::attrs`] entry, in
//! order), recursive [`Attrs`] (likewise) and [`With`] (no slots).
//! `Resolution::Local { depth, slot }` counts `depth` scopes outward from the
//! innermost enclosing scope of the variable (0 = innermost).
//!
//! Which scope each part of a scope node is evaluated in:
//! - `Lambda`: formal defaults and body in the lambda's scope.
//! - `Let` and recursive `Attrs`: plain values, dynamic names and values, and
//!   `inherit_from` expressions in the new scope; `inherit x` ([`AttrKind::Inherited`])
//!   in the enclosing scope.
//! - non-recursive `Attrs`: everything in the enclosing scope (no new scope).
//! - `With`: `env` in the enclosing scope, `body` in the with scope.

use crate::Symbol;

/// A byte range in the source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// Offset of the first byte.
    pub start: u32,
    /// Offset one past the last byte.
    pub end: u32,
}

impl Span {
    /// A span from `start` to `end`.
    pub fn new(start: u32, end: u32) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn cover(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

// Every node is an `Expr`: keep it at four words.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Expr>() == 32);
// The boxed nodes that are most common, at their allocator size classes.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(
    std::mem::size_of::<Select>() == 64
        && std::mem::size_of::<Attrs>() == 64
        && std::mem::size_of::<Lambda>() == 80
        && std::mem::size_of::<AttrName>() == 16
);

/// An expression with its source span (the whole construct).
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// Where the expression is in the source.
    pub span: Span,
    /// What it is.
    pub kind: ExprKind,
}

/// The kinds of expression.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// An integer literal.
    Int(i64),
    /// A floating-point literal.
    Float(f64),
    /// A string with no interpolation (also URIs and indented strings).
    Str(Box<str>),
    /// A path literal, already made absolute and canonical (`~/` expanded).
    Path(Box<str>),
    /// A variable reference.
    Var(Var),
    /// `e.a.b or d`.
    Select(Box<Select>),
    /// `e ? a.b`.
    HasAttr(Box<HasAttr>),
    /// `{ ... }` or `rec { ... }`.
    Attrs(Box<Attrs>),
    /// `[ ... ]`.
    List(Box<[Expr]>),
    /// `x: ...`, `{ a, b ? 1, ... } @ x: ...`.
    Lambda(Box<Lambda>),
    /// Function application, flattened: `f a b` is one call with two
    /// arguments. `items` is the function then the arguments (at least one).
    /// `pos` is CppNix's position of the call (its start offset): the
    /// operator for desugared operators, otherwise the start of the
    /// application.
    Call {
        /// CppNix's position of the call.
        pos: u32,
        /// The function, then the arguments.
        items: Box<[Expr]>,
    },
    /// `let ... in e`.
    Let(Box<Let>),
    /// `with e; body`.
    With(Box<With>),
    /// `if c then t else e`.
    If(Box<If>),
    /// `assert c; body`.
    Assert(Box<Assert>),
    /// `!e`.
    Not(Box<Expr>),
    /// The binary operators that are not desugared to calls.
    Binary(Box<Binary>),
    /// Concatenation of strings (or paths, or numbers for `+`): `a + b`,
    /// string interpolation and path interpolation.
    ConcatStrings {
        /// True for interpolation (`"${a}"`: the result is always a string);
        /// false for `+` and path interpolation.
        force_string: bool,
        /// CppNix's position (start offset): the `+` operator, or the start
        /// of the string.
        pos: u32,
        /// The parts (at least one), each with CppNix's position of the part
        /// (for errors about it): the operand's start (parentheses included)
        /// for `+`, the `${` of an interpolation, the start of a literal piece.
        parts: Box<[(Expr, Span)]>,
    },
    /// `__curPos`.
    CurPos,
    /// The value of an inherited-from attribute ([`AttrKind::InheritedFrom`]):
    /// the attribute's own name selected from `Attrs::inherit_from[n]` of the
    /// enclosing attribute set. Appears nowhere else.
    InheritFrom(u32),
    /// Placeholder for a part that failed to parse; only present when the parse
    /// reported errors.
    Error,
}

/// A resolved variable reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Var {
    /// The name as written.
    pub name: Symbol,
    /// Where the name is bound.
    pub resolution: Resolution,
}

/// Where a variable is bound (see the module docs for the scope rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// A lexical binding: `depth` scopes out, slot `slot`.
    Local {
        /// Scopes between the reference and the binding scope (0 = innermost).
        depth: u32,
        /// Index of the binding in that scope.
        slot: u32,
    },
    /// Not bound lexically: looked up at run time in the enclosing `with`
    /// scopes, innermost first, the innermost being `depth` scopes out; the
    /// chain continues through [`With::outer_with`].
    With {
        /// Scopes between the reference and the innermost `with` scope.
        depth: u32,
    },
    /// A global (builtin) name from the base environment.
    Global,
}

/// One element of an attribute path.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrName {
    /// A name known at parse time (identifier or string without interpolation).
    Static(Symbol, Span),
    /// `${e}` or a string with interpolation (boxed: rare, and it would
    /// double the size of every path element).
    Dynamic(Box<Expr>),
}

impl AttrName {
    /// The span of this path element.
    pub fn span(&self) -> Span {
        match self {
            AttrName::Static(_, s) => *s,
            AttrName::Dynamic(e) => e.span,
        }
    }
}

/// A non-empty attribute path; one element (the usual case) is stored
/// inline. Derefs to the slice of its elements.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrPath {
    /// A path of one element.
    One(AttrName),
    /// A longer path.
    Many(Box<[AttrName]>),
}

impl From<Vec<AttrName>> for AttrPath {
    fn from(mut v: Vec<AttrName>) -> AttrPath {
        match (v.len(), v.pop()) {
            (1, Some(one)) => AttrPath::One(one),
            (_, last) => {
                v.extend(last);
                AttrPath::Many(v.into_boxed_slice())
            }
        }
    }
}

impl std::ops::Deref for AttrPath {
    type Target = [AttrName];
    fn deref(&self) -> &[AttrName] {
        match self {
            AttrPath::One(n) => std::slice::from_ref(n),
            AttrPath::Many(ns) => ns,
        }
    }
}

impl std::ops::DerefMut for AttrPath {
    fn deref_mut(&mut self) -> &mut [AttrName] {
        match self {
            AttrPath::One(n) => std::slice::from_mut(n),
            AttrPath::Many(ns) => ns,
        }
    }
}

/// `expr.path or default`.
#[derive(Clone, Debug, PartialEq)]
pub struct Select {
    /// The attribute set.
    pub expr: Expr,
    /// The path, never empty.
    pub path: AttrPath,
    /// The `or` alternative (boxed: most selections have none).
    pub default: Option<Box<Expr>>,
}

/// `expr ? path`.
#[derive(Clone, Debug, PartialEq)]
pub struct HasAttr {
    /// The tested value.
    pub expr: Expr,
    /// The path, never empty.
    pub path: AttrPath,
}

/// An attribute set literal, the bindings of `let`, or of a legacy `let { }`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Attrs {
    /// `rec { ... }` (or `let`, whose bindings are always recursive).
    pub recursive: bool,
    /// Attributes with a static name, unique, in source order.
    pub attrs: Vec<AttrDef>,
    /// Attributes whose name is computed, in source order.
    pub dynamic: Box<[DynamicAttr]>,
    /// The `e` of each `inherit (e) ...`, evaluated once per set.
    pub inherit_from: Box<[Expr]>,
}

/// How a static attribute was defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrKind {
    /// `name = value;`
    Plain,
    /// `inherit name;` — the value is a [`Var`] resolved in the enclosing scope.
    Inherited,
    /// `inherit (e) name;` — the value is [`ExprKind::InheritFrom`]`(n)`:
    /// `name` selected from `Attrs::inherit_from[n]`.
    InheritedFrom,
}

/// A statically named attribute.
#[derive(Clone, Debug, PartialEq)]
pub struct AttrDef {
    /// The name.
    pub name: Symbol,
    /// Where the name is defined (for `unsafeGetAttrPos` and duplicate errors).
    pub name_span: Span,
    /// How it was defined.
    pub kind: AttrKind,
    /// Its value expression.
    pub value: Expr,
}

/// `${name} = value;`
#[derive(Clone, Debug, PartialEq)]
pub struct DynamicAttr {
    /// Evaluates to the name (a string, or null to skip the attribute).
    pub name: Expr,
    /// The value.
    pub value: Expr,
    /// Where the binding starts.
    pub span: Span,
}

/// A function.
#[derive(Clone, Debug, PartialEq)]
pub struct Lambda {
    /// The plain argument, or the `@` binding of a pattern.
    pub arg: Option<(Symbol, Span)>,
    /// The `{ ... }` pattern, if any.
    pub formals: Option<Formals>,
    /// The body.
    pub body: Expr,
    /// The attribute or `let` name the function was bound to, for traces.
    pub name: Option<Symbol>,
}

/// The `{ a, b ? d, ... }` pattern of a function.
#[derive(Clone, Debug, PartialEq)]
pub struct Formals {
    /// The formals, in source order, with unique names.
    pub entries: Box<[Formal]>,
    /// Whether `...` was given.
    pub ellipsis: bool,
}

/// One formal argument.
#[derive(Clone, Debug, PartialEq)]
pub struct Formal {
    /// Its name.
    pub name: Symbol,
    /// Where the name is.
    pub span: Span,
    /// Its default value.
    pub default: Option<Expr>,
}

/// `let attrs in body`.
#[derive(Clone, Debug, PartialEq)]
pub struct Let {
    /// The bindings (always `recursive`, never with dynamic names).
    pub attrs: Attrs,
    /// The body.
    pub body: Expr,
}

/// `with env; body`.
#[derive(Clone, Debug, PartialEq)]
pub struct With {
    /// The attribute set to bring into scope.
    pub env: Expr,
    /// The body.
    pub body: Expr,
    /// Scopes between this `with` scope and the next enclosing `with` scope.
    pub outer_with: Option<u32>,
}

/// `if cond then then_ else else_`.
#[derive(Clone, Debug, PartialEq)]
pub struct If {
    /// The condition.
    pub cond: Expr,
    /// The value when true.
    pub then_: Expr,
    /// The value when false.
    pub else_: Expr,
}

/// `assert cond; body`.
#[derive(Clone, Debug, PartialEq)]
pub struct Assert {
    /// The asserted condition.
    pub cond: Expr,
    /// The value.
    pub body: Expr,
}

/// The binary operators kept as such.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `==`
    Eq,
    /// `!=`
    NotEq,
    /// `&&`
    And,
    /// `||`
    Or,
    /// `->`
    Impl,
    /// `//`
    Update,
    /// `++`
    ConcatLists,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Eq => "==",
            BinaryOp::NotEq => "!=",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
            BinaryOp::Impl => "->",
            BinaryOp::Update => "//",
            BinaryOp::ConcatLists => "++",
        }
    }
}

/// `lhs op rhs`.
#[derive(Clone, Debug, PartialEq)]
pub struct Binary {
    /// The operator.
    pub op: BinaryOp,
    /// Where the operator is (CppNix's position for errors).
    pub op_span: Span,
    /// Left operand.
    pub lhs: Expr,
    /// Right operand.
    pub rhs: Expr,
}

