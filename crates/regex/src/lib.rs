//! Nix's regular expressions (`builtins.match`, `builtins.split`): POSIX
//! extended syntax exactly as CppNix (libstdc++'s `std::regex::extended`)
//! accepts it ([`syntax`]), matched leftmost-longest on bytes by the C
//! library's POSIX engine ([`posix`], the only `unsafe` code).
//!
//! ```
//! use nixkit_regex::Regex;
//! let re = Regex::new(b"(a|ab)(c|bcd)?").unwrap();
//! // POSIX: the longest match, not the first alternative's.
//! assert_eq!(re.find_all(b"abab").len(), 2);
//! assert_eq!(re.full_match(b"abc").map(|g| g[0].clone()), Some(Some(0..3)));
//! assert!(Regex::new(br"\d").is_err());
//! ```
//!
//! Where the engines differ: glibc assigns subexpressions by POSIX's rules,
//! libstdc++ by the first longest match its backtracking search finds, so
//! the *groups* of an ambiguous match can differ from CppNix's (the whole
//! match never does): `(a|ab)(c|bcd)(d*)` on `abcd` gives CppNix `a`, `bcd`,
//! `` and glibc `ab`, `c`, `d`, and a repeated group that matched in an
//! earlier iteration only (`((a)|b)+` on `ab`) keeps its text in CppNix and
//! is unset in glibc. Repetition counts above 32767 are rejected
//! ([`RegexError::TooLarge`]) where libstdc++ fails on its state limit.

mod posix;
pub mod syntax;

use std::ops::Range;

pub use syntax::SyntaxError as RegexError;

/// The byte ranges of one match: the whole match first, then each group
/// (`None` for a group that did not take part).
pub type Groups = Vec<Option<Range<usize>>>;

/// A compiled pattern.
pub struct Regex {
    compiled: posix::Compiled,
    groups: usize,
}

impl std::fmt::Debug for Regex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Regex({} groups)", self.groups)
    }
}

impl Regex {
    /// Compiles `pattern`. As in CppNix (whose strings end at a NUL), the
    /// pattern ends at its first NUL byte.
    pub fn new(pattern: &[u8]) -> Result<Regex, RegexError> {
        let end = pattern
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(pattern.len());
        let translated = syntax::translate(&pattern[..end])?;
        let compiled = posix::Compiled::new(&translated.pattern).ok_or(RegexError::Invalid)?;
        Ok(Regex {
            compiled,
            groups: translated.groups,
        })
    }

    /// Number of capture groups.
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// The groups if the whole of `input` matches (`builtins.match`).
    ///
    /// The leftmost-longest match spans the input exactly when some match
    /// does (a match starting at 0 makes 0 leftmost, and none is longer
    /// than the input).
    pub fn full_match(&self, input: &[u8]) -> Option<Groups> {
        let groups = self.compiled.find_at(input, 0, false, self.groups)?;
        match groups.first() {
            Some(Some(whole)) if whole.start == 0 && whole.end == input.len() => Some(groups),
            _ => None,
        }
    }

    /// Every match in `input`, in order, as C++'s `std::regex_iterator`
    /// finds them (`builtins.split`): each search starts where the last
    /// match ended, without `^` matching there; after an empty match the
    /// next one is a non-empty match at the same place if there is one,
    /// else the next search starts one byte later. So an empty match at the
    /// end of the input after a non-empty one is reported (`.*` on `a`
    /// matches `a`, then the empty string at the end).
    pub fn find_all(&self, input: &[u8]) -> Vec<Groups> {
        let mut out = Vec::new();
        let mut next = self.compiled.find_at(input, 0, false, self.groups);
        while let Some(groups) = next.take() {
            let Some(Some(whole)) = groups.first().cloned() else {
                break;
            };
            out.push(groups);
            let mut start = whole.end;
            if whole.is_empty() {
                if start >= input.len() {
                    break;
                }
                if let Some(again) = self.compiled.find_at(input, start, true, self.groups) {
                    if matches!(again.first(), Some(Some(m)) if m.start == start && !m.is_empty()) {
                        next = Some(again);
                        continue;
                    }
                }
                start += 1;
            }
            next = self.compiled.find_at(input, start, true, self.groups);
        }
        out
    }
}
