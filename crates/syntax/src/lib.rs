//! The Nix language parser: a lossless [`rnix`] tree, a lowered AST with spans
//! and resolved variables, CppNix-compatible parse errors and `--parse` printing.
//!
//! Parsing never fails and never panics: [`parse`] always returns a [`Parse`]
//! holding the lowered expression and the list of errors (empty when CppNix
//! would accept the input).
//!
//! ```
//! use nixkit_syntax::{parse, ParseOptions, SourceName};
//!
//! let parsed = parse("{ x, y ? 2 }: x + y", &ParseOptions::new("/home/me"));
//! assert!(parsed.errors().is_empty());
//! assert_eq!(parsed.to_cppnix_string(), "({ x, y ? 2 }: (x + y))");
//!
//! let bad = parse("x: y", &ParseOptions::new("/"));
//! let err = &bad.errors()[0];
//! assert_eq!(err.to_string(), "undefined variable 'y'");
//! let file = bad.source(SourceName::Stdin);
//! assert_eq!(file.line_col(err.span.start), (1, 4));
//! ```
//!
//! The lowered tree is an arena ([`ast::Ast`]): nodes are named by ids
//! ([`ast::ExprId`]) and read through the `Ast` that holds them.
//!
//! ```
//! use nixkit_syntax::{ast::ExprKind, parse, ParseOptions};
//!
//! let parsed = parse("[ 1 \"two\" ]", &ParseOptions::new("/"));
//! let ast = parsed.ast();
//! let ExprKind::List(items) = ast.expr(parsed.root()).kind else { unreachable!() };
//! let [one, two] = ast.items(items) else { unreachable!() };
//! assert_eq!(ast.expr(*one).kind, ExprKind::Int(1));
//! let ExprKind::Str(s) = ast.expr(*two).kind else { unreachable!() };
//! assert_eq!(ast.str(s), "two");
//! ```
//!
//! This crate is the only one in the workspace that knows about `rnix` and
//! `rowan`; everything downstream sees [`ast::Ast`].

pub mod ast;
mod bytes;
mod diagnostic;
mod error;
pub mod globals;
mod lower;
mod paths;
mod print;
mod strings;
mod symbol;

use std::sync::{Arc, OnceLock};

pub use bytes::{
    byte_len, byte_slice, canonicalize, cmp_bytes, decode_bytes, decode_vec, encode_bytes,
    escaped_byte, has_escapes,
};
pub use diagnostic::{SourceFile, SourceName};
pub use error::{LintKind, LintWarning, ParseError, ParseErrorKind};
pub use globals::Globals;
pub use print::{format_float, write_identifier, write_string_literal};
pub use symbol::Symbol;

/// What the parser needs to know about its surroundings (it does no IO).
#[derive(Clone, Debug)]
pub struct ParseOptions {
    /// Absolute directory that relative path literals are resolved against.
    pub base_dir: String,
    /// The home directory for `~/` paths; `None` makes them an error
    /// (as in pure evaluation mode).
    pub home: Option<String>,
    /// The names bound in the base environment.
    pub globals: Arc<Globals>,
}

impl ParseOptions {
    /// Options with the given base directory, `$HOME` unknown, and CppNix's
    /// default global names.
    pub fn new(base_dir: impl Into<String>) -> ParseOptions {
        ParseOptions {
            base_dir: base_dir.into(),
            home: None,
            globals: Globals::cppnix(),
        }
    }

    /// Sets the home directory used for `~/` paths.
    pub fn with_home(mut self, home: impl Into<String>) -> ParseOptions {
        self.home = Some(home.into());
        self
    }

    /// Sets the global names (e.g. an evaluator with extra builtins).
    pub fn with_globals(mut self, globals: Arc<Globals>) -> ParseOptions {
        self.globals = globals;
        self
    }
}

/// The result of parsing: the lossless syntax tree, the lowered expression and
/// every error found. The expression is only meaningful when there are no errors.
#[derive(Clone)]
pub struct Parse {
    green: lower::KeptGreen,
    /// The source text. The tree is lossless, so unless the text had to be
    /// kept (see `lower::parse`) it is only rebuilt from the tree when asked
    /// for: the evaluator keeps its own copy and never asks.
    text: OnceLock<Arc<str>>,
    ast: ast::Ast,
    root: ast::ExprId,
    errors: Vec<ParseError>,
    lints: Vec<LintWarning>,
}

impl Parse {
    /// The lowered tree (contains [`ast::ExprKind::Error`] nodes when there
    /// were errors).
    pub fn ast(&self) -> &ast::Ast {
        &self.ast
    }

    /// The whole expression, in [`Parse::ast`].
    pub fn root(&self) -> ast::ExprId {
        self.root
    }

    /// Errors in source order; the first is the one CppNix reports.
    pub fn errors(&self) -> &[ParseError] {
        &self.errors
    }

    /// Path and URL literals that `--lint-*` options may warn about.
    pub fn lints(&self) -> &[LintWarning] {
        &self.lints
    }

    /// The source text that was parsed.
    pub fn text(&self) -> &Arc<str> {
        self.text
            .get_or_init(|| lower::tree_text(&self.green.node).into())
    }

    /// The parsed text as a [`SourceFile`] under `name`, for locating spans.
    pub fn source(&self, name: SourceName) -> SourceFile {
        SourceFile::new(name, self.text().clone())
    }

    /// A debug dump of the lossless syntax tree.
    pub fn debug_tree(&self) -> String {
        format!("{:#?}", rnix::SyntaxNode::new_root(self.green.node.clone()))
    }

    /// The expression printed as `nix-instantiate --parse` prints it.
    pub fn to_cppnix_string(&self) -> String {
        print::show(&self.ast, self.root)
    }
}

/// Parses Nix source text. Never panics; see [`Parse::errors`].
pub fn parse(text: &str, options: &ParseOptions) -> Parse {
    lower::parse(text, options)
}

/// Parses bytes that may not be valid UTF-8: invalid bytes are kept as
/// escape characters ([`decode_bytes`]); inside string literals they become
/// part of the string, elsewhere they are invalid tokens, as in CppNix.
pub fn parse_bytes(bytes: &[u8], options: &ParseOptions) -> Parse {
    parse(&decode_bytes(bytes), options)
}

/// Prints the expression `expr` of `ast` as `nix-instantiate --parse` prints it.
pub fn show_expr(ast: &ast::Ast, expr: ast::ExprId) -> String {
    print::show(ast, expr)
}
