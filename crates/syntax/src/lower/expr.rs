//! Expression lowering.

use rnix::SyntaxKind::*;

use super::green::Node;

use super::{child_token, node_span, token_span, Lowerer, MAX_DEPTH, STACK_CHECK_LEVELS};
use crate::ast::*;
use crate::error::{LintKind, LintWarning, ParseErrorKind};
use crate::paths;
use crate::strings::{self, Piece, Stripped};
use crate::Symbol;



fn call<const N: usize>(items: [Expr; N], pos: Span, span: Span) -> Expr {
    Expr { span, kind: ExprKind::Call { pos: pos.start, items: Box::new(items) } }
}

/// The first `N` child nodes of `node`, in one pass.
fn first_nodes<'g, const N: usize>(node: &Node<'g>) -> [Option<Node<'g>>; N] {
    let mut out = [None; N];
    for (slot, child) in out.iter_mut().zip(node.children()) {
        *slot = Some(child);
    }
    out
}

/// Arguments of the application chain `f a b …` whose outermost node is `node`.
fn apply_chain_len(node: &Node<'_>) -> usize {
    let mut n = 1;
    let mut cur = node.children().next();
    while let Some(c) = cur.filter(|c| c.kind() == NODE_APPLY) {
        n += 1;
        cur = c.children().next();
    }
    n
}

fn error_expr(span: Span) -> Expr {
    Expr { span, kind: ExprKind::Error }
}

impl<'a> Lowerer<'a> {
    /// Interns the text of an identifier node: once per distinct token of
    /// the tree, then through the per-thread cache.
    pub(crate) fn ident_symbol(&mut self, node: &Node<'_>) -> Symbol {
        match node.children_with_tokens().next() {
            // The usual shape: the node is its identifier token.
            Some(rowan::NodeOrToken::Token(t)) if t.text_range() == node.text_range() => {
                let text = t.text();
                self.token_symbols.get_or_insert_with(t.identity(), || Symbol::intern_cached(text))
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
    pub(crate) fn expr(&mut self, node: &Node<'_>) -> Expr {
        self.depth += 1;
        let e = if self.depth > MAX_DEPTH {
            if self.depth == MAX_DEPTH + 1 {
                self.error(ParseErrorKind::TooDeep, node_span(node));
            }
            error_expr(node_span(node))
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

    /// A variable for a builtin that desugaring calls.
    fn builtin_var(&mut self, name: &str, span: Span) -> Expr {
        self.var_expr(Symbol::intern_cached(name), span, 0)
    }

    /// Lowers `node`, or makes an Error node at `span` if it is missing.
    fn expr_or_error(&mut self, node: Option<Node<'_>>, span: Span) -> Expr {
        match node {
            Some(n) => self.expr(&n),
            None => error_expr(span),
        }
    }

    /// Lowers the `n`th expression child of `node` (an Error node if missing).
    pub(crate) fn nth_expr(&mut self, node: &Node<'_>, n: usize) -> Expr {
        match node.children().nth(n) {
            Some(c) => self.expr(&c),
            None => error_expr(node_span(node)),
        }
    }

    fn expr_inner(&mut self, node: &Node<'_>) -> Expr {
        let span = node_span(node);
        match node.kind() {
            NODE_PAREN | NODE_ROOT => self.nth_expr(node, 0),
            NODE_LITERAL => self.literal(node),
            NODE_IDENT => {
                let name = self.ident_symbol(node);
                self.var_expr(name, span, 0)
            }
            NODE_CUR_POS => Expr { span, kind: ExprKind::CurPos },
            NODE_STRING => self.string(node),
            NODE_PATH_ABS | NODE_PATH_REL => self.path(node),
            NODE_PATH_HOME => self.home_path(node),
            NODE_PATH_SEARCH => {
                let text = node.text().to_string();
                let inner = text.trim_start_matches('<').trim_end_matches('>');
                let fun = self.builtin_var("__findFile", span);
                let nix_path = self.builtin_var("__nixPath", span);
                call([fun, nix_path, Expr { span, kind: ExprKind::Str(inner.into()) }], span, span)
            }
            NODE_LIST => {
                let mut items = Vec::with_capacity(node.children().count());
                for c in node.children() {
                    self.cursed_or_lint(&c, true);
                    items.push(self.expr(&c));
                }
                Expr { span, kind: ExprKind::List(items.into_boxed_slice()) }
            }
            NODE_ATTR_SET => {
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
                let attrs = self.bindings(node, recursive, false);
                if recursive {
                    self.close_scope(attrs.attrs.iter().map(|d| d.name));
                }
                Expr { span, kind: ExprKind::Attrs(Box::new(attrs)) }
            }
            NODE_LET_IN => {
                let names = self.binding_names(node);
                self.scopes.push_slots(names);
                let attrs = self.bindings(node, true, true);
                let body = match node.children().last() {
                    Some(b) if !matches!(b.kind(), NODE_ATTRPATH_VALUE | NODE_INHERIT) => self.expr(&b),
                    _ => error_expr(span),
                };
                self.close_scope(attrs.attrs.iter().map(|d| d.name));
                Expr { span, kind: ExprKind::Let(Box::new(Let { attrs, body })) }
            }
            NODE_LEGACY_LET => {
                let names = self.binding_names(node);
                self.scopes.push_slots(names);
                let attrs = self.bindings(node, true, false);
                self.close_scope(attrs.attrs.iter().map(|d| d.name));
                let set = Expr { span, kind: ExprKind::Attrs(Box::new(attrs)) };
                let path = AttrPath::One(AttrName::Static(Symbol::intern("body"), span));
                Expr { span, kind: ExprKind::Select(Box::new(Select { expr: set, path, default: None })) }
            }
            NODE_LAMBDA => self.lambda(node),
            NODE_APPLY => self.apply(node),
            NODE_SELECT => {
                let expr = self.nth_expr(node, 0);
                let path = match node.children().find(|c| c.kind() == NODE_ATTRPATH) {
                    Some(p) => self.attrpath(&p),
                    None => AttrPath::Many(Box::default()),
                };
                let default = if child_token(node, |k| k == TOKEN_OR).is_some() {
                    node.children().filter(|c| c.kind() != NODE_ATTRPATH).nth(1).map(|d| {
                        self.cursed_or_lint(&d, true);
                        self.expr(&d)
                    })
                } else {
                    None
                };
                if path.is_empty() {
                    return error_expr(span);
                }
                let default = default.map(Box::new);
                Expr { span, kind: ExprKind::Select(Box::new(Select { expr, path, default })) }
            }
            NODE_HAS_ATTR => {
                let expr = self.nth_expr(node, 0);
                let path = match node.children().find(|c| c.kind() == NODE_ATTRPATH) {
                    Some(p) => self.attrpath(&p),
                    None => AttrPath::Many(Box::default()),
                };
                if path.is_empty() {
                    return error_expr(span);
                }
                Expr { span, kind: ExprKind::HasAttr(Box::new(HasAttr { expr, path })) }
            }
            NODE_UNARY_OP => {
                if child_token(node, |k| k == TOKEN_INVERT).is_some() {
                    let operand = self.nth_expr(node, 0);
                    Expr { span, kind: ExprKind::Not(Box::new(operand)) }
                } else {
                    let pos = Span::new(span.start, span.start);
                    let fun = self.builtin_var("__sub", pos);
                    let operand = self.nth_expr(node, 0);
                    let zero = Expr { span: pos, kind: ExprKind::Int(0) };
                    call([fun, zero, operand], pos, span)
                }
            }
            NODE_BIN_OP => self.binary(node),
            NODE_IF_ELSE => {
                let [c, t, e] = first_nodes(node);
                let cond = self.expr_or_error(c, span);
                let then_ = self.expr_or_error(t, span);
                let else_ = self.expr_or_error(e, span);
                Expr { span, kind: ExprKind::If(Box::new(If { cond, then_, else_ })) }
            }
            NODE_ASSERT => {
                let [c, b] = first_nodes(node);
                let cond = self.expr_or_error(c, span);
                let body = self.expr_or_error(b, span);
                Expr { span, kind: ExprKind::Assert(Box::new(Assert { cond, body })) }
            }
            NODE_WITH => {
                let [e, b] = first_nodes(node);
                let env = self.expr_or_error(e, span);
                let outer_with = self.scopes.outer_with();
                self.scopes.push_with();
                let body = self.expr_or_error(b, span);
                self.scopes.pop();
                Expr { span, kind: ExprKind::With(Box::new(With { env, body, outer_with })) }
            }
            _ => error_expr(span),
        }
    }

    /// Lowers an application chain `f a b …` (`node` is its outermost
    /// application) into one call; a function that is itself a call (`(f a) b`)
    /// is extended, as CppNix does.
    fn apply(&mut self, node: &Node<'_>) -> Expr {
        let span = node_span(node);
        let mut items = Vec::with_capacity(apply_chain_len(node) + 1);
        let pos = self.apply_into(node, &mut items);
        Expr { span, kind: ExprKind::Call { pos, items: items.into_boxed_slice() } }
    }

    /// Pushes the function and arguments of the application `node` to
    /// `items`; returns the call's position. Inner applications of the chain
    /// count as levels of nesting, as if lowered by [`Self::expr`].
    fn apply_into(&mut self, node: &Node<'_>, items: &mut Vec<Expr>) -> u32 {
        let span = node_span(node);
        let mut kids = node.children();
        let (fun_node, arg_node) = (kids.next(), kids.next());
        if let Some(arg) = &arg_node {
            self.cursed_or_lint(arg, true);
        }
        let pos = match fun_node {
            Some(f) if f.kind() == NODE_APPLY => {
                self.depth += 1;
                let pos = if self.depth > MAX_DEPTH {
                    if self.depth == MAX_DEPTH + 1 {
                        self.error(ParseErrorKind::TooDeep, node_span(&f));
                    }
                    items.push(error_expr(node_span(&f)));
                    span.start
                } else if self.depth % STACK_CHECK_LEVELS == 0 {
                    stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.apply_into(&f, items))
                } else {
                    self.apply_into(&f, items)
                };
                self.depth -= 1;
                pos
            }
            Some(f) => {
                let fun = self.expr(&f);
                match fun.kind {
                    ExprKind::Call { pos, items: inner } => {
                        items.extend(inner.into_vec());
                        pos
                    }
                    kind => {
                        items.push(Expr { span: fun.span, kind });
                        span.start
                    }
                }
            }
            None => {
                items.push(error_expr(span));
                span.start
            }
        };
        items.push(match arg_node {
            Some(a) => self.expr(&a),
            None => error_expr(span),
        });
        pos
    }

    fn literal(&mut self, node: &Node<'_>) -> Expr {
        let span = node_span(node);
        let Some(tok) = node.first_token() else { return error_expr(span) };
        let text = tok.text();
        match tok.kind() {
            TOKEN_INTEGER => match text.parse::<i64>() {
                Ok(n) => Expr { span, kind: ExprKind::Int(n) },
                Err(_) => {
                    self.error(ParseErrorKind::InvalidInteger(text.to_owned()), span);
                    error_expr(span)
                }
            },
            TOKEN_FLOAT => match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Expr { span, kind: ExprKind::Float(f) },
                _ => {
                    self.error(ParseErrorKind::InvalidFloat(text.to_owned()), span);
                    error_expr(span)
                }
            },
            TOKEN_URI => {
                self.lints.push(LintWarning { kind: LintKind::Url, literal: text.to_owned(), span });
                Expr { span, kind: ExprKind::Str(text.into()) }
            }
            _ => error_expr(span),
        }
    }

    /// The body of a `"..."` string that lexes to itself: no interpolation,
    /// escape, `$`, CR or NUL (most strings; they skip the re-lexing).
    pub(crate) fn plain_string_body(&self, node: &Node<'_>) -> Option<&'a str> {
        let mut kids = node.children_with_tokens();
        let open = kids.next()?.into_token()?;
        if open.text() != "\"" {
            return None;
        }
        let body_start = usize::from(open.text_range().end());
        let mut body_end = body_start;
        let mut closed = false;
        for k in kids {
            let t = k.into_token()?;
            if closed {
                return None;
            }
            match t.kind() {
                TOKEN_STRING_CONTENT => body_end = usize::from(t.text_range().end()),
                TOKEN_STRING_END => closed = true,
                _ => return None,
            }
        }
        let raw = self.text.get(body_start..body_end).filter(|_| closed)?;
        let b = raw.as_bytes();
        // Most bodies are short: one plain loop beats two searches there.
        let special = if b.len() < 64 {
            b.iter().any(|&c| matches!(c, b'\\' | b'$' | b'\r' | 0))
        } else {
            memchr::memchr3(b'\\', b'$', b'\r', b).is_some() || memchr::memchr(0, b).is_some()
        };
        if special {
            return None;
        }
        Some(raw)
    }

    /// Lowers a `"..."` or `''...''` string node.
    pub(crate) fn string(&mut self, node: &Node<'_>) -> Expr {
        let span = node_span(node);
        if let Some(body) = self.plain_string_body(node) {
            return Expr { span, kind: ExprKind::Str(body.into()) };
        }
        let Some(pieces) = self.string_pieces(node) else { return error_expr(span) };
        let indented = node.first_token().is_some_and(|t| t.text() == "''");
        let stripped: Vec<Stripped> = if indented {
            strings::strip_indentation(&pieces)
        } else {
            pieces
                .into_iter()
                .map(|p| match p {
                    Piece::Lit { text, start, .. } => Stripped::Lit(text, start),
                    Piece::Interp(at) => Stripped::Interp(at),
                })
                .collect()
        };
        let single_literal = matches!(stripped.as_slice(), [Stripped::Lit(..)]);
        let mut parts: Vec<(Expr, Span)> = Vec::with_capacity(stripped.len());
        let interps: Vec<Node<'_>> = node.children().filter(|c| c.kind() == NODE_INTERPOL).collect();
        for s in stripped {
            match s {
                Stripped::Lit(text, start) => {
                    let lit = Expr { span: Span::new(start, start + text.len() as u32), kind: ExprKind::Str(text.into()) };
                    parts.push((lit, Span::new(start, start)));
                }
                Stripped::Interp(at) => {
                    let part = match interps.iter().find(|n| u32::from(n.text_range().start()) == at) {
                        Some(n) => self.nth_expr(n, 0),
                        None => error_expr(span),
                    };
                    parts.push((part, Span::new(at, at)));
                }
            }
        }
        match parts.len() {
            0 => Expr { span, kind: ExprKind::Str("".into()) },
            // A lone literal is a plain string; CppNix's indented strings
            // also collapse a lone interpolated string literal.
            1 if single_literal || (indented && matches!(parts[0].0.kind, ExprKind::Str(_))) => {
                let kind = parts.pop().map(|p| p.0.kind).unwrap_or(ExprKind::Error);
                Expr { span, kind }
            }
            _ => Expr {
                span,
                kind: ExprKind::ConcatStrings { force_string: true, pos: span.start, parts: parts.into_boxed_slice() },
            },
        }
    }

    /// Re-lexes a string node's body with CppNix's rules.
    fn string_pieces(&mut self, node: &Node<'_>) -> Option<Vec<Piece>> {
        let start_tok = node.first_token()?;
        let indented = start_tok.text() == "''";
        let body_start: u32 = start_tok.text_range().end().into();
        let body_end: u32 = match node.last_token() {
            Some(t) if t.kind() == TOKEN_STRING_END => t.text_range().start().into(),
            Some(t) => t.text_range().end().into(),
            None => body_start,
        };
        let mut raw = self.text.get(body_start as usize..body_end as usize)?;
        let mut body_start = body_start;
        if indented {
            // The opening `''` swallows trailing spaces and the first newline.
            let spaces = raw.bytes().take_while(|&b| b == b' ').count();
            if raw.as_bytes().get(spaces) == Some(&b'\n') {
                raw = &raw[spaces + 1..];
                body_start += spaces as u32 + 1;
            }
        }
        let interps: Vec<(u32, u32)> = node
            .children()
            .filter(|c| c.kind() == NODE_INTERPOL)
            .map(|c| (c.text_range().start().into(), c.text_range().end().into()))
            .collect();
        let pieces = if indented {
            strings::lex_indented(raw, body_start, &interps)
        } else {
            strings::lex_double_quoted(raw, body_start, &interps)
        };
        // CppNix's lexer refuses string tokens containing NUL.
        for p in pieces.iter().flatten() {
            if let Piece::Lit { text, start, .. } = p {
                if text.contains('\0') {
                    let shown = text.replace('\0', "\u{2400}");
                    self.error(ParseErrorKind::NulInString(shown), Span::new(*start, *start));
                }
            }
        }
        if pieces.is_none() {
            self.error(
                ParseErrorKind::Syntax { found: "'${'".into(), expected: Vec::new() },
                node_span(node),
            );
        }
        pieces
    }

    fn path(&mut self, node: &Node<'_>) -> Expr {
        self.path_like(node, |this, literal, span| {
            this.path_lints(literal, node, span);
            Some(paths::resolve_literal(literal, &this.options.base_dir))
        })
    }

    fn home_path(&mut self, node: &Node<'_>) -> Expr {
        self.path_like(node, |this, literal, span| match &this.options.home {
            Some(home) => {
                let whole = node.text().to_string();
                this.lints.push(LintWarning { kind: LintKind::AbsolutePath, literal: whole, span });
                Some(format!("{home}{}", literal.get(1..).unwrap_or("")))
            }
            None => {
                this.error(ParseErrorKind::HomePathInPureMode(node.text().to_string()), span);
                None
            }
        })
    }

    /// Lowers a path literal whose first segment `resolve_first` turns into
    /// an absolute path; later segments and interpolations are concatenated.
    fn path_like(
        &mut self,
        node: &Node<'_>,
        mut resolve_first: impl FnMut(&mut Self, &str, Span) -> Option<String>,
    ) -> Expr {
        let span = node_span(node);
        let mut parts: Vec<(Expr, Span)> = Vec::new();
        for child in node.children_with_tokens() {
            let start = u32::from(super::green::elem_range(&child).start());
            match child {
                rowan::NodeOrToken::Token(t) if matches!(t.kind(), TOKEN_PATH_ABS | TOKEN_PATH_REL | TOKEN_PATH_HOME) => {
                    let tspan = token_span(&t);
                    let kind = if parts.is_empty() {
                        let Some(resolved) = resolve_first(self, t.text(), span) else { return error_expr(span) };
                        ExprKind::Path(resolved.into())
                    } else {
                        ExprKind::Str(t.text().into())
                    };
                    parts.push((Expr { span: tspan, kind }, Span::new(start, start)));
                }
                rowan::NodeOrToken::Node(n) if n.kind() == NODE_INTERPOL => {
                    parts.push((self.nth_expr(&n, 0), Span::new(start, start)));
                }
                _ => {}
            }
        }
        self.finish_path(parts, span)
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
        let (Some(fun), Some(arg), None) = (children.next(), children.next(), children.next()) else { return };
        if arg.kind() != NODE_IDENT || arg.text() != "or" {
            return;
        }
        let (start, end) = (u32::from(fun.text_range().start()), u32::from(arg.text_range().end()));
        let literal = match self.text.get(start as usize..end as usize) {
            Some(t) => t.to_owned(),
            None => format!("{} or", fun.text()),
        };
        self.lints.push(LintWarning { kind: LintKind::CursedOr, literal, span: Span::new(start, end) });
    }

    fn path_lints(&mut self, literal: &str, node: &Node<'_>, span: Span) {
        let whole = node.text().to_string();
        let kind = if literal.starts_with('/') {
            LintKind::AbsolutePath
        } else if !literal.starts_with("./") && !literal.starts_with("../") {
            LintKind::ShortPath
        } else {
            return;
        };
        self.lints.push(LintWarning { kind, literal: whole, span });
    }

    fn finish_path(&mut self, mut parts: Vec<(Expr, Span)>, span: Span) -> Expr {
        match parts.len() {
            0 => error_expr(span),
            1 => {
                let kind = parts.pop().map(|p| p.0.kind).unwrap_or(ExprKind::Error);
                Expr { span, kind }
            }
            _ => Expr {
                span,
                kind: ExprKind::ConcatStrings { force_string: false, pos: span.start, parts: parts.into_boxed_slice() },
            },
        }
    }

    fn binary(&mut self, node: &Node<'_>) -> Expr {
        let span = node_span(node);
        let Some(op) = node
            .children_with_tokens()
            .filter_map(|e| e.into_token())
            .find(|t| !matches!(t.kind(), TOKEN_WHITESPACE | TOKEN_COMMENT))
        else {
            return error_expr(span);
        };
        let op_span = token_span(&op);
        // The function of a desugared operator (made first, as the walk
        // resolving a finished tree would meet it first).
        let fun = match op.kind() {
            TOKEN_SUB => Some(self.builtin_var("__sub", op_span)),
            TOKEN_MUL => Some(self.builtin_var("__mul", op_span)),
            TOKEN_DIV => Some(self.builtin_var("__div", op_span)),
            TOKEN_LESS | TOKEN_MORE | TOKEN_LESS_OR_EQ | TOKEN_MORE_OR_EQ => Some(self.builtin_var("__lessThan", op_span)),
            _ => None,
        };
        let [l, r] = first_nodes(node);
        let lhs = self.expr_or_error(l, span);
        let rhs = self.expr_or_error(r, span);
        let bin = |op: BinaryOp, lhs: Expr, rhs: Expr| Expr {
            span,
            kind: ExprKind::Binary(Box::new(Binary { op, op_span, lhs, rhs })),
        };
        let builtin = |a: Expr, b: Expr| match fun {
            Some(f) => call([f, a, b], op_span, span),
            None => error_expr(span),
        };
        let not = |e: Expr| Expr { span, kind: ExprKind::Not(Box::new(e)) };
        match op.kind() {
            TOKEN_CONCAT => bin(BinaryOp::ConcatLists, lhs, rhs),
            TOKEN_UPDATE => bin(BinaryOp::Update, lhs, rhs),
            TOKEN_EQUAL => bin(BinaryOp::Eq, lhs, rhs),
            TOKEN_NOT_EQUAL => bin(BinaryOp::NotEq, lhs, rhs),
            TOKEN_AND_AND => bin(BinaryOp::And, lhs, rhs),
            TOKEN_OR_OR => bin(BinaryOp::Or, lhs, rhs),
            TOKEN_IMPLICATION => bin(BinaryOp::Impl, lhs, rhs),
            TOKEN_ADD => {
                let start = |n: Option<Node<'_>>| {
                    let at = n.map_or(span.start, |c| u32::from(c.text_range().start()));
                    Span::new(at, at)
                };
                let parts: Box<[(Expr, Span)]> = Box::new([(lhs, start(l)), (rhs, start(r))]);
                Expr { span, kind: ExprKind::ConcatStrings { force_string: false, pos: op_span.start, parts } }
            }
            TOKEN_SUB | TOKEN_MUL | TOKEN_DIV | TOKEN_LESS => builtin(lhs, rhs),
            TOKEN_MORE => builtin(rhs, lhs),
            TOKEN_LESS_OR_EQ => not(builtin(rhs, lhs)),
            TOKEN_MORE_OR_EQ => not(builtin(lhs, rhs)),
            TOKEN_PIPE_LEFT | TOKEN_PIPE_RIGHT => {
                self.error(ParseErrorKind::ExperimentalFeature("pipe-operators".into()), op_span);
                error_expr(span)
            }
            _ => error_expr(span),
        }
    }

    fn lambda(&mut self, node: &Node<'_>) -> Expr {
        let span = node_span(node);
        let mut arg = None;
        let mut formals = None;
        let mut children = node.children();
        let param = children.next();
        let names = self.lambda_names(param.as_ref());
        self.scopes.push_slots(names);
        let body = match children.next() {
            Some(b) => self.expr(&b),
            None => error_expr(span),
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
                    if f.entries.iter().any(|e| e.name == name) {
                        self.error(ParseErrorKind::DuplicateFormal(name.as_str().into()), Span::new(span.start, span.start));
                    }
                }
                formals = Some(f);
            }
            _ => {}
        }
        let entries = formals.iter().flat_map(|f: &Formals| f.entries.iter().map(|e| e.name));
        self.close_scope(arg.map(|(a, _)| a).into_iter().chain(entries));
        Expr { span, kind: ExprKind::Lambda(Box::new(Lambda { arg, formals, body, name: None })) }
    }

    fn pattern(&mut self, node: &Node<'_>) -> (Formals, Option<(Symbol, Span)>) {
        let mut entries: Vec<Formal> = Vec::with_capacity(node.children().filter(|c| c.kind() == NODE_PAT_ENTRY).count());
        let mut bind = None;
        for c in node.children() {
            match c.kind() {
                NODE_PAT_ENTRY => {
                    let mut kids = c.children();
                    let Some(id) = kids.next() else { continue };
                    let name = self.ident_symbol(&id);
                    let fspan = node_span(&id);
                    let default = kids.next().map(|d| self.expr(&d));
                    if entries.iter().any(|e| e.name == name) {
                        self.error(ParseErrorKind::DuplicateFormal(name.as_str().into()), fspan);
                    }
                    entries.push(Formal { name, span: fspan, default });
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
        (Formals { entries: entries.into_boxed_slice(), ellipsis }, bind)
    }

    /// Lowers an attribute path.
    pub(crate) fn attrpath(&mut self, node: &Node<'_>) -> AttrPath {
        let mut kids = node.children();
        match (kids.next(), kids.next()) {
            (Some(only), None) => AttrPath::One(self.attr_name(&only)),
            _ => {
                let mut path = Vec::with_capacity(node.children().count());
                self.attrpath_into(node, &mut path);
                AttrPath::Many(path.into_boxed_slice())
            }
        }
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
                let expected = ["identifier", "'or'", "'${'", "'\"'"].map(String::from).to_vec();
                self.error(ParseErrorKind::Syntax { found, expected }, Span::new(span.start, span.start));
                self.string(node)
            }
            NODE_STRING => match self.plain_string_body(node) {
                Some(body) => return AttrName::Static(Symbol::intern_cached(body), span),
                None => self.string(node),
            },
            NODE_DYNAMIC => self.nth_expr(node, 0),
            _ => self.expr(node),
        };
        match e.kind {
            ExprKind::Str(s) => AttrName::Static(Symbol::intern_cached(&s), span),
            kind => AttrName::Dynamic(Box::new(Expr { span: e.span, kind })),
        }
    }
}
