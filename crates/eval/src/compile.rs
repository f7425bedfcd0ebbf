//! Compilation of the parser's AST into the evaluator's form.
//!
//! The AST already resolves variables; this pass
//! - puts every subexpression that may become a thunk behind an [`Arc`], so a
//!   thunk can hold its code without borrowing the tree;
//! - turns spans into [`Pos`] (file + offset);
//! - resolves globals to their values (builtins, or a `scopedImport` scope),
//!   and literals to ready-made values, so evaluating them allocates nothing;
//! - precomputes the text CppNix shows for assertions.

use std::num::NonZeroU32;

use triomphe::Arc;

use nixkit_syntax::ast::{self, AttrKind, AttrName, BinaryOp, ExprId, ExprKind as A, Resolution};
use nixkit_syntax::Symbol;

use crate::source::{FileId, Pos};
use crate::value::Value;

/// A compiled expression.
pub(crate) struct Expr {
    /// What it computes.
    pub(crate) kind: ExprKind,
    /// CppNix's position for it.
    pub(crate) pos: Pos,
}

/// An attribute path element.
pub(crate) enum Key {
    Static(Symbol),
    /// `${e}`, with CppNix's rendering of `e` for error messages.
    Dynamic(Arc<Expr>, Box<str>),
}

pub(crate) enum ExprKind {
    Const(Value),
    Local {
        depth: u32,
        slot: u32,
    },
    /// A variable [`crate::thunk::FAR`] or more scopes out: looked up with
    /// [`crate::thunk::EnvChain::up_far`], which crosses runs of `with`
    /// scopes in one step.
    LocalFar {
        depth: u32,
        slot: u32,
    },
    WithVar {
        depth: u32,
        name: Symbol,
    },
    Undefined(Symbol),
    Select {
        expr: Arc<Expr>,
        path: Box<[Key]>,
        default: Option<Arc<Expr>>,
    },
    HasAttr {
        expr: Arc<Expr>,
        path: Box<[Key]>,
    },
    Attrs(Box<AttrsExpr>),
    List(Box<[Arc<Expr>]>),
    Lambda(Arc<LambdaExpr>),
    Call {
        fun: Arc<Expr>,
        args: Box<[Arc<Expr>]>,
    },
    Let(Box<AttrsExpr>, Arc<Expr>),
    With {
        env: Arc<Expr>,
        body: Arc<Expr>,
        outer_with: Option<u32>,
    },
    If {
        cond: Arc<Expr>,
        then_: Arc<Expr>,
        else_: Arc<Expr>,
    },
    Assert {
        cond: Arc<Expr>,
        body: Arc<Expr>,
        text: Box<str>,
    },
    Not(Arc<Expr>),
    Binary {
        op: BinaryOp,
        lhs: Arc<Expr>,
        rhs: Arc<Expr>,
    },
    /// A call of the builtin `sub`/`mul`/`div`/`lessThan` with two arguments
    /// (what `a - b`, `a * b`, `a / b`, `a < b` desugar to, when the global
    /// is not shadowed): integers are computed inline, anything else goes
    /// through the builtin itself so that results and errors are the same.
    Arith {
        op: ArithOp,
        prim: &'static crate::value::PrimOp,
        lhs: Arc<Expr>,
        rhs: Arc<Expr>,
    },
    /// `part_pos`: CppNix's position of each part (see `ConcatStrings`).
    Concat {
        force_string: bool,
        parts: Box<[Arc<Expr>]>,
        part_pos: Box<[Pos]>,
    },
    InheritFrom,
    Error,
}

/// The arithmetic builtins with an inline integer fast path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Sub,
    Mul,
    Div,
    LessThan,
}

impl ArithOp {
    /// The fast path for a builtin with this name, if there is one.
    fn for_builtin(name: &str) -> Option<ArithOp> {
        Some(match name {
            "sub" => ArithOp::Sub,
            "mul" => ArithOp::Mul,
            "div" => ArithOp::Div,
            "lessThan" => ArithOp::LessThan,
            _ => return None,
        })
    }

    /// The result on two integers; `None` (overflow, division by zero) lets
    /// the builtin report the error. Always inlined: called out of line,
    /// its result came back through a stack slot written as two words and
    /// read as one 16-byte move (a store-forwarding stall on every `n - 1`).
    #[inline(always)]
    pub(crate) fn ints(self, a: i64, b: i64) -> Option<Value> {
        match self {
            ArithOp::Sub => a.checked_sub(b).map(Value::Int),
            ArithOp::Mul => a.checked_mul(b).map(Value::Int),
            ArithOp::Div => {
                if b == 0 {
                    None
                } else {
                    a.checked_div(b).map(Value::Int)
                }
            }
            ArithOp::LessThan => Some(Value::Bool(a < b)),
        }
    }
}

/// How a static attribute gets its value.
pub(crate) enum AttrValue {
    /// An expression evaluated in the set's scope (the new scope if recursive).
    Plain(Arc<Expr>),
    /// `inherit x`: evaluated in the enclosing scope.
    Inherited(Arc<Expr>),
    /// `inherit (e) x`: selects `x` from one of the set's `inherit_from`
    /// sources. Shared, so that a pending thunk for it holds a pointer
    /// instead of its own copy of the name and position.
    From(Arc<InheritedFrom>),
}

/// An attribute of `inherit (e) name`.
pub(crate) struct InheritedFrom {
    /// Which of the set's `inherit_from` sources `e` is.
    pub(crate) source: u32,
    pub(crate) name: Symbol,
    pub(crate) pos: Pos,
}

pub(crate) struct StaticAttr {
    pub(crate) name: Symbol,
    pub(crate) pos: Pos,
    pub(crate) value: AttrValue,
}

pub(crate) struct DynamicAttr {
    pub(crate) name: Arc<Expr>,
    pub(crate) value: Arc<Expr>,
    pub(crate) pos: Pos,
}

/// An attribute set literal or the bindings of a `let`.
pub(crate) struct AttrsExpr {
    pub(crate) recursive: bool,
    pub(crate) attrs: Vec<StaticAttr>,
    pub(crate) dynamic: Vec<DynamicAttr>,
    pub(crate) inherit_from: Vec<Arc<Expr>>,
    /// The indices of `attrs` in the order of their names' symbol indices,
    /// which is the order of a built set: a set without dynamic attributes
    /// is written in that order, with no sorting at run time.
    pub(crate) by_name: Box<[u32]>,
    /// In a recursive set, the index in `attrs` of `__overrides` (CppNix's
    /// legacy overriding of a `rec` set's attributes), if it has one.
    pub(crate) overrides: Option<u32>,
}

/// One formal of a function pattern.
pub(crate) struct FormalExpr {
    pub(crate) name: Symbol,
    pub(crate) pos: Pos,
    pub(crate) default: Option<Arc<Expr>>,
}

/// A function's code.
pub(crate) struct LambdaExpr {
    pub(crate) name: Option<Symbol>,
    pub(crate) arg: Option<Symbol>,
    pub(crate) formals: Option<Vec<FormalExpr>>,
    pub(crate) ellipsis: bool,
    pub(crate) body: Arc<Expr>,
    pub(crate) pos: Pos,
    /// The argument the body forces before anything else (see `strict`).
    pub(crate) strict_arg: Option<crate::strict::StrictArg>,
}

impl LambdaExpr {
    /// Number of slots in the call's environment.
    pub(crate) fn slot_count(&self) -> usize {
        usize::from(self.arg.is_some()) + self.formals.as_ref().map_or(0, Vec::len)
    }

    /// For `a: b: body` (no formals on either): the inner lambda, which a
    /// call with both arguments enters directly (`call_lambda2`).
    #[inline]
    pub(crate) fn curried_inner(&self) -> Option<&Arc<LambdaExpr>> {
        match (&self.formals, &self.body.kind) {
            (None, ExprKind::Lambda(inner)) if inner.formals.is_none() => Some(inner),
            _ => None,
        }
    }

    /// For `a: b: c: …` (`a` and `b` without formals; `c` may have them):
    /// the lambdas of `b` and `c`.
    pub(crate) fn curried_third(&self) -> Option<(&Arc<LambdaExpr>, &Arc<LambdaExpr>)> {
        let inner = self.curried_inner()?;
        match &inner.body.kind {
            ExprKind::Lambda(third) => Some((inner, third)),
            _ => None,
        }
    }
}

impl StaticAttr {
    /// The lambda this attribute is written as (`f = x: …;`), if it is one.
    pub(crate) fn written_lambda(&self) -> Option<&Arc<LambdaExpr>> {
        match &self.value {
            AttrValue::Plain(e) => match &e.kind {
                ExprKind::Lambda(l) => Some(l),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Resolves global names while compiling.
pub(crate) trait GlobalScope {
    fn lookup(&self, name: Symbol) -> Option<Value>;
}

pub(crate) struct Compiler<'a> {
    /// The tree being compiled.
    pub(crate) ast: &'a ast::Ast,
    pub(crate) file: FileId,
    pub(crate) globals: &'a dyn GlobalScope,
    /// Resolves `__curPos` at a position.
    pub(crate) cur_pos: &'a dyn Fn(Pos) -> Value,
}

impl Compiler<'_> {
    fn pos(&self, span: ast::Span) -> Pos {
        Pos::new(self.file, span.start)
    }

    pub(crate) fn compile(&self, e: ExprId) -> Arc<Expr> {
        Arc::new(self.expr(e))
    }

    fn keys(&self, path: ast::Run<AttrName>) -> Box<[Key]> {
        self.ast
            .path(path)
            .iter()
            .map(|k| match *k {
                AttrName::Static(s, _) => Key::Static(s),
                AttrName::Dynamic(e) => Key::Dynamic(
                    self.compile(e),
                    nixkit_syntax::show_expr(self.ast, e).into(),
                ),
            })
            .collect()
    }

    fn all(&self, es: &[ExprId]) -> Box<[Arc<Expr>]> {
        es.iter().map(|&e| self.compile(e)).collect()
    }

    fn attrs(&self, a: ast::AttrsId) -> AttrsExpr {
        let a = self.ast.attrs(a);
        let attrs: Vec<StaticAttr> = self
            .ast
            .defs(a.attrs)
            .iter()
            .map(|d| StaticAttr {
                name: d.name,
                pos: self.pos(d.name_span),
                value: match d.kind {
                    AttrKind::Plain => AttrValue::Plain(self.compile(d.value)),
                    AttrKind::Inherited => AttrValue::Inherited(self.compile(d.value)),
                    AttrKind::InheritedFrom => match self.ast.expr(d.value).kind {
                        A::InheritFrom(index) => AttrValue::From(Arc::new(InheritedFrom {
                            source: index,
                            name: d.name,
                            pos: self.pos(d.name_span),
                        })),
                        _ => AttrValue::Plain(self.compile(d.value)),
                    },
                },
            })
            .collect();
        // Static names are unique (the parser rejects duplicates).
        let mut by_name: Vec<u32> = (0..attrs.len() as u32).collect();
        by_name.sort_unstable_by_key(|&i| attrs[i as usize].name.index());
        let overrides = if a.recursive {
            let name = sym!("__overrides");
            attrs.iter().position(|x| x.name == name).map(|i| i as u32)
        } else {
            None
        };
        AttrsExpr {
            recursive: a.recursive,
            attrs,
            by_name: by_name.into_boxed_slice(),
            overrides,
            dynamic: self
                .ast
                .dynamic_attrs(a.dynamic)
                .iter()
                .map(|d| DynamicAttr {
                    name: self.compile(d.name),
                    value: self.compile(d.value),
                    pos: self.pos(d.span),
                })
                .collect(),
            inherit_from: self
                .ast
                .items(a.inherit_from)
                .iter()
                .map(|&e| self.compile(e))
                .collect(),
        }
    }

    fn expr(&self, id: ExprId) -> Expr {
        let e = self.ast.expr(id);
        let pos = self.pos(e.span);
        let kind = match e.kind {
            A::Int(i) => ExprKind::Const(Value::Int(i)),
            A::Float(f) => ExprKind::Const(Value::Float(f)),
            A::Str(s) => ExprKind::Const(Value::string(self.ast.str(s))),
            A::Path(p) => ExprKind::Const(Value::path(self.ast.str(p))),
            A::Var(v) => match v.resolution() {
                Resolution::Local { depth, slot } if depth >= crate::thunk::FAR => {
                    ExprKind::LocalFar { depth, slot }
                }
                Resolution::Local { depth, slot } => ExprKind::Local { depth, slot },
                Resolution::With { depth } => ExprKind::WithVar {
                    depth,
                    name: v.name,
                },
                Resolution::Global => match self.globals.lookup(v.name) {
                    Some(value) => ExprKind::Const(value),
                    None => ExprKind::Undefined(v.name),
                },
            },
            A::Select(s) => {
                let s = self.ast.select(s);
                ExprKind::Select {
                    expr: self.compile(s.expr),
                    path: self.keys(s.path),
                    default: s.default.map(|d| self.compile(d)),
                }
            }
            A::HasAttr { expr, path } => ExprKind::HasAttr {
                expr: self.compile(expr),
                path: self.keys(path),
            },
            A::Attrs(a) => ExprKind::Attrs(Box::new(self.attrs(a))),
            A::List(items) => ExprKind::List(self.all(self.ast.items(items))),
            A::Lambda(l) => ExprKind::Lambda(Arc::new({
                let l = self.ast.lambda(l);
                let body = self.compile(l.body);
                let strict_arg = crate::strict::first_forced_arg(&body, l.formals.is_none());
                LambdaExpr {
                    name: l.name,
                    arg: l.arg.map(|(s, _)| s),
                    formals: l.formals.map(|f| {
                        self.ast
                            .formals(f.entries)
                            .iter()
                            .map(|fm| FormalExpr {
                                name: fm.name,
                                pos: self.pos(fm.span),
                                default: fm.default.map(|d| self.compile(d)),
                            })
                            .collect()
                    }),
                    ellipsis: l.formals.is_some_and(|f| f.ellipsis),
                    body,
                    pos,
                    strict_arg,
                }
            })),
            A::Call { pos: at, items } => {
                let Some((&fun, args)) = self.ast.items(items).split_first() else {
                    return Expr {
                        kind: ExprKind::Error,
                        pos,
                    };
                };
                let call_pos = self.pos(ast::Span::new(at, at));
                let fun = self.compile(fun);
                if let (ExprKind::Const(Value::PrimOp(prim)), &[lhs, rhs]) = (&fun.kind, args) {
                    if let Some(op) = ArithOp::for_builtin(prim.name) {
                        let (lhs, rhs) = (self.compile(lhs), self.compile(rhs));
                        return Expr {
                            kind: ExprKind::Arith { op, prim, lhs, rhs },
                            pos: call_pos,
                        };
                    }
                }
                return Expr {
                    kind: ExprKind::Call {
                        fun,
                        args: self.all(args),
                    },
                    pos: call_pos,
                };
            }
            A::Let { attrs, body } => {
                ExprKind::Let(Box::new(self.attrs(attrs)), self.compile(body))
            }
            A::With {
                env,
                body,
                outer_with,
            } => ExprKind::With {
                env: self.compile(env),
                body: self.compile(body),
                outer_with: outer_with.map(NonZeroU32::get),
            },
            A::If { cond, then_, else_ } => ExprKind::If {
                cond: self.compile(cond),
                then_: self.compile(then_),
                else_: self.compile(else_),
            },
            A::Assert { cond, body } => ExprKind::Assert {
                cond: self.compile(cond),
                body: self.compile(body),
                text: nixkit_syntax::show_expr(self.ast, cond).into(),
            },
            A::Not(x) => ExprKind::Not(self.compile(x)),
            A::Binary {
                op,
                pos: at,
                lhs,
                rhs,
            } => {
                return Expr {
                    kind: ExprKind::Binary {
                        op,
                        lhs: self.compile(lhs),
                        rhs: self.compile(rhs),
                    },
                    pos: self.pos(ast::Span::new(at, at)),
                }
            }
            A::ConcatStrings {
                force_string,
                pos: at,
                parts,
            } => {
                let parts = self.ast.parts(parts);
                return Expr {
                    kind: ExprKind::Concat {
                        force_string,
                        parts: parts.iter().map(|p| self.compile(p.expr)).collect(),
                        part_pos: parts.iter().map(|p| self.pos(p.pos)).collect(),
                    },
                    pos: self.pos(ast::Span::new(at, at)),
                };
            }
            A::CurPos => ExprKind::Const((self.cur_pos)(pos)),
            A::InheritFrom(_) => ExprKind::InheritFrom,
            A::Error => ExprKind::Error,
        };
        Expr { kind, pos }
    }
}
