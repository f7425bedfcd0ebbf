//! Expression lowering.

use rnix::SyntaxKind::*;

use super::green::Node;

use super::{child_token, node_span, token_span, Lowerer, MAX_DEPTH};
use crate::ast::*;
use crate::error::{LintKind, LintWarning, ParseErrorKind};
use crate::paths;
use crate::strings::{self, Piece, Stripped};
use crate::Symbol;

pub(crate) fn var(name: &str, span: Span) -> Expr {
    Expr {
        span,
        kind: ExprKind::Var(Var { name: Symbol::intern(name), resolution: Resolution::Global }),
    }
}


fn call(fun: Expr, args: Vec<Expr>, pos: Span, span: Span) -> Expr {
    Expr { span, kind: ExprKind::Call(Box::new(Call { fun, args, pos })) }
}

fn error_expr(span: Span) -> Expr {
    Expr { span, kind: ExprKind::Error }
}

impl<'a> Lowerer<'a> {
    /// Interns the text of an identifier node, through the per-file cache.
    pub(crate) fn ident_symbol(&mut self, node: &Node<'_>) -> Symbol {
        let r = node.text_range();
        // Identifier bytes are the same in the text rnix saw and in ours.
        match self.text.get(usize::from(r.start())..usize::from(r.end())) {
            Some(name) => *self.symbols.entry(name).or_insert_with(|| Symbol::intern(name)),
            None => Symbol::intern(&node.text().to_string()),
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
            // Deep (but bounded) trees must not depend on the caller's stack size.
            stacker::maybe_grow(64 * 1024, 1024 * 1024, || self.expr_inner(node))
        };
        self.depth -= 1;
        e
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
            NODE_IDENT => Expr {
                span,
                kind: ExprKind::Var(Var { name: self.ident_symbol(node), resolution: Resolution::Global }),
            },
            NODE_CUR_POS => Expr { span, kind: ExprKind::CurPos },
            NODE_STRING => self.string(node),
            NODE_PATH_ABS | NODE_PATH_REL => self.path(node),
            NODE_PATH_HOME => self.home_path(node),
            NODE_PATH_SEARCH => {
                let text = node.text().to_string();
                let inner = text.trim_start_matches('<').trim_end_matches('>');
                let args = vec![
                    var("__nixPath", span),
                    Expr { span, kind: ExprKind::Str(inner.into()) },
                ];
                call(var("__findFile", span), args, span, span)
            }
            NODE_LIST => {
                let items: Vec<Expr> = node
                    .children()
                    .map(|c| {
                        self.cursed_or_lint(&c, true);
                        self.expr(&c)
                    })
                    .collect();
                Expr { span, kind: ExprKind::List(items.into_boxed_slice()) }
            }
            NODE_ATTR_SET => {
                let recursive = child_token(node, |k| k == TOKEN_REC).is_some();
                let attrs = self.bindings(node, recursive, false);
                Expr { span, kind: ExprKind::Attrs(Box::new(attrs)) }
            }
            NODE_LET_IN => {
                let attrs = self.bindings(node, true, true);
                let body = match node.children().last() {
                    Some(b) if !matches!(b.kind(), NODE_ATTRPATH_VALUE | NODE_INHERIT) => self.expr(&b),
                    _ => error_expr(span),
                };
                Expr { span, kind: ExprKind::Let(Box::new(Let { attrs, body })) }
            }
            NODE_LEGACY_LET => {
                let attrs = self.bindings(node, true, false);
                let set = Expr { span, kind: ExprKind::Attrs(Box::new(attrs)) };
                let path = vec![AttrName::Static(Symbol::intern("body"), span)];
                Expr { span, kind: ExprKind::Select(Box::new(Select { expr: set, path, default: None })) }
            }
            NODE_LAMBDA => self.lambda(node),
            NODE_APPLY => {
                if let Some(arg) = node.children().nth(1) {
                    self.cursed_or_lint(&arg, true);
                }
                let fun = self.nth_expr(node, 0);
                let arg = self.nth_expr(node, 1);
                match fun.kind {
                    ExprKind::Call(mut c) => {
                        c.args.push(arg);
                        Expr { span, kind: ExprKind::Call(c) }
                    }
                    kind => {
                        let fun = Expr { span: fun.span, kind };
                        call(fun, vec![arg], Span::new(span.start, span.start), span)
                    }
                }
            }
            NODE_SELECT => {
                let expr = self.nth_expr(node, 0);
                let path = match node.children().find(|c| c.kind() == NODE_ATTRPATH) {
                    Some(p) => self.attrpath(&p),
                    None => Vec::new(),
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
                Expr { span, kind: ExprKind::Select(Box::new(Select { expr, path, default })) }
            }
            NODE_HAS_ATTR => {
                let expr = self.nth_expr(node, 0);
                let path = match node.children().find(|c| c.kind() == NODE_ATTRPATH) {
                    Some(p) => self.attrpath(&p),
                    None => Vec::new(),
                };
                if path.is_empty() {
                    return error_expr(span);
                }
                Expr { span, kind: ExprKind::HasAttr(Box::new(HasAttr { expr, path })) }
            }
            NODE_UNARY_OP => {
                let operand = self.nth_expr(node, 0);
                if child_token(node, |k| k == TOKEN_INVERT).is_some() {
                    Expr { span, kind: ExprKind::Not(Box::new(operand)) }
                } else {
                    let pos = Span::new(span.start, span.start);
                    let zero = Expr { span: pos, kind: ExprKind::Int(0) };
                    call(var("__sub", pos), vec![zero, operand], pos, span)
                }
            }
            NODE_BIN_OP => self.binary(node),
            NODE_IF_ELSE => {
                let cond = self.nth_expr(node, 0);
                let then_ = self.nth_expr(node, 1);
                let else_ = self.nth_expr(node, 2);
                Expr { span, kind: ExprKind::If(Box::new(If { cond, then_, else_ })) }
            }
            NODE_ASSERT => {
                let cond = self.nth_expr(node, 0);
                let body = self.nth_expr(node, 1);
                Expr { span, kind: ExprKind::Assert(Box::new(Assert { cond, body })) }
            }
            NODE_WITH => {
                let env = self.nth_expr(node, 0);
                let body = self.nth_expr(node, 1);
                Expr { span, kind: ExprKind::With(Box::new(With { env, body, outer_with: None })) }
            }
            _ => error_expr(span),
        }
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

    /// Lowers a `"..."` or `''...''` string node.
    pub(crate) fn string(&mut self, node: &Node<'_>) -> Expr {
        let span = node_span(node);
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
        let mut parts = Vec::with_capacity(stripped.len());
        let mut part_pos = Vec::with_capacity(stripped.len());
        let interps: Vec<Node<'_>> = node.children().filter(|c| c.kind() == NODE_INTERPOL).collect();
        for s in stripped {
            match s {
                Stripped::Lit(text, start) => {
                    part_pos.push(Span::new(start, start));
                    parts.push(Expr { span: Span::new(start, start + text.len() as u32), kind: ExprKind::Str(text.into()) })
                }
                Stripped::Interp(at) => {
                    part_pos.push(Span::new(at, at));
                    match interps.iter().find(|n| u32::from(n.text_range().start()) == at) {
                        Some(n) => parts.push(self.nth_expr(n, 0)),
                        None => parts.push(error_expr(span)),
                    }
                }
            }
        }
        match parts.len() {
            0 => Expr { span, kind: ExprKind::Str("".into()) },
            // A lone literal is a plain string; CppNix's indented strings
            // also collapse a lone interpolated string literal.
            1 if single_literal || (indented && matches!(parts[0].kind, ExprKind::Str(_))) => {
                let kind = parts.pop().map(|p| p.kind).unwrap_or(ExprKind::Error);
                Expr { span, kind }
            }
            _ => {
                let pos = Span::new(span.start, span.start);
                Expr {
                    span,
                    kind: ExprKind::ConcatStrings(Box::new(ConcatStrings { force_string: true, parts, part_pos, pos })),
                }
            }
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
        let mut parts: Vec<Expr> = Vec::new();
        let mut part_pos = Vec::new();
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
                    parts.push(Expr { span: tspan, kind });
                }
                rowan::NodeOrToken::Node(n) if n.kind() == NODE_INTERPOL => parts.push(self.nth_expr(&n, 0)),
                _ => continue,
            }
            part_pos.push(Span::new(start, start));
        }
        self.finish_path(parts, part_pos, span)
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

    fn finish_path(&mut self, mut parts: Vec<Expr>, part_pos: Vec<Span>, span: Span) -> Expr {
        match parts.len() {
            0 => error_expr(span),
            1 => {
                let kind = parts.pop().map(|p| p.kind).unwrap_or(ExprKind::Error);
                Expr { span, kind }
            }
            _ => Expr {
                span,
                kind: ExprKind::ConcatStrings(Box::new(ConcatStrings {
                    force_string: false,
                    parts,
                    part_pos,
                    pos: Span::new(span.start, span.start),
                })),
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
        let lhs = self.nth_expr(node, 0);
        let rhs = self.nth_expr(node, 1);
        let bin = |op: BinaryOp, lhs: Expr, rhs: Expr| Expr {
            span,
            kind: ExprKind::Binary(Box::new(Binary { op, op_span, lhs, rhs })),
        };
        let builtin = |name: &str, a: Expr, b: Expr| call(var(name, op_span), vec![a, b], op_span, span);
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
                let start = |n: usize| {
                    let at = node.children().nth(n).map_or(span.start, |c| u32::from(c.text_range().start()));
                    Span::new(at, at)
                };
                let part_pos = vec![start(0), start(1)];
                Expr {
                    span,
                    kind: ExprKind::ConcatStrings(Box::new(ConcatStrings {
                        force_string: false,
                        parts: vec![lhs, rhs],
                        part_pos,
                        pos: op_span,
                    })),
                }
            }
            TOKEN_SUB => builtin("__sub", lhs, rhs),
            TOKEN_MUL => builtin("__mul", lhs, rhs),
            TOKEN_DIV => builtin("__div", lhs, rhs),
            TOKEN_LESS => builtin("__lessThan", lhs, rhs),
            TOKEN_MORE => builtin("__lessThan", rhs, lhs),
            TOKEN_LESS_OR_EQ => not(builtin("__lessThan", rhs, lhs)),
            TOKEN_MORE_OR_EQ => not(builtin("__lessThan", lhs, rhs)),
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
        Expr { span, kind: ExprKind::Lambda(Box::new(Lambda { arg, formals, body, name: None })) }
    }

    fn pattern(&mut self, node: &Node<'_>) -> (Formals, Option<(Symbol, Span)>) {
        let mut entries: Vec<Formal> = Vec::new();
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
        (Formals { entries, ellipsis }, bind)
    }

    /// Lowers an attribute path.
    pub(crate) fn attrpath(&mut self, node: &Node<'_>) -> Vec<AttrName> {
        node.children().map(|c| self.attr_name(&c)).collect()
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
            NODE_STRING => self.string(node),
            NODE_DYNAMIC => self.nth_expr(node, 0),
            _ => self.expr(node),
        };
        match e.kind {
            ExprKind::Str(s) => AttrName::Static(Symbol::intern(&s), span),
            kind => AttrName::Dynamic(Expr { span: e.span, kind }),
        }
    }
}
