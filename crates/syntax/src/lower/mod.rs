//! Lowering of rnix's lossless tree into [`crate::ast`], with CppNix's
//! parse-time checks (duplicate attributes and formals, dynamic attributes
//! where not allowed, invalid literals) and variable resolution.

mod attrs;
mod expr;
mod rnix_errors;
mod resolve;

use rnix::{SyntaxKind, SyntaxNode, SyntaxToken};


use crate::ast::{Expr, ExprKind, Span};
use crate::error::{LintWarning, ParseError, ParseErrorKind};
use crate::{Parse, ParseOptions};

/// How deep the lowered tree may nest before we stop with an error (the
/// evaluator and the tree's own destructor recurse over it).
const MAX_DEPTH: u32 = 4000;

pub(crate) fn parse(text: &str, options: &ParseOptions) -> Parse {
    // CppNix ends comments and lines at a lone CR too; rnix only at LF. The
    // replacement keeps every byte offset; string bodies are re-lexed from
    // the original text.
    let normalised;
    let rnix_text = if text.contains('\r') {
        normalised = normalise_lone_cr(text);
        normalised.as_str()
    } else {
        text
    };
    if let Some(err) = prescan(rnix_text) {
        let green = rowan::GreenNode::new(rowan::SyntaxKind(SyntaxKind::NODE_ROOT as u16), []);
        return Parse {
            green,
            text: text.into(),
            expr: Expr { span: err.span, kind: ExprKind::Error },
            errors: vec![err],
            lints: Vec::new(),
        };
    }
    let parsed = rnix::Root::parse(rnix_text);
    let root = parsed.syntax();
    let mut errors = rnix_errors::convert(parsed.errors(), text, &root);
    let mut lowerer = Lowerer { text, options, errors: Vec::new(), lints: Vec::new(), depth: 0 };
    let mut expr = match root.children().next() {
        Some(node) => lowerer.expr(&node),
        None => Expr { span: span_at(text.len()), kind: ExprKind::Error },
    };
    errors.append(&mut lowerer.errors);
    if errors.is_empty() {
        resolve::resolve(&mut expr, &options.globals, &mut errors);
    }
    errors.sort_by_key(|e| e.span.start);
    Parse {
        green: root.green().to_owned(),
        text: text.into(),
        expr,
        errors,
        lints: lowerer.lints,
    }
}

/// Deepest bracket nesting accepted (rnix recurses once per level).
const MAX_NESTING: usize = 1000;
/// Longest run of binary operators at one nesting level (rnix's handling of
/// long operator chains is quadratic, and the lowered tree is that deep).
const MAX_OPERATOR_RUN: usize = MAX_DEPTH as usize;

/// Rejects input whose nesting would exhaust the stack or take quadratic
/// time in rnix, before rnix sees it.
fn prescan(text: &str) -> Option<ParseError> {
    use SyntaxKind::*;
    let mut depth = 0usize;
    let mut runs: Vec<usize> = vec![0];
    let mut offset = 0usize;
    for (kind, tok) in rnix::tokenize(text) {
        let at = offset;
        offset += tok.len();
        match kind {
            TOKEN_L_PAREN | TOKEN_L_BRACK | TOKEN_L_BRACE | TOKEN_INTERPOL_START | TOKEN_STRING_START => {
                // A string start only nests when it opens (its end pops).
                depth += 1;
                runs.push(0);
            }
            TOKEN_R_PAREN | TOKEN_R_BRACK | TOKEN_R_BRACE | TOKEN_INTERPOL_END | TOKEN_STRING_END => {
                depth = depth.saturating_sub(1);
                if runs.len() > 1 {
                    runs.pop();
                }
            }
            TOKEN_SEMICOLON | TOKEN_COMMA | TOKEN_IN | TOKEN_THEN | TOKEN_ELSE | TOKEN_COLON | TOKEN_ASSIGN => {
                if let Some(r) = runs.last_mut() {
                    *r = 0;
                }
            }
            TOKEN_ADD | TOKEN_SUB | TOKEN_MUL | TOKEN_DIV | TOKEN_CONCAT | TOKEN_UPDATE | TOKEN_EQUAL
            | TOKEN_NOT_EQUAL | TOKEN_LESS | TOKEN_LESS_OR_EQ | TOKEN_MORE | TOKEN_MORE_OR_EQ
            | TOKEN_AND_AND | TOKEN_OR_OR | TOKEN_IMPLICATION | TOKEN_QUESTION | TOKEN_INVERT
            | TOKEN_PIPE_LEFT | TOKEN_PIPE_RIGHT | TOKEN_DOT => {
                if let Some(r) = runs.last_mut() {
                    *r += 1;
                    if *r > MAX_OPERATOR_RUN {
                        return Some(too_deep(at));
                    }
                }
            }
            _ => {}
        }
        if depth > MAX_NESTING {
            return Some(too_deep(at));
        }
    }
    None
}

fn too_deep(at: usize) -> ParseError {
    ParseError { kind: ParseErrorKind::TooDeep, span: span_at(at) }
}

fn normalise_lone_cr(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if c == '\r' && b.get(i + 1) != Some(&b'\n') {
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out
}

fn span_at(offset: usize) -> Span {
    let o = u32::try_from(offset).unwrap_or(u32::MAX);
    Span::new(o, o)
}

pub(crate) fn node_span(node: &SyntaxNode) -> Span {
    let r = node.text_range();
    Span::new(r.start().into(), r.end().into())
}

pub(crate) fn token_span(token: &SyntaxToken) -> Span {
    let r = token.text_range();
    Span::new(r.start().into(), r.end().into())
}

/// Walks the rnix tree and builds the AST.
pub(crate) struct Lowerer<'a> {
    pub(crate) text: &'a str,
    pub(crate) options: &'a ParseOptions,
    pub(crate) errors: Vec<ParseError>,
    pub(crate) lints: Vec<LintWarning>,
    pub(crate) depth: u32,
}

impl Lowerer<'_> {
    pub(crate) fn error(&mut self, kind: ParseErrorKind, span: Span) {
        self.errors.push(ParseError { kind, span });
    }

    /// Line and column of an offset in the text being parsed.
    pub(crate) fn line_col(&self, offset: u32) -> (u32, u32) {
        let before = self.text.get(..offset as usize).unwrap_or(self.text);
        let line = before.bytes().filter(|&b| b == b'\n').count() as u32 + 1;
        let col = match before.rfind('\n') {
            Some(nl) => before.len() - nl,
            None => before.len() + 1,
        } as u32;
        (line, col)
    }
}

/// The first non-trivia token directly under `node` of one of the given kinds.
pub(crate) fn child_token(node: &SyntaxNode, pred: impl Fn(SyntaxKind) -> bool) -> Option<SyntaxToken> {
    node.children_with_tokens().filter_map(|e| e.into_token()).find(|t| pred(t.kind()))
}
