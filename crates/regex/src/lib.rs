//! Nix's regular expressions (`builtins.match`, `builtins.split`): POSIX
//! extended syntax exactly as CppNix (libstdc++'s `std::regex::extended`)
//! accepts it ([`syntax`]), matched leftmost-longest on bytes by the C
//! library's POSIX engine (`posix.rs`, the only `unsafe` code), with
//! `regex-automata`'s DFAs (`fast.rs`) answering first wherever they give
//! the same answer: whole matches always, groups for plain patterns, so
//! glibc's costly group assignment runs only where groups are ambiguous.
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
//! Where the engines differ (checked with CppNix 2.8, whose `std::regex` is
//! the one modern CppNix still uses): glibc assigns groups in the order a
//! backtracking search would for most ambiguous patterns, as libstdc++ does
//! (`(a|ab)(c|bcd)(d*)` on `abcd` is `a`, `bcd`, `` in both; `((a)|b)+` on
//! `ab` keeps `a` in both), but not after an empty iteration of a
//! repetition: `(a|)*b` on `aab` gives CppNix `` and glibc `a`. And
//! libstdc++'s search stops lengthening a repetition's match once a shorter
//! whole match is found, so its `split` can take a match that is not the
//! longest: `split "a*(ab)*" "aab"` matches `aa` then `` in CppNix and the
//! POSIX `aab` here. Matching libstdc++ there means copying its search
//! order, quirks included; left as is (POSIX), and the property tests
//! compare only whole matches of patterns with groups under a repetition or
//! an alternation (crates/eval/tests/regex_vs_cppnix.rs). Repetition counts
//! above 32767 are rejected
//! ([`RegexError::TooLarge`]) where libstdc++ fails on its state limit.

mod fast;
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
    /// `None` where `regex-automata` refused the pattern (too large).
    fast: Option<fast::Fast>,
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
        let fast = fast::Fast::new(&translated.rust, translated.plain);
        Ok(Regex {
            compiled,
            groups: translated.groups,
            fast,
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
        if let Some(fast) = &self.fast {
            if let Some(groups) = fast.whole_groups(input) {
                return groups;
            }
            if fast.matches_whole(input) == Ok(false) {
                return None;
            }
        }
        self.full_match_posix(input)
    }

    /// [`Regex::full_match`] by glibc alone.
    fn full_match_posix(&self, input: &[u8]) -> Option<Groups> {
        let groups = self.compiled.find_at(input, 0, false, self.groups)?;
        match groups.first() {
            Some(Some(whole)) if whole.start == 0 && whole.end == input.len() => Some(groups),
            _ => None,
        }
    }

    /// Every match in `input`, in order, as C++'s `std::regex_iterator`
    /// finds them (`builtins.split`): each search starts where the last
    /// match ended, without `^` matching there; after an empty match the
    /// next one is a non-empty match at the same place if there is one
    /// (never, under leftmost-longest: the empty one was the longest
    /// there), else the next search starts one byte later. So an empty match at the
    /// end of the input after a non-empty one is reported (`.*` on `a`
    /// matches `a`, then the empty string at the end).
    pub fn find_all(&self, input: &[u8]) -> Vec<Groups> {
        if self.groups == 0 {
            if let Some(found) = self.fast.as_ref().and_then(|f| find_all_whole(f, input)) {
                return found;
            }
        }
        self.find_all_posix(input)
    }

    /// [`Regex::find_all`] by glibc alone.
    fn find_all_posix(&self, input: &[u8]) -> Vec<Groups> {
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
                // C++ first looks for a non-empty match at the same place;
                // there is none: this empty match was the longest there.
                start += 1;
            }
            next = self.compiled.find_at(input, start, true, self.groups);
        }
        out
    }
}

/// The matches of a pattern without groups by the DFAs, in
/// [`Regex::find_all`]'s order; `None` if a DFA gave up.
fn find_all_whole(fast: &fast::Fast, input: &[u8]) -> Option<Vec<Groups>> {
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(whole) = fast.find_at(input, start).ok()? {
        out.push(vec![Some(whole.clone())]);
        start = whole.end;
        if whole.is_empty() {
            if start >= input.len() {
                break;
            }
            start += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Random anchor-free POSIX patterns over a small alphabet.
    fn pattern() -> impl Strategy<Value = String> {
        let atom = prop::sample::select(vec!["a", "b", ".", "[ab]", "[^a]", "\\.", "()"])
            .prop_map(String::from);
        atom.prop_recursive(3, 10, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(|v| v.concat()),
                inner.clone().prop_map(|s| format!("({s})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}|{b}")),
                (
                    inner,
                    prop::sample::select(vec!["*", "+", "?", "{2}", "{0,1}"])
                )
                    .prop_map(|(s, q)| format!("({s}){q}")),
            ]
        })
    }

    /// The longest match of `re` starting at `i`, by trying every end.
    fn longest_at(re: &Regex, input: &[u8], i: usize) -> Option<usize> {
        (i..=input.len())
            .rev()
            .find(|&j| re.full_match(&input[i..j]).is_some())
    }

    /// `std::regex_iterator`'s matches, from leftmost-longest by brute force.
    fn model_find_all(re: &Regex, input: &[u8]) -> Vec<Range<usize>> {
        let search =
            |from: usize| (from..=input.len()).find_map(|i| longest_at(re, input, i).map(|j| i..j));
        let mut out = Vec::new();
        let mut next = search(0);
        while let Some(m) = next.take() {
            out.push(m.clone());
            let mut start = m.end;
            if m.is_empty() {
                if start >= input.len() {
                    break;
                }
                if let Some(j) = longest_at(re, input, start).filter(|&j| j > start) {
                    next = Some(start..j);
                    continue;
                }
                start += 1;
            }
            next = search(start);
        }
        out
    }

    /// Random patterns of the whole grammar: anchors, bracket expressions
    /// with classes, ranges and high bytes, nested groups.
    fn rich_pattern() -> impl Strategy<Value = String> {
        let atom = prop::sample::select(vec![
            "a",
            "b",
            "\\xc3",
            ".",
            "[ab]",
            "[^a]",
            "\\.",
            "()",
            "[[:alpha:]]",
            "[^[:space:]b]",
            "[]a-c]",
            "[\\x80-\\xff]",
            "^",
            "$",
            " ",
            "[[:punct:][:digit:]]",
            "[^-]",
        ])
        .prop_map(|s| {
            s.replace("\\xc3", "\u{c3}")
                .replace("\\x80", "\u{80}")
                .replace("\\xff", "\u{ff}")
        });
        atom.prop_recursive(3, 12, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(|v| v.concat()),
                inner.clone().prop_map(|s| format!("({s})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}|{b}")),
                (
                    inner,
                    prop::sample::select(vec!["*", "+", "?", "{2}", "{0,1}", "{1,}", "*?", "+*"])
                )
                    .prop_map(|(s, q)| format!("{s}{q}")),
            ]
        })
    }

    /// Patterns whose groups POSIX assigns otherwise than a backtracking
    /// order would keep glibc's answer.
    #[test]
    fn ambiguous_groups_are_glibcs() {
        for (p, input) in [
            ("(a|ab)(c|bcd)(d*)", "abcd"),
            ("((a)|b)+", "ab"),
            ("(a*)(a|b)*", "aab"),
            ("(a|)*b", "aab"),
            ("(a?)(ab)?b?", "ab"),
            ("(a*)+", "aa"),
        ] {
            let re = Regex::new(p.as_bytes()).expect("valid");
            let expected = re.full_match_posix(input.as_bytes());
            assert!(expected.is_some(), "{p} on {input}");
            assert_eq!(re.full_match(input.as_bytes()), expected, "{p} on {input}");
        }
        // A plain pattern's groups come from the capture engine.
        let re = Regex::new(b"([a-z]+)-([0-9]+)\\.(.*)").expect("valid");
        assert!(re.fast.as_ref().is_some_and(|f| f.is_plain()));
        assert_eq!(
            re.full_match(b"pkg-12.x-y"),
            Some(vec![Some(0..10), Some(0..3), Some(4..6), Some(7..10)])
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// The DFA answers are glibc's: whole matches of `split` for
        /// patterns without groups, `match` (groups included) for all.
        #[test]
        fn fast_engines_agree_with_glibc(
            p in rich_pattern(),
            input in prop_oneof![
                prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'c', b' ', b'.', b'-', b'1', 0xc3, 0xa9]), 0..10),
                prop::collection::vec(prop::sample::select(vec![b'a', b'b']), 0..6),
            ],
        ) {
            // Patterns are written with chars for bytes (`\u{c3}` is 0xc3).
            let bytes: Vec<u8> = p.chars().map(|c| c as u32 as u8).collect();
            let Ok(re) = Regex::new(&bytes) else { return Ok(()); };
            prop_assert_eq!(re.full_match(&input), re.full_match_posix(&input), "match {:?}", p);
            let posix: Vec<Option<Range<usize>>> = re.find_all_posix(&input).into_iter().map(|g| g[0].clone()).collect();
            let ours: Vec<Option<Range<usize>>> = re.find_all(&input).into_iter().map(|g| g[0].clone()).collect();
            prop_assert_eq!(ours, posix, "split {:?}", p);
        }

        #[test]
        fn matches_are_leftmost_longest_in_iterator_order(
            p in pattern(),
            input in prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'.', 0xc3, 0xa9]), 0..8),
        ) {
            let re = Regex::new(p.as_bytes()).expect("generated patterns are valid");
            let ours: Vec<Range<usize>> = re
                .find_all(&input)
                .iter()
                .filter_map(|g| g.first().cloned().flatten())
                .collect();
            prop_assert_eq!(ours, model_find_all(&re, &input));
            // Every match reports one slot per group.
            for g in re.find_all(&input) {
                prop_assert_eq!(g.len(), re.groups() + 1);
            }
        }
    }
}
