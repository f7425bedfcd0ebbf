//! Lowering of rnix's lossless tree into [`crate::ast`], with CppNix's
//! parse-time checks (duplicate attributes and formals, dynamic attributes
//! where not allowed, invalid literals) and variable resolution.

mod attrs;
mod expr;
mod green;
mod rnix_errors;
mod resolve;

use rnix::SyntaxKind;

use green::{Node, Token};


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
    let green = root.green().to_owned();
    // The red tree is only needed to word errors.
    let mut errors = if parsed.errors().is_empty() {
        Vec::new()
    } else {
        rnix_errors::convert(parsed.errors(), text, &root)
    };
    let mut lowerer = Lowerer {
        text,
        options,
        errors: Vec::new(),
        lints: Vec::new(),
        depth: 0,
        symbols: Default::default(),
    };
    let mut expr = match Node::root(&green).children().next() {
        Some(node) => lowerer.expr(&node),
        None => Expr { span: span_at(text.len()), kind: ExprKind::Error },
    };
    errors.append(&mut lowerer.errors);
    if errors.is_empty() {
        resolve::resolve(&mut expr, &options.globals, &mut errors);
    }
    errors.sort_by_key(|e| e.span.start);
    Parse {
        green,
        text: text.into(),
        expr,
        errors,
        lints: lowerer.lints,
    }
}

/// Deepest bracket nesting accepted (rnix recurses once per level).
const MAX_NESTING: usize = 1000;
/// Longest run of prefix operators (`-`, `!`), which rnix parses recursively.
const MAX_PREFIX_RUN: usize = 1000;
/// Most terms (words, literals, operators) in one expression at one
/// nesting level: an operator or application chain nests one tree level per
/// term, in rnix's parser (right-associative operators recurse) and in the
/// syntax tree.
const MAX_TERMS: usize = 2 * MAX_DEPTH as usize;
/// Longest run of characters that may form a path or URI. rnix's tokenizer
/// (like CppNix's flex lexer) rescans such a run for every token inside it,
/// so a huge run without separators (`1+1+1+...`) would take quadratic time.
const MAX_PATHLIKE_RUN: usize = 16 * 1024;

/// Bytes that may continue a path or URI token, as a lookup table. (`'` and
/// `*`, which URIs may also contain, are left out: `''` opens a string and
/// `/*` a comment, and the run limit only needs to be approximate.)
const PATHLIKE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).is_ascii_alphanumeric();
        i += 1;
    }
    let extra = b"/_.+-%?:@&=$,!~";
    let mut j = 0;
    while j < extra.len() {
        t[extra[j] as usize] = true;
        j += 1;
    }
    t
};

/// Rejects input whose nesting would exhaust the stack or take quadratic
/// time in rnix, before rnix sees it. A linear scan that knows just enough
/// of the lexical grammar (strings, comments, interpolation) to find code.
fn prescan(text: &str) -> Option<ParseError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        Code,
        Dq,
        Ind,
    }
    let b = text.as_bytes();
    // Each open bracket or interpolation, and the mode to return to.
    let mut stack: Vec<(u8, Mode)> = Vec::new();
    // Terms at each nesting level (index 0 is the top level).
    let mut terms: Vec<usize> = vec![0];
    let mut mode = Mode::Code;
    let mut prefix = 0usize;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match mode {
            Mode::Code if PATHLIKE[c as usize] => {
                let start = i;
                while i < b.len() && PATHLIKE[b[i] as usize] {
                    i += 1;
                }
                let run = &b[start..i];
                if run.len() > MAX_PATHLIKE_RUN {
                    return Some(ParseError { kind: ParseErrorKind::TokenRunTooLong, span: span_at(start) });
                }
                if run.iter().all(|&x| x == b'-' || x == b'!') {
                    prefix += run.len();
                    if prefix > MAX_PREFIX_RUN {
                        return Some(too_deep(start));
                    }
                } else {
                    prefix = 0;
                }
                let in_list = stack.last().is_some_and(|(open, _)| *open == b'[');
                if !in_list {
                    if let Some(t) = terms.last_mut() {
                        *t += 1;
                        if *t > MAX_TERMS {
                            return Some(too_deep(start));
                        }
                    }
                }
                // A comment may start right after the run: `a/* ... */`.
                if b.get(i) == Some(&b'*') && run.last() == Some(&b'/') {
                    i = skip_block_comment(b, i - 1);
                }
                continue;
            }
            // Runs of white space (indentation) in one tight loop.
            Mode::Code if matches!(c, b' ' | b'\t' | b'\n' | b'\r') => {
                i += b[i..].iter().position(|&x| !matches!(x, b' ' | b'\t' | b'\n' | b'\r')).unwrap_or(b.len() - i);
                continue;
            }
            Mode::Code => {
                prefix = 0;
                match c {
                    b'#' => {
                        i += memchr::memchr(b'\n', &b[i..]).unwrap_or(b.len() - i);
                        continue;
                    }
                    b'"' => mode = Mode::Dq,
                    b'\'' if b.get(i + 1) == Some(&b'\'') => {
                        mode = Mode::Ind;
                        i += 1;
                    }
                    b';' | b',' => {
                        if let Some(t) = terms.last_mut() {
                            *t = 0;
                        }
                    }
                    b'<' | b'>' | b'|' | b'*' => {
                        let in_list = stack.last().is_some_and(|(open, _)| *open == b'[');
                        if let (false, Some(t)) = (in_list, terms.last_mut()) {
                            *t += 1;
                            if *t > MAX_TERMS {
                                return Some(too_deep(i));
                            }
                        }
                    }
                    b'(' | b'[' | b'{' => {
                        stack.push((c, Mode::Code));
                        terms.push(0);
                        if stack.len() > MAX_NESTING {
                            return Some(too_deep(i));
                        }
                    }
                    b')' | b']' | b'}' => {
                        if let Some((_, back)) = stack.pop() {
                            mode = back;
                            terms.pop();
                        }
                    }
                    _ => {}
                }
            }
            // Skip ordinary string bytes in one go.
            Mode::Dq if !matches!(c, b'\\' | b'"' | b'$') => {
                i += memchr::memchr3(b'\\', b'"', b'$', &b[i..]).unwrap_or(b.len() - i);
                continue;
            }
            Mode::Ind if !matches!(c, b'\'' | b'$') => {
                i += memchr::memchr2(b'\'', b'$', &b[i..]).unwrap_or(b.len() - i);
                continue;
            }
            Mode::Dq => match c {
                b'\\' => i += 1,
                b'"' => mode = Mode::Code,
                b'$' if b.get(i + 1) == Some(&b'{') => {
                    terms.push(0);
                    stack.push((b'$', Mode::Dq));
                    if stack.len() > MAX_NESTING {
                        return Some(too_deep(i));
                    }
                    mode = Mode::Code;
                    i += 1;
                }
                _ => {}
            },
            Mode::Ind => match c {
                b'\'' if b.get(i + 1) == Some(&b'\'') => match b.get(i + 2) {
                    Some(b'$') | Some(b'\'') => i += 2,
                    Some(b'\\') => i += 3,
                    _ => {
                        mode = Mode::Code;
                        i += 1;
                    }
                },
                b'$' if b.get(i + 1) == Some(&b'{') => {
                    terms.push(0);
                    stack.push((b'$', Mode::Ind));
                    if stack.len() > MAX_NESTING {
                        return Some(too_deep(i));
                    }
                    mode = Mode::Code;
                    i += 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// The offset just past the `*/` closing the comment opened at `at`.
fn skip_block_comment(b: &[u8], at: usize) -> usize {
    match memchr::memmem::find(b.get(at + 2..).unwrap_or(&[]), b"*/") {
        Some(p) => at + 2 + p + 2,
        None => b.len(),
    }
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

pub(crate) fn node_span(node: &Node<'_>) -> Span {
    node.span()
}

pub(crate) fn token_span(token: &Token<'_>) -> Span {
    token.span()
}

/// Walks the rnix tree and builds the AST.
pub(crate) struct Lowerer<'a> {
    pub(crate) text: &'a str,
    pub(crate) options: &'a ParseOptions,
    pub(crate) errors: Vec<ParseError>,
    pub(crate) lints: Vec<LintWarning>,
    pub(crate) depth: u32,
    /// Identifiers seen in this file, to intern each distinct one only once.
    pub(crate) symbols: crate::symbol::FxHashMap<&'a str, crate::Symbol>,
}

impl Lowerer<'_> {
    pub(crate) fn error(&mut self, kind: ParseErrorKind, span: Span) {
        self.errors.push(ParseError { kind, span });
    }

    /// Line and column of an offset in the text being parsed (only needed
    /// for error messages, so the line index is built on demand).
    pub(crate) fn line_col(&self, offset: u32) -> (u32, u32) {
        let file = crate::SourceFile::new(crate::SourceName::Stdin, self.text.into());
        file.line_col(offset)
    }
}

/// The first non-trivia token directly under `node` of one of the given kinds.
pub(crate) fn child_token<'g>(node: &Node<'g>, pred: impl Fn(SyntaxKind) -> bool) -> Option<Token<'g>> {
    node.children_with_tokens().filter_map(|e| e.into_token()).find(|t| pred(t.kind()))
}
