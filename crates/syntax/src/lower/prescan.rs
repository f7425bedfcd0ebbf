//! The linear prescan that rejects hostile input (nesting that would
//! exhaust the stack, token runs that would take quadratic time) before rnix
//! sees it.

use crate::error::{ParseError, ParseErrorKind};

use super::{span_at, MAX_DEPTH};

/// Deepest bracket nesting accepted (rnix recurses once per level, growing
/// its stack as needed). CppNix's parser takes 9,995 nested parentheses,
/// fewer of anything else.
const MAX_NESTING: usize = 10_000;
/// Longest run of prefix operators (`-`, `!`), which rnix parses recursively
/// and which nest one tree level each.
const MAX_PREFIX_RUN: usize = 10_000;
/// Most terms (words, literals, operators) in one expression at one
/// nesting level: an operator or application chain nests one tree level per
/// term in rnix's syntax tree. Terms of flat constructs are not counted:
/// list elements, the names of an `inherit`, formals (a `,` ends a term
/// count like `;`).
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
    // (`,`, which URIs may contain, is left out: it separates formals.)
    let extra = b"/_.+-%?:@&=$!~";
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
///
/// Most input is shown harmless by [`within_counts`] (byte counts over the
/// whole text, in branch-free passes), the rest mostly by
/// [`certainly_safe`], which jumps from one byte that changes the lexical
/// state to the next with a bit mask per 64-byte block; the exact scan
/// (which finds the offending place) runs only when neither can tell.
pub(crate) fn prescan(text: &str) -> Option<ParseError> {
    let b = text.as_bytes();
    // Every limit takes more bytes than this to exceed.
    if b.len() <= MAX_NESTING.min(MAX_PREFIX_RUN) || within_counts(b) || certainly_safe(b) {
        return None;
    }
    exact(b)
}

/// [`PATHLIKE`] as comparisons (the same set: a test checks it), so that
/// loops over it vectorise.
#[inline(always)]
fn is_pathlike(x: u8) -> bool {
    // Letters (bit 5 folds the cases); `$%&`; `+`; `-./`, digits and `:`;
    // `?@`; and single bytes.
    ((x | 0x20).wrapping_sub(b'a') < 26)
        | (x.wrapping_sub(b'$') < 3)
        | (x == b'+')
        | (x.wrapping_sub(b'-') < 14)
        | (x.wrapping_sub(b'?') < 2)
        | (x == b'=')
        | (x == b'_')
        | (x == b'!')
        | (x == b'~')
}

/// Whether counts over all the bytes, strings and comments included, keep
/// every limit, so that [`exact`] certainly finds nothing (most files: a
/// few branch-free passes instead of a scan that follows the lexer).
///
/// Each count bounds what [`exact`] counts in code: it pushes one level per
/// `(`, `[`, `{` (`${` included); a prefix run counts `-` and `!` bytes; a
/// term is a path-like run, which is a maximal run of the whole text (code
/// is entered and left only at bytes that are not path-like, or after a
/// `*/` whose run holds no other term), or one of `<>|*`; and a path-like
/// run over 16 KiB would cover a whole aligned 8 KiB chunk.
fn within_counts(b: &[u8]) -> bool {
    // Counted 255 bytes at a time in bytes, a shape that vectorises.
    fn count(b: &[u8], f: impl Fn(u8) -> bool) -> usize {
        b.chunks(255)
            .map(|c| usize::from(c.iter().fold(0u8, |a, &x| a.wrapping_add(u8::from(f(x))))))
            .sum()
    }
    if count(b, |x| matches!(x, b'(' | b'[' | b'{')) > MAX_NESTING
        || count(b, |x| matches!(x, b'-' | b'!')) > MAX_PREFIX_RUN
    {
        return false;
    }
    // A level's terms are fewer than its bytes.
    if b.len() <= MAX_TERMS.min(MAX_PATHLIKE_RUN) {
        return true;
    }
    // Path-like runs: each path-like byte after one that is not (or at the
    // start). The classes of a chunk go to a buffer first, one vector pass.
    let mut runs = 0usize;
    let mut flags = [0u8; 256];
    for c in b.chunks(255) {
        // `flags[0]`: the class of the byte before the chunk (the previous
        // chunk was full; before the first, zero).
        flags[0] = flags[255];
        for (f, &x) in flags[1..].iter_mut().zip(c) {
            *f = u8::from(is_pathlike(x));
        }
        let starts = flags[1..=c.len()]
            .iter()
            .zip(&flags[..c.len()])
            .fold(0u8, |a, (&x, &q)| a.wrapping_add(x & !q & 1));
        runs += usize::from(starts);
    }
    let ops = count(b, |x| matches!(x, b'<' | b'>' | b'|' | b'*'));
    runs + ops <= MAX_TERMS
        && (b.len() <= MAX_PATHLIKE_RUN
            || b.chunks_exact(MAX_PATHLIKE_RUN / 2)
                .all(|c| c.iter().any(|&x| !is_pathlike(x))))
}

/// Whether the quick scan stops at `x` in code: bytes that change the
/// lexical state (`"`, `'`, `#`, and `*` of `/*`), brackets, and `;` (which
/// ends a run of terms). None of them can be part of a path-like run.
/// Written as comparisons (not a table) so that [`stop_mask`] vectorises.
#[inline(always)]
fn is_stop(x: u8) -> bool {
    // `[` `{` and `]` `}` differ only in bit 5; `'()*` and `"#` are ranges.
    ((x | 0x20) == b'{')
        | ((x | 0x20) == b'}')
        | (x.wrapping_sub(b'\'') < 4)
        | (x.wrapping_sub(b'"') < 2)
        | (x == b';')
}

/// Bit `k` set when `block[k]` [`is_stop`]. The comparisons fill a byte
/// array first, a shape the compiler turns into vector compares.
fn stop_mask(block: &[u8; 64]) -> u64 {
    let mut flags = [0u8; 64];
    for (f, &x) in flags.iter_mut().zip(block) {
        *f = u8::from(is_stop(x));
    }
    let mut mask = 0;
    for (k, w) in flags.chunks_exact(8).enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        // Eight 0/1 bytes to eight bits: the multiplication gathers byte
        // `j`'s bit at bit 56 + j.
        mask |= (u64::from_le_bytes(word).wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * k);
    }
    mask
}

/// The stop bytes of the text, 64-byte block by block (aligned to the
/// start), the current block's as a bit mask: the scan then jumps from stop
/// to stop without a branch per byte.
struct Stops {
    base: usize,
    mask: u64,
}

impl Stops {
    /// The first stop byte at or after `i`, or the text's length.
    fn next(&mut self, b: &[u8], mut i: usize) -> usize {
        loop {
            let base = i & !63;
            if base != self.base {
                let Some(rest) = b.get(base..) else {
                    return b.len();
                };
                if rest.is_empty() {
                    return b.len();
                }
                let mut block = [0u8; 64];
                let len = rest.len().min(64);
                block[..len].copy_from_slice(&rest[..len]);
                self.base = base;
                self.mask = stop_mask(&block);
            }
            let m = self.mask & (u64::MAX << (i - base));
            if m != 0 {
                return base + m.trailing_zeros() as usize;
            }
            i = base + 64;
        }
    }
}

/// An open bracket or interpolation in [`certainly_safe`]: the mode to
/// return to, and the enclosing level's state when it opened.
struct Level {
    back: Mode,
    /// Where the enclosing level's current run of terms started.
    seg_start: usize,
    /// Bytes of that run inside brackets already closed.
    nested: usize,
    /// Where this bracket opened.
    open_at: usize,
}

/// Whether [`exact`] certainly finds nothing. Tracks the lexical state and
/// the nesting exactly as it does, and bounds the rest from above: a
/// prefix-operator run and a path-like run lie within one stretch of code
/// without [`is_stop`] bytes, and the terms of a level between two `;` are
/// fewer than its own bytes there (not counting nested brackets).
fn certainly_safe(b: &[u8]) -> bool {
    let n = b.len();
    let mut stack: Vec<Level> = Vec::new();
    let mut seg_start = 0usize;
    let mut nested = 0usize;
    let mut mode = Mode::Code;
    let mut stops = Stops {
        base: usize::MAX,
        mask: 0,
    };
    let mut i = 0;
    while i < n {
        // `${` inside a string opens an interpolation (escaped forms were
        // consumed with their escape).
        if mode != Mode::Code && b[i] == b'$' && b.get(i + 1) == Some(&b'{') {
            stack.push(Level {
                back: mode,
                seg_start,
                nested,
                open_at: i,
            });
            if stack.len() > MAX_NESTING {
                return false;
            }
            seg_start = i + 2;
            nested = 0;
            mode = Mode::Code;
            i += 2;
            continue;
        }
        match mode {
            Mode::Code => {
                let start = i;
                i = stops.next(b, i);
                if i - start > MAX_PREFIX_RUN {
                    return false;
                }
                let Some(&c) = b.get(i) else { break };
                match c {
                    b'"' => mode = Mode::Dq,
                    b'\'' if b.get(i + 1) == Some(&b'\'') => {
                        mode = Mode::Ind;
                        i += 1;
                    }
                    b'#' => {
                        i += memchr::memchr(b'\n', &b[i..]).unwrap_or(n - i);
                        continue;
                    }
                    // `/*` right after a path-like run (the `/` ends it).
                    b'*' if i > start && b[i - 1] == b'/' => {
                        i = skip_block_comment(b, i - 1);
                        continue;
                    }
                    b';' => {
                        if (i - seg_start).saturating_sub(nested) > MAX_TERMS {
                            return false;
                        }
                        seg_start = i + 1;
                        nested = 0;
                    }
                    b'(' | b'[' | b'{' => {
                        stack.push(Level {
                            back: Mode::Code,
                            seg_start,
                            nested,
                            open_at: i,
                        });
                        if stack.len() > MAX_NESTING {
                            return false;
                        }
                        seg_start = i + 1;
                        nested = 0;
                    }
                    b')' | b']' | b'}' => {
                        if let Some(level) = stack.pop() {
                            if (i - seg_start).saturating_sub(nested) > MAX_TERMS {
                                return false;
                            }
                            mode = level.back;
                            seg_start = level.seg_start;
                            nested = level.nested + (i + 1 - level.open_at);
                        }
                    }
                    _ => {}
                }
            }
            Mode::Dq | Mode::Ind => {
                (i, mode) = string_step(b, i, mode);
                continue;
            }
        }
        i += 1;
    }
    // The levels still open at the end: the innermost runs to the end, each
    // enclosing one up to where the next opened.
    let innermost = n.saturating_sub(seg_start).saturating_sub(nested) <= MAX_TERMS;
    innermost
        && stack.iter().all(|l| {
            l.open_at
                .saturating_sub(l.seg_start)
                .saturating_sub(l.nested)
                <= MAX_TERMS
        })
}

/// The scan proper: the first limit exceeded, and where.
///
/// The state of the innermost bracket (its term count, whether it is a
/// list) is kept in locals and saved on the stack only when a bracket opens.
fn exact(b: &[u8]) -> Option<ParseError> {
    // Each open bracket or interpolation: the byte that opened it, the mode
    // to return to, and the enclosing level's term count and whether it was
    // in an `inherit`.
    let mut stack: Vec<(u8, Mode, usize, bool)> = Vec::new();
    // Terms at the current level, whether it is a list, and whether it is
    // in the names of an `inherit` (up to the next `;`).
    let mut terms = 0usize;
    let mut in_list = false;
    let mut in_inherit = false;
    let mut mode = Mode::Code;
    let mut prefix = 0usize;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        // `${` inside a string opens an interpolation: a nesting level.
        // (Escaped forms, `\${` and `''${`, were consumed with their escape.)
        if mode != Mode::Code && c == b'$' && b.get(i + 1) == Some(&b'{') {
            stack.push((b'$', mode, terms, in_inherit));
            if stack.len() > MAX_NESTING {
                return Some(too_deep(i));
            }
            terms = 0;
            in_list = false;
            in_inherit = false;
            mode = Mode::Code;
            i += 2;
            continue;
        }
        match mode {
            Mode::Code => {
                if PATHLIKE[c as usize] {
                    let start = i;
                    i += 1;
                    while i < b.len() && PATHLIKE[b[i] as usize] {
                        i += 1;
                    }
                    let run = &b[start..i];
                    if run.len() > MAX_PATHLIKE_RUN {
                        return Some(ParseError {
                            kind: ParseErrorKind::TokenRunTooLong,
                            span: span_at(start),
                        });
                    }
                    if matches!(c, b'-' | b'!') && run.iter().all(|&x| x == b'-' || x == b'!') {
                        prefix += run.len();
                        if prefix > MAX_PREFIX_RUN {
                            return Some(too_deep(start));
                        }
                    } else {
                        prefix = 0;
                    }
                    if !in_list && !in_inherit {
                        terms += 1;
                        if terms > MAX_TERMS {
                            return Some(too_deep(start));
                        }
                        in_inherit = run == b"inherit";
                    }
                    // A comment may start right after the run: `a/* ... */`.
                    if b.get(i) == Some(&b'*') && b[i - 1] == b'/' {
                        i = skip_block_comment(b, i - 1);
                    }
                    continue;
                }
                match c {
                    // White space (indentation) in one tight loop.
                    b' ' | b'\t' | b'\n' | b'\r' => {
                        i += 1;
                        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
                            i += 1;
                        }
                        continue;
                    }
                    b'#' => {
                        prefix = 0;
                        i += memchr::memchr(b'\n', &b[i..]).unwrap_or(b.len() - i);
                        continue;
                    }
                    b'"' => mode = Mode::Dq,
                    b'\'' if b.get(i + 1) == Some(&b'\'') => {
                        mode = Mode::Ind;
                        i += 1;
                    }
                    b';' | b',' => {
                        terms = 0;
                        in_inherit = false;
                    }
                    b'<' | b'>' | b'|' | b'*' if !in_list && !in_inherit => {
                        terms += 1;
                        if terms > MAX_TERMS {
                            return Some(too_deep(i));
                        }
                    }
                    b'(' | b'[' | b'{' => {
                        stack.push((c, Mode::Code, terms, in_inherit));
                        if stack.len() > MAX_NESTING {
                            return Some(too_deep(i));
                        }
                        terms = 0;
                        in_list = c == b'[';
                        in_inherit = false;
                    }
                    b')' | b']' | b'}' => {
                        if let Some((_, back, outer, inherit)) = stack.pop() {
                            mode = back;
                            terms = outer;
                            in_inherit = inherit;
                            in_list = stack.last().is_some_and(|&(open, ..)| open == b'[');
                        }
                    }
                    _ => {}
                }
                prefix = 0;
            }
            Mode::Dq | Mode::Ind => {
                (i, mode) = string_step(b, i, mode);
                continue;
            }
        }
        i += 1;
    }
    None
}

/// One step inside a string (`mode` is `Dq` or `Ind`) at a byte that does
/// not open an interpolation: the next index to look at and the mode there.
/// Escapes are skipped with what they escape, ordinary bytes in one go.
fn string_step(b: &[u8], i: usize, mode: Mode) -> (usize, Mode) {
    let rest =
        |from: usize, found: Option<usize>| from + found.unwrap_or(b.len().saturating_sub(from));
    match (mode, b[i]) {
        (Mode::Dq, b'\\') => (i + 2, mode),
        (Mode::Dq, b'"') => (i + 1, Mode::Code),
        (Mode::Dq, _) => (
            rest(
                i + 1,
                memchr::memchr3(b'\\', b'"', b'$', b.get(i + 1..).unwrap_or(&[])),
            ),
            mode,
        ),
        (_, b'\'') if b.get(i + 1) == Some(&b'\'') => match b.get(i + 2) {
            Some(b'$') | Some(b'\'') => (i + 3, mode),
            Some(b'\\') => (i + 4, mode),
            _ => (i + 2, Mode::Code),
        },
        (_, _) => (
            rest(
                i + 1,
                memchr::memchr2(b'\'', b'$', b.get(i + 1..).unwrap_or(&[])),
            ),
            mode,
        ),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Code,
    Dq,
    Ind,
}

/// The offset just past the `*/` closing the comment opened at `at`.
pub(super) fn skip_block_comment(b: &[u8], at: usize) -> usize {
    match memchr::memmem::find(b.get(at + 2..).unwrap_or(&[]), b"*/") {
        Some(p) => at + 2 + p + 2,
        None => b.len(),
    }
}

pub(super) fn too_deep(at: usize) -> ParseError {
    ParseError {
        kind: ParseErrorKind::TooDeep,
        span: span_at(at),
    }
}

#[cfg(test)]
#[path = "prescan_tests.rs"]
mod tests;
