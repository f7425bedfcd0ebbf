//! The evaluator's error type and its CppNix-compatible rendering.
//!
//! An [`EvalError`] carries a message, the position it happened at, and a
//! trace: "while …" frames pushed as the error travels outward, innermost
//! first. [`EvalError::render`] prints it as `nix-instantiate` does.

use std::fmt;

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
    /// The source did not parse.
    Parse,
    /// An IO operation failed.
    Io,
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

#[derive(Clone, Debug)]
struct Inner {
    kind: ErrorKind,
    message: String,
    pos: Pos,
    /// Innermost first.
    trace: Vec<TraceFrame>,
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
        EvalError(Box::new(Inner { kind, message: message.into(), pos: Pos::NONE, trace: Vec::new() }))
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
        self.0.trace.push(TraceFrame { message: message.into(), pos, always: false });
        self
    }

    /// Adds a frame shown even without `--show-trace` (`addErrorContext`).
    pub fn with_context_frame(mut self, message: impl Into<String>) -> EvalError {
        self.0.trace.push(TraceFrame { message: message.into(), pos: Pos::NONE, always: true });
        self
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
    pub fn trace(&self) -> &[TraceFrame] {
        &self.0.trace
    }

    /// Whether `tryEval` catches it.
    pub fn is_catchable(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Throw | ErrorKind::Assert)
    }

    /// Renders the error as `nix-instantiate` prints it (ends with a newline).
    /// With `show_trace` false, only frames CppNix shows without
    /// `--show-trace` (those from `addErrorContext`) are printed.
    pub fn render(&self, show_trace: bool) -> String {
        let mut out = String::new();
        let frames: Vec<&TraceFrame> = if show_trace {
            self.0.trace.iter().rev().collect()
        } else {
            self.0.trace.iter().rev().filter(|f| f.always).collect()
        };
        if frames.is_empty() {
            out.push_str("error: ");
            push_indented(&mut out, &self.0.message);
            out.push('\n');
        } else {
            out.push_str("error:\n");
            for f in frames {
                out.push_str("       … ");
                push_indented(&mut out, &f.message);
                out.push('\n');
                source::render_location(f.pos, "         ", &mut out);
                out.push('\n');
            }
            out.push_str("       error: ");
            push_indented(&mut out, &self.0.message);
            out.push('\n');
        }
        source::render_location(self.0.pos, "       ", &mut out);
        out
    }
}

/// Appends a possibly multi-line message, indenting continuation lines as
/// CppNix does.
fn push_indented(out: &mut String, message: &str) {
    let mut lines = message.split('\n');
    if let Some(first) = lines.next() {
        out.push_str(first);
    }
    for l in lines {
        out.push('\n');
        if !l.is_empty() {
            out.push_str("       ");
        }
        out.push_str(l);
    }
}

/// Shorthand for results in this crate.
pub type EvalResult<T> = Result<T, EvalError>;

