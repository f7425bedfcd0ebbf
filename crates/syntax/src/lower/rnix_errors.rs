//! Translation of rnix's parse errors into CppNix's wording and positions.

use rnix::{ParseError as RnixError, SyntaxKind, SyntaxKind::*, SyntaxNode, TextRange};

use crate::ast::Span;
use crate::error::{ParseError, ParseErrorKind};

/// How bison names a token in `unexpected X` / `expecting Y`.
fn describe(kind: SyntaxKind, text: &str) -> String {
    let quoted = |s: &str| format!("'{s}'");
    match kind {
        TOKEN_IDENT if text == "or" => quoted("or"),
        TOKEN_IDENT => "identifier".into(),
        TOKEN_INTEGER => "integer".into(),
        TOKEN_FLOAT => "floating-point literal".into(),
        TOKEN_PATH_ABS | TOKEN_PATH_REL => "path".into(),
        TOKEN_PATH_HOME => "'~/…' path".into(),
        TOKEN_PATH_SEARCH => "'<…>' path".into(),
        TOKEN_URI => "URI".into(),
        TOKEN_STRING_START | TOKEN_STRING_END if text == "''" => {
            if kind == TOKEN_STRING_START {
                "start of an indented string".into()
            } else {
                "end of an indented string".into()
            }
        }
        TOKEN_STRING_START | TOKEN_STRING_END => quoted("\""),
        TOKEN_STRING_CONTENT => "string".into(),
        TOKEN_ERROR => "invalid token".into(),
        TOKEN_CUR_POS => quoted("__curPos"),
        _ if !text.is_empty() => quoted(text),
        _ => "invalid token".into(),
    }
}

/// How bison names a token kind that was expected (no text available).
fn describe_kind(kind: SyntaxKind) -> Option<String> {
    let q = |s: &str| Some(format!("'{s}'"));
    match kind {
        TOKEN_IDENT => Some("identifier".into()),
        TOKEN_STRING_START | TOKEN_STRING_END => q("\""),
        TOKEN_INTERPOL_START => q("${"),
        TOKEN_THEN => q("then"),
        TOKEN_ELSE => q("else"),
        TOKEN_IN => q("in"),
        TOKEN_SEMICOLON => q(";"),
        TOKEN_COLON => q(":"),
        TOKEN_ASSIGN => q("="),
        TOKEN_R_BRACE => q("}"),
        TOKEN_R_BRACK => q("]"),
        TOKEN_R_PAREN => q(")"),
        TOKEN_COMMA => q(","),
        TOKEN_DOT => q("."),
        TOKEN_INHERIT => q("inherit"),
        _ => None,
    }
}

fn span_of(r: TextRange) -> Span {
    Span::new(r.start().into(), r.start().into())
}

/// The first non-trivia token at or after `offset`.
fn token_at(root: &SyntaxNode, range: TextRange) -> Option<(SyntaxKind, String, TextRange)> {
    let mut tok = root.token_at_offset(range.start()).right_biased()?;
    loop {
        if !matches!(tok.kind(), TOKEN_WHITESPACE | TOKEN_COMMENT) {
            return Some((tok.kind(), tok.text().to_owned(), tok.text_range()));
        }
        tok = tok.next_token()?;
    }
}

/// The token before `offset`, skipping trivia.
fn token_before(root: &SyntaxNode, range: TextRange) -> Option<SyntaxKind> {
    let mut tok = root.token_at_offset(range.start()).left_biased()?;
    if tok.text_range().start() >= range.start() {
        tok = tok.prev_token()?;
    }
    loop {
        if !matches!(tok.kind(), TOKEN_WHITESPACE | TOKEN_COMMENT) {
            return Some(tok.kind());
        }
        tok = tok.prev_token()?;
    }
}

/// What bison would list as expected, for the contexts where rnix's own list
/// differs from bison's; `parent` is the kind of node holding the bad token.
fn expected_after(
    prev: Option<SyntaxKind>,
    parent: Option<SyntaxKind>,
    wanted: &[SyntaxKind],
) -> Vec<String> {
    let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect();
    // After `.` in an attribute path bison lists exactly these.
    if prev == Some(TOKEN_DOT) || prev == Some(TOKEN_QUESTION) {
        return names(&["identifier", "'or'", "'${'", "'\"'"]);
    }
    match (wanted, parent) {
        ([TOKEN_ASSIGN], _) => return names(&["'.'", "'='"]),
        ([TOKEN_R_BRACE], Some(NODE_PATTERN)) => return names(&["'}'", "','"]),
        (_, Some(NODE_ATTR_SET | NODE_LET_IN | NODE_LEGACY_LET | NODE_ATTRPATH))
            if matches!(
                prev,
                Some(TOKEN_L_BRACE | TOKEN_SEMICOLON | TOKEN_LET | TOKEN_REC)
            ) =>
        {
            return names(&["'inherit'"]);
        }
        _ => {}
    }
    if wanted.len() == 1 {
        return describe_kind(wanted[0]).into_iter().collect();
    }
    Vec::new()
}

/// The kind of the nearest non-error node above the token starting at `range`.
fn parent_kind(root: &SyntaxNode, range: TextRange) -> Option<SyntaxKind> {
    let tok = root.token_at_offset(range.start()).right_biased()?;
    tok.parent_ancestors()
        .map(|n| n.kind())
        .find(|k| *k != NODE_ERROR)
}

pub(crate) fn convert(errors: &[RnixError], text: &str, root: &SyntaxNode) -> Vec<ParseError> {
    let eof = Span::new(text.len() as u32, text.len() as u32);
    // An unterminated string runs to the end of the file: that is the first
    // thing CppNix's lexer trips over.
    let unterminated = errors.iter().any(
        |e| matches!(e, RnixError::UnexpectedEOFWanted(w) if w.as_ref() == [TOKEN_STRING_END]),
    );
    if unterminated {
        return vec![eof_error(eof, vec!["'\"'".into()])];
    }
    let mut out = Vec::new();
    for e in errors {
        // Invalid tokens CppNix words specially take precedence.
        let range = match e {
            RnixError::Unexpected(r)
            | RnixError::UnexpectedExtra(r)
            | RnixError::UnexpectedDoubleBind(r)
            | RnixError::UnexpectedWanted(_, r, _) => Some(*r),
            _ => None,
        };
        let special = range
            .and_then(|r| token_at(root, r))
            .and_then(|(kind, t, tr)| {
                if kind == TOKEN_ERROR {
                    bad_token(&t, tr)
                } else {
                    None
                }
            });
        if let Some(err) = special {
            out.push(err);
            continue;
        }
        let err = match e {
            RnixError::Unexpected(r)
            | RnixError::UnexpectedExtra(r)
            | RnixError::UnexpectedDoubleBind(r) => {
                let extra = matches!(e, RnixError::UnexpectedExtra(_));
                match token_at(root, *r) {
                    Some((kind, t, tr)) => ParseError {
                        kind: ParseErrorKind::Syntax {
                            found: describe(kind, &t),
                            expected: if extra {
                                vec!["end of file".into()]
                            } else {
                                Vec::new()
                            },
                        },
                        span: span_of(tr),
                    },
                    None => eof_error(eof, Vec::new()),
                }
            }
            RnixError::UnexpectedWanted(_, r, wanted) => match token_at(root, *r) {
                Some((kind, t, tr)) => {
                    let expected =
                        expected_after(token_before(root, tr), parent_kind(root, tr), wanted);
                    ParseError {
                        kind: ParseErrorKind::Syntax {
                            found: describe(kind, &t),
                            expected,
                        },
                        span: span_of(tr),
                    }
                }
                None => eof_error(eof, Vec::new()),
            },
            RnixError::UnexpectedEOF => eof_error(eof, Vec::new()),
            RnixError::UnexpectedEOFWanted(wanted) => {
                let expected = if wanted.len() == 1 {
                    describe_kind(wanted[0]).into_iter().collect()
                } else {
                    Vec::new()
                };
                eof_error(eof, expected)
            }
            // Reported by the lowering, with CppNix's position.
            RnixError::DuplicatedArgs(..) => continue,
            RnixError::RecursionLimitExceeded => ParseError {
                kind: ParseErrorKind::TooDeep,
                span: eof,
            },
            _ => ParseError {
                kind: ParseErrorKind::Syntax {
                    found: "invalid token".into(),
                    expected: Vec::new(),
                },
                span: eof,
            },
        };
        out.push(err);
    }
    // Bison stops at the first error; keep the earliest, then the rest.
    out.sort_by_key(|e| e.span.start);
    out.dedup_by_key(|e| e.span.start);
    out
}

/// Invalid tokens CppNix reports in its own words.
fn bad_token(text: &str, range: TextRange) -> Option<ParseError> {
    if text.len() > 1 && text.ends_with('/') && !text.starts_with("/*") {
        let end: u32 = range.end().into();
        return Some(ParseError {
            kind: ParseErrorKind::PathTrailingSlash,
            span: Span::new(end, end),
        });
    }
    if text.starts_with("/*") {
        // An unterminated comment: CppNix lexes `/` and then trips on `*`.
        let at = u32::from(range.start()) + 1;
        let kind = ParseErrorKind::Syntax {
            found: "'*'".into(),
            expected: Vec::new(),
        };
        return Some(ParseError {
            kind,
            span: Span::new(at, at),
        });
    }
    None
}

fn eof_error(span: Span, expected: Vec<String>) -> ParseError {
    ParseError {
        kind: ParseErrorKind::Syntax {
            found: "end of file".into(),
            expected,
        },
        span,
    }
}
