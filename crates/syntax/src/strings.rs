//! String literal lexing with CppNix's exact rules: escapes, `$$` quirks,
//! CR/LF normalisation, and the indentation stripping of `''` strings.
//!
//! rnix gives us the string's extent and its interpolations; the literal text
//! between them is re-lexed here so the result is byte-for-byte what CppNix's
//! flex lexer produces (including the token granularity, which the printed
//! form of indented strings depends on).

/// One piece of a lexed string.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Piece {
    /// Literal text starting at the given absolute offset. `indent` is true
    /// for plain indented-string text, which takes part in indentation stripping.
    Lit {
        text: String,
        start: u32,
        indent: bool,
    },
    /// The interpolation whose `${` starts at this absolute offset.
    Interp(u32),
}

/// Where interpolations are, as (start of `${`, end after `}`), absolute.
pub(crate) type InterpRanges<'a> = &'a [(u32, u32)];

fn is_interp(interps: InterpRanges<'_>, at: u32) -> Option<u32> {
    interps.iter().find(|(s, _)| *s == at).map(|(_, e)| *e)
}

/// Appends the unescaped form of one escape sequence's character.
fn push_escaped(out: &mut String, c: char) {
    match c {
        'n' => out.push('\n'),
        'r' => out.push('\r'),
        't' => out.push('\t'),
        c => out.push(c),
    }
}

/// Lexes the body of a `"..."` string (`raw` starts at absolute `base`).
/// Returns `None` when an interpolation CppNix would see is missing from rnix's tree.
pub(crate) fn lex_double_quoted(
    raw: &str,
    base: u32,
    interps: InterpRanges<'_>,
) -> Option<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut cur = String::new();
    let mut cur_start = base;
    let bytes = raw.as_bytes();
    let mut chars = raw.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let abs = base + i as u32;
        if cur.is_empty() {
            cur_start = abs;
        }
        match c {
            '\\' => {
                if let Some((_, e)) = chars.next() {
                    push_escaped(&mut cur, e);
                }
            }
            '$' if bytes.get(i + 1) == Some(&b'{') => {
                let end = is_interp(interps, abs)?;
                if !cur.is_empty() {
                    pieces.push(Piece::Lit {
                        text: std::mem::take(&mut cur),
                        start: cur_start,
                        indent: false,
                    });
                }
                pieces.push(Piece::Interp(abs));
                // Skip to the end of the interpolation.
                while chars.peek().is_some_and(|(j, _)| base + (*j as u32) < end) {
                    chars.next();
                }
            }
            '$' => {
                cur.push('$');
                // `$x` is one unit: the next char is literal (or an escape).
                match chars.peek().copied() {
                    Some((_, '\\')) => {
                        chars.next();
                        if let Some((_, e)) = chars.next() {
                            push_escaped(&mut cur, e);
                        }
                    }
                    Some((_, '\r')) => {
                        chars.next();
                        cur.push('\n');
                        if chars.peek().map(|(_, c)| *c) == Some('\n') {
                            chars.next();
                        }
                    }
                    Some((_, n)) => {
                        chars.next();
                        cur.push(n);
                    }
                    None => {}
                }
            }
            '\r' => {
                cur.push('\n');
                if chars.peek().map(|(_, c)| *c) == Some('\n') {
                    chars.next();
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        pieces.push(Piece::Lit {
            text: cur,
            start: cur_start,
            indent: false,
        });
    }
    Some(pieces)
}

/// Lexes the body of a `''...''` string into CppNix's token sequence.
pub(crate) fn lex_indented(raw: &str, base: u32, interps: InterpRanges<'_>) -> Option<Vec<Piece>> {
    let b = raw.as_bytes();
    let mut pieces = Vec::new();
    let mut i = 0usize;
    while i < b.len() {
        let abs = base + i as u32;
        // Length of the main rule's match at i.
        let mut j = i;
        loop {
            match b.get(j) {
                None => break,
                Some(b'$') => match b.get(j + 1) {
                    Some(b'{') | Some(b'\'') | None => break,
                    Some(_) => j += 2,
                },
                Some(b'\'') => match b.get(j + 1) {
                    Some(b'\'') | Some(b'$') | None => break,
                    Some(_) => j += 2,
                },
                Some(_) => j += 1,
            }
        }
        // Keep multi-byte characters whole.
        while j < b.len() && !raw.is_char_boundary(j) {
            j += 1;
        }
        let main_len = j - i;
        let rest = &raw[i..];
        // Special rules, with their match lengths.
        let special: Option<(usize, String)> = if rest.starts_with("''$") {
            Some((3, "$".into()))
        } else if rest.starts_with("'''") {
            Some((3, "''".into()))
        } else if let Some(after) = rest.strip_prefix("''\\") {
            let c = after.chars().next();
            c.map(|c| {
                let mut s = String::new();
                push_escaped(&mut s, c);
                (3 + c.len_utf8(), s)
            })
        } else if rest.starts_with("${") {
            None
        } else if rest.starts_with('$') {
            Some((1, "$".into()))
        } else if rest.starts_with('\'') && !rest.starts_with("''") {
            Some((1, "'".into()))
        } else {
            None
        };
        match special {
            Some((len, text)) if len > main_len => {
                pieces.push(Piece::Lit {
                    text,
                    start: abs,
                    indent: false,
                });
                i += len;
            }
            _ if main_len > 0 => {
                pieces.push(Piece::Lit {
                    text: raw[i..j].to_owned(),
                    start: abs,
                    indent: true,
                });
                i = j;
            }
            _ if rest.starts_with("${") => {
                let end = is_interp(interps, abs)?;
                pieces.push(Piece::Interp(abs));
                i = (end - base) as usize;
            }
            // `''` cannot occur inside the body: rnix would have ended the string.
            _ => return None,
        }
    }
    Some(pieces)
}

/// The outcome of indentation stripping: literal strings and interpolations.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Stripped {
    Lit(String, u32),
    Interp(u32),
}

/// CppNix's `stripIndentation` over lexed pieces.
pub(crate) fn strip_indentation(pieces: &[Piece]) -> Vec<Stripped> {
    // Minimum indentation; whitespace-only final lines are not counted.
    let mut at_start = true;
    let mut min_indent = usize::MAX;
    let mut cur_indent = 0usize;
    for p in pieces {
        match p {
            Piece::Lit {
                text, indent: true, ..
            } => {
                for c in text.bytes() {
                    if at_start {
                        if c == b' ' {
                            cur_indent += 1;
                        } else if c == b'\n' {
                            cur_indent = 0;
                        } else {
                            at_start = false;
                            min_indent = min_indent.min(cur_indent);
                        }
                    } else if c == b'\n' {
                        at_start = true;
                        cur_indent = 0;
                    }
                }
            }
            _ => {
                if at_start {
                    at_start = false;
                    min_indent = min_indent.min(cur_indent);
                }
            }
        }
    }
    if min_indent == usize::MAX {
        min_indent = 1_000_000;
    }

    let mut out = Vec::new();
    at_start = true;
    let mut dropped = 0usize;
    let n = pieces.len();
    for (idx, p) in pieces.iter().enumerate() {
        match p {
            Piece::Interp(at) => {
                at_start = false;
                dropped = 0;
                out.push(Stripped::Interp(*at));
            }
            Piece::Lit { text, start, .. } => {
                let mut s2 = String::with_capacity(text.len());
                for c in text.chars() {
                    if at_start {
                        if c == ' ' {
                            if dropped >= min_indent {
                                s2.push(c);
                            }
                            dropped += 1;
                        } else if c == '\n' {
                            dropped = 0;
                            s2.push(c);
                        } else {
                            at_start = false;
                            dropped = 0;
                            s2.push(c);
                        }
                    } else {
                        s2.push(c);
                        if c == '\n' {
                            at_start = true;
                        }
                    }
                }
                if idx + 1 == n {
                    // Remove the last line if it is empty and only spaces.
                    if let Some(p) = s2.rfind('\n') {
                        if s2[p + 1..].bytes().all(|c| c == b' ') {
                            s2.truncate(p + 1);
                        }
                    }
                }
                if !s2.is_empty() {
                    out.push(Stripped::Lit(s2, *start));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lits(p: &[Piece]) -> Vec<(String, bool)> {
        p.iter()
            .filter_map(|p| match p {
                Piece::Lit { text, indent, .. } => Some((text.clone(), *indent)),
                Piece::Interp(_) => None,
            })
            .collect()
    }

    #[test]
    fn double_quoted_escapes_and_dollars() {
        let p = lex_double_quoted(r"a\n\$\{$$b\r", 0, &[]).unwrap_or_default();
        assert_eq!(lits(&p), vec![("a\n${$$b\r".to_string(), false)]);
        let p = lex_double_quoted("x\r\ny\rz", 0, &[]).unwrap_or_default();
        assert_eq!(lits(&p), vec![("x\ny\nz".to_string(), false)]);
        // `$${` is literal in CppNix.
        let p = lex_double_quoted("$${x}", 0, &[]).unwrap_or_default();
        assert_eq!(lits(&p), vec![("$${x}".to_string(), false)]);
    }

    #[test]
    fn indented_tokens() {
        let p = lex_indented("a ''$ b '''c ''\\n $x", 0, &[]).unwrap_or_default();
        assert_eq!(
            lits(&p),
            vec![
                ("a ".to_string(), true),
                ("$".to_string(), false),
                (" b ".to_string(), true),
                ("''".to_string(), false),
                ("c ".to_string(), true),
                ("\n".to_string(), false),
                (" $x".to_string(), true),
            ]
        );
    }

    #[test]
    fn stripping() {
        let p = lex_indented("\n    foo\n      bar\n  ", 0, &[]).unwrap_or_default();
        assert_eq!(
            strip_indentation(&p),
            vec![Stripped::Lit("\nfoo\n  bar\n".into(), 0)]
        );
    }
}
