//! Expression lowering (literals and strings are in [`super::literals`],
//! bindings in [`super::attrs`]).

use std::num::NonZeroU32;

use rnix::SyntaxKind::*;

use super::green::Node;

use super::{child_token, node_span, token_span, Lowerer, MAX_DEPTH, STACK_CHECK_LEVELS};
use crate::ast::*;
use crate::error::{LintKind, LintWarning, ParseErrorKind};
use crate::Symbol;

/// The first `N` child nodes of `node`, in one pass.
fn first_nodes<'g, const N: usize>(node: &Node<'g>) -> [Option<Node<'g>>; N] {
    let mut out = [None; N];
    for (slot, child) in out.iter_mut().zip(node.children()) {
        *slot = Some(child);
    }
    out
}

impl<'a> Lowerer<'a> {
    /// Interns the text of an identifier node: once per distinct token of
    /// the tree, then through the per-thread cache.
    pub(crate) fn ident_symbol(&mut self, node: &Node<'_>) -> Symbol {
        match node.children_with_tokens().next() {
            // The usual shape: the node is its identifier token.
            Some(rowan::NodeOrToken::Token(t)) if t.text_range() == node.text_range() => {
                let text = t.text();
                self.token_symbols
                    .get_or_insert_with(t.identity(), || Symbol::intern_cached(text))
            }
            _ => {
                let r = node.text_range();
                // Identifier bytes are the same in the text rnix saw and in ours.
                match self.text.get(usize::from(r.start())..usize::from(r.end())) {
                    Some(name) => Symbol::intern_cached(name),
                    None => Symbol::intern_cached(&node.text()),
                }
            }
        }
    }

    /// Lowers an expression node.
    pub(crate) fn expr(&mut self, node: &Node<'_>) -> ExprId {
        self.depth += 1;
        self.max_depth = self.max_depth.max(self.depth);
        let e = if self.depth > MAX_DEPTH {
            if self.depth == MAX_DEPTH + 1 {
                self.error(ParseErrorKind::TooDeep, node_span(node));
            }
            self.error_expr(node_span(node))
        } else {
            // Deep (but bounded) trees must not depend on the caller's stack
            // size. A level takes under 2 KiB of stack, so checking every
            // few levels stays far inside the red zone.
            if self.depth % STACK_CHECK_LEVELS == 0 {
                stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.expr_inner(node))
            } else {
                self.expr_inner(node)
            }
        };
        self.depth -= 1;
        e
    }

    /// An Error node at `span`.
    pub(crate) fn error_expr(&mut self, span: Span) -> ExprId {
        self.ast.node(span, ExprKind::Error)
    }

    /// A call of `items[0]` with the other items as arguments.
    fn call<const N: usize>(&mut self, items: [ExprId; N], pos: Span, span: Span) -> ExprId {
        let items = self.ast.add_items(&items);
        self.ast.node(
            span,
            ExprKind::Call {
                pos: pos.start,
                items,
            },
        )
    }

    /// The items pushed to the scratch stack since `base`, moved to the tree.
    fn take_items(&mut self, base: usize) -> Run<ExprId> {
        let run = self
            .ast
            .add_items(self.scratch.items.get(base..).unwrap_or(&[]));
        self.scratch.items.truncate(base);
        run
    }

    /// A variable for a builtin that desugaring calls.
    fn builtin_var(&mut self, name: &str, span: Span) -> ExprId {
        self.var_expr(Symbol::intern_cached(name), span, 0)
    }

    /// Lowers `node`, or makes an Error node at `span` if it is missing.
    fn expr_or_error(&mut self, node: Option<Node<'_>>, span: Span) -> ExprId {
        match node {
            Some(n) => self.expr(&n),
            None => self.error_expr(span),
        }
    }

    /// Lowers the `n`th expression child of `node` (an Error node if missing).
    pub(crate) fn nth_expr(&mut self, node: &Node<'_>, n: usize) -> ExprId {
        match node.children().nth(n) {
            Some(c) => self.expr(&c),
            None => self.error_expr(node_span(node)),
        }
    }

    fn expr_inner(&mut self, node: &Node<'_>) -> ExprId {
        let span = node_span(node);
        match node.kind() {
            NODE_PAREN | NODE_ROOT => self.nth_expr(node, 0),
            NODE_LITERAL => self.literal(node),
            NODE_IDENT => {
                let name = self.ident_symbol(node);
                self.var_expr(name, span, 0)
            }
            NODE_CUR_POS => self.ast.node(span, ExprKind::CurPos),
            NODE_STRING => self.string(node),
            NODE_PATH_ABS | NODE_PATH_REL => self.path(node),
            NODE_PATH_HOME => self.home_path(node),
            NODE_PATH_SEARCH => self.path_search(node, span),
            NODE_LIST => self.list(node, span),
            NODE_ATTR_SET => self.attr_set(node, span),
            NODE_LET_IN => self.let_in(node, span),
            NODE_LEGACY_LET => self.legacy_let(node, span),
            NODE_LAMBDA => self.lambda(node),
            NODE_APPLY => self.apply(node),
            NODE_SELECT => self.select(node, span),
            NODE_HAS_ATTR => self.has_attr(node, span),
            NODE_UNARY_OP => self.unary(node, span),
            NODE_BIN_OP => self.binary(node),
            NODE_IF_ELSE => {
                let [c, t, e] = first_nodes(node);
                let cond = self.expr_or_error(c, span);
                let then_ = self.expr_or_error(t, span);
                let else_ = self.expr_or_error(e, span);
                self.ast.node(span, ExprKind::If { cond, then_, else_ })
            }
            NODE_ASSERT => {
                let [c, b] = first_nodes(node);
                let cond = self.expr_or_error(c, span);
                let body = self.expr_or_error(b, span);
                self.ast.node(span, ExprKind::Assert { cond, body })
            }
            NODE_WITH => self.with(node, span),
            _ => self.error_expr(span),
        }
    }

    /// `<p>`: `__findFile __nixPath "p"`.
    #[inline(never)]
    fn path_search(&mut self, node: &Node<'_>, span: Span) -> ExprId {
        let text = node.text().to_string();
        let inner = text.trim_start_matches('<').trim_end_matches('>');
        let fun = self.builtin_var("__findFile", span);
        let nix_path = self.builtin_var("__nixPath", span);
        let s = self.ast.add_str(inner);
        let name = self.ast.node(span, ExprKind::Str(s));
        self.call([fun, nix_path, name], span, span)
    }

    /// `[ ... ]`.
    #[inline(never)]
    fn list(&mut self, node: &Node<'_>, span: Span) -> ExprId {
        let base = self.scratch.items.len();
        for c in node.children() {
            self.cursed_or_lint(&c, true);
            let item = self.expr(&c);
            self.scratch.items.push(item);
        }
        let items = self.take_items(base);
        self.ast.node(span, ExprKind::List(items))
    }

    /// `{ ... }` or `rec { ... }`.
    #[inline(never)]
    fn attr_set(&mut self, node: &Node<'_>, span: Span) -> ExprId {
        // `rec` can only come before the `{`.
        let recursive = node
            .children_with_tokens()
            .filter_map(|e| e.into_token())
            .take_while(|t| t.kind() != TOKEN_L_BRACE)
            .any(|t| t.kind() == TOKEN_REC);
        if recursive {
            let names = self.binding_names(node);
            self.scopes.push_slots(names);
        }
        let (attrs, _) = self.bindings(node, recursive, false);
        if recursive {
            self.close_set_scope(attrs);
        }
        self.ast.node(span, ExprKind::Attrs(attrs))
    }

    /// `let ... in e`.
    #[inline(never)]
    fn let_in(&mut self, node: &Node<'_>, span: Span) -> ExprId {
        let names = self.binding_names(node);
        self.scopes.push_slots(names);
        let (attrs, last) = self.bindings(node, true, true);
        let body = match last {
            Some(b) if !matches!(b.kind(), NODE_ATTRPATH_VALUE | NODE_INHERIT) => self.expr(&b),
            _ => self.error_expr(span),
        };
        self.close_set_scope(attrs);
        self.ast.node(span, ExprKind::Let { attrs, body })
    }

    /// `let { ... }`: the set's `body`.
    #[inline(never)]
    fn legacy_let(&mut self, node: &Node<'_>, span: Span) -> ExprId {
        let names = self.binding_names(node);
        self.scopes.push_slots(names);
        let (attrs, _) = self.bindings(node, true, false);
        self.close_set_scope(attrs);
        let set = self.ast.node(span, ExprKind::Attrs(attrs));
        let path = self
            .ast
            .add_path(&[AttrName::Static(Symbol::intern("body"), span)]);
        let select = self.ast.add_select(Select {
            expr: set,
            path,
            default: None,
        });
        self.ast.node(span, ExprKind::Select(select))
    }

    /// `e.a.b or d`.
    #[inline(never)]
    fn select(&mut self, node: &Node<'_>, span: Span) -> ExprId {
        // One pass over the children: the first node is the expression,
        // then the path; with an `or`, the default is the second node that
        // is not the path.
        let (mut first, mut path_node, mut default_node) = (None, None, None);
        let (mut others, mut or) = (0, false);
        for c in node.children_with_tokens() {
            match c {
                rowan::NodeOrToken::Node(n) => {
                    first = first.or(Some(n));
                    if n.kind() == NODE_ATTRPATH {
                        path_node = path_node.or(Some(n));
                    } else {
                        others += 1;
                        if others == 2 {
                            default_node = Some(n);
                        }
                    }
                }
                rowan::NodeOrToken::Token(t) => or |= t.kind() == TOKEN_OR,
            }
        }
        let expr = self.expr_or_error(first, span);
        let path = match path_node {
            Some(p) => self.attrpath(&p),
            None => Run::EMPTY,
        };
        let default = match default_node.filter(|_| or) {
            Some(d) => {
                self.cursed_or_lint(&d, true);
                Some(self.expr(&d))
            }
            None => None,
        };
        if path.is_empty() {
            return self.error_expr(span);
        }
        let select = self.ast.add_select(Select {
            expr,
            path,
            default,
        });
        self.ast.node(span, ExprKind::Select(select))
    }

    /// `e ? a.b`.
    #[inline(never)]
    fn has_attr(&mut self, node: &Node<'_>, span: Span) -> ExprId {
        let expr = self.nth_expr(node, 0);
        let path = match node.children().find(|c| c.kind() == NODE_ATTRPATH) {
            Some(p) => self.attrpath(&p),
            None => Run::EMPTY,
        };
        if path.is_empty() {
            return self.error_expr(span);
        }
        self.ast.node(span, ExprKind::HasAttr { expr, path })
    }

    /// `!e` and `-e` (`__sub 0 e`).
    #[inline(never)]
    fn unary(&mut self, node: &Node<'_>, span: Span) -> ExprId {
        if child_token(node, |k| k == TOKEN_INVERT).is_some() {
            let operand = self.nth_expr(node, 0);
            self.ast.node(span, ExprKind::Not(operand))
        } else {
            let pos = Span::new(span.start, span.start);
            let fun = self.builtin_var("__sub", pos);
            let operand = self.nth_expr(node, 0);
            let zero = self.ast.node(pos, ExprKind::Int(0));
            self.call([fun, zero, operand], pos, span)
        }
    }

    /// `with e; body`.
    #[inline(never)]
    fn with(&mut self, node: &Node<'_>, span: Span) -> ExprId {
        let [e, b] = first_nodes(node);
        let env = self.expr_or_error(e, span);
        let outer_with = self.scopes.outer_with().and_then(NonZeroU32::new);
        self.scopes.push_with();
        let body = self.expr_or_error(b, span);
        self.scopes.pop();
        self.ast.node(
            span,
            ExprKind::With {
                env,
                body,
                outer_with,
            },
        )
    }

    /// Lowers an application chain `f a b …` (`node` is its outermost
    /// application) into one call; a function that is itself a call (`(f a) b`)
    /// is extended, as CppNix does.
    #[inline(never)]
    fn apply(&mut self, node: &Node<'_>) -> ExprId {
        let span = node_span(node);
        let base = self.scratch.items.len();
        let pos = self.apply_into(node, 0);
        let items = self.take_items(base);
        self.ast.node(span, ExprKind::Call { pos, items })
    }

    /// Pushes the function and arguments of the application `node` to the
    /// scratch stack of items; returns the call's position. `spine` counts
    /// the applications of the chain outside this one: they lower to one
    /// flat call, so they are no levels of nesting (an application may have
    /// any number of arguments), but the recursion along the chain makes sure
    /// of stack space like [`Self::expr`].
    fn apply_into(&mut self, node: &Node<'_>, spine: u32) -> u32 {
        let span = node_span(node);
        let mut kids = node.children();
        let (fun_node, arg_node) = (kids.next(), kids.next());
        if let Some(arg) = &arg_node {
            self.cursed_or_lint(arg, true);
        }
        let pos = match fun_node {
            Some(f) if f.kind() == NODE_APPLY => {
                let spine = spine.wrapping_add(1);
                self.max_depth = self.max_depth.max(self.depth.saturating_add(spine));
                if spine % STACK_CHECK_LEVELS == 0 {
                    stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.apply_into(&f, spine))
                } else {
                    self.apply_into(&f, spine)
                }
            }
            Some(f) => {
                let fun = self.expr(&f);
                match self.ast.expr(fun).kind {
                    ExprKind::Call { pos, items } => {
                        self.scratch.items.extend_from_slice(self.ast.items(items));
                        pos
                    }
                    _ => {
                        self.scratch.items.push(fun);
                        span.start
                    }
                }
            }
            None => {
                let e = self.error_expr(span);
                self.scratch.items.push(e);
                span.start
            }
        };
        let arg = match arg_node {
            Some(a) => self.expr(&a),
            None => self.error_expr(span),
        };
        self.scratch.items.push(arg);
        pos
    }

    /// Records [`LintKind::CursedOr`] when `node` is the call `f or` that
    /// the parser builds for `or` right after a primary expression, in a
    /// position that is not the head of an application (`in_arg_position`:
    /// a list element, an argument, or the default of `a.b or …`), where a
    /// future Nix reads `or` as a separate identifier, changing the meaning.
    /// The caller knows the position (the green tree has no parent links).
    fn cursed_or_lint(&mut self, node: &Node<'_>, in_arg_position: bool) {
        if !in_arg_position || node.kind() != NODE_APPLY {
            return;
        }
        let mut children = node.children();
        let (Some(fun), Some(arg), None) = (children.next(), children.next(), children.next())
        else {
            return;
        };
        if arg.kind() != NODE_IDENT || arg.text() != "or" {
            return;
        }
        let (start, end) = (
            u32::from(fun.text_range().start()),
            u32::from(arg.text_range().end()),
        );
        let literal = match self.text.get(start as usize..end as usize) {
            Some(t) => t.to_owned(),
            None => format!("{} or", fun.text()),
        };
        self.lints.push(LintWarning {
            kind: LintKind::CursedOr,
            literal,
            span: Span::new(start, end),
        });
    }

    #[inline(never)]
    fn binary(&mut self, node: &Node<'_>) -> ExprId {
        let span = node_span(node);
        let Some(op) = node
            .children_with_tokens()
            .filter_map(|e| e.into_token())
            .find(|t| !matches!(t.kind(), TOKEN_WHITESPACE | TOKEN_COMMENT))
        else {
            return self.error_expr(span);
        };
        let op_span = token_span(&op);
        // The function of a desugared operator (made first, as the walk
        // resolving a finished tree would meet it first).
        let fun = match op.kind() {
            TOKEN_SUB => Some(self.builtin_var("__sub", op_span)),
            TOKEN_MUL => Some(self.builtin_var("__mul", op_span)),
            TOKEN_DIV => Some(self.builtin_var("__div", op_span)),
            TOKEN_LESS | TOKEN_MORE | TOKEN_LESS_OR_EQ | TOKEN_MORE_OR_EQ => {
                Some(self.builtin_var("__lessThan", op_span))
            }
            _ => None,
        };
        let [l, r] = first_nodes(node);
        let lhs = self.expr_or_error(l, span);
        let rhs = self.expr_or_error(r, span);
        let kept = |op: BinaryOp| ExprKind::Binary {
            op,
            pos: op_span.start,
            lhs,
            rhs,
        };
        let kind = match op.kind() {
            TOKEN_CONCAT => kept(BinaryOp::ConcatLists),
            TOKEN_UPDATE => kept(BinaryOp::Update),
            TOKEN_EQUAL => kept(BinaryOp::Eq),
            TOKEN_NOT_EQUAL => kept(BinaryOp::NotEq),
            TOKEN_AND_AND => kept(BinaryOp::And),
            TOKEN_OR_OR => kept(BinaryOp::Or),
            TOKEN_IMPLICATION => kept(BinaryOp::Impl),
            TOKEN_ADD => {
                let start = |n: Option<Node<'_>>| {
                    let at = n.map_or(span.start, |c| u32::from(c.text_range().start()));
                    Span::new(at, at)
                };
                let parts = [
                    StrPart {
                        expr: lhs,
                        pos: start(l),
                    },
                    StrPart {
                        expr: rhs,
                        pos: start(r),
                    },
                ];
                let parts = self.ast.add_parts(&parts);
                ExprKind::ConcatStrings {
                    force_string: false,
                    pos: op_span.start,
                    parts,
                }
            }
            TOKEN_SUB | TOKEN_MUL | TOKEN_DIV | TOKEN_LESS => {
                return self.desugared(fun, lhs, rhs, op_span, span)
            }
            TOKEN_MORE => return self.desugared(fun, rhs, lhs, op_span, span),
            TOKEN_LESS_OR_EQ => ExprKind::Not(self.desugared(fun, rhs, lhs, op_span, span)),
            TOKEN_MORE_OR_EQ => ExprKind::Not(self.desugared(fun, lhs, rhs, op_span, span)),
            TOKEN_PIPE_LEFT | TOKEN_PIPE_RIGHT => {
                self.error(
                    ParseErrorKind::ExperimentalFeature("pipe-operators".into()),
                    op_span,
                );
                ExprKind::Error
            }
            _ => ExprKind::Error,
        };
        self.ast.node(span, kind)
    }

    /// The call `fun a b` of a desugared operator at `op_span`.
    fn desugared(
        &mut self,
        fun: Option<ExprId>,
        a: ExprId,
        b: ExprId,
        op_span: Span,
        span: Span,
    ) -> ExprId {
        match fun {
            Some(f) => self.call([f, a, b], op_span, span),
            None => self.error_expr(span),
        }
    }

    #[inline(never)]
    fn lambda(&mut self, node: &Node<'_>) -> ExprId {
        let span = node_span(node);
        let mut arg = None;
        let mut formals = None;
        let mut children = node.children();
        let param = children.next();
        let names = self.lambda_names(param.as_ref());
        self.scopes.push_slots(names);
        let body = match children.next() {
            Some(b) => self.expr(&b),
            None => self.error_expr(span),
        };
        match param {
            Some(p) if p.kind() == NODE_IDENT_PARAM => {
                if let Some(id) = p.children().next() {
                    arg = Some((self.ident_symbol(&id), node_span(&id)));
                }
            }
            Some(p) if p.kind() == NODE_PATTERN => {
                let (f, bind) = self.pattern(&p);
                arg = bind;
                // `args@{ args, ... }` is reported at the lambda.
                if let Some((name, _)) = arg {
                    if self.ast.formals(f.entries).iter().any(|e| e.name == name) {
                        self.error(
                            ParseErrorKind::DuplicateFormal(name.as_str().into()),
                            Span::new(span.start, span.start),
                        );
                    }
                }
                formals = Some(f);
            }
            _ => {}
        }
        self.close_lambda_scope(arg.map(|(a, _)| a), formals.map(|f: Formals| f.entries));
        let lambda = self.ast.add_lambda(Lambda {
            arg,
            formals,
            body,
            name: None,
        });
        self.ast.node(span, ExprKind::Lambda(lambda))
    }

    fn pattern(&mut self, node: &Node<'_>) -> (Formals, Option<(Symbol, Span)>) {
        let base = self.scratch.formals.len();
        let mut bind = None;
        // Names seen so far, for the duplicate check: a scan while few, a set once many
        // (a function may take thousands of formals; the check must stay linear).
        let mut seen: Option<std::collections::HashSet<Symbol>> = None;
        for c in node.children() {
            match c.kind() {
                NODE_PAT_ENTRY => {
                    let mut kids = c.children();
                    let Some(id) = kids.next() else { continue };
                    let name = self.ident_symbol(&id);
                    let fspan = node_span(&id);
                    let default = kids.next().map(|d| self.expr(&d));
                    let earlier = self.scratch.formals.get(base..).unwrap_or(&[]);
                    let duplicate = match &mut seen {
                        Some(set) => !set.insert(name),
                        None if earlier.len() < 32 => earlier.iter().any(|e| e.name == name),
                        None => {
                            let mut set: std::collections::HashSet<Symbol> =
                                earlier.iter().map(|e| e.name).collect();
                            let dup = !set.insert(name);
                            seen = Some(set);
                            dup
                        }
                    };
                    if duplicate {
                        self.error(ParseErrorKind::DuplicateFormal(name.as_str().into()), fspan);
                    }
                    self.scratch.formals.push(Formal {
                        name,
                        span: fspan,
                        default,
                    });
                }
                NODE_PAT_BIND => {
                    if let Some(id) = c.children().next() {
                        bind = Some((self.ident_symbol(&id), node_span(&id)));
                    }
                }
                _ => {}
            }
        }
        let ellipsis = child_token(node, |k| k == TOKEN_ELLIPSIS).is_some();
        let entries = self
            .ast
            .add_formals(self.scratch.formals.get(base..).unwrap_or(&[]));
        self.scratch.formals.truncate(base);
        (Formals { entries, ellipsis }, bind)
    }

    /// Lowers an attribute path.
    pub(crate) fn attrpath(&mut self, node: &Node<'_>) -> Run<AttrName> {
        let base = self.scratch.names.len();
        for c in node.children() {
            let name = self.attr_name(&c);
            self.scratch.names.push(name);
        }
        let path = self
            .ast
            .add_path(self.scratch.names.get(base..).unwrap_or(&[]));
        self.scratch.names.truncate(base);
        path
    }

    /// Lowers an attribute path, appending to `out`.
    pub(crate) fn attrpath_into(&mut self, node: &Node<'_>, out: &mut Vec<AttrName>) {
        for c in node.children() {
            let name = self.attr_name(&c);
            out.push(name);
        }
    }

    /// Lowers one attribute name: identifiers and interpolation-free strings
    /// are static, as is `${"literal"}`.
    pub(crate) fn attr_name(&mut self, node: &Node<'_>) -> AttrName {
        let span = node_span(node);
        let e = match node.kind() {
            NODE_IDENT => return AttrName::Static(self.ident_symbol(node), span),
            NODE_STRING if node.first_token().is_some_and(|t| t.text() == "''") => {
                // The grammar only allows `"` strings in attribute paths.
                let found = "start of an indented string".to_owned();
                let expected = ["identifier", "'or'", "'${'", "'\"'"]
                    .map(String::from)
                    .to_vec();
                self.error(
                    ParseErrorKind::Syntax { found, expected },
                    Span::new(span.start, span.start),
                );
                self.string(node)
            }
            NODE_STRING => match self.plain_string_body(node) {
                Some(body) => return AttrName::Static(Symbol::intern_cached(body), span),
                None => self.string(node),
            },
            NODE_DYNAMIC => self.nth_expr(node, 0),
            _ => self.expr(node),
        };
        match self.ast.expr(e).kind {
            ExprKind::Str(s) => {
                let name = Symbol::intern_cached(self.ast.str(s));
                // The literal is not part of the tree.
                self.ast.discard_last_str(e);
                AttrName::Static(name, span)
            }
            _ => AttrName::Dynamic(e),
        }
    }
}
