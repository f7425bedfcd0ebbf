//! Parse errors (with CppNix's wording) and lint findings.

use crate::ast::Span;
use crate::diagnostic::SourceFile;

/// An error found while parsing, with the span CppNix reports it at.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct ParseError {
    /// What went wrong.
    pub kind: ParseErrorKind,
    /// Where (CppNix reports `span.start`).
    pub span: Span,
}

/// The kinds of parse error, worded as CppNix words them.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ParseErrorKind {
    /// A grammar error: `unexpected X[, expecting Y]`.
    #[error("syntax error, unexpected {found}{}", expecting_suffix(.expected))]
    Syntax {
        /// Description of the token found (`'&&'`, `end of file`, `integer`, ...).
        found: String,
        /// Descriptions of acceptable tokens, if known.
        expected: Vec<String>,
    },
    /// `attribute 'a.b' already defined at file:line:col` (the file name is
    /// added by [`ParseError::render`]).
    #[error("attribute '{path}' already defined at {line}:{col}")]
    DuplicateAttr {
        /// The dotted attribute path.
        path: String,
        /// Line of the first definition.
        line: u32,
        /// Column of the first definition.
        col: u32,
    },
    /// A formal argument given twice (or equal to the `@` name).
    #[error("duplicate formal function argument '{0}'")]
    DuplicateFormal(String),
    /// A variable bound nowhere (and no enclosing `with`).
    #[error("undefined variable '{0}'")]
    UndefinedVariable(String),
    /// `inherit ${x};`
    #[error("dynamic attributes not allowed in inherit")]
    DynamicInInherit,
    /// `let ${x} = ...;`
    #[error("dynamic attributes not allowed in let")]
    DynamicInLet,
    /// An integer literal out of range.
    #[error("invalid integer '{0}'")]
    InvalidInteger(String),
    /// A float literal that cannot be parsed.
    #[error("invalid float '{0}'")]
    InvalidFloat(String),
    /// `~/path` when no home directory is known.
    #[error("the path '{0}' can not be resolved in pure mode")]
    HomePathInPureMode(String),
    /// A construct CppNix hides behind an experimental feature.
    #[error("experimental Nix feature '{0}' is disabled; add '--extra-experimental-features {0}' to enable it")]
    ExperimentalFeature(String),
    /// A string literal containing a NUL byte (shown as `␀`).
    #[error(
        "input string '{0}' cannot be represented as Nix string because it contains null bytes"
    )]
    NulInString(String),
    /// A path literal ending in `/`.
    #[error("path has a trailing slash")]
    PathTrailingSlash,
    /// A run of path-like characters too long to tokenize in linear time.
    #[error("token too long: more than 16384 path or URI characters without a separator")]
    TokenRunTooLong,
    /// The input nests deeper than the parser allows.
    #[error("expression nested too deeply")]
    TooDeep,
    /// The lowered tree would have more than `u32::MAX` entries of a kind
    /// (only possible for inputs of gigabytes).
    #[error("expression too large")]
    TooLarge,
}

fn expecting_suffix(expected: &[String]) -> String {
    if expected.is_empty() {
        String::new()
    } else {
        format!(", expecting {}", expected.join(" or "))
    }
}

impl ParseError {
    /// Renders the error as `nix-instantiate --parse` prints it: the
    /// `error:` line, then the location and code frame.
    pub fn render(&self, file: &SourceFile) -> String {
        let kind_text = match &self.kind {
            ParseErrorKind::DuplicateAttr { path, line, col } => {
                format!(
                    "attribute '{path}' already defined at {}:{line}:{col}",
                    file.name()
                )
            }
            other => other.to_string(),
        };
        // Continuation lines of a message are indented under "error: ".
        let mut out = format!("error: {}\n", kind_text.replace('\n', "\n       "));
        file.write_location(&mut out, 7, self.span.start);
        out.push('\n');
        out
    }
}

/// Kinds of literal the `--lint-*` options can warn about or reject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LintKind {
    /// An absolute path literal such as `/etc/hosts`.
    AbsolutePath,
    /// A relative path literal that does not start with `./` or `../`, e.g. `a/b`.
    ShortPath,
    /// An unquoted URL literal.
    Url,
    /// `or` used as an identifier argument in a position whose meaning will
    /// change when `or` becomes an ordinary identifier, e.g. `[ (x: x) or ]`
    /// (CppNix always warns). The literal is the source text of the call
    /// `f or`; the span starts at `f`.
    CursedOr,
}

/// One literal that a lint option may act on.
#[derive(Clone, Debug, PartialEq)]
pub struct LintWarning {
    /// Which lint.
    pub kind: LintKind,
    /// The literal as written.
    pub literal: String,
    /// Where it is.
    pub span: Span,
}
