//! What an evaluation gave (printed value or classified error), output
//! normalisation, and the verdict of comparing nixkit's outcome with CppNix's
//! under the exclusion rules.

use std::collections::BTreeSet;

use crate::rules::{ModernDifference, PendingFix};

/// The class of an evaluation error, read from its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorClass {
    /// `throw`.
    Throw,
    /// `abort`.
    Abort,
    /// A failed `assert`.
    Assert,
    /// A value of the wrong type (including failed coercions and comparisons).
    Type,
    /// A missing attribute.
    MissingAttr,
    /// A function called without a required or with an unexpected argument.
    FunctionArgs,
    /// Division by zero.
    DivisionByZero,
    /// An index or position out of range, an empty list.
    Bounds,
    /// Infinite recursion.
    InfiniteRecursion,
    /// Integer overflow.
    IntegerOverflow,
    /// Stack overflow or call-depth limit.
    CallDepth,
    /// A syntax error.
    Syntax,
    /// An undefined variable.
    UndefinedVariable,
    /// An invalid regular expression.
    InvalidRegex,
    /// A JSON parse error.
    Json,
    /// An error with a message in none of the classes above.
    Other,
    /// The evaluation did not finish in time.
    Timeout,
    /// nixkit panicked (always a bug).
    Panic,
}

/// The outcome of evaluating one expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The printed value (normalised, see [`normalise_output`]).
    Value(String),
    /// An error: its class and the first line of its message.
    Error(ErrorClass, String),
}

impl Outcome {
    /// The outcome of a run given its standard output, standard error and success.
    pub fn from_run(ok: bool, stdout: &str, stderr: &str) -> Outcome {
        if ok {
            return Outcome::Value(normalise_output(stdout.trim_end_matches('\n')));
        }
        let line = error_line(stderr);
        Outcome::Error(classify(&line), line)
    }

    /// A short name of the outcome's kind: `value` or the error class.
    pub fn kind(&self) -> String {
        match self {
            Outcome::Value(_) => "value".to_string(),
            Outcome::Error(c, _) => format!("{c:?}"),
        }
    }

    /// The outcome as text for reports.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Value(v) => v.clone(),
            Outcome::Error(c, m) => format!("error ({c:?}): {m}"),
        }
    }
}

/// The first line of the error message in a program's standard error
/// (`trace:` lines and warnings before it are skipped).
pub fn error_line(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("error: "))
        .or_else(|| stderr.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// The class of an error message (CppNix's or nixkit's wording; both are
/// matched loosely, by the words that name the class).
pub fn classify(message: &str) -> ErrorClass {
    // Only the wording counts, not a value quoted in it (`...: "text"`, `«lambda»`).
    let full = message.to_ascii_lowercase();
    if full.starts_with("assertion") && full.ends_with("failed") {
        return ErrorClass::Assert;
    }
    let wording = message.split(['"', '«']).next().unwrap_or(message);
    let m = wording.to_ascii_lowercase();
    let has = |s: &str| m.contains(s);
    if full.contains("dtthrow") {
        ErrorClass::Throw
    } else if has("json") {
        ErrorClass::Json
    } else if has("evaluation aborted") || full.contains("dtabort") {
        ErrorClass::Abort
    } else if has("assertion") && has("failed") {
        ErrorClass::Assert
    } else if has("stack overflow") || has("call depth") || has("max-call-depth") {
        ErrorClass::CallDepth
    } else if has("infinite recursion") {
        ErrorClass::InfiniteRecursion
    } else if has("overflow") || has("does not fit in an integer") {
        ErrorClass::IntegerOverflow
    } else if has("division by zero") {
        ErrorClass::DivisionByZero
    } else if has("syntax error") || has("unexpected") && has("expecting") {
        ErrorClass::Syntax
    } else if has("undefined variable") {
        ErrorClass::UndefinedVariable
    } else if has("regular expression") || has("regex") {
        ErrorClass::InvalidRegex
    } else if has("called without required argument") || has("called with unexpected argument") {
        ErrorClass::FunctionArgs
    } else if has("attribute '") && has("missing") {
        ErrorClass::MissingAttr
    } else if has("out of bounds")
        || has("called with index")
        || has("empty list")
        || has("negative start")
        || has("negative length")
        || has("negative")
    {
        ErrorClass::Bounds
    } else if has("was expected")
        || has("cannot coerce")
        || has("cannot add")
        || has("cannot compare")
        || has("not a function")
        || has("expected a")
        || has("cannot be compared")
        || has("is not")
    {
        ErrorClass::Type
    } else if has("timed out") {
        ErrorClass::Timeout
    } else {
        ErrorClass::Other
    }
}

/// Normalises printed values by the function-printing rule
/// ([`ModernDifference::FunctionPrinting`]): every printed function becomes
/// `<LAMBDA>`, `<PRIMOP>` or `<PRIMOP-APP>`.
pub fn normalise_output(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('«') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let Some(end) = matching_guillemet(after) else {
            out.push_str(after);
            return out;
        };
        let inner = &after['«'.len_utf8()..end];
        let replacement = if inner.starts_with("lambda") {
            Some("<LAMBDA>")
        } else if inner.starts_with("partially applied primop") {
            Some("<PRIMOP-APP>")
        } else if inner.starts_with("primop") {
            Some("<PRIMOP>")
        } else {
            None
        };
        match replacement {
            Some(r) => out.push_str(r),
            None => out.push_str(&after[..end + '»'.len_utf8()]),
        }
        rest = &after[end + '»'.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// The byte offset of the `»` closing the `«` at the start of `text` (nested pairs counted).
fn matching_guillemet(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '«' => depth += 1,
            '»' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// The result of comparing two outcomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Same value, or errors of the same class.
    Agree,
    /// Different, but by a known modern-CppNix difference.
    Excluded(ModernDifference),
    /// Different, in a class whose fix is pending ([`PendingFix`]).
    Pending(PendingFix),
    /// A divergence.
    Diverge,
}

/// Compares nixkit's outcome with CppNix 2.8's under the exclusion rules
/// and the pending classes that are judged on outcomes
/// ([`PendingFix::AttrForceOrder`], [`PendingFix::PrintCycles`]).
pub fn compare_pending(
    nixkit: &Outcome,
    cppnix: &Outcome,
    pending: &BTreeSet<PendingFix>,
) -> Verdict {
    match compare(nixkit, cppnix) {
        Verdict::Diverge
            if pending.contains(&PendingFix::AttrForceOrder)
                && matches!(
                    (nixkit, cppnix),
                    (Outcome::Error(a, _), Outcome::Error(b, _))
                        if ![*a, *b].iter().any(|c| matches!(c, ErrorClass::Panic | ErrorClass::Timeout))
                ) =>
        {
            Verdict::Pending(PendingFix::AttrForceOrder)
        }
        Verdict::Diverge
            if pending.contains(&PendingFix::PrintCycles)
                && matches!(
                    (nixkit, cppnix),
                    (Outcome::Value(a), Outcome::Value(b))
                        if a.contains("«repeated»") || b.contains("«repeated»")
                ) =>
        {
            Verdict::Pending(PendingFix::PrintCycles)
        }
        v => v,
    }
}

/// Compares nixkit's outcome with CppNix 2.8's under the exclusion rules.
pub fn compare(nixkit: &Outcome, cppnix: &Outcome) -> Verdict {
    use ErrorClass as C;
    match (nixkit, cppnix) {
        (Outcome::Value(a), Outcome::Value(b)) if a == b => Verdict::Agree,
        (Outcome::Error(a, _), Outcome::Error(b, _)) if a == b => Verdict::Agree,
        (Outcome::Error(C::CallDepth, _), _) | (_, Outcome::Error(C::CallDepth, _)) => {
            Verdict::Excluded(ModernDifference::CallDepth)
        }
        (Outcome::Error(C::IntegerOverflow, _), _) => {
            Verdict::Excluded(ModernDifference::IntegerOverflow)
        }
        _ => Verdict::Diverge,
    }
}

/// A divergence's signature: what kind of outcome each side gave. Shrinking
/// keeps a smaller expression only if it diverges with the same signature.
pub fn signature(nixkit: &Outcome, cppnix: &Outcome) -> String {
    format!("nixkit {} / cppnix {}", nixkit.kind(), cppnix.kind())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_cppnix_messages() {
        let cases = [
            ("dtthrow 1", ErrorClass::Throw),
            (
                "attempt to call something which is not a function but a string: \"json\"",
                ErrorClass::Type,
            ),
            (
                "evaluation aborted with the following error message: 'x'",
                ErrorClass::Abort,
            ),
            ("assertion '(1 == 2)' failed", ErrorClass::Assert),
            ("assertion '(x == \"a\")' failed", ErrorClass::Assert),
            ("cannot add a string to an integer", ErrorClass::Type),
            (
                "value is an integer while a set was expected",
                ErrorClass::Type,
            ),
            ("attribute 'a' missing", ErrorClass::MissingAttr),
            ("division by zero", ErrorClass::DivisionByZero),
            (
                "infinite recursion encountered",
                ErrorClass::InfiniteRecursion,
            ),
            ("list index 0 is out of bounds", ErrorClass::Bounds),
            (
                "anonymous function at (string):1:2 called without required argument 'a'",
                ErrorClass::FunctionArgs,
            ),
            (
                "stack overflow (possible infinite recursion)",
                ErrorClass::CallDepth,
            ),
            ("undefined variable 'x'", ErrorClass::UndefinedVariable),
            ("something new", ErrorClass::Other),
        ];
        for (msg, class) in cases {
            assert_eq!(classify(msg), class, "{msg}");
        }
    }

    #[test]
    fn error_line_skips_traces() {
        let e = "trace: 1\nerror: attribute 'a' missing\n\n       at x";
        assert_eq!(error_line(e), "attribute 'a' missing");
    }

    #[test]
    fn function_printing_is_normalised() {
        assert_eq!(
            normalise_output("[ «lambda @ «string»:1:2» «primop add» «partially applied primop add» «repeated» ]"),
            "[ <LAMBDA> <PRIMOP> <PRIMOP-APP> «repeated» ]"
        );
        assert_eq!(normalise_output("[ <LAMBDA> 1 ]"), "[ <LAMBDA> 1 ]");
    }

    #[test]
    fn verdicts_follow_the_rules() {
        let v = |s: &str| Outcome::Value(s.to_string());
        let e = |c| Outcome::Error(c, String::new());
        assert_eq!(compare(&v("1"), &v("1")), Verdict::Agree);
        assert_eq!(compare(&v("1"), &v("2")), Verdict::Diverge);
        assert_eq!(
            compare(&e(ErrorClass::Type), &e(ErrorClass::Type)),
            Verdict::Agree
        );
        assert_eq!(
            compare(&e(ErrorClass::Type), &e(ErrorClass::Throw)),
            Verdict::Diverge
        );
        assert_eq!(
            compare(&e(ErrorClass::IntegerOverflow), &v("-1")),
            Verdict::Excluded(ModernDifference::IntegerOverflow)
        );
        assert_eq!(
            compare(&e(ErrorClass::IntegerOverflow), &e(ErrorClass::Type)),
            Verdict::Excluded(ModernDifference::IntegerOverflow)
        );
        assert_eq!(
            compare(&v("-1"), &e(ErrorClass::IntegerOverflow)),
            Verdict::Diverge
        );
        let pending: BTreeSet<PendingFix> = [PendingFix::AttrForceOrder].into_iter().collect();
        assert_eq!(
            compare_pending(&e(ErrorClass::Type), &e(ErrorClass::Bounds), &pending),
            Verdict::Pending(PendingFix::AttrForceOrder)
        );
        assert_eq!(
            compare_pending(&v("1"), &e(ErrorClass::Bounds), &pending),
            Verdict::Diverge
        );
        let cycles: BTreeSet<PendingFix> = [PendingFix::PrintCycles].into_iter().collect();
        assert_eq!(
            compare_pending(&v("[ [ 1 ] [ 1 ] ]"), &v("[ [ 1 ] «repeated» ]"), &cycles),
            Verdict::Pending(PendingFix::PrintCycles)
        );
        assert_eq!(
            compare_pending(&v("[ 1 ]"), &v("[ 2 ]"), &cycles),
            Verdict::Diverge
        );
        assert_eq!(
            compare_pending(
                &e(ErrorClass::Type),
                &e(ErrorClass::Bounds),
                &BTreeSet::new()
            ),
            Verdict::Diverge
        );
        assert_eq!(
            compare(&e(ErrorClass::CallDepth), &v("1")),
            Verdict::Excluded(ModernDifference::CallDepth)
        );
    }
}
