//! The `regex-automata` engines that answer where they give exactly
//! POSIX's answer, so glibc's costly group assignment (its backward sift)
//! runs only where it is needed.
//!
//! - Whole matches: the leftmost start of any match is the same under every
//!   semantics (a leftmost-first search finds it), and the longest match
//!   from a fixed start is what an anchored `MatchKind::All` DFA search
//!   reports (it runs until the automaton dies and keeps the last match).
//! - Groups of a *plain* pattern (`syntax`'s docs): with no alternation and
//!   only one-byte-wide repeated pieces, the leftmost-first match of
//!   `\A(?:P)\z` assigns every group what POSIX assigns it.
//!
//! Building fails (and the caller keeps to glibc) when a pattern's automata
//! would be too large.

use std::ops::Range;

use regex_automata::dfa::{dense, Automaton, StartKind};
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::util::syntax;
use regex_automata::{meta, Anchored, Input, MatchKind};

use crate::Groups;

/// The most memory one pattern's DFA may take.
const DFA_SIZE_LIMIT: usize = 1 << 20;

/// A pattern compiled for `regex-automata`.
pub(crate) struct Fast {
    /// Leftmost-first, unanchored: where the leftmost match starts.
    leftmost: meta::Regex,
    /// `MatchKind::All`, anchored: where the longest match from a start ends.
    longest: dense::DFA<Vec<u32>>,
    /// `\A(?:P)\z`, for a plain pattern's groups.
    whole: Option<meta::Regex>,
}

fn syntax_config() -> syntax::Config {
    syntax::Config::new().unicode(false).utf8(false)
}

impl Fast {
    /// Compiles `rust` (`syntax::Translated::rust`); `None` if an automaton
    /// would be too large or the spelling is refused.
    pub(crate) fn new(rust: &str, plain: bool) -> Option<Fast> {
        let meta_config = meta::Regex::config()
            .utf8_empty(false)
            .dfa_size_limit(Some(DFA_SIZE_LIMIT));
        let leftmost = meta::Regex::builder()
            .syntax(syntax_config())
            .configure(meta_config.clone().which_captures(WhichCaptures::Implicit))
            .build(rust)
            .ok()?;
        let longest = dense::Builder::new()
            .syntax(syntax_config())
            .thompson(
                thompson::Config::new()
                    .utf8(false)
                    .which_captures(WhichCaptures::None),
            )
            .configure(
                dense::Config::new()
                    .match_kind(MatchKind::All)
                    .start_kind(StartKind::Anchored)
                    .dfa_size_limit(Some(DFA_SIZE_LIMIT))
                    .determinize_size_limit(Some(DFA_SIZE_LIMIT)),
            )
            .build(rust)
            .ok()?;
        let whole = if plain {
            Some(
                meta::Regex::builder()
                    .syntax(syntax_config())
                    .configure(meta_config)
                    .build(&format!(r"\A(?:{rust})\z"))
                    .ok()?,
            )
        } else {
            None
        };
        Some(Fast {
            leftmost,
            longest,
            whole,
        })
    }

    /// The leftmost-longest match in `input[start..]` (`^` matching only at
    /// 0, `$` only at the end of `input`); `Err` if the DFA gave up.
    pub(crate) fn find_at(&self, input: &[u8], start: usize) -> Result<Option<Range<usize>>, ()> {
        let Some(first) = self.leftmost.find(Input::new(input).range(start..)) else {
            return Ok(None);
        };
        let from = first.start();
        let anchored = Input::new(input).range(from..).anchored(Anchored::Yes);
        match self.longest.try_search_fwd(&anchored) {
            Ok(Some(end)) if end.offset() >= first.end() => Ok(Some(from..end.offset())),
            _ => Err(()),
        }
    }

    /// Whether the whole of `input` matches; `Err` if the DFA gave up.
    pub(crate) fn matches_whole(&self, input: &[u8]) -> Result<bool, ()> {
        let anchored = Input::new(input).anchored(Anchored::Yes);
        match self.longest.try_search_fwd(&anchored) {
            Ok(found) => Ok(found.is_some_and(|end| end.offset() == input.len())),
            Err(_) => Err(()),
        }
    }

    /// Whether groups come from the capture engine.
    #[cfg(test)]
    pub(crate) fn is_plain(&self) -> bool {
        self.whole.is_some()
    }

    /// A plain pattern's groups when the whole of `input` matches; `None`
    /// for a pattern that is not plain.
    pub(crate) fn whole_groups(&self, input: &[u8]) -> Option<Option<Groups>> {
        let whole = self.whole.as_ref()?;
        let mut caps = whole.create_captures();
        whole.captures(input, &mut caps);
        if !caps.is_match() {
            return Some(None);
        }
        Some(Some(
            (0..caps.group_len())
                .map(|i| caps.get_group(i).map(|span| span.range()))
                .collect(),
        ))
    }
}
