//! Lowering of rnix's lossless tree into [`crate::ast`], with CppNix's
//! parse-time checks (duplicate attributes and formals, dynamic attributes
//! where not allowed, invalid literals) and variable resolution.
//!
//! # Lowering cost
//! Everything here beyond `rnix::Root::parse` (the prescan, the walk over the
//! green tree, building the AST, resolution) is measured against rnix alone by
//! `cargo bench -p nixkit-benches --bench parse` (nixpkgs `lib/`) and, for
//! instruction counts, by `examples/parse_files.rs` under callgrind. What keeps
//! it cheap: the prescan only stops at bytes that change the lexical state
//! ([`prescan`]); identifiers are interned once per distinct token of a tree,
//! then through a per-thread cache keyed by the name's bytes
//! ([`crate::Symbol`]); plain `"…"` strings skip re-lexing; vectors are sized
//! before they are filled; variables are resolved while lowering, so there is
//! no second walk over the tree (except after merged attribute sets, see
//! [`resolve`]); the source text is not copied ([`crate::Parse::text`] rebuilds
//! it from the tree on demand).
//!
//! Figures (2 shared cores, load about 1; criterion runs of the old and new
//! code interleaved): before, rnix 17.4–19 ms vs nixkit 25.7–28.2 ms, +43–51 %
//! (median +48 %); after, rnix 17.4–19 ms vs nixkit 23–25.5 ms, +29–37.5 %
//! (median +34 %). Callgrind (`--keep`): rnix 252.6 M instructions; nixkit
//! 319.9 M (+26.6 %) before, 295.7 M (+17.0 %) after.
//!
//! A second pass cut allocations: a call is one boxed slice (function, then
//! arguments), built at the outermost application of a chain with its exact
//! length; `ConcatStrings` keeps each part with its position in one boxed
//! slice; a one-element attribute path ([`crate::ast::AttrPath`]) is stored
//! inline. Over nixpkgs `lib/` that is 150.6 k → 137.0 k allocations and
//! 10.15 → 9.74 MB kept (rnix alone: 86.9 k and 6.34 MB), callgrind 296.2 M →
//! 294.4 M, but no wall-clock change beyond the noise (A/B medians about
//! +34 % both, single runs +24–40 %). A profile of the bench now puts our
//! share at about 20 % of rnix's time in lowering itself (interning
//! identifiers first seen in a file, the prescan, the walk) and about 7 % in
//! the allocator, whose cost is the cold memory each new node lands in
//! rather than the number of calls: what remains is the boxed tree itself
//! (one allocation per non-leaf node), which only an arena would remove.

mod attrs;
mod expr;
mod green;
mod prescan;
mod rnix_errors;
mod resolve;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::sync::{Arc, OnceLock};

use rnix::SyntaxKind;

use green::{Node, Token};


use crate::ast::{Expr, ExprKind, Span};
use crate::error::{LintWarning, ParseError, ParseErrorKind};
use crate::symbol::FxHashMap;
use crate::{Parse, ParseOptions, Symbol};

thread_local! {
    /// The (empty) map behind [`Lowerer::token_symbols`], kept between parses
    /// on a thread so that it is not grown afresh for every file.
    static TOKEN_SYMBOLS: Cell<FxHashMap<usize, Symbol>> = Cell::new(FxHashMap::default());
}

/// How deep the lowered tree may nest before we stop with an error (the
/// evaluator and the tree's own destructor recurse over it).
const MAX_DEPTH: u32 = 4000;

/// The recursive walks make sure of stack space once every this many levels.
const STACK_CHECK_LEVELS: u32 = 8;

pub(crate) fn parse(text: &str, options: &ParseOptions) -> Parse {

    // CppNix ends comments and lines at a lone CR too; rnix only at LF. The
    // replacement keeps every byte offset; string bodies are re-lexed from
    // the original text.
    let normalised = memchr::memchr(b'\r', text.as_bytes()).is_some().then(|| normalise_lone_cr(text));
    let rnix_text = normalised.as_deref().unwrap_or(text);
    if let Some(err) = prescan::prescan(rnix_text) {
        let green = rowan::GreenNode::new(rowan::SyntaxKind(SyntaxKind::NODE_ROOT as u16), []);
        return Parse {
            green,
            text: OnceLock::from(Arc::from(text)),
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
        path_pool: Vec::new(),
        token_symbols: TOKEN_SYMBOLS.try_with(Cell::take).unwrap_or_default(),
        scopes: resolve::Scopes::default(),
        undefined: Vec::new(),
        resolved: true,
    };
    let mut expr = match Node::root(&green).children().next() {
        Some(node) => lowerer.expr(&node),
        None => Expr { span: span_at(text.len()), kind: ExprKind::Error },
    };
    errors.append(&mut lowerer.errors);
    let mut token_symbols = std::mem::take(&mut lowerer.token_symbols);
    // Its keys die with the tree; a huge map is not worth keeping.
    if token_symbols.capacity() <= 1 << 14 {
        token_symbols.clear();
        let _ = TOKEN_SYMBOLS.try_with(|c| c.set(token_symbols));
    }
    if !errors.is_empty() {
        // The tree of a failed parse is left unresolved.
        resolve::unresolve(&mut expr, &options.globals);
    } else if lowerer.resolved {
        errors.append(&mut lowerer.undefined);
    } else {
        resolve::resolve(&mut expr, &options.globals, &mut errors);
    }
    errors.sort_by_key(|e| e.span.start);
    // The tree holds the text rnix saw: only when that differs from ours
    // (lone CRs) is ours kept now.
    let kept_text = match normalised {
        None => OnceLock::new(),
        Some(_) => OnceLock::from(Arc::from(text)),
    };
    Parse {
        green,
        text: kept_text,
        expr,
        errors,
        lints: lowerer.lints,
    }
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

/// The text of a whole tree (lossless: the text it was parsed from).
pub(crate) fn tree_text(green: &rowan::GreenNode) -> String {
    Node::root(green).text()
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
    /// Empty vectors for the attribute paths of bindings, for reuse.
    pub(crate) path_pool: Vec<Vec<crate::ast::AttrName>>,
    /// Identifier tokens of this tree already interned, by
    /// [`Token::identity`]: most identifiers repeat within a file.
    pub(crate) token_symbols: FxHashMap<usize, Symbol>,
    /// The scopes around the node being lowered, to resolve variables.
    pub(crate) scopes: resolve::Scopes,
    /// Undefined variables found while lowering.
    pub(crate) undefined: Vec<ParseError>,
    /// Whether the variables resolved while lowering are right (see
    /// [`resolve`]); if not, the whole tree is resolved afterwards.
    pub(crate) resolved: bool,
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
