//! The evaluator's error type and its CppNix-compatible rendering.
//!
//! An [`EvalError`] carries a message, the position it happened at, and a
//! trace: "while …" frames pushed as the error travels outward, innermost
//! first. [`EvalError::render`] prints it as `nix-instantiate` does.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use crate::source::{self, Pos};

/// What kind of error this is; decides what `tryEval` catches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A generic evaluation error (type errors, missing attributes, …).
    Eval,
    /// `throw`: caught by `tryEval`.
    Throw,
    /// A failed `assert`: caught by `tryEval`.
    Assert,
    /// `abort`: never caught.
    Abort,
    /// A thunk depends on itself.
    InfiniteRecursion,
    /// The call depth limit was reached.
    StackOverflow,
    /// Evaluation was cancelled through the cancellation flag.
    Cancelled,
    /// The step budget ([`crate::EvaluatorBuilder::max_steps`]) was used up.
    StepLimit,
    /// The source did not parse.
    Parse,
    /// An IO operation failed.
    Io,
    /// A bad argument of the kind CppNix reports as a usage error (an
    /// unknown hash algorithm or format): a command line adds a `--help` hint.
    Usage,
}

/// One "while …" frame of a trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceFrame {
    /// The text after `… `.
    pub message: String,
    /// Where, if known.
    pub pos: Pos,
    /// Shown even without `--show-trace` (from `addErrorContext`).
    pub always: bool,
}

/// The trace as a persistent list, outermost frame first: pushing a frame
/// and cloning an error are O(1). Failed thunks memoise their error, and an
/// error propagating through a deep chain of thunks is memoised at every
/// level; with a copied `Vec` that was quadratic in the depth.
#[derive(Debug)]
struct FrameNode {
    frame: TraceFrame,
    inner: Option<Arc<FrameNode>>,
}

impl Drop for FrameNode {
    /// Unlinks the chain iteratively: a recursive drop of a trace thousands
    /// of frames deep would overflow the stack.
    fn drop(&mut self) {
        let mut next = self.inner.take();
        while let Some(node) = next {
            next = match Arc::try_unwrap(node) {
                Ok(mut owned) => owned.inner.take(),
                // Shared with another error: that one drops the rest.
                Err(_) => None,
            };
        }
    }
}

#[derive(Clone, Debug)]
struct Inner {
    kind: ErrorKind,
    message: String,
    pos: Pos,
    /// The outermost frame; each node links to the frames inside it.
    trace: Option<Arc<FrameNode>>,
    /// "Did you mean …" (printed after the position).
    suggestion: Option<Box<str>>,
    /// For infinite recursion: the thunk found being evaluated again.
    recursion: usize,
    /// The report ends with an indented empty line (see
    /// [`EvalError::with_blank_last_line`]).
    blank_last_line: bool,
}

/// An evaluation error.
#[derive(Clone, Debug)]
pub struct EvalError(Box<Inner>);

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for EvalError {}

impl EvalError {
    /// A new error without position.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> EvalError {
        EvalError(Box::new(Inner {
            kind,
            message: message.into(),
            pos: Pos::NONE,
            trace: None,
            suggestion: None,
            recursion: 0,
            blank_last_line: false,
        }))
    }

    /// A generic evaluation error.
    pub fn eval(message: impl Into<String>) -> EvalError {
        EvalError::new(ErrorKind::Eval, message)
    }

    /// Sets the position if none is set yet.
    pub fn at(mut self, pos: Pos) -> EvalError {
        if self.0.pos.is_none() {
            self.0.pos = pos;
        }
        self
    }

    /// Adds a trace frame (outward of the existing ones).
    pub fn with_frame(mut self, message: impl Into<String>, pos: Pos) -> EvalError {
        self.push_frame(TraceFrame {
            message: message.into(),
            pos,
            always: false,
        });
        self
    }

    /// Adds a frame shown even without `--show-trace` (`addErrorContext`).
    pub fn with_context_frame(mut self, message: impl Into<String>) -> EvalError {
        self.push_frame(TraceFrame {
            message: message.into(),
            pos: Pos::NONE,
            always: true,
        });
        self
    }

    fn push_frame(&mut self, frame: TraceFrame) {
        let inner = self.0.trace.take();
        self.0.trace = Some(Arc::new(FrameNode { frame, inner }));
    }

    /// The frames, outermost first.
    fn frames_outward_in(&self) -> impl Iterator<Item = &TraceFrame> {
        std::iter::successors(self.0.trace.as_deref(), |n| n.inner.as_deref()).map(|n| &n.frame)
    }

    /// Ends the report with an indented empty line, as CppNix's reports of
    /// toml11's errors end: toml11 closes its message with a line break and
    /// a colour reset, which CppNix's trimming of trailing white space keeps
    /// and its terminal filter then removes.
    pub(crate) fn with_blank_last_line(mut self) -> EvalError {
        self.0.blank_last_line = true;
        self
    }

    /// Adds CppNix's "Did you mean …?" line (`suggestion` is what follows
    /// "Did you mean ").
    pub fn with_suggestion(mut self, suggestion: impl Into<String>) -> EvalError {
        self.0.suggestion = Some(suggestion.into().into_boxed_str());
        self
    }

    /// Records which thunk (an identity, see `eval::force_thunk`) an
    /// infinite recursion re-entered.
    pub(crate) fn entering(mut self, thunk: usize) -> EvalError {
        self.0.recursion = thunk;
        self
    }

    /// Whether this is an infinite recursion that re-entered `thunk`.
    pub(crate) fn recursion_entered_at(&self, thunk: usize) -> bool {
        self.0.kind == ErrorKind::InfiniteRecursion && self.0.recursion == thunk
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The message (without trace).
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The position, if known.
    pub fn pos(&self) -> Pos {
        self.0.pos
    }

    /// The trace frames, innermost first.
    pub fn trace(&self) -> Vec<&TraceFrame> {
        let mut frames: Vec<&TraceFrame> = self.frames_outward_in().collect();
        frames.reverse();
        frames
    }

    /// Whether `tryEval` catches it.
    pub fn is_catchable(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Throw | ErrorKind::Assert)
    }

    /// Renders the error as `nix-instantiate` prints it (ends with a newline).
    ///
    /// Frames are printed outermost first. Without `show_trace`, printing
    /// stops after a few frames (a frame with a position counts twice),
    /// except for frames from `addErrorContext`. Frames already printed are
    /// skipped; a run of more than five of them collapses into
    /// "(N duplicate frames omitted)".
    pub fn render(&self, show_trace: bool) -> String {
        let mut body = String::new();
        if self.0.trace.is_some() {
            let mut seen: HashSet<(Pos, &str)> = HashSet::new();
            let mut skipped: Vec<&TraceFrame> = Vec::new();
            let mut count = 0usize;
            let mut truncated = false;
            for f in self.frames_outward_in() {
                if f.message.is_empty() {
                    continue;
                }
                if !show_trace && count > 3 {
                    truncated = true;
                }
                if truncated && !f.always {
                    continue;
                }
                if !seen.insert((f.pos, f.message.as_str())) {
                    skipped.push(f);
                    continue;
                }
                flush_skipped(&mut body, &mut count, &mut skipped);
                count += 1;
                write_frame(&mut body, &mut count, f);
            }
            flush_skipped(&mut body, &mut count, &mut skipped);
            if truncated {
                body.push_str("\n(stack trace truncated; use '--show-trace' to show the full, detailed trace)\n");
            }
            body.push_str("\nerror: ");
        }
        body.push_str(&self.0.message);
        body.push('\n');
        source::write_pos(self.0.pos, &mut body);
        if let Some(s) = &self.0.suggestion {
            body.push_str("Did you mean ");
            body.push_str(s);
            body.push_str("?\n");
        }
        let mut out = String::with_capacity(body.len() + 64);
        for (i, line) in chomp(&body).split('\n').enumerate() {
            let prefixed = if i == 0 {
                format!("error: {line}")
            } else {
                format!("       {line}")
            };
            out.push_str(chomp(&prefixed));
            out.push('\n');
        }
        if self.0.blank_last_line {
            out.push_str("       \n");
        }
        out
    }
}

/// CppNix's `chomp`: strips trailing whitespace.
fn chomp(s: &str) -> &str {
    s.trim_end_matches([' ', '\n', '\r', '\t'])
}

fn write_frame(out: &mut String, count: &mut usize, f: &TraceFrame) {
    out.push_str("\n… ");
    out.push_str(&f.message);
    out.push('\n');
    if !f.pos.is_none() {
        out.push_str("  ");
        source::write_pos(f.pos, out);
        *count += 1;
    }
}

/// Prints frames skipped as duplicates: a few are printed again, more are
/// summarised.
fn flush_skipped(out: &mut String, count: &mut usize, skipped: &mut Vec<&TraceFrame>) {
    if skipped.len() <= 5 {
        for f in skipped.iter() {
            write_frame(out, count, f);
        }
    } else {
        out.push_str(&format!("\n({} duplicate frames omitted)\n", skipped.len()));
    }
    skipped.clear();
}

/// Shorthand for results in this crate.
pub type EvalResult<T> = Result<T, EvalError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_frames_collapse() {
        let mut e = EvalError::eval("boom");
        for _ in 0..8 {
            e = e.with_frame("while looping", Pos::NONE);
        }
        let out = e.render(true);
        assert_eq!(out, "error:\n       … while looping\n\n       (7 duplicate frames omitted)\n\n       error: boom\n");
    }

    #[test]
    fn short_trace_is_truncated_but_keeps_context_frames() {
        let mut e = EvalError::eval("boom").with_context_frame("added context");
        for i in 0..6 {
            e = e.with_frame(format!("frame {i}"), Pos::NONE);
        }
        let out = e.render(false);
        assert!(out.contains("… frame 5\n"), "{out}");
        assert!(!out.contains("… frame 1\n"), "{out}");
        assert!(
            out.contains(
                "(stack trace truncated; use '--show-trace' to show the full, detailed trace)"
            ),
            "{out}"
        );
        assert!(out.contains("… added context\n"), "{out}");
        assert!(out.ends_with("       error: boom\n"), "{out}");
    }

    #[test]
    fn suggestion_follows_message() {
        let out = EvalError::eval("attribute 'x' missing")
            .with_suggestion("y")
            .render(true);
        assert_eq!(
            out,
            "error: attribute 'x' missing\n       Did you mean y?\n"
        );
    }
}
