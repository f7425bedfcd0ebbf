//! The pattern syntax CppNix accepts, and its spelling for the C library.
//!
//! CppNix compiles patterns with libstdc++'s `std::regex::extended` (built
//! with strict ISO C++, so escaping an ordinary character is an error). This
//! module parses a pattern with that grammar, rejecting what it rejects, and
//! writes an equivalent pattern for glibc's `regcomp(REG_EXTENDED)` in the C
//! locale:
//!
//! - a backslash may only escape one of `.[\()*+?{|^$`; `\d`, `\w`, `\b`,
//!   `\}`, `\]`, `\/` and backreferences are errors;
//! - `^` and `$` are anchors anywhere and take no quantifier; a quantifier
//!   needs an atom before it (`*a`, `(*a)`, `a|*b`, `(?:a)` are errors), and
//!   quantifiers may follow one another (`a**`, `a+?`);
//! - `{` always opens an interval `{m}`, `{m,}` or `{m,n}` with `m <= n`;
//!   `}` and `]` alone are ordinary;
//! - in a bracket expression a backslash is ordinary, `]` first is
//!   ordinary, a `-` is ordinary first or last, a range's ends must be
//!   characters ordered as C's signed `char` (`[z-a]`, `[a-\xff]` and
//!   `[[:alpha:]-z]` are errors), a `-` after a range is an error, and class
//!   names are libstdc++'s (`alnum` … `xdigit` and `d`, `s`, `w`, in any
//!   case; `[[:word:]]` is an error). Collating symbols and equivalence
//!   classes name one character.
//!
//! The same pass also spells the pattern for `regex-automata` (`rust`:
//! bytes, `.` and bracket expressions as explicit byte sets) and notes
//! whether its groups are *plain* (no `|`, no quantified group, no
//! quantifier on a quantifier): then each group's text is the same under
//! POSIX's rules, libstdc++'s backtracking order and Rust's leftmost-first
//! order, every repeated piece being one byte wide.

use std::fmt::Write as _;

/// Why a pattern was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    /// Not a regular expression CppNix accepts.
    #[error("invalid regular expression")]
    Invalid,
    /// A repetition count beyond what the engine allows.
    #[error("regular expression too large")]
    TooLarge,
}

/// The largest repetition count (glibc's `RE_DUP_MAX`).
const MAX_REPEAT: u32 = 0x7fff;

/// The characters a backslash may escape outside brackets.
const ESCAPABLE: &[u8] = b".[\\()*+?{|^$";

/// A checked pattern in glibc's spelling, and its number of groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    /// The pattern for `regcomp`.
    pub pattern: Vec<u8>,
    /// Number of capture groups.
    pub groups: usize,
    /// The same pattern in `regex-syntax`'s spelling (with `(?s-u)` in
    /// effect: `\xHH` is a byte), with the same groups.
    pub rust: String,
    /// Whether the groups are plain (see the module's docs).
    pub plain: bool,
}

/// Checks `pattern` with CppNix's grammar and spells it for glibc.
pub fn translate(pattern: &[u8]) -> Result<Translated, SyntaxError> {
    let mut p = Parser {
        src: pattern,
        i: 0,
        out: Vec::with_capacity(pattern.len() + 8),
        groups: 0,
        rust: String::with_capacity(pattern.len() * 4 + 8),
        plain: true,
    };
    p.disjunction()?;
    if p.i != pattern.len() {
        return Err(SyntaxError::Invalid);
    }
    Ok(Translated {
        pattern: p.out,
        groups: p.groups,
        rust: p.rust,
        plain: p.plain,
    })
}

struct Parser<'a> {
    src: &'a [u8],
    i: usize,
    out: Vec<u8>,
    groups: usize,
    rust: String,
    plain: bool,
}

/// A bracket expression's last item, which decides what a `-` means.
#[derive(Clone, Copy)]
enum Last {
    None,
    Char(u8),
    Class,
}

/// One token inside a bracket expression.
enum BracketToken {
    End,
    Dash,
    Char(u8),
    Class(Vec<u8>),
    Collating(u8),
    Equivalence(u8),
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.i).copied()
    }

    fn disjunction(&mut self) -> Result<(), SyntaxError> {
        self.alternative()?;
        while self.peek() == Some(b'|') {
            self.i += 1;
            self.out.push(b'|');
            self.rust.push('|');
            self.plain = false;
            self.alternative()?;
        }
        Ok(())
    }

    fn alternative(&mut self) -> Result<(), SyntaxError> {
        while self.term()? {}
        Ok(())
    }

    /// One assertion, or one atom with its quantifiers; false at a token
    /// that starts neither.
    fn term(&mut self) -> Result<bool, SyntaxError> {
        match self.peek() {
            Some(c @ (b'^' | b'$')) => {
                self.i += 1;
                self.out.push(c);
                self.rust.push(char::from(c));
                Ok(true)
            }
            _ => {
                let start = self.rust.len();
                let group = self.peek() == Some(b'(');
                if !self.atom()? {
                    return Ok(false);
                }
                let mut quantified = false;
                loop {
                    let before = self.out.len();
                    if !self.quantifier()? {
                        break;
                    }
                    if quantified {
                        // `a+?` is two greedy repetitions, not a lazy one.
                        self.rust.insert_str(start, "(?:");
                        self.rust.push(')');
                        self.plain = false;
                    }
                    if group {
                        self.plain = false;
                    }
                    quantified = true;
                    self.rust
                        .push_str(&String::from_utf8_lossy(&self.out[before..]));
                }
                Ok(true)
            }
        }
    }

    fn atom(&mut self) -> Result<bool, SyntaxError> {
        let Some(c) = self.peek() else {
            return Ok(false);
        };
        match c {
            b')' | b'|' | b'*' | b'+' | b'?' | b'{' => Ok(false),
            b'\\' => {
                let Some(&e) = self.src.get(self.i + 1) else {
                    return Err(SyntaxError::Invalid);
                };
                if !ESCAPABLE.contains(&e) {
                    return Err(SyntaxError::Invalid);
                }
                self.i += 2;
                self.out.extend_from_slice(&[b'\\', e]);
                push_byte(&mut self.rust, e);
                Ok(true)
            }
            b'(' => {
                self.i += 1;
                self.groups += 1;
                self.out.push(b'(');
                self.rust.push('(');
                self.disjunction()?;
                if self.peek() != Some(b')') {
                    return Err(SyntaxError::Invalid);
                }
                self.i += 1;
                self.out.push(b')');
                self.rust.push(')');
                Ok(true)
            }
            b'[' => {
                self.i += 1;
                self.bracket()?;
                Ok(true)
            }
            c => {
                self.i += 1;
                self.out.push(c);
                if c == b'.' {
                    // glibc's `.` (RE_DOT_NOT_NULL): any byte but NUL.
                    self.rust.push_str(r"[\x01-\xFF]");
                } else {
                    push_byte(&mut self.rust, c);
                }
                Ok(true)
            }
        }
    }

    fn quantifier(&mut self) -> Result<bool, SyntaxError> {
        match self.peek() {
            Some(c @ (b'*' | b'+' | b'?')) => {
                self.i += 1;
                self.out.push(c);
                Ok(true)
            }
            Some(b'{') => {
                self.i += 1;
                let min = self.count()?.ok_or(SyntaxError::Invalid)?;
                let max = if self.peek() == Some(b',') {
                    self.i += 1;
                    self.count()?
                } else {
                    Some(min)
                };
                if self.peek() != Some(b'}') {
                    return Err(SyntaxError::Invalid);
                }
                self.i += 1;
                if max.is_some_and(|max| max < min) {
                    return Err(SyntaxError::Invalid);
                }
                let _ = match max {
                    Some(max) if max == min => write!(Vec8(&mut self.out), "{{{min}}}"),
                    Some(max) => write!(Vec8(&mut self.out), "{{{min},{max}}}"),
                    None => write!(Vec8(&mut self.out), "{{{min},}}"),
                };
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// A decimal repetition count, if digits follow.
    fn count(&mut self) -> Result<Option<u32>, SyntaxError> {
        let start = self.i;
        let mut n: u32 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            n = n.saturating_mul(10).saturating_add(u32::from(d - b'0'));
            self.i += 1;
        }
        if self.i == start {
            return Ok(None);
        }
        if n > MAX_REPEAT {
            return Err(SyntaxError::TooLarge);
        }
        Ok(Some(n))
    }

    fn bracket_token(&mut self) -> Result<BracketToken, SyntaxError> {
        let c = self.peek().ok_or(SyntaxError::Invalid)?;
        self.i += 1;
        match c {
            b']' => Ok(BracketToken::End),
            b'-' => Ok(BracketToken::Dash),
            b'[' => match self.peek() {
                Some(delim @ (b':' | b'.' | b'=')) => {
                    self.i += 1;
                    let start = self.i;
                    loop {
                        match self.src.get(self.i..self.i + 2) {
                            Some([d, b']']) if *d == delim => break,
                            Some(_) => self.i += 1,
                            None => return Err(SyntaxError::Invalid),
                        }
                    }
                    let name = self.src[start..self.i].to_vec();
                    self.i += 2;
                    match delim {
                        b':' => Ok(BracketToken::Class(name)),
                        b'.' => collating_name(&name)
                            .map(BracketToken::Collating)
                            .ok_or(SyntaxError::Invalid),
                        _ => collating_name(&name)
                            .map(BracketToken::Equivalence)
                            .ok_or(SyntaxError::Invalid),
                    }
                }
                _ => Ok(BracketToken::Char(b'[')),
            },
            c => Ok(BracketToken::Char(c)),
        }
    }

    /// A bracket expression after its `[`, written out for glibc: single
    /// characters that are special there as collating symbols, so the
    /// items can be written in any order.
    fn bracket(&mut self) -> Result<(), SyntaxError> {
        let mut items: Vec<u8> = Vec::new();
        // The bytes it matches, for `rust`.
        let mut set = [false; 256];
        let negated = self.peek() == Some(b'^');
        if negated {
            self.i += 1;
        }
        let mut last = Last::None;
        // A `]` or `-` first is an ordinary character.
        if let Some(c @ (b']' | b'-')) = self.peek() {
            self.i += 1;
            last = Last::Char(c);
        }
        loop {
            let token = self.bracket_token()?;
            match token {
                BracketToken::End => break,
                BracketToken::Dash => {
                    let next = self.bracket_token()?;
                    match (last, next) {
                        (_, BracketToken::End) => {
                            flush(&mut items, &mut set, last);
                            push_char(&mut items, &mut set, b'-');
                            last = Last::None;
                            break;
                        }
                        (Last::Char(l), BracketToken::Char(r)) => {
                            range(&mut items, &mut set, l, r)?;
                            last = Last::None;
                        }
                        (Last::Char(l), BracketToken::Dash) => {
                            range(&mut items, &mut set, l, b'-')?;
                            last = Last::None;
                        }
                        _ => return Err(SyntaxError::Invalid),
                    }
                    continue;
                }
                BracketToken::Char(c) | BracketToken::Collating(c) => {
                    flush(&mut items, &mut set, last);
                    last = Last::Char(c);
                }
                BracketToken::Equivalence(c) => {
                    flush(&mut items, &mut set, last);
                    push_char(&mut items, &mut set, c);
                    last = Last::None;
                }
                BracketToken::Class(name) => {
                    flush(&mut items, &mut set, last);
                    class(&mut items, &mut set, &name)?;
                    last = Last::Class;
                }
            }
        }
        flush(&mut items, &mut set, last);
        if items.is_empty() {
            // Only `[[.NUL.]]`-like sets (the NUL byte is dropped: glibc's
            // pattern cannot hold it, and Nix strings do not): everything
            // but NUL when negated, else only NUL.
            let all: &[u8] = if negated {
                &[b'[', 1, b'-', 0xff, b']']
            } else {
                &[b'[', b'^', 1, b'-', 0xff, b']']
            };
            self.out.extend_from_slice(all);
            set = [negated; 256];
            set[0] = !negated;
            push_set(&mut self.rust, &set);
            return Ok(());
        }
        if negated {
            for b in set.iter_mut() {
                *b = !*b;
            }
        }
        push_set(&mut self.rust, &set);
        self.out.push(b'[');
        if negated {
            self.out.push(b'^');
        }
        self.out.extend_from_slice(&items);
        self.out.push(b']');
        Ok(())
    }
}

/// Writes the pending single character of a bracket expression.
fn flush(items: &mut Vec<u8>, set: &mut [bool; 256], last: Last) {
    if let Last::Char(c) = last {
        push_char(items, set, c);
    }
}

/// One character of a bracket expression, as glibc reads it anywhere in
/// the brackets.
fn push_char(items: &mut Vec<u8>, set: &mut [bool; 256], c: u8) {
    if c == 0 {
        return;
    }
    set[usize::from(c)] = true;
    if matches!(c, b']' | b'-' | b'^' | b'[') {
        items.extend_from_slice(&[b'[', b'.', c, b'.', b']']);
    } else {
        items.push(c);
    }
}

/// A range `l-r`; libstdc++ orders its ends as (signed) `char`.
fn range(items: &mut Vec<u8>, set: &mut [bool; 256], l: u8, r: u8) -> Result<(), SyntaxError> {
    if (l as i8) > (r as i8) {
        return Err(SyntaxError::Invalid);
    }
    if r == 0 {
        return Ok(());
    }
    push_char(items, set, l.max(1));
    items.push(b'-');
    push_char(items, set, r);
    // glibc orders a range's ends by byte value in the C locale (a range
    // that is backwards there makes `regcomp` fail).
    for b in l.max(1)..=r {
        set[usize::from(b)] = true;
    }
    Ok(())
}

/// One byte for `rust`, always as an escape.
fn push_byte(rust: &mut String, b: u8) {
    let _ = write!(rust, "\\x{b:02X}");
}

/// A set of bytes for `rust`, as a class of ranges.
fn push_set(rust: &mut String, set: &[bool; 256]) {
    rust.push('[');
    let mut b = 0usize;
    let mut any = false;
    while b < 256 {
        if !set[b] {
            b += 1;
            continue;
        }
        let start = b;
        while b + 1 < 256 && set[b + 1] {
            b += 1;
        }
        let _ = write!(rust, "\\x{start:02X}-\\x{b:02X}");
        any = true;
        b += 1;
    }
    if !any {
        // Matches nothing: a byte and its complement, intersected.
        rust.push_str("\\x00&&[^\\x00]");
    }
    rust.push(']');
}

/// The character a collating symbol or equivalence class names: a letter
/// names itself, every other ASCII character only its POSIX name (as in
/// libstdc++: `[.hyphen.]`, `[.zero.]`; `[.-.]` is an error).
fn collating_name(name: &[u8]) -> Option<u8> {
    if let [c] = name {
        if c.is_ascii_alphabetic() {
            return Some(*c);
        }
    }
    COLLATING_NAMES
        .iter()
        .find(|(n, _)| n.as_bytes() == name)
        .map(|&(_, c)| c)
}

/// POSIX's names of the ASCII characters other than letters.
const COLLATING_NAMES: &[(&str, u8)] = &[
    ("NUL", 0x00),
    ("SOH", 0x01),
    ("STX", 0x02),
    ("ETX", 0x03),
    ("EOT", 0x04),
    ("ENQ", 0x05),
    ("ACK", 0x06),
    ("alert", 0x07),
    ("backspace", 0x08),
    ("tab", 0x09),
    ("newline", 0x0a),
    ("vertical-tab", 0x0b),
    ("form-feed", 0x0c),
    ("carriage-return", 0x0d),
    ("SO", 0x0e),
    ("SI", 0x0f),
    ("DLE", 0x10),
    ("DC1", 0x11),
    ("DC2", 0x12),
    ("DC3", 0x13),
    ("DC4", 0x14),
    ("NAK", 0x15),
    ("SYN", 0x16),
    ("ETB", 0x17),
    ("CAN", 0x18),
    ("EM", 0x19),
    ("SUB", 0x1a),
    ("ESC", 0x1b),
    ("IS4", 0x1c),
    ("IS3", 0x1d),
    ("IS2", 0x1e),
    ("IS1", 0x1f),
    ("space", b' '),
    ("exclamation-mark", b'!'),
    ("quotation-mark", b'"'),
    ("number-sign", b'#'),
    ("dollar-sign", b'$'),
    ("percent-sign", b'%'),
    ("ampersand", b'&'),
    ("apostrophe", b'\''),
    ("left-parenthesis", b'('),
    ("right-parenthesis", b')'),
    ("asterisk", b'*'),
    ("plus-sign", b'+'),
    ("comma", b','),
    ("hyphen", b'-'),
    ("period", b'.'),
    ("slash", b'/'),
    ("zero", b'0'),
    ("one", b'1'),
    ("two", b'2'),
    ("three", b'3'),
    ("four", b'4'),
    ("five", b'5'),
    ("six", b'6'),
    ("seven", b'7'),
    ("eight", b'8'),
    ("nine", b'9'),
    ("colon", b':'),
    ("semicolon", b';'),
    ("less-than-sign", b'<'),
    ("equals-sign", b'='),
    ("greater-than-sign", b'>'),
    ("question-mark", b'?'),
    ("commercial-at", b'@'),
    ("left-square-bracket", b'['),
    ("backslash", b'\\'),
    ("right-square-bracket", b']'),
    ("circumflex", b'^'),
    ("underscore", b'_'),
    ("grave-accent", b'`'),
    ("left-curly-bracket", b'{'),
    ("vertical-line", b'|'),
    ("right-curly-bracket", b'}'),
    ("tilde", b'~'),
    ("DEL", 0x7f),
];

/// A character class by libstdc++'s name for it.
fn class(items: &mut Vec<u8>, set: &mut [bool; 256], name: &[u8]) -> Result<(), SyntaxError> {
    let lower = name.to_ascii_lowercase();
    let posix: &[u8] = match lower.as_slice() {
        b"d" => b"digit",
        b"s" => b"space",
        b"w" => {
            items.extend_from_slice(b"[:alnum:]_");
            class_bytes(set, b"alnum");
            set[usize::from(b'_')] = true;
            return Ok(());
        }
        b"alnum" | b"alpha" | b"blank" | b"cntrl" | b"digit" | b"graph" | b"lower" | b"print"
        | b"punct" | b"space" | b"upper" | b"xdigit" => &lower,
        _ => return Err(SyntaxError::Invalid),
    };
    items.extend_from_slice(b"[:");
    items.extend_from_slice(posix);
    items.extend_from_slice(b":]");
    class_bytes(set, posix);
    Ok(())
}

/// The bytes of a POSIX class in the C locale (ASCII only).
fn class_bytes(set: &mut [bool; 256], posix: &[u8]) {
    for b in 0u8..=0x7f {
        let member = match posix {
            b"alnum" => b.is_ascii_alphanumeric(),
            b"alpha" => b.is_ascii_alphabetic(),
            b"blank" => b == b' ' || b == b'\t',
            b"cntrl" => b.is_ascii_control(),
            b"digit" => b.is_ascii_digit(),
            b"graph" => b.is_ascii_graphic(),
            b"lower" => b.is_ascii_lowercase(),
            b"print" => b.is_ascii_graphic() || b == b' ',
            b"punct" => b.is_ascii_punctuation(),
            b"space" => matches!(b, b' ' | b'\t'..=b'\r'),
            b"upper" => b.is_ascii_uppercase(),
            b"xdigit" => b.is_ascii_hexdigit(),
            _ => false,
        };
        if member {
            set[usize::from(b)] = true;
        }
    }
}

/// `fmt::Write` into a byte buffer.
struct Vec8<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Vec8<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: &str) -> String {
        match translate(p.as_bytes()) {
            Ok(t) => String::from_utf8_lossy(&t.pattern).into_owned(),
            Err(e) => panic!("{p:?} rejected: {e}"),
        }
    }

    #[test]
    fn rejects_what_cppnix_rejects() {
        for p in [
            r"\d",
            r"\w",
            r"\b",
            r"\}",
            r"\]",
            r"\/",
            r"\1",
            "(a)\\1",
            "x\\",
            "(?:a)",
            "(?i)a",
            "*a",
            "(*a)",
            "a|*b",
            "^*",
            "a{",
            "a{1",
            "a{,2}",
            "a{2,1}",
            "a{1,x}",
            "[[:foo:]]",
            "[[:word:]]",
            "[z-a]",
            "[[:alpha:]-z]",
            "[a-[:alpha:]]",
            "[[:alpha:]",
            "[a",
            "a)",
            "(a",
            "[]",
            "[a-c-e]",
            "[[.ab.]]",
            "{1}",
            "[[.-.]]",
            "[[.0.]]",
            "[a-[.c.]]",
            "[[=a=]-c]",
            "[[.full-stop.]]",
        ] {
            assert!(translate(p.as_bytes()).is_err(), "{p:?} accepted");
        }
        assert_eq!(translate(b"a{99999}"), Err(SyntaxError::TooLarge));
        assert!(translate(b"[a-\xff]").is_err());
    }

    #[test]
    fn accepts_what_cppnix_accepts() {
        assert_eq!(ok("a||b"), "a||b");
        assert_eq!(ok("()"), "()");
        assert_eq!(ok("a**"), "a**");
        assert_eq!(ok("x{1}{2}"), "x{1}{2}");
        assert_eq!(ok("a{1,}b{2,3}"), "a{1,}b{2,3}");
        assert_eq!(ok("}]"), "}]");
        assert_eq!(ok(r"\.\(\)\{\|\^\$\*\+\?\[\\"), r"\.\(\)\{\|\^\$\*\+\?\[\\");
        assert_eq!(ok("[]a]"), "[[.].]a]");
        assert_eq!(ok("[^]a]"), "[^[.].]a]");
        assert_eq!(ok("[a-]"), "[a[.-.]]");
        assert_eq!(ok("[--/]"), "[[.-.]-/]");
        assert_eq!(ok(r"[\d]"), r"[\d]");
        assert_eq!(ok("[[:W:][:d:][:s:]]"), "[[:alnum:]_[:digit:][:space:]]");
        assert_eq!(ok("[[.a.][=b=]]"), "[ab]");
        assert_eq!(ok("[a^]"), "[a[.^.]]");
        assert_eq!(ok("[[.hyphen.][=zero=][.a.]-c]"), "[[.-.]0a-c]");
        assert_eq!(
            translate(b"[\x80-\xff]").map(|t| t.pattern),
            Ok(b"[\x80-\xff]".to_vec())
        );
        assert_eq!(translate(b"(a(b)|c)").map(|t| t.groups), Ok(2));
    }
}
