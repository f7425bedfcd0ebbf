//! The lowered AST: what the evaluator consumes.
//!
//! The tree lives in an [`Ast`], an arena of flat tables: an expression is an
//! [`Expr`] in one table, named by its [`ExprId`]; children are ids, and the
//! variable-length parts of a node (list items, call arguments, attribute
//! paths, string parts, attributes, formals) are [`Run`]s of consecutive
//! entries of the other tables; literal text is a [`StrRef`] into one string
//! buffer. Nothing is allocated per node. Ids and runs are only meaningful for
//! the `Ast` that made them: looked up in another one they name an unrelated
//! node (or, out of range, a stand-in: the accessors never panic).
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
//! [`Formals::entries`] order), `Let` (one slot per [`Attrs::attrs`] entry, in
//! order), recursive [`Attrs`] (likewise) and `With` (no slots), the last
//! two being [`ExprKind::Let`] and [`ExprKind::With`].
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

use std::num::NonZeroU32;

use crate::Symbol;

mod arena;

pub use arena::{Ast, AttrsId, ExprId, LambdaId, Run, SelectId, StrRef};

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
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

// Every expression is 24 bytes: the span and 16 bytes of kind, which holds
// its children's ids inline (the larger nodes are in side tables).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Expr>() == 24 && std::mem::size_of::<ExprKind>() == 16);
const _: () = assert!(std::mem::size_of::<Var>() == 12 && std::mem::size_of::<AttrName>() == 16);

/// An expression with its source span (the whole construct).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Expr {
    /// Where the expression is in the source.
    pub span: Span,
    /// What it is.
    pub kind: ExprKind,
}

/// The kinds of expression. Children are ids in the same [`Ast`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ExprKind {
    /// An integer literal.
    Int(i64),
    /// A floating-point literal.
    Float(f64),
    /// A string with no interpolation (also URIs and indented strings).
    Str(StrRef),
    /// A path literal, already made absolute and canonical (`~/` expanded).
    Path(StrRef),
    /// A variable reference.
    Var(Var),
    /// `e.a.b or d` (see [`Ast::select`]).
    Select(SelectId),
    /// `e ? a.b`.
    HasAttr {
        /// The tested value.
        expr: ExprId,
        /// The path, never empty.
        path: Run<AttrName>,
    },
    /// `{ ... }` or `rec { ... }` (see [`Ast::attrs`]).
    Attrs(AttrsId),
    /// `[ ... ]`.
    List(Run<ExprId>),
    /// `x: ...`, `{ a, b ? 1, ... } @ x: ...` (see [`Ast::lambda`]).
    Lambda(LambdaId),
    /// Function application, flattened: `f a b` is one call with two
    /// arguments. `items` is the function then the arguments (at least one).
    /// `pos` is CppNix's position of the call (its start offset): the
    /// operator for desugared operators, otherwise the start of the
    /// application.
    Call {
        /// CppNix's position of the call.
        pos: u32,
        /// The function, then the arguments.
        items: Run<ExprId>,
    },
    /// `let ... in e`.
    Let {
        /// The bindings (always `recursive`, never with dynamic names).
        attrs: AttrsId,
        /// The body.
        body: ExprId,
    },
    /// `with env; body`.
    With {
        /// The attribute set to bring into scope.
        env: ExprId,
        /// The body.
        body: ExprId,
        /// Scopes between this `with` scope and the next enclosing `with`
        /// scope (never 0).
        outer_with: Option<NonZeroU32>,
    },
    /// `if cond then then_ else else_`.
    If {
        /// The condition.
        cond: ExprId,
        /// The value when true.
        then_: ExprId,
        /// The value when false.
        else_: ExprId,
    },
    /// `assert cond; body`.
    Assert {
        /// The asserted condition.
        cond: ExprId,
        /// The value.
        body: ExprId,
    },
    /// `!e`.
    Not(ExprId),
    /// The binary operators that are not desugared to calls: `lhs op rhs`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Where the operator starts (CppNix's position for errors).
        pos: u32,
        /// Left operand.
        lhs: ExprId,
        /// Right operand.
        rhs: ExprId,
    },
    /// Concatenation of strings (or paths, or numbers for `+`): `a + b`,
    /// string interpolation and path interpolation.
    ConcatStrings {
        /// True for interpolation (`"${a}"`: the result is always a string);
        /// false for `+` and path interpolation.
        force_string: bool,
        /// CppNix's position (start offset): the `+` operator, or the start
        /// of the string.
        pos: u32,
        /// The parts (at least one), each with CppNix's position of the part.
        parts: Run<StrPart>,
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

/// One part of [`ExprKind::ConcatStrings`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StrPart {
    /// The part's value.
    pub expr: ExprId,
    /// CppNix's position of the part (for errors about it): the operand's
    /// start (parentheses included) for `+`, the `${` of an interpolation,
    /// the start of a literal piece.
    pub pos: Span,
}

/// A resolved variable reference: the name, and where it is bound
/// ([`Var::resolution`]), packed in three words.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Var {
    /// The name as written.
    pub name: Symbol,
    /// `Local`: the depth; `With`: the depth; `Global`: 0.
    depth: u32,
    /// `Local`: the slot; otherwise [`Var::WITH`] or [`Var::GLOBAL`].
    slot: u32,
}

impl Var {
    /// `slot` of a `with` lookup. Real slots are far below: each binding
    /// of a scope takes at least a byte of the source, whose offsets are `u32`.
    const WITH: u32 = u32::MAX;
    /// `slot` of a global.
    const GLOBAL: u32 = u32::MAX - 1;

    /// A variable `name` bound as `resolution` says.
    pub fn new(name: Symbol, resolution: Resolution) -> Var {
        let mut v = Var {
            name,
            depth: 0,
            slot: Var::GLOBAL,
        };
        v.set_resolution(resolution);
        v
    }

    /// Where the variable is bound.
    pub fn resolution(&self) -> Resolution {
        match self.slot {
            Var::WITH => Resolution::With { depth: self.depth },
            Var::GLOBAL => Resolution::Global,
            slot => Resolution::Local {
                depth: self.depth,
                slot,
            },
        }
    }

    /// Changes where the variable is bound.
    pub fn set_resolution(&mut self, resolution: Resolution) {
        (self.depth, self.slot) = match resolution {
            // Cannot reach the markers (see `WITH`); kept below them anyway.
            Resolution::Local { depth, slot } => (depth, slot.min(Var::GLOBAL - 1)),
            Resolution::With { depth } => (depth, Var::WITH),
            Resolution::Global => (0, Var::GLOBAL),
        };
    }
}

impl std::fmt::Debug for Var {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Var")
            .field("name", &self.name)
            .field("resolution", &self.resolution())
            .finish()
    }
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
    /// chain continues through `outer_with` of [`ExprKind::With`].
    With {
        /// Scopes between the reference and the innermost `with` scope.
        depth: u32,
    },
    /// A global (builtin) name from the base environment.
    Global,
}

/// One element of an attribute path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AttrName {
    /// A name known at parse time (identifier or string without interpolation).
    Static(Symbol, Span),
    /// `${e}` or a string with interpolation.
    Dynamic(ExprId),
}

/// `expr.path or default`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Select {
    /// The attribute set.
    pub expr: ExprId,
    /// The path, never empty.
    pub path: Run<AttrName>,
    /// The `or` alternative.
    pub default: Option<ExprId>,
}

/// An attribute set literal, the bindings of `let`, or of a legacy `let { }`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Attrs {
    /// `rec { ... }` (or `let`, whose bindings are always recursive).
    pub recursive: bool,
    /// Attributes with a static name, unique, in source order.
    pub attrs: Run<AttrDef>,
    /// Attributes whose name is computed, in source order.
    pub dynamic: Run<DynamicAttr>,
    /// The `e` of each `inherit (e) ...`, evaluated once per set.
    pub inherit_from: Run<ExprId>,
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
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AttrDef {
    /// The name.
    pub name: Symbol,
    /// Where the name is defined (for `unsafeGetAttrPos` and duplicate errors).
    pub name_span: Span,
    /// How it was defined.
    pub kind: AttrKind,
    /// Its value expression.
    pub value: ExprId,
}

/// `${name} = value;`
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DynamicAttr {
    /// Evaluates to the name (a string, or null to skip the attribute).
    pub name: ExprId,
    /// The value.
    pub value: ExprId,
    /// Where the binding starts.
    pub span: Span,
}

/// A function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lambda {
    /// The plain argument, or the `@` binding of a pattern.
    pub arg: Option<(Symbol, Span)>,
    /// The `{ ... }` pattern, if any.
    pub formals: Option<Formals>,
    /// The body.
    pub body: ExprId,
    /// The attribute or `let` name the function was bound to, for traces.
    pub name: Option<Symbol>,
}

/// The `{ a, b ? d, ... }` pattern of a function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Formals {
    /// The formals, in source order, with unique names.
    pub entries: Run<Formal>,
    /// Whether `...` was given.
    pub ellipsis: bool,
}

/// One formal argument.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Formal {
    /// Its name.
    pub name: Symbol,
    /// Where the name is.
    pub span: Span,
    /// Its default value.
    pub default: Option<ExprId>,
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
