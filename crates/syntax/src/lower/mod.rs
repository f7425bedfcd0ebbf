//! Lowering of rnix's lossless tree into [`crate::ast`], with CppNix's
//! parse-time checks (duplicate attributes and formals, dynamic attributes
//! where not allowed, invalid literals) and variable resolution.
//!
//! # Lowering cost
//! Everything here beyond `rnix::Root::parse` (the prescan, the walk over the
//! green tree, building the AST, resolution) is measured against rnix alone by
//! `cargo bench -p nixkit-benches --bench parse` (nixpkgs `lib/`) and, for
//! instruction counts, by `examples/parse_files.rs` under callgrind. What keeps
//! it cheap: the prescan mostly counts bytes in branch-free passes, and
//! otherwise jumps between the bytes that change the lexical state
//! ([`prescan`]); identifiers are interned once per distinct token of a tree
//! ([`TokenSymbols`]), then through a per-thread cache keyed by the name's
//! bytes ([`crate::Symbol`]); plain `"…"` strings skip re-lexing; the tree
//! is an arena ([`crate::ast::Ast`]: no allocation per node), whose
//! variable-length parts are gathered on reused stacks ([`Scratch`]);
//! variables are resolved while lowering, so there is
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
//!
//! A third pass. The prescan first bounds every limit by counts over the
//! raw bytes ([`prescan`]'s `within_counts`: 282 of the 285 files, 77 % of
//! the bytes); the rest go through the lexical scan, which now finds its
//! stop bytes with one bit mask per 64-byte block. Alone, over `lib/`, that
//! is 0.72 → 0.40 ms per pass, though more instructions (6.1 → 8.3 M: no
//! mispredicted branch per stop byte). The tree got smaller: `or` defaults
//! and `${…}` attribute names boxed, formals and the rarely filled parts
//! of [`crate::ast::Attrs`] in boxed slices, an inherited-from value is its
//! index alone (no `Select` node): about 3.35 → 2.70 MB of nodes (by their
//! allocator size classes) and 1.5 k fewer allocations. Tokens map to
//! symbols through a stamped open-addressing table instead of a hash map
//! cleared per file. Callgrind: rnix 252.6 M, nixkit 294.8 → 295.8 M
//! (+16.7 → +17.1 %; the lowering itself 35.5 → 34.2 M). Criterion, old
//! and new interleaved, 13 runs each at a load of 1–4.5 (one run of each
//! disturbed): before +27.1–49.9 % (median +33.5 %), after +25.1–35.4 %
//! (median +31.9 %); nixkit alone, median 24.7 → 24.0 ms. An out-of-tree
//! harness running rnix, old and new in turn in one process (batches of
//! four kept trees, 40 s) puts the new code 2–5 % faster (median of
//! rounds), 2 % at the 10th percentile. Still above rnix, by a profile:
//! lowering itself (~19 % of nixkit's time), of which the per-thread name
//! lookups that miss the cache (~3 %) and page faults on fresh tree memory
//! (~3 %) are the largest single parts; and rnix runs ~5 % slower inside
//! nixkit than alone (more fresh memory per parse: more page faults). Tried
//! and dropped as no faster: an open-addressing name cache (one miss per
//! lookup instead of two; hashbrown's control bytes stay cached anyway),
//! looking up a set's binding names as one batch, and a small table of
//! recently used names in front of the cache.
//!
//! A fourth pass made the tree an arena: 24-byte expressions in one table,
//! children as `u32` ids, the variable-length parts of nodes as runs of
//! side tables, literal text in one buffer. Lowering builds in tables kept
//! between parses (warm, and large enough for most files after the first),
//! and the parse gets an exact copy of them; set builders, scopes and the
//! scratch stacks are kept between parses too. The rarer kinds of node are
//! lowered out of line, so that the dispatch stays small. Over nixpkgs
//! `lib/`, one pass: 138.9 k → 101.1 k allocations (rnix alone 89.3 k); all
//! trees kept, 9.42 → 8.91 MB (rnix 6.59 MB; the arenas 2.05 MB).
//! Callgrind (3 rounds): rnix 763.0 M, nixkit 888.4 → 879.1 M, the
//! lowering 41.8 → 38.7 M instructions per round. Criterion, old and new
//! interleaved, two runs each at a load of 1–1.4: before rnix 18.0 / 17.4
//! ms vs nixkit 23.3 / 22.3 ms (+29.4 / +28.7 %), after rnix 18.4 / 17.7
//! ms vs nixkit 22.7 / 21.9 ms (+23.5 / +23.5 %). `parse_files --rounds`
//! agrees (medians of 9 interleaved runs: +26.6 → +21.2 %).
//!
//! What remains is not the building of the tree. A build that stops after
//! rnix and the prescan costs +2.6 %, and one that then only walks every
//! node and token of the green tree (offsets and kinds) +7.5 %: lowering
//! proper is the other ~15 %, for ~29 M instructions against rnix's 246 M. A cache
//! and branch simulation (callgrind) of the walk, per round: ~180 k L1
//! data misses (the green tree, the token and name tables), ~130 k L1
//! instruction misses and ~270 k mispredicted branches, against 190 k,
//! 140 k and 2.3 M for rnix's whole parse; it runs at about half rnix's
//! instructions per cycle. A profile puts the largest single parts in the
//! per-thread name cache (~3 % of nixkit's time, names first seen in a
//! file) and in rnix's own allocations, which land in colder memory when
//! our trees take their share of it (`mi_malloc`: ~2 % of the time with
//! rnix alone, 5–6 % inside nixkit).
//!
//! With the workspace's release profile at one codegen unit and fat LTO
//! (the bench profile inherits it), three criterion runs in a row on a
//! quiet machine (load about 1): rnix 17.11 / 16.91 / 16.94 ms, nixkit
//! 21.59 / 21.03 / 21.26 ms, +26.2 / +24.4 / +25.5 %.

mod attrs;
mod expr;
mod green;
mod literals;
mod prescan;
mod resolve;
mod rnix_errors;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::sync::{Arc, OnceLock};

use rnix::SyntaxKind;

pub(crate) use green::KeptGreen;
use green::{Node, Token};

use crate::ast::{Ast, AttrName, ExprId, ExprKind, Formal, Span, StrPart};
use crate::error::{LintWarning, ParseError, ParseErrorKind};
use crate::{Parse, ParseOptions, Symbol};

thread_local! {
    /// The table behind [`Lowerer::token_symbols`], kept between parses on a
    /// thread so that it is not grown afresh for every file.
    static TOKEN_SYMBOLS: Cell<Option<TokenSymbols>> = const { Cell::new(None) };
    /// [`Scratch`] space, kept between parses on a thread likewise.
    static SCRATCH: Cell<Option<Scratch>> = const { Cell::new(None) };
    /// The tables lowering builds in (see [`take_work_ast`]).
    static WORK_AST: Cell<Option<Ast>> = const { Cell::new(None) };
}

/// This thread's value kept in `slot` by [`keep_for_thread`], or a new one.
/// Lowering keeps its tables between parses on a thread, so that they are
/// warm and need not be grown afresh for every file.
pub(crate) fn take_kept<T: Default>(slot: &'static std::thread::LocalKey<Cell<Option<T>>>) -> T {
    slot.try_with(Cell::take).ok().flatten().unwrap_or_default()
}

/// Keeps `value` in `slot` for the thread's next parse (dropped if the
/// thread is exiting).
pub(crate) fn keep_for_thread<T>(slot: &'static std::thread::LocalKey<Cell<Option<T>>>, value: T) {
    let _ = slot.try_with(|c| c.set(Some(value)));
}

/// The tree to build in: this thread's kept one (emptied, its tables warm
/// and large enough for most files), or a new one. The parse gets an exact
/// copy of it ([`Ast::compact_copy`]), so that the tables neither grow in
/// fresh memory nor hold unused capacity.
fn take_work_ast() -> Ast {
    take_kept(&WORK_AST)
}

/// Keeps the tree built in for the thread's next parse, unless it grew
/// beyond what is worth keeping (files of more than about 1 MB of source).
fn keep_work_ast(mut ast: Ast) {
    const KEEP_BYTES: usize = 2 << 20;
    if ast.heap_bytes() <= KEEP_BYTES {
        ast.clear();
        keep_for_thread(&WORK_AST, ast);
    }
}

/// Temporary space for lowering: the variable-length parts of nodes are
/// gathered on these stacks (each construct pushes above what its parents
/// pushed, then moves its own entries into the [`Ast`] and pops them), so
/// that they go into the tree's tables as consecutive runs.
#[derive(Default)]
pub(crate) struct Scratch {
    /// List items and call items.
    pub(crate) items: Vec<ExprId>,
    /// Parts of strings and paths.
    pub(crate) parts: Vec<StrPart>,
    /// Attribute paths of selections.
    pub(crate) names: Vec<AttrName>,
    /// Formals of patterns.
    pub(crate) formals: Vec<Formal>,
    /// Attribute sets being gathered.
    pub(crate) sets: attrs::SetBuilders,
    /// Empty vectors for the attribute paths of bindings, for reuse.
    pub(crate) path_pool: Vec<Vec<AttrName>>,
}

impl Scratch {
    /// Stacks larger than this (entries) are not kept between parses.
    const KEEP: usize = 1 << 12;

    /// The kept scratch space of this thread, or a new one.
    fn take() -> Scratch {
        take_kept(&SCRATCH)
    }

    /// Keeps the space (emptied, and trimmed) for the thread's next parse.
    fn keep(mut self) {
        fn trimmed<T>(v: &mut Vec<T>) {
            v.clear();
            v.shrink_to(Scratch::KEEP);
        }
        trimmed(&mut self.items);
        trimmed(&mut self.parts);
        trimmed(&mut self.names);
        trimmed(&mut self.formals);
        self.path_pool.truncate(64);
        self.sets.trim(64);
        keep_for_thread(&SCRATCH, self);
    }
}

/// Identifier tokens of the tree being lowered already interned, by
/// [`green::Token::identity`]: open addressing on the token's address, at
/// most half full, each slot stamped with the parse that filled it, so that
/// a table kept from an earlier parse is empty without being cleared.
#[derive(Default)]
pub(crate) struct TokenSymbols {
    slots: Vec<TokenSlot>,
    /// The current parse's stamp (never 0, the stamp of vacant slots, once
    /// taken for a parse).
    stamp: u32,
    len: usize,
}

#[derive(Clone, Copy)]
struct TokenSlot {
    key: usize,
    stamp: u32,
    sym: Symbol,
}

impl TokenSymbols {
    /// Tables larger than this are not kept between parses.
    const KEEP: usize = 1 << 15;

    /// The kept table of this thread, emptied, or a new one.
    fn take() -> TokenSymbols {
        let mut t: TokenSymbols = take_kept(&TOKEN_SYMBOLS);
        t.len = 0;
        t.stamp = t.stamp.wrapping_add(1);
        if t.stamp == 0 {
            // Stamps went round: old slots could look current.
            if let Some(&first) = t.slots.first() {
                t.slots.fill(TokenSlot { stamp: 0, ..first });
            }
            t.stamp = 1;
        }
        t
    }

    /// Keeps the table for the thread's next parse.
    fn keep(self) {
        if self.slots.len() <= Self::KEEP {
            keep_for_thread(&TOKEN_SYMBOLS, self);
        }
    }

    /// The slot where `key`'s probe starts (the multiplication's top bits).
    fn home(&self, key: usize) -> usize {
        let bits = self.slots.len().trailing_zeros();
        ((key as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - bits)) as usize
    }

    /// The symbol of the token `key`, from `make` the first time.
    pub(crate) fn get_or_insert_with(
        &mut self,
        key: usize,
        make: impl FnOnce() -> Symbol,
    ) -> Symbol {
        if 2 * (self.len + 1) > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        while let Some(s) = self.slots.get(i).filter(|s| s.stamp == self.stamp) {
            if s.key == key {
                return s.sym;
            }
            i = (i + 1) & mask;
        }
        let sym = make();
        if let Some(s) = self.slots.get_mut(i) {
            *s = TokenSlot {
                key,
                stamp: self.stamp,
                sym,
            };
            self.len += 1;
        }
        sym
    }

    fn grow(&mut self) {
        let size = (2 * self.slots.len()).max(256);
        let vacant = TokenSlot {
            key: 0,
            stamp: 0,
            sym: Symbol::intern_cached(""),
        };
        let old = std::mem::replace(&mut self.slots, vec![vacant; size]);
        let mask = size - 1;
        for s in old.into_iter().filter(|s| s.stamp == self.stamp) {
            let mut i = self.home(s.key);
            while self.slots.get(i).is_some_and(|t| t.stamp == self.stamp) {
                i = (i + 1) & mask;
            }
            if let Some(t) = self.slots.get_mut(i) {
                *t = s;
            }
        }
    }
}

/// How deep the lowered tree may nest before we stop with an error (the
/// evaluator recurses over it, growing its stack). Well past what CppNix's
/// parser takes (9,995 nested parentheses, fewer of anything else).
const MAX_DEPTH: u32 = 1 << 15;

/// The recursive walks make sure of stack space once every this many levels.
const STACK_CHECK_LEVELS: u32 = 8;

pub(crate) fn parse(text: &str, options: &ParseOptions) -> Parse {
    // CppNix ends comments and lines at a lone CR too; rnix only at LF. The
    // replacement keeps every byte offset; string bodies are re-lexed from
    // the original text.
    let normalised = memchr::memchr(b'\r', text.as_bytes())
        .is_some()
        .then(|| normalise_lone_cr(text));
    // CppNix's whitespace is space, tab, CR and LF; rnix also skips the
    // other Unicode spaces (no-break space, vertical tab, form feed, ...).
    // Each becomes an invalid token of the same length, which rnix reports
    // where CppNix does (strings and comments are unaffected: their text is
    // taken from the original).
    let (normalised, replaced_spaces) =
        match foreign_whitespace(normalised.as_deref().unwrap_or(text)) {
            Some(replaced) => (Some(replaced), true),
            None => (normalised, false),
        };
    let rnix_text = normalised.as_deref().unwrap_or(text);
    if let Some(err) = prescan::prescan(rnix_text) {
        let mut ast = Ast::default();
        let root = ast.node(err.span, ExprKind::Error);
        let green = rowan::GreenNode::new(rowan::SyntaxKind(SyntaxKind::NODE_ROOT as u16), []);
        return Parse {
            green: KeptGreen::new(green, Some(0)),
            text: OnceLock::from(Arc::from(text)),
            ast,
            root,
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
    if let Some(at) = replaced_spaces
        .then(|| first_control_in_code(&green))
        .flatten()
    {
        // CppNix's lexer stops there with an invalid token, so its parser
        // fails there at the latest (rnix may recover past it silently).
        let at = u32::try_from(at).unwrap_or(u32::MAX);
        errors.retain(|e| e.span.start <= at);
        if errors.is_empty() {
            errors.push(ParseError {
                kind: ParseErrorKind::Syntax {
                    found: "invalid token".into(),
                    expected: Vec::new(),
                },
                span: Span::new(at, at),
            });
        }
    }
    let mut lowerer = Lowerer {
        text,
        options,
        errors: Vec::new(),
        lints: Vec::new(),
        depth: 0,
        max_depth: 0,
        ast: take_work_ast(),
        scratch: Scratch::take(),
        token_symbols: TokenSymbols::take(),
        scopes: resolve::Scopes::take(),
        undefined: Vec::new(),
        resolved: true,
        first_syntax_error: errors.iter().map(|e| e.span.start).min(),
    };
    let root = match Node::root(&green).children().next() {
        Some(node) => lowerer.expr(&node),
        None => lowerer.error_expr(span_at(text.len())),
    };
    if lowerer.ast.too_large() {
        lowerer.error(ParseErrorKind::TooLarge, span_at(0));
    }
    // Bison stops at the first syntax error: what the lowering found in
    // constructs that reach past it was never reduced in CppNix.
    if let Some(first) = errors.iter().map(|e| e.span.start).min() {
        lowerer.errors.retain(|e| e.span.end <= first);
    }
    errors.append(&mut lowerer.errors);
    // With errors, parts of the tree may not have been lowered.
    let lowered_depth = errors.is_empty().then_some(lowerer.max_depth);
    // Its keys die with the tree; the table is kept for the next one.
    std::mem::take(&mut lowerer.token_symbols).keep();
    std::mem::take(&mut lowerer.scopes).keep();
    std::mem::take(&mut lowerer.scratch).keep();
    let mut work = std::mem::take(&mut lowerer.ast);
    if !errors.is_empty() {
        // The tree of a failed parse is left unresolved.
        resolve::unresolve(&mut work, root, &options.globals);
    } else if lowerer.resolved {
        errors.append(&mut lowerer.undefined);
    } else {
        resolve::resolve(&mut work, root, &options.globals, &mut errors);
    }
    let ast = work.compact_copy();
    keep_work_ast(work);
    errors.sort_by_key(|e| e.span.start);
    // The tree holds the text rnix saw: only when that differs from ours
    // (lone CRs, foreign whitespace) is ours kept now.
    let kept_text = match normalised {
        None => OnceLock::new(),
        Some(_) => OnceLock::from(Arc::from(text)),
    };
    Parse {
        green: KeptGreen::new(green, lowered_depth),
        text: kept_text,
        ast,
        root,
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

/// `text` with every whitespace character CppNix does not accept as such
/// (any Unicode space but space, tab, CR and LF) replaced by a control
/// character rnix rejects, padded with spaces to the same length; `None`
/// when there is none (most text is ASCII and is told so at memory speed).
fn foreign_whitespace(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let suspect = |c: &u8| *c == 0x0b || *c == 0x0c || *c >= 0x80;
    let first = b.iter().position(suspect)?;
    let is_foreign = |c: char| c.is_whitespace() && !matches!(c, ' ' | '\t' | '\r' | '\n');
    if !text[first..].chars().any(is_foreign) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_foreign(c) {
            out.push('\u{1}');
            for _ in 1..c.len_utf8() {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// The offset of the first control character `\u{1}` (what
/// [`foreign_whitespace`] writes) outside strings and comments.
fn first_control_in_code(green: &rowan::GreenNode) -> Option<usize> {
    let mut first: Option<usize> = None;
    let mut nodes = vec![Node::root(green)];
    while let Some(node) = nodes.pop() {
        for child in node.children_with_tokens() {
            match child {
                rowan::NodeOrToken::Node(n) => nodes.push(n),
                rowan::NodeOrToken::Token(t) => {
                    if matches!(
                        t.kind(),
                        SyntaxKind::TOKEN_STRING_CONTENT | SyntaxKind::TOKEN_COMMENT
                    ) {
                        continue;
                    }
                    if let Some(i) = t.text().find('\u{1}') {
                        let at = u32::from(t.text_range().start()) as usize + i;
                        first = Some(first.map_or(at, |f| f.min(at)));
                    }
                }
            }
        }
    }
    first
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
    /// The deepest `depth` reached, counting an application chain's
    /// applications as levels (its green tree nests them).
    pub(crate) max_depth: u32,
    /// The tree being built.
    pub(crate) ast: Ast,
    /// Stacks for the parts of nodes being lowered.
    pub(crate) scratch: Scratch,
    /// Identifier tokens of this tree already interned, by
    /// [`Token::identity`]: most identifiers repeat within a file.
    pub(crate) token_symbols: TokenSymbols,
    /// The scopes around the node being lowered, to resolve variables.
    pub(crate) scopes: resolve::Scopes,
    /// Undefined variables found while lowering.
    pub(crate) undefined: Vec<ParseError>,
    /// Whether the variables resolved while lowering are right (see
    /// [`resolve`]); if not, the whole tree is resolved afterwards.
    pub(crate) resolved: bool,
    /// Where the first syntax error is: a construct spanning it was never
    /// reduced by CppNix's parser, so its semantic checks do not apply.
    pub(crate) first_syntax_error: Option<u32>,
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
pub(crate) fn child_token<'g>(
    node: &Node<'g>,
    pred: impl Fn(SyntaxKind) -> bool,
) -> Option<Token<'g>> {
    node.children_with_tokens()
        .filter_map(|e| e.into_token())
        .find(|t| pred(t.kind()))
}
