//! Lowering of literals: numbers, URIs, strings (re-lexed with CppNix's
//! rules) and paths.

use rnix::SyntaxKind::*;

use super::green::Node;

use super::{node_span, token_span, Lowerer};
use crate::ast::*;
use crate::error::{LintKind, LintWarning, ParseErrorKind};
use crate::paths;
use crate::strings::{self, Piece, Stripped};

impl<'a> Lowerer<'a> {
    #[inline(never)]
    pub(crate) fn literal(&mut self, node: &Node<'_>) -> ExprId {
        let span = node_span(node);
        let Some(tok) = node.first_token() else {
            return self.error_expr(span);
        };
        let text = tok.text();
        let kind = match tok.kind() {
            TOKEN_INTEGER => match text.parse::<i64>() {
                Ok(n) => ExprKind::Int(n),
                Err(_) => {
                    self.error(ParseErrorKind::InvalidInteger(text.to_owned()), span);
                    ExprKind::Error
                }
            },
            TOKEN_FLOAT => match text.parse::<f64>() {
                Ok(f) if f.is_finite() => ExprKind::Float(f),
                _ => {
                    self.error(ParseErrorKind::InvalidFloat(text.to_owned()), span);
                    ExprKind::Error
                }
            },
            TOKEN_URI => {
                self.lints.push(LintWarning {
                    kind: LintKind::Url,
                    literal: text.to_owned(),
                    span,
                });
                ExprKind::Str(self.ast.add_str(text))
            }
            _ => ExprKind::Error,
        };
        self.ast.node(span, kind)
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

    /// A string literal node with `text`.
    fn str_node(&mut self, span: Span, text: &str) -> ExprId {
        let s = self.ast.add_str(text);
        self.ast.node(span, ExprKind::Str(s))
    }

    /// Lowers a `"..."` or `''...''` string node.
    #[inline(never)]
    pub(crate) fn string(&mut self, node: &Node<'_>) -> ExprId {
        let span = node_span(node);
        if let Some(body) = self.plain_string_body(node) {
            return self.str_node(span, body);
        }
        let Some(pieces) = self.string_pieces(node) else {
            return self.error_expr(span);
        };
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
        match stripped.as_slice() {
            [] => return self.str_node(span, ""),
            // A lone literal is a plain string.
            [Stripped::Lit(text, _)] => return self.str_node(span, text),
            _ => {}
        }
        let base = self.scratch.parts.len();
        let interps: Vec<Node<'_>> = node
            .children()
            .filter(|c| c.kind() == NODE_INTERPOL)
            .collect();
        for s in stripped {
            let part = match s {
                Stripped::Lit(text, start) => {
                    let expr = self.str_node(Span::new(start, start + text.len() as u32), &text);
                    StrPart {
                        expr,
                        pos: Span::new(start, start),
                    }
                }
                Stripped::Interp(at) => {
                    let expr = match interps
                        .iter()
                        .find(|n| u32::from(n.text_range().start()) == at)
                    {
                        Some(n) => self.nth_expr(n, 0),
                        None => self.error_expr(span),
                    };
                    StrPart {
                        expr,
                        pos: Span::new(at, at),
                    }
                }
            };
            self.scratch.parts.push(part);
        }
        // CppNix's indented strings also collapse a lone interpolated
        // string literal.
        if let [only] = self.scratch.parts.get(base..).unwrap_or(&[]) {
            let only = only.expr;
            if indented && matches!(self.ast.expr(only).kind, ExprKind::Str(_)) {
                self.scratch.parts.truncate(base);
                if let Some(e) = self.ast.expr_mut(only) {
                    e.span = span;
                }
                return only;
            }
        }
        let parts = self.take_parts(base);
        self.ast.node(
            span,
            ExprKind::ConcatStrings {
                force_string: true,
                pos: span.start,
                parts,
            },
        )
    }

    /// The string parts pushed to the scratch stack since `base`, moved to the tree.
    fn take_parts(&mut self, base: usize) -> Run<StrPart> {
        let run = self
            .ast
            .add_parts(self.scratch.parts.get(base..).unwrap_or(&[]));
        self.scratch.parts.truncate(base);
        run
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
                    self.error(
                        ParseErrorKind::NulInString(shown),
                        Span::new(*start, *start),
                    );
                }
            }
        }
        if pieces.is_none() {
            self.error(
                ParseErrorKind::Syntax {
                    found: "'${'".into(),
                    expected: Vec::new(),
                },
                node_span(node),
            );
        }
        pieces
    }

    #[inline(never)]
    pub(crate) fn path(&mut self, node: &Node<'_>) -> ExprId {
        self.path_like(node, |this, literal, span| {
            this.path_lints(literal, node, span);
            Some(paths::resolve_literal(literal, &this.options.base_dir))
        })
    }

    #[inline(never)]
    pub(crate) fn home_path(&mut self, node: &Node<'_>) -> ExprId {
        self.path_like(node, |this, literal, span| match &this.options.home {
            Some(home) => {
                let whole = node.text().to_string();
                this.lints.push(LintWarning {
                    kind: LintKind::AbsolutePath,
                    literal: whole,
                    span,
                });
                Some(format!("{home}{}", literal.get(1..).unwrap_or("")))
            }
            None => {
                this.error(
                    ParseErrorKind::HomePathInPureMode(node.text().to_string()),
                    span,
                );
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
    ) -> ExprId {
        let span = node_span(node);
        let base = self.scratch.parts.len();
        for child in node.children_with_tokens() {
            let start = u32::from(super::green::elem_range(&child).start());
            match child {
                rowan::NodeOrToken::Token(t)
                    if matches!(t.kind(), TOKEN_PATH_ABS | TOKEN_PATH_REL | TOKEN_PATH_HOME) =>
                {
                    let tspan = token_span(&t);
                    let kind = if self.scratch.parts.len() == base {
                        let Some(resolved) = resolve_first(self, t.text(), span) else {
                            self.scratch.parts.truncate(base);
                            return self.error_expr(span);
                        };
                        ExprKind::Path(self.ast.add_str(&resolved))
                    } else {
                        ExprKind::Str(self.ast.add_str(t.text()))
                    };
                    let expr = self.ast.node(tspan, kind);
                    self.scratch.parts.push(StrPart {
                        expr,
                        pos: Span::new(start, start),
                    });
                }
                rowan::NodeOrToken::Node(n) if n.kind() == NODE_INTERPOL => {
                    let expr = self.nth_expr(&n, 0);
                    self.scratch.parts.push(StrPart {
                        expr,
                        pos: Span::new(start, start),
                    });
                }
                _ => {}
            }
        }
        match self.scratch.parts.get(base..).unwrap_or(&[]) {
            [] => self.error_expr(span),
            [only] => {
                // The whole literal is its one part.
                let only = only.expr;
                self.scratch.parts.truncate(base);
                if let Some(e) = self.ast.expr_mut(only) {
                    e.span = span;
                }
                only
            }
            _ => {
                let parts = self.take_parts(base);
                self.ast.node(
                    span,
                    ExprKind::ConcatStrings {
                        force_string: false,
                        pos: span.start,
                        parts,
                    },
                )
            }
        }
    }

    fn path_lints(&mut self, literal: &str, node: &Node<'_>, span: Span) {
        let kind = if literal.starts_with('/') {
            LintKind::AbsolutePath
        } else if !literal.starts_with("./") && !literal.starts_with("../") {
            LintKind::ShortPath
        } else {
            return;
        };
        self.lints.push(LintWarning {
            kind,
            literal: node.text(),
            span,
        });
    }
}
